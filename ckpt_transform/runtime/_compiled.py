"""Compiled pieces shared by every run of the same computation.

Eager ``jax.grad`` traces the loop body again on every call, so a ``jax.jit`` made per run
would compile again each time (~0.1-0.5 s for a sweep). Pieces are therefore kept here, keyed by
what they compute: the body's jaxpr, which of its constants are arguments, the values of the
fixed ones, the loop index map (affine, ``start + k*stride``, so its values at 0 and 1 fix it),
and what the caller adds (its kind, the trip count, ...). They are built from a ``lean`` copy of
the step that holds none of the run's own values, which are passed in as arguments.
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from typing import Callable, TypeVar

import jax
import jax.extend
import numpy as np

T = TypeVar("T")

#: recently used pieces, most recent last
_CACHE: OrderedDict = OrderedDict()
_KEEP = 16


def shared(step, extra, build: Callable[[], T]) -> T:
    """``build()``, or what it built before for the same ``extra`` and the same computation."""
    key = _computation(step)
    if key is None:
        return build()
    key = (extra, key)
    found = _CACHE.pop(key, None) or build()
    _CACHE[key] = found
    while len(_CACHE) > _KEEP:
        _CACHE.popitem(last=False)
    return found


def lean(step):
    """A shallow copy of ``step`` without the run's own values (perhaps tracers)."""
    lean, lean._traced = copy.copy(step), copy.copy(step._traced)
    lean.init = lean.consts = lean._traced.consts = None
    return lean


def _computation(step):
    traced = step._traced
    try:
        fixed = tuple(
            (c.shape, np.dtype(c.dtype).str, hashlib.blake2b(np.ascontiguousarray(c).tobytes(), digest_size=16).digest())
            for c in traced._fixed
        )
        index = None if step.index is None else (int(step.index(0)), int(step.index(1)))
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return None  # a constant numpy cannot read (PRNG keys), a traced loop start: build afresh
    masks = (tuple(traced._hoisted), tuple(step._const_diff_mask), tuple(step.diff_mask), tuple(step._out_weak))
    return str(traced._jaxpr), tuple(_callables(traced._jaxpr)), masks, fixed, index


def _callables(jaxpr):
    """Identities of the Python functions in ``jaxpr``'s parameters (callbacks, custom rules),
    which its text does not tell apart. The cache keeps them alive, so an id is never reused."""
    for eqn in jaxpr.eqns:
        stack = list(eqn.params.values())
        while stack:
            value = stack.pop()
            if isinstance(value, jax.extend.core.ClosedJaxpr):
                value = value.jaxpr
            if isinstance(value, jax.extend.core.Jaxpr):
                yield from _callables(value)
            elif isinstance(value, (tuple, list)):
                stack.extend(value)
            elif callable(value) and not isinstance(value, type):
                yield id(value)
