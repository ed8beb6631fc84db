"""``Periodic``: segment starts stored on the way forward, each segment replayed on the way back."""

from __future__ import annotations

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE, Action
from ._schedule import Schedule, make_schedule
from ._scheme import Scheme, check_count


class Periodic(Scheme):
    """Periodic checkpointing with ``snapshots`` segments.

    ``snapshots`` is the number of segments, hence of segment-start checkpoints: the loop of ``n``
    steps is cut into ``min(snapshots, n)`` consecutive segments whose lengths differ by at most
    one (the longer ones first), so every step belongs to exactly one segment whatever
    ``n % snapshots`` is. Their starts are stored on the forward sweep. On the way back each
    segment is restored from its start and replayed once, storing its inner states step by step
    into inner slots, then reversed from those; the last segment's inner states are stored during
    the forward sweep itself, so it is never replayed.

    Budget (one level): ``min(snapshots, n)`` segment slots plus ``ceil(n / snapshots) - 2`` inner
    slots (the longest segment's states other than its start and its last, which is in hand). The
    memory therefore grows with ``n / snapshots``; use ``Revolve`` for a fixed memory.
    Forward steps: ``n - 1`` plus ``length - 1`` for every segment but the last.
    """

    def __init__(self, snapshots: int, *, storage=None, verbose: bool = False):
        super().__init__(storage=storage, verbose=verbose)
        self.snapshots = check_count("Periodic: snapshots", snapshots, 1)

    def plan(self, steps: int) -> Schedule:
        steps = check_count("Periodic.plan: steps", steps, 0)
        bounds = segments(steps, self.snapshots)
        count = len(bounds)
        inner = max(bounds[0][1] - bounds[0][0] - 2, 0) if bounds else 0
        actions: list[Action] = []
        for k, (a, b) in enumerate(bounds):
            if k < count - 1:
                actions += [Action(STORE, a, -1, k), Action(ADVANCE, a, b)]
            elif b - a > 1:
                actions.append(Action(STORE, a, -1, k))
                _replay(actions, a, b, count)
        for k in range(count - 1, -1, -1):
            a, b = bounds[k]
            if k < count - 1:
                actions.append(Action(RESTORE, a, -1, k))
                _replay(actions, a, b, count)
            _reverse(actions, a, b, k, count, start_stored=k < count - 1 or b - a > 1)
        return make_schedule(steps, actions, repr(self), (count + inner,))

    def _params(self) -> str:
        return str(self.snapshots)


def segments(steps: int, count: int) -> list[tuple[int, int]]:
    """``min(count, steps)`` ranges tiling ``0..steps``, lengths differing by at most one."""
    count = min(count, steps)
    if count == 0:
        return []
    base, longer = divmod(steps, count)
    bounds, start = [], 0
    for k in range(count):
        stop = start + base + (k < longer)
        bounds.append((start, stop))
        start = stop
    return bounds


def _replay(actions: list, a: int, b: int, inner_base: int) -> None:
    """From the state at ``a`` in hand, step to ``b - 1`` storing ``a+1 .. b-2`` in inner slots."""
    for i in range(a + 1, b):
        actions.append(Action(ADVANCE, i - 1, i))
        if i < b - 1:
            actions.append(Action(STORE, i, -1, inner_base + i - a - 1))


def _reverse(actions: list, a: int, b: int, outer: int, inner_base: int, start_stored: bool) -> None:
    """With the state at ``b - 1`` in hand and ``a .. b-2`` stored, run adjoints ``b-1 .. a``.

    Every slot is freed after its adjoint; ``start_stored`` says whether ``a`` has a slot at all
    (the last segment of length one is never stored).
    """
    for i in range(b - 1, a - 1, -1):
        slot = outer if i == a else inner_base + i - a - 1
        if i < b - 1:
            actions.append(Action(RESTORE, i, -1, slot))
        actions.append(Action(ADJOINT, i))
        if i < b - 1 or (i == a and start_stored):
            actions.append(Action(FREE, i, -1, slot))
