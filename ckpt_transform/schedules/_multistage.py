"""``Multistage``: binomial checkpointing over two storage levels, fast memory and slower disk.

The schedule is Revolve's for ``memory + disk`` slots (so the same, optimal, forward step count);
what this module adds is the choice of level for every stored checkpoint. Revolve uses its slots
last-in first-out, so the checkpoints form a tree (a checkpoint's children are those stored while
it is held) and the ones held at any moment are a root-to-node path. An exact dynamic programme
over that tree keeps in memory the checkpoints with the most accesses (its store plus its
restores) subject to at most ``memory`` memory slots and ``disk`` disk slots on every path, so the
disk holds the checkpoints re-read least and the disk traffic is the least possible.
"""

from __future__ import annotations

from ._actions import FREE, RESTORE, STORE, Action
from ._revolve import binomial_actions
from ._schedule import Schedule, make_schedule
from ._scheme import Scheme, check_count

_NEG = float("-inf")


class Multistage(Scheme):
    """Binomial checkpointing with ``memory`` slots on level 0 and ``disk`` slots on level 1.

    ``storage`` holds level 0 (default: device memory), ``disk_storage`` level 1 (the runtime's
    default when None). Same forward steps as ``Revolve(memory + disk)``.
    """

    def __init__(self, memory: int, disk: int, *, disk_storage=None, storage=None, verbose: bool = False):
        super().__init__(storage=storage, verbose=verbose)
        self.memory = check_count("Multistage: memory", memory, 0)
        self.disk = check_count("Multistage: disk", disk, 0)
        if self.memory + self.disk < 1:
            raise ValueError("Multistage: memory + disk must be >= 1 (the initial state needs a slot)")
        self.disk_storage = disk_storage

    def plan(self, steps: int) -> Schedule:
        steps = check_count("Multistage.plan: steps", steps, 0)
        actions = binomial_actions(steps, self.memory + self.disk)
        return make_schedule(steps, assign_levels(actions, self.memory, self.disk), repr(self), (self.memory, self.disk))

    def _params(self) -> str:
        params = f"{self.memory}, {self.disk}"
        return params + (f", disk_storage={self.disk_storage!r}" if self.disk_storage is not None else "")


def assign_levels(actions: list[Action], memory: int, disk: int) -> list[Action]:
    """Relabel the (single-level, last-in first-out) slots of ``actions`` onto the two levels."""
    in_memory = _memory_choices(actions, memory, disk)
    out: list[Action] = []
    where: dict[int, tuple[int, int]] = {}  # old slot -> (new slot, level)
    held = [0, 0]
    node = 0
    for action in actions:
        op, step, to, slot, _ = action
        if op == STORE:
            ancestors_in_memory = held[0]
            level = 0 if (in_memory[node] >> ancestors_in_memory) & 1 else 1
            node += 1
            where[slot] = (held[level], level)
            held[level] += 1
            out.append(Action(STORE, step, to, *where[slot]))
        elif op == RESTORE:
            out.append(Action(RESTORE, step, to, *where[slot]))
        elif op == FREE:
            new_slot, level = where.pop(slot)
            held[level] -= 1
            out.append(Action(FREE, step, to, new_slot, level))
        else:
            out.append(action)
    return out


def _memory_choices(actions: list[Action], memory: int, disk: int) -> list[int]:
    """For every store (in order) a bit mask over ``a``: keep it in memory when ``a`` of the
    checkpoints held above it are in memory.

    Bottom-up, ``best[a]`` is the most accesses served from memory in a checkpoint's subtree given
    ``a`` memory checkpoints above it: memory (if ``a < memory``) gains its accesses plus the
    children's ``best[a + 1]``, disk (if fewer than ``disk`` above are on disk) the children's
    ``best[a]``. Every path is at most ``memory + disk`` long, so one of the two is always allowed.
    """
    choices: list[int] = []
    stack: list[int] = []  # store indices currently held, innermost last
    depth_of: list[int] = []
    accesses: list[int] = []
    child_sums: list[list[float]] = []
    slot_node: dict[int, int] = {}
    root = [0.0] * (memory + 1)
    for op, _step, _to, slot, _level in actions:
        if op == STORE:
            v = len(choices)
            choices.append(0)
            depth_of.append(len(stack))
            accesses.append(1)
            child_sums.append([0.0] * (memory + 2))
            slot_node[slot] = v
            stack.append(v)
        elif op == RESTORE:
            accesses[slot_node[slot]] += 1
        elif op == FREE:
            v = stack.pop()
            sums, depth, gain = child_sums[v], depth_of[v], accesses[v]
            child_sums[v] = None  # type: ignore[call-overload]  # done with it; keeps memory flat
            parent = child_sums[stack[-1]] if stack else root
            mask = 0
            for a in range(min(depth, memory) + 1):
                keep = gain + sums[a + 1] if a < memory else _NEG
                spill = sums[a] if depth - a < disk else _NEG
                if keep >= spill:
                    mask |= 1 << a
                parent[a] += max(keep, spill)
            choices[v] = mask
    return choices
