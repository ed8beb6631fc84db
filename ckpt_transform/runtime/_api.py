"""Entry points: argument checks, then the known-length or the online executor."""

from __future__ import annotations

import operator

import jax

from ..schedules._scheme import Scheme
from ._fori import run_range
from ._objects import finish, rewrap, unwrap, wrap_state
from ._while import run_while


def _check_scheme(scheme, where: str):
    if not isinstance(scheme, Scheme):
        raise TypeError(
            f"{where}: scheme must be a checkpointing scheme such as Revolve(4), Online(8) or "
            f"StoreAll(), got {type(scheme).__name__} {scheme!r}"
        )


def _static_int(value, name: str, where: str, scheme) -> int:
    """``value`` as a Python int, or an error saying that the trip count must be known."""
    if isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        pass
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{where}: {name} is not known while tracing (it depends on a traced value), so the "
            f"trip count of the loop is unknown and {scheme!r} cannot plan it. Make {name} a "
            "Python int (e.g. a static argument of jax.jit), or write the loop as "
            "ckpt_transform.while_loop with an Online(snapshots) scheme, which needs no trip count."
        )
    raise TypeError(f"{where}: {name} must be an integer, got {type(value).__name__} {value!r}")


def fori_loop(lower, upper, body_fun, init_val, *, scheme):
    """Checkpointed ``jax.lax.fori_loop``: ``body_fun(i, val)`` for ``i`` in ``lower .. upper-1``.

    Reverse-mode AD through it stores snapshots and recomputes as ``scheme`` plans; gradients
    reach ``init_val`` and every array ``body_fun`` closes over. ``lower`` and ``upper`` must be
    known while tracing, except with ``Online``, which runs traced bounds as a while loop.
    """
    _check_scheme(scheme, "fori_loop")
    if scheme.online and _traced(lower, upper):
        return _traced_range(scheme, lower, upper, 1, body_fun, init_val)
    lower = _static_int(lower, "lower", "fori_loop", scheme)
    upper = _static_int(upper, "upper", "fori_loop", scheme)
    return run_range(scheme, lower, 1, max(upper - lower, 0), body_fun, init_val, what="fori_loop body")


def checkpointed_range(scheme, start, stop, step, body, state):
    """What the rewriter emits for ``with checkpoint(scheme, *state): for i in range(start, stop, step)``.

    ``state`` is the tuple of the loop's state variables (pytrees or plain objects, see
    ``_objects``); ``body(i, state) -> state`` gets the user's index. Returns the final tuple.
    """
    where = "checkpointed for loop"
    _check_scheme(scheme, where)
    converters, tree = wrap_state(tuple(state))

    def carry_body(i, tree):
        return rewrap(converters, _check_tuple(body(i, unwrap(converters, tree)), len(tree)))

    if scheme.online and _traced(start, stop, step):
        return finish(converters, _traced_range(scheme, start, stop, step, carry_body, tree))
    start = _static_int(start, "the range start", where, scheme)
    stop = _static_int(stop, "the range stop", where, scheme)
    step = _static_int(step, "the range step", where, scheme)
    if step == 0:
        raise ValueError(f"{where}: range() step must not be zero")
    n = len(range(start, stop, step))
    return finish(converters, run_range(scheme, start, step, n, carry_body, tree))


def _traced(*values) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in values)


def _traced_range(scheme, start, stop, step, body, init):
    """A range whose bounds are traced, as a while loop over (position, carry) for ``Online``."""
    start, stop, step = (jax.numpy.asarray(v).astype(int) for v in (start, stop, step))
    n = jax.numpy.maximum(0, (stop - start + step - jax.numpy.sign(step)) // step)

    def advance(c):
        return c[0] + 1, body(start + c[0] * step, c[1])

    return run_while(scheme, lambda c: c[0] < n, advance, (jax.numpy.zeros((), int), init))[1]


def _check_tuple(out, length: int):
    if not isinstance(out, tuple) or len(out) != length:
        raise TypeError(f"the loop body must return the state as a tuple of {length} entries, got {out!r}")
    return out


def checkpointed_while(scheme, cond, body, state):
    """What the rewriter emits for ``with checkpoint(scheme, *state): while test: ...``.

    ``cond(state) -> bool scalar`` and ``body(state) -> state`` take the tuple of state variables
    (pytrees or plain objects). Returns the final tuple.
    """
    _check_scheme(scheme, "checkpointed while loop")
    converters, tree = wrap_state(tuple(state))

    def carry_body(tree):
        return rewrap(converters, _check_tuple(body(unwrap(converters, tree)), len(tree)))

    def carry_cond(tree):
        return cond(unwrap(converters, tree))

    return finish(converters, run_while(scheme, carry_cond, carry_body, tree))


def while_loop(cond_fun, body_fun, init_val, *, scheme):
    """Checkpointed ``jax.lax.while_loop``: ``body_fun`` runs while ``cond_fun(val)`` holds.

    Under reverse-mode AD, ``Online(snapshots)`` places checkpoints as the loop runs and works
    under ``jax.jit``; offline schemes (``Revolve``...) need the trip count, so they work only
    when the inputs are concrete (eager ``jax.grad``) and raise an error suggesting ``Online``
    while tracing.
    """
    _check_scheme(scheme, "while_loop")
    return run_while(scheme, cond_fun, body_fun, init_val)
