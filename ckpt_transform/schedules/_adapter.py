"""``FromCheckpointSchedules``: use a ``checkpoint_schedules`` schedule as a scheme.

checkpoint_schedules (optional dependency) describes a schedule as ``Forward``/``Reverse``/
``Copy``/``Move`` actions over storages RAM, DISK and WORK. Its model differs from ours in one
point: a ``Forward`` that writes "adjoint dependencies" records the steps it runs so that its
``Reverse`` needs no recomputation, while our ``ADJOINT i`` re-evaluates step ``i`` from the state
at ``i`` inside the vector-Jacobian product. So a dependency-writing ``Forward(n0, n1)`` becomes
"advance to ``n1 - 1``, keeping the states ``n0 .. n1-1``" (one step fewer), and a schedule whose
dependency-writing forwards are single steps (all the binomial ones) costs exactly its own forward
step count minus ``n`` here. Adjoint dependencies and restart data of step ``i`` are both the state
at ``i``. RAM is level 0, DISK level 1; the budget is the slots the conversion needed per level.
"""

from __future__ import annotations

import copy

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE, Action
from ._check import check_schedule
from ._schedule import Schedule, make_schedule
from ._scheme import Scheme, check_count


class FromCheckpointSchedules(Scheme):
    """A scheme built from ``checkpoint_schedules``.

    ``source`` is either a function ``steps -> CheckpointSchedule`` (for example
    ``lambda n: checkpoint_schedules.Revolve(n, 4)``), or a ``CheckpointSchedule`` object, which
    is copied for every plan (its ``max_n``, when set, must equal the loop's length). Schedules
    without ``max_n`` are told the length with ``finalize`` once their forward reaches it.
    ``storage`` holds RAM (level 0), ``disk_storage`` DISK (level 1).
    """

    def __init__(self, source, *, storage=None, disk_storage=None, verbose: bool = False):
        super().__init__(storage=storage, verbose=verbose)
        if not callable(source) and not hasattr(source, "_iterator"):
            raise TypeError(
                "FromCheckpointSchedules: source must be a checkpoint_schedules CheckpointSchedule or a function "
                f"steps -> CheckpointSchedule, got {type(source).__name__}"
            )
        self.source = source
        self.disk_storage = disk_storage

    def plan(self, steps: int) -> Schedule:
        steps = check_count("FromCheckpointSchedules.plan: steps", steps, 0)
        if hasattr(self.source, "_iterator"):
            max_n = getattr(self.source, "max_n", None)
            if max_n is not None and steps and max_n != steps:
                raise ValueError(
                    f"FromCheckpointSchedules.plan: steps ({steps}) differs from the checkpoint_schedules "
                    f"schedule's max_n ({max_n}); "
                    "pass a function steps -> schedule to plan any length"
                )
            schedule = copy.deepcopy(self.source)
        else:
            schedule = self.source(steps) if steps else None
        actions, budget = convert(schedule, steps) if steps else ([], ())
        result = make_schedule(steps, actions, repr(self), budget)
        try:
            check_schedule(result)
        except AssertionError as error:
            raise ValueError(f"{type(schedule).__name__} cannot be converted to a valid schedule: {error}") from None
        return result

    def _params(self) -> str:
        name = getattr(self.source, "__name__", None) or type(self.source).__name__
        return name


def convert(schedule, steps: int) -> tuple[list[Action], tuple[int, ...]]:
    """Our actions and per-level budget for a fresh (not yet iterated) checkpoint_schedules
    schedule of ``steps`` steps."""
    from checkpoint_schedules import Copy, EndForward, EndReverse, Forward, Move, Reverse, StorageType

    levels = {StorageType.RAM: 0, StorageType.DISK: 1}
    out: list[Action] = []
    slots: dict[tuple[int, int], int] = {}  # (level, step) -> slot
    free_slots: list[set[int]] = [set(), set()]
    used = [0, 0]
    deps: set[tuple[int, int]] = set()  # held (level, step) written as adjoint dependencies
    hand: int | None = 0  # step of the state we really hold
    position = 0  # step the checkpoint_schedules model is at (ahead of hand at the very end)

    def fail(action, why: str):
        raise ValueError(f"cannot convert {type(schedule).__name__} action {action}: {why}")

    def store(step: int, level: int) -> None:
        if (level, step) in slots:
            return
        slot = min(free_slots[level]) if free_slots[level] else used[level]
        free_slots[level].discard(slot)
        used[level] = max(used[level], slot + 1)
        slots[(level, step)] = slot
        out.append(Action(STORE, step, -1, slot, level))

    def release(step: int, level: int) -> None:
        slot = slots.pop((level, step))
        deps.discard((level, step))
        free_slots[level].add(slot)
        out.append(Action(FREE, step, -1, slot, level))

    def restore(action, step: int, level: int) -> None:
        if (level, step) not in slots:
            fail(action, f"step {step} is not held on level {level}")
        out.append(Action(RESTORE, step, -1, slots[(level, step)], level))

    for action in schedule:
        if isinstance(action, Forward):
            n0, n1 = action.n0, min(action.n1, steps)
            if n0 != position or hand is None or hand > n0:
                fail(action, f"the state in hand is at step {position}")
            if hand < n0:
                out.append(Action(ADVANCE, hand, n0))
            level = levels.get(action.storage, 0)
            if action.write_ics and action.storage in levels:
                store(n0, level)
            if action.write_adj_deps:
                for i in range(n0, n1):
                    if i > n0:
                        out.append(Action(ADVANCE, i - 1, i))
                    if action.storage in levels or i < n1 - 1:
                        store(i, level)
                        deps.add((level, i))
                hand = n1 - 1
            else:
                hand = min(n1, steps - 1)
                if hand > n0:
                    out.append(Action(ADVANCE, n0, hand))
            position = n1
            if getattr(schedule, "max_n", steps) is None and n1 >= steps:
                schedule.finalize(steps)
        elif isinstance(action, Reverse):
            for i in range(action.n1 - 1, action.n0 - 1, -1):
                if hand != i:
                    held = [level for level in (0, 1) if (level, i) in slots]
                    restore(action, i, min(held, key=lambda level: (level, i) not in deps, default=0))
                out.append(Action(ADJOINT, i))
                hand = None
                if action.clear_adj_deps:
                    for level in (0, 1):
                        if (level, i) in deps:
                            release(i, level)
        elif isinstance(action, (Copy, Move)):
            source, target = levels.get(action.from_storage), action.to_storage
            if source is None:
                fail(action, "only copies from RAM or DISK are supported")
            if target != StorageType.NONE:
                restore(action, action.n, source)
                hand = position = action.n
                if target in levels:
                    store(action.n, levels[target])
            if isinstance(action, Move):
                release(action.n, source)
        elif isinstance(action, EndReverse):
            break
        elif not isinstance(action, EndForward):
            fail(action, "unknown action")
    for level, step in sorted(slots):
        release(step, level)
    budget = tuple(used[: 2 if used[1] else 1])
    return out, budget
