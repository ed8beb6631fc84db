"""Binomial checkpointing counts (Griewank & Walther, ACM TOMS 26(1), 2000, Algorithm 799 "revolve").

With ``c`` slots (the one holding the start state included) and ``r`` repetitions, at most
``beta(c, r) = C(c + r, c)`` steps can be reversed. The minimal number of forward step evaluations
for ``n`` steps is ``r*n - C(c + r, r - 1)`` with ``r`` the smallest repetition number such that
``beta(c, r) >= n``. A split at ``m`` (advance ``m`` steps, store, reverse the right part with
``c - 1`` slots, restore, reverse the left part with ``c`` slots) is optimal when the right part
needs exactly ``r`` repetitions with ``c - 1`` slots and the left part exactly ``r - 1`` with
``c`` (its steps were already evaluated once by the advance): the cost is piecewise linear in the
length with slope ``r``, so both parts must lie on the pieces of their own repetition numbers,
``beta(c, r - 2) <= m <= beta(c, r - 1)``.

The rule comes in two forms. On exact Python ints (``repetition_number``, ``optimal_split``,
``optimal_forward_steps``) for Revolve's planner, reports and tests: a cost like ``n*(n-1)/2``
with one slot overflows int32 long before ``n`` does, and the planner's hot loop lowers the
repetition number incrementally from the parent's. And against ``ArrayOps`` (``_array_ops``:
``beta``, ``repetitions``, ``reversal_cost``, ``split``) for the Online kernels, which also run
inside a compiled JAX loop where stretch lengths are traced int32 values, so values saturate at
``CAP`` and loops must stay below ``CAP`` steps. Planning Revolve through the second form, even
memoised, measured 1.5-5x slower on a cold cache (``StoreAll().plan(100_000)``: 1.1 s -> 5.9 s), so
both stay; ``tests/test_online_kernels.py`` checks that they give the same split and costs.

``beta`` reads a small constant table for ``3 <= min(s, r) <= 32`` and uses closed forms for
``min(s, r) <= 2``; every larger value exceeds ``CAP``. ``repetitions`` is a fixed 16-probe
binary search (``r < 2**16`` covers two slots and ``CAP`` steps), so the same code runs eagerly and
under ``jax.jit`` without data-dependent loops.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np

#: saturation value of every binomial here; loop lengths must stay below it
CAP = 1 << 30
_ROWS = 33  # min(s, r) >= 33 gives C(66, 33) > CAP
_COLS = 2048  # min(s, r) >= 3 and max(s, r) >= 2048 gives C(2051, 3) > CAP
_TWO_MAX = 46340  # C(46342, 2) > CAP; also keeps the closed form below 2**31
_PROBES = 16  # repetition numbers are searched in [0, 2**16)


# -- exact Python-int counts ------------------------------------------------------------------


def repetition_number(steps: int, slots: int) -> int:
    """Smallest ``r`` with ``C(slots + r, slots) >= steps`` (0 for ``steps <= 1``)."""
    if steps <= 1:
        return 0
    if slots == 1:
        return steps - 1
    reps = 1
    while comb(slots + reps, slots) < steps:
        reps += 1
    return reps


def optimal_forward_steps(steps: int, slots: int) -> int:
    """Griewank & Walther's minimal forward step count: ``r*n - C(s + r, r - 1)``."""
    if steps <= 1:
        return 0
    reps = repetition_number(steps, slots)
    return reps * steps - comb(slots + reps, reps - 1)


def optimal_split(length: int, slots: int, reps: int) -> tuple[int, int]:
    """Where to split ``length >= 2`` steps with ``slots`` slots: ``(m, r)``, ``r`` the exact
    repetition number. ``reps`` is any upper bound on ``r`` (the parent's), lowered here.
    """
    if slots == 1:
        return length - 1, length - 1
    while reps > 1 and comb(slots + reps - 1, slots) >= length:
        reps -= 1
    # C(slots + reps - 2, slots) is 0 for reps = 1, as beta(slots, -1) is
    right = min(length - 1, comb(slots - 1 + reps, reps), length - comb(slots + reps - 2, slots))
    return length - right, reps


# -- saturated int32 arithmetic over ``xp`` (numpy, jax.numpy or pure Python) -------------------


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    """``table[a, b] = min(C(a + b, a), CAP)`` by the hockey-stick identity (row a = cumsum of a-1)."""
    table = np.ones((_ROWS, _COLS), dtype=np.int64)
    for a in range(1, _ROWS):
        table[a] = np.minimum(np.cumsum(table[a - 1]), CAP)
    return table.astype(np.int32)


def beta(xp, s, r):
    """``min(C(s + r, s), CAP)`` elementwise, 0 for ``r < 0``; ``s >= 0``."""
    a = xp.minimum(s, r)
    b = xp.maximum(s, r)
    tabled = xp.lookup(_table(), xp.clip(a, 0, _ROWS - 1), xp.clip(b, 0, _COLS - 1))
    tabled = xp.where((a >= _ROWS) | (b >= _COLS), CAP, tabled)
    b2 = xp.minimum(b, _TWO_MAX)
    two = xp.where(b2 % 2 == 0, (b2 + 1) * ((b2 + 2) // 2), ((b2 + 1) // 2) * (b2 + 2))
    small = xp.where(a == 0, 1, xp.where(a == 1, xp.minimum(b, CAP - 1) + 1, xp.minimum(two, CAP)))
    return xp.where(r < 0, 0, xp.where(a <= 2, small, tabled))


def repetitions(xp, steps, slots):
    """Smallest ``r >= 0`` with ``beta(slots, r) >= steps`` (``slots >= 1``, ``steps <= CAP``)."""

    def probe(bounds):
        lo, hi = bounds
        mid = (lo + hi) // 2
        enough = beta(xp, slots, mid) >= steps
        return xp.where(enough, lo, mid + 1), xp.where(enough, mid, hi)

    lo = xp.zeros_like(steps)
    _, hi = xp.fori(_PROBES, probe, (lo, lo + ((1 << _PROBES) - 1)))
    return xp.where(slots == 1, xp.maximum(steps - 1, 0), hi)


def reversal_cost(xp, steps, slots, cap):
    """Revolve's forward steps to reverse ``steps`` steps with ``slots`` slots, saturated at ``cap``.

    ``r*n - C(s + r, r - 1)``, with the first sweep counted, so a stretch between two held
    checkpoints costs exactly this when it is reversed on its own.
    """
    reps = repetitions(xp, steps, slots)
    n = xp.maximum(steps, 1)
    huge = reps > cap // n
    cost = xp.where(huge, 0, reps) * n - beta(xp, slots + 1, reps - 1)
    return xp.where(steps <= 1, 0, xp.where(huge, cap, xp.minimum(cost, cap)))


def split(xp, steps, slots):
    """Optimal first advance when reversing ``steps >= 2`` steps from a stored state with ``slots``
    slots (its own included): the least ``m`` that leaves the right part ``steps - m`` within
    ``beta(slots - 1, r)`` and the left part on its ``r - 1`` piece (``m >= beta(slots, r - 2)``).
    """
    reps = repetitions(xp, steps, slots)
    m = xp.maximum(xp.maximum(steps - beta(xp, slots - 1, reps), beta(xp, slots, reps - 2)), 1)
    return xp.where(slots == 1, steps - 1, xp.minimum(m, steps - 1))
