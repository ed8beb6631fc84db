"""Binomial checkpointing (Griewank & Walther, ACM TOMS 26(1), 2000, Algorithm 799 "revolve").

With ``c`` slots (the one holding the start state included) and ``r`` repetitions, at most
``beta(c, r) = C(c + r, c)`` steps can be reversed. The minimal number of forward step evaluations
for ``n`` steps is ``r*n - C(c + r, r - 1)`` with ``r`` the smallest repetition number such that
``beta(c, r) >= n``. A split at ``m`` (advance ``m`` steps, store, reverse the right part with
``c - 1`` slots, restore, reverse the left part with ``c`` slots) is optimal when the right part
needs exactly ``r`` repetitions with ``c - 1`` slots and the left part exactly ``r - 1`` with
``c`` (its steps were already evaluated once by the advance): the cost is piecewise linear in the
length with slope ``r``, so both parts must lie on the pieces of their own repetition numbers,
``beta(c, r - 2) <= m <= beta(c, r - 1)``.
"""

from __future__ import annotations

from math import comb

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE, Action


def beta(slots: int, reps: int) -> int:
    """Most steps ``slots`` slots can reverse with ``reps`` repetitions: C(slots + reps, slots)."""
    return comb(slots + reps, slots)


def repetition_number(steps: int, slots: int) -> int:
    """Smallest ``r`` with ``beta(slots, r) >= steps`` (0 for ``steps <= 1``)."""
    if steps <= 1:
        return 0
    if slots == 1:
        return steps - 1
    reps = 1
    while beta(slots, reps) < steps:
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
    while reps > 1 and beta(slots, reps - 1) >= length:
        reps -= 1
    right = min(length - 1, beta(slots - 1, reps), length - beta(slots, reps - 2))
    return length - right, reps


# task kinds on the explicit stack (the recursion would be ~n deep for one slot)
_REVERSE, _RESTORE, _FREE = 0, 1, 2


def reverse_segment(out: list, start: int, end: int, slots: list[int]) -> None:
    """Append to ``out`` the actions reversing steps ``end-1 .. start`` optimally.

    On entry the state at ``start`` is in hand and, when ``end - start > 1``, already stored in
    ``slots[0]`` (level 0); ``slots[1:]`` are free slots it may use. On exit every slot it
    stored is freed again and ``slots[0]`` still holds ``start``; the actions it appends never
    advance past ``end - 1``. Slots are used last-in first-out, ``slots[d]`` at nesting depth d.
    """
    if end - start < 1:
        return
    total = len(slots)
    append = out.append
    new = tuple.__new__  # builds an Action without the NamedTuple's Python-level __new__ (hot loop)
    stack = [(_REVERSE, start, end, 0, repetition_number(end - start, total))]
    pop, push = stack.pop, stack.append
    while stack:
        kind, a, b, depth, reps = pop()
        if kind == _RESTORE:
            append(new(Action, (RESTORE, a, -1, slots[depth], 0)))
            continue
        if kind == _FREE:
            append(new(Action, (FREE, a, -1, slots[depth], 0)))
            continue
        length = b - a
        if length == 1:
            append(new(Action, (ADJOINT, a, -1, -1, 0)))
            continue
        split, reps = optimal_split(length, total - depth, reps)
        mid = a + split
        append(new(Action, (ADVANCE, a, mid, -1, 0)))
        push((_REVERSE, a, mid, depth, max(reps - 1, 1)))
        push((_RESTORE, a, -1, depth, 0))
        if b - mid > 1:
            append(new(Action, (STORE, mid, -1, slots[depth + 1], 0)))
            push((_FREE, mid, -1, depth + 1, 0))
        push((_REVERSE, mid, b, depth + 1, reps))
