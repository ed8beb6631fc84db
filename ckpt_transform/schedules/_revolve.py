"""``Revolve``: binomial checkpointing, optimal for a loop whose length is known in advance."""

from __future__ import annotations

from ._actions import FREE, STORE, Action
from ._binomial import reverse_segment
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
        self.snapshots = check_count("snapshots", snapshots, 1)

    def plan(self, steps: int) -> Schedule:
        steps = check_count("steps", steps, 0)
        return make_schedule(steps, binomial_actions(steps, self.snapshots), repr(self), (self.snapshots,))

    def _params(self) -> str:
        return str(self.snapshots)


def binomial_actions(steps: int, snapshots: int) -> list[Action]:
    """The whole Revolve action list: store the initial state, reverse, free it."""
    actions: list[Action] = []
    if steps > 1:
        actions.append(Action(STORE, 0, -1, 0, 0))
    reverse_segment(actions, 0, steps, list(range(min(snapshots, max(steps - 1, 1)))))
    if steps > 1:
        actions.append(Action(FREE, 0, -1, 0, 0))
    return actions
