"""``StoreAll``: every state stored once, nothing recomputed (the memory-hungry baseline)."""

from __future__ import annotations

from ._revolve import binomial_actions
from ._schedule import Schedule, make_schedule
from ._scheme import Scheme, check_count


class StoreAll(Scheme):
    """Store the states 0 .. n-2 on the forward sweep (n - 1 slots); the state n-1 stays in hand.

    This is binomial checkpointing with enough slots, so it shares Revolve's planner.
    """

    def __init__(self, *, storage=None, verbose: bool = False):
        super().__init__(storage=storage, verbose=verbose)

    def plan(self, steps: int) -> Schedule:
        steps = check_count("StoreAll.plan: steps", steps, 0)
        slots = max(steps - 1, 0)
        return make_schedule(steps, binomial_actions(steps, max(slots, 1)), repr(self), (slots,))
