"""Entry points: argument checks, then the known-length or the online executor."""

from __future__ import annotations

import operator

import jax

from ..schedules._scheme import Scheme
from ._fori import run_range
from ._objects import finish, rewrap, unwrap, wrap_state


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
    try:
        return operator.index(jax.numpy.asarray(value).item()) if jax.numpy.ndim(value) == 0 else operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an integer, got {type(value).__name__} {value!r}") from None


def fori_loop(lower, upper, body_fun, init_val, *, scheme):
    """Checkpointed ``jax.lax.fori_loop``: ``body_fun(i, val)`` for ``i`` in ``lower .. upper-1``.

    Reverse-mode AD through it stores snapshots and recomputes as ``scheme`` plans; gradients
    reach ``init_val`` and every array ``body_fun`` closes over. ``lower`` and ``upper`` must be
    known while tracing (``while_loop`` with ``Online`` handles unknown lengths).
    """
    _check_scheme(scheme, "fori_loop")
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
    start = _static_int(start, "the range start", where, scheme)
    stop = _static_int(stop, "the range stop", where, scheme)
    step = _static_int(step, "the range step", where, scheme)
    if step == 0:
        raise ValueError(f"{where}: range() step must not be zero")
    converters, tree = wrap_state(tuple(state))

    def carry_body(i, tree):
        return rewrap(converters, _check_tuple(body(i, unwrap(converters, tree)), len(tree)))

    n = len(range(start, stop, step))
    return finish(converters, run_range(scheme, start, step, n, carry_body, tree))


def _check_tuple(out, length: int):
    if not isinstance(out, tuple) or len(out) != length:
        raise TypeError(f"the loop body must return the state as a tuple of {length} entries, got {out!r}")
    return out


def checkpointed_while(scheme, cond, body, state):
    raise NotImplementedError


def while_loop(cond_fun, body_fun, init_val, *, scheme):
    raise NotImplementedError
