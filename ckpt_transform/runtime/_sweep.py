"""What a group of schedule actions does to the executor's carry, and the compiled executor.

A schedule is run as *groups*: ``[RESTORE] [ADVANCE] [STORE] [ADJOINT]``, each part optional, in
that order. Revolve-like schedules are mostly ``restore, advance, store`` and ``advance, adjoint``
runs, so a group costs one loop iteration instead of three or four. ``apply_group`` is the single
definition of the action semantics. It works with Python integers (a host-driven executor, one
group at a time, ``slots`` backed by a host ``Store``) and with traced integers (the compiled
executor below, where a group is a row of an int32 table and ``slots`` is the in-graph
``SnapshotLayout``).

With traced integers every part is guarded. The adjoint is a ``lax.cond`` over the cotangents.
Restore and store touch the snapshot buffers, which must never be an operand of a conditional
(XLA copies them into it); they are guarded by while loops of zero or one trip, which XLA updates
in place and which read closed-over buffers without copying. The slot number travels in that
loop's carry and changes on its trip, so XLA cannot hoist the load out of the loop as
loop-invariant (it would then run on every group).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from ..schedules._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE


class Carry(NamedTuple):
    """What an executor holds between groups."""

    hand: list  #: leaves of the state in hand
    buffers: object  #: snapshot storage (in-graph buffers, or a host store)
    cot: list | None = None  #: cotangent of the differentiable leaves (reverse sweep only)
    pcot: list | None = None  #: accumulated cotangent of the hoisted arrays (reverse sweep only)


def when(pred, fun, operand):
    """``fun(operand)`` if ``pred`` else ``operand``, by ``lax.cond`` when traced."""
    if isinstance(pred, (bool, np.bool_)):
        return fun(operand) if pred else operand
    return lax.cond(pred, fun, lambda x: x, operand)


def at_slot(slot, fun, operand):
    """``fun(slot, operand)`` if ``slot >= 0`` else ``operand``, by a 0/1-trip loop when traced."""
    if isinstance(slot, (int, np.integer)):
        return fun(slot, operand) if slot >= 0 else operand

    def once(c):
        s, x = c
        return jnp.full_like(s, -1), fun(s, x)  # one trip

    return lax.while_loop(lambda c: c[0] >= 0, once, (slot, operand))[1]


def apply_group(group, carry: Carry, step, consts, slots) -> Carry:
    """The carry after one group ``(restore_slot, start, stop, store_slot, adjoint_step)``.

    ``-1`` marks an absent part (``start == stop``: no advance). Slots are flat across levels.
    ``step`` is a ``Step``; ``slots`` has ``load(buffers, slot) -> leaves`` and
    ``save(buffers, slot, leaves) -> buffers``. ADJOINT leaves the state in hand as it was: the
    schedule restores before it is used again.
    """
    restore, start, stop, store, adjoint = group
    hand = at_slot(restore, lambda s, _: slots.load(carry.buffers, s), carry.hand)
    hand = step.advance(hand, start, stop, consts)
    buffers = at_slot(store, lambda s, b: slots.save(b, s, hand), carry.buffers)
    cot, pcot = carry.cot, carry.pcot
    if cot is not None:
        cot, pcot = when(adjoint >= 0, lambda c: step.adjoint(adjoint, hand, c[0], c[1], consts), (cot, pcot))
    return Carry(hand, buffers, cot, pcot)


class Table(NamedTuple):
    """A schedule as groups: what the compiled executor runs."""

    rows: np.ndarray  #: (len, 5) int32 groups, see ``apply_group``
    forward: int  #: groups of the forward sweep (actions before the first ADJOINT)
    slots: int  #: snapshot slots to allocate, all levels together


_PHASE = {RESTORE: 0, ADVANCE: 1, STORE: 2, ADJOINT: 3}


def _groups(actions, offsets) -> list[list[int]]:
    groups: list[list[int]] = []
    phase = 4
    for op, step, to, slot, level in actions:
        if op == FREE:  # memory is reused by the next STORE into the slot
            continue
        p = _PHASE[op]
        if p < phase:  # this part of the current group is taken: start a new group
            groups.append([-1, 0, 0, -1, -1])
        group = groups[-1]
        if op == RESTORE:
            group[0] = offsets[level] + slot
        elif op == ADVANCE:
            group[1:3] = step, to
        elif op == STORE:
            group[3] = offsets[level] + slot
        else:
            group[4] = step
        phase = p + 1
    return groups


def compile_table(schedule) -> Table:
    """Group the forward sweep and the reverse sweep separately; number slots across levels."""
    offsets = [0]
    for count in schedule.slots:
        offsets.append(offsets[-1] + count)
    split = schedule.forward_sweep_length
    forward = _groups(schedule.actions[:split], offsets)
    reverse = _groups(schedule.actions[split:], offsets)
    rows = np.asarray(forward + reverse, dtype=np.int32).reshape(-1, 5)
    return Table(rows, len(forward), offsets[-1])


def run_rows(rows, first: int, last: int, carry: Carry, step, consts, slots) -> Carry:
    """Execute groups ``rows[first:last]`` (a traced int32 table) as one compiled loop."""

    def body(c):
        r, carry = c
        row = lax.dynamic_index_in_dim(rows, r, keepdims=False)
        return r + 1, apply_group(tuple(row[j] for j in range(5)), carry, step, consts, slots)

    _, carry = lax.while_loop(lambda c: c[0] < last, body, (jnp.int32(first), carry))
    return carry
