"""``Revolve``: binomial checkpointing, optimal for a loop whose length is known in advance."""

from __future__ import annotations

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE, Action
from ._binomial import optimal_split, repetition_number
from ._schedule import Schedule, make_schedule
from ._scheme import Scheme, check_count


class Revolve(Scheme):
    """Binomial checkpointing with ``snapshots`` slots; the initial state takes one of them.

    ``plan(n)`` evaluates ``r*n - C(snapshots + r, r - 1)`` forward steps, the proven optimum
    (``r`` the smallest repetition number with ``C(snapshots + r, snapshots) >= n``). With
    ``snapshots >= n - 1`` this is store-all: every state stored once, nothing recomputed.
    """

    def __init__(self, snapshots: int, *, storage=None, verbose: bool = False):
        super().__init__(storage=storage, verbose=verbose)
        self.snapshots = check_count("Revolve: snapshots", snapshots, 1)

    def plan(self, steps: int) -> Schedule:
        steps = check_count("Revolve.plan: steps", steps, 0)
        return make_schedule(steps, binomial_actions(steps, self.snapshots), repr(self), (self.snapshots,))

    def _params(self) -> str:
        return str(self.snapshots)


def binomial_actions(steps: int, snapshots: int) -> list[Action]:
    """The whole Revolve action list: store the initial state, reverse, free it."""
    actions: list[Action] = []
    if steps > 1:
        actions.append(Action(STORE, 0, -1, 0, 0))
    _reverse_segment(actions, 0, steps, list(range(min(snapshots, max(steps - 1, 1)))))
    if steps > 1:
        actions.append(Action(FREE, 0, -1, 0, 0))
    return actions


# task kinds on the explicit stack (the recursion would be ~n deep for one slot)
_REVERSE, _RESTORE, _FREE = 0, 1, 2


def _reverse_segment(out: list, start: int, end: int, slots: list[int]) -> None:
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
        if b - a == 1:
            append(new(Action, (ADJOINT, a, -1, -1, 0)))
            continue
        split, reps = optimal_split(b - a, total - depth, reps)
        mid = a + split
        append(new(Action, (ADVANCE, a, mid, -1, 0)))
        push((_REVERSE, a, mid, depth, max(reps - 1, 1)))
        push((_RESTORE, a, -1, depth, 0))
        if b - mid > 1:
            append(new(Action, (STORE, mid, -1, slots[depth + 1], 0)))
            push((_FREE, mid, -1, depth + 1, 0))
        push((_REVERSE, mid, b, depth + 1, reps))
