"""The action vocabulary shared by every scheme and every runtime.

A schedule is a flat sequence of actions, each five integers ``(op, step, to, slot, level)``, so a
compiled runtime can execute it as an integer array and a host runtime can iterate over it.

=========  =====================================================================================
op         meaning (the other columns; unused ones are -1)
=========  =====================================================================================
ADVANCE    run the loop body on the state in hand from step ``step`` to step ``to`` (``to > step``)
STORE      copy the state in hand (it is the state *at* ``step``) into ``slot`` of ``level``
RESTORE    replace the state in hand by the snapshot of step ``step`` held in ``slot``/``level``
FREE       release ``slot``/``level`` (which held the state at ``step``)
ADJOINT    with the state at ``step`` in hand, pull the cotangent back through step ``step``
=========  =====================================================================================

Steps count iterations from 0: the state "at step i" is the state before iteration i runs, so a
loop of n steps has states 0..n and adjoint steps n-1..0.
"""

from __future__ import annotations

from typing import NamedTuple

ADVANCE = 0
STORE = 1
RESTORE = 2
FREE = 3
ADJOINT = 4

OP_NAMES = ("advance", "store", "restore", "free", "adjoint")

#: Storage levels: level 0 is the scheme's own storage (device memory unless a storage is given);
#: level 1 is the second level of a two-level scheme (disk for ``Multistage``).
MEMORY_LEVEL = 0
DISK_LEVEL = 1


class Action(NamedTuple):
    """One schedule action; see the module docstring for the meaning of each column."""

    op: int
    step: int
    to: int = -1
    slot: int = -1
    level: int = 0

    def __str__(self) -> str:
        name = OP_NAMES[self.op]
        if self.op == ADVANCE:
            return f"{name} {self.step} -> {self.to}"
        if self.op == ADJOINT:
            return f"{name} {self.step}"
        where = f"slot {self.slot}" + (f" (level {self.level})" if self.level else "")
        return f"{name} {where} [step {self.step}]"


def advance(start: int, stop: int) -> Action:
    return Action(ADVANCE, start, stop)


def store(step: int, slot: int, level: int = MEMORY_LEVEL) -> Action:
    return Action(STORE, step, -1, slot, level)


def restore(step: int, slot: int, level: int = MEMORY_LEVEL) -> Action:
    return Action(RESTORE, step, -1, slot, level)


def free(step: int, slot: int, level: int = MEMORY_LEVEL) -> Action:
    return Action(FREE, step, -1, slot, level)


def adjoint(step: int) -> Action:
    return Action(ADJOINT, step)
