"""``Step``: one loop iteration, traced once, in the form every executor needs.

The user's body is traced to a jaxpr once (``Traced``: closed-over tracers become explicit
arguments, so they cross the ``custom_vjp`` boundary and receive cotangents). Carry leaves and
hoisted arguments are split into differentiable ones (inexact dtypes) and the rest (integers,
booleans), which get no cotangent. Tracing also checks that the body keeps the carry's structure,
shapes and dtypes, naming the offending leaf.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._traced import Traced


class CarryError(TypeError):
    """The loop body changes the structure, shape or dtype of its carry."""


class Consts(NamedTuple):
    """Arrays the body closes over, hoisted: differentiable ones and the rest."""

    diff: list
    other: list


def _inexact(x) -> bool:
    return jnp.issubdtype(x.dtype, jnp.inexact)


def defined_at(fn) -> str:
    """`` (file:line)`` where ``fn`` was defined, for error messages; empty if unknown."""
    code = getattr(fn, "__code__", None)
    return f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""


def _strong(leaf):
    """``leaf`` as a JAX array without weak type, so loop carries keep one exact type."""
    leaf = jnp.asarray(leaf)
    return lax.convert_element_type(leaf, leaf.dtype) if leaf.weak_type else leaf


class Step:
    """The body ``x -> body(index(k), x)`` for loop position ``k`` (0-based), on flat leaf lists.

    ``index(k)`` maps the position to the user's loop index (``start + k*stride``); ``None``
    means the body takes no index (``while`` loops).
    """

    def __init__(self, body: Callable, init: Any, index: Callable | None, what: str = "loop body"):
        paths_leaves, self.treedef = jax.tree_util.tree_flatten_with_path(init)
        self.paths = [f"carry leaf {jax.tree_util.keystr(p)}" if p else "the carry" for p, _ in paths_leaves]
        leaves = [jnp.asarray(x) for _, x in paths_leaves]
        self.index = index
        self.what = what + defined_at(body)
        traced = self._trace(body, leaves)
        promoted = self._check(traced.out_shape, leaves)
        if promoted is not None:  # weakly typed inputs (Python scalars) take the body's dtype
            leaves = promoted
            traced = self._trace(body, leaves)
            self._check(traced.out_shape, leaves, promote=False)
        out = traced.out_shape
        #: the initial carry leaves, strongly typed
        self.init = [_strong(x) for x in leaves]
        self.avals = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in self.init]
        self.diff_mask = [_inexact(x) for x in self.init]
        self._out_weak = [o.weak_type for o in out]
        self._traced = traced
        moving = traced.consts
        self._const_diff_mask = [_inexact(c) for c in moving]
        self.consts = Consts(
            [c for c, d in zip(moving, self._const_diff_mask) if d],
            [c for c, d in zip(moving, self._const_diff_mask) if not d],
        )

    # ---- tracing and checks -------------------------------------------------------------------

    def _trace(self, body, leaves):
        treedef = self.treedef

        def flat(i, xs):
            x = jax.tree_util.tree_unflatten(treedef, xs)
            y = body(x) if self.index is None else body(i, x)
            ys, out_def = jax.tree_util.tree_flatten(y)
            if out_def != treedef:
                raise CarryError(
                    f"the {self.what} must return a carry with the structure of its input: got "
                    f"{out_def}, expected {treedef}"
                )
            return ys

        # a Python int example makes the index weakly typed, as in the untransformed loop
        return Traced(flat, 0, leaves)

    def _check(self, out, leaves, promote=True):
        """Raise on a shape/dtype change; return promoted leaves if only weak inputs changed."""
        promoted, changed = [], False
        for path, x, o in zip(self.paths, leaves, out):
            same = x.shape == o.shape and x.dtype == o.dtype
            if not same and promote and x.weak_type and x.shape == o.shape:
                promoted.append(x.astype(o.dtype))
                changed = True
                continue
            if not same:
                raise CarryError(
                    f"the {self.what} changes {path} from {x.dtype.name}{list(x.shape)} "
                    f"to {o.dtype.name}{list(o.shape)}; a checkpointed loop needs every leaf to "
                    "keep its shape and dtype (cast or reshape the new value inside the loop)"
                )
            promoted.append(x)
        return promoted if changed else None

    # ---- leaves -------------------------------------------------------------------------------

    def split(self, leaves):
        """(differentiable leaves, other leaves)."""
        d = [x for x, m in zip(leaves, self.diff_mask) if m]
        o = [x for x, m in zip(leaves, self.diff_mask) if not m]
        return d, o

    def merge(self, diff, other):
        diff, other = iter(diff), iter(other)
        return [next(diff) if m else next(other) for m in self.diff_mask]

    def unflatten(self, leaves):
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    @property
    def snapshot_bytes(self) -> int:
        return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in self.avals)

    # ---- evaluation ---------------------------------------------------------------------------

    def _interleave(self, consts: Consts):
        diff, other = iter(consts.diff), iter(consts.other)
        return [next(diff) if d else next(other) for d in self._const_diff_mask]

    def __call__(self, k, leaves, consts: Consts):
        """The carry leaves after loop position ``k`` (an integer scalar, may be traced)."""
        i = self.index(k) if self.index is not None else 0
        out = self._traced(self._interleave(consts), i, leaves)
        return [lax.convert_element_type(o, x.dtype) if w else o for o, x, w in zip(out, self.avals, self._out_weak)]

    def advance(self, leaves, start, stop, consts: Consts):
        """Positions ``start .. stop-1`` as one loop (zero trips when ``stop <= start``).

        With traced bounds the loop runs two steps per iteration (then the odd one): a step that
        reads neighbours cannot overwrite its input, so a one-step loop copies the new state into
        the carry every iteration, while two steps alternate between two buffers (about a quarter
        off a 512 x 512 stencil on the CPU). Python int bounds give the plain ``fori_loop``.
        """
        if isinstance(start, int) and isinstance(stop, int):
            return lax.fori_loop(start, stop, lambda k, xs: self(k, xs, consts), leaves)
        pairs = (stop - start) // 2

        def two(j, xs):
            k = start + 2 * j
            return self(k + 1, self(k, xs, consts), consts)

        leaves = lax.fori_loop(0, pairs, two, leaves)
        return lax.fori_loop(start + 2 * pairs, stop, lambda k, xs: self(k, xs, consts), leaves)

    def adjoint(self, k, leaves, cot, pcot, consts: Consts):
        """Pull ``cot`` (differentiable leaves after position ``k``) back through position ``k``.

        Returns the cotangent of the differentiable leaves before ``k`` and ``pcot`` plus the
        cotangent of the differentiable hoisted arrays.
        """
        _, other = self.split(leaves)

        def f(diff, cdiff):
            out = self(k, self.merge(diff, other), Consts(cdiff, consts.other))
            return self.split(out)[0]

        _, pull = jax.vjp(f, self.split(leaves)[0], consts.diff)
        cx, cc = pull(cot)
        return cx, [p + c for p, c in zip(pcot, cc)]

    def adjoint_reads_state(self) -> bool:
        """Whether an adjoint step needs the state in hand at all.

        It does not when the body is affine in its carry and the hoisted arrays' cotangents do
        not involve the carry either (a heat equation differentiated w.r.t. its initial field):
        then no snapshot is needed, and XLA drops the forward part of every vjp.
        """

        def adjoint(k, leaves, cot, consts):
            return self.adjoint(k, leaves, cot, [jnp.zeros_like(c) for c in consts.diff], consts)

        cot = [a for a, m in zip(self.avals, self.diff_mask) if m]
        jaxpr = jax.make_jaxpr(adjoint)(0, self.avals, cot, self.consts).jaxpr
        return _depends_on(jaxpr, range(1, 1 + len(self.avals)))


def _depends_on(jaxpr, positions) -> bool:
    """Whether the outputs (or any side effect) of ``jaxpr`` read the inputs at ``positions``."""
    literal = jax.extend.core.Literal
    live = {v for v in jaxpr.outvars if not isinstance(v, literal)}
    for eqn in reversed(jaxpr.eqns):
        if eqn.effects or any(v in live for v in eqn.outvars):
            live.update(v for v in eqn.invars if not isinstance(v, literal))
    return any(jaxpr.invars[p] in live for p in positions)
