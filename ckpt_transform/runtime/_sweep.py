"""What a group of schedule actions does to the executor's carry, and the compiled executor.

A schedule is run as *groups*: ``[RESTORE] [ADVANCE] [STORE] [ADJOINT]``, each part optional, in
that order. Revolve-like schedules are mostly ``restore, advance, store`` and ``advance, adjoint``
runs, so a group costs one loop iteration instead of three or four. ``apply_group`` is the single
definition of the action semantics. It works with Python integers (a host-driven executor, one
group at a time, ``slots`` backed by a host ``Store``) and with traced integers (the compiled
executor below, where a group is a row of an int32 table and ``slots`` is the in-graph
``PackedLayout``).

With traced integers every part is guarded by ``when``. For large operands it is a while loop of
zero or one trip: unlike ``lax.cond``, XLA updates a while loop's carry in place, so the snapshot
buffers are never copied by a branch. For small operands a ``lax.cond`` is cheaper per iteration,
and copying a few kilobytes costs less than the loop.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..schedules._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE

#: operands up to this many bytes are guarded by lax.cond, larger ones by a 0/1-trip while loop
SMALL_BYTES = 1 << 16


class Carry(NamedTuple):
    """What an executor holds between groups."""

    hand: list  #: leaves of the state in hand
    buffers: object  #: snapshot storage (in-graph buffers, or a host store)
    cot: list | None = None  #: cotangent of the differentiable leaves (reverse sweep only)
    pcot: list | None = None  #: accumulated cotangent of the hoisted arrays (reverse sweep only)


def _nbytes(tree) -> int:
    return sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree_util.tree_leaves(tree))


def when(pred, fun, operand):
    """``fun(operand)`` if ``pred`` else ``operand``; see the module docstring for the guard."""
    if isinstance(pred, (bool, np.bool_)):
        return fun(operand) if pred else operand
    if _nbytes(operand) <= SMALL_BYTES:
        return lax.cond(pred, fun, lambda x: x, operand)
    _, out = lax.while_loop(lambda c: c[0], lambda c: (jnp.zeros_like(c[0]), fun(c[1])), (pred, operand))
    return out


def apply_group(group, carry: Carry, step, consts, slots) -> Carry:
    """The carry after one group ``(restore_slot, start, stop, store_slot, adjoint_step)``.

    ``-1`` marks an absent part (``start == stop``: no advance). Slots are flat across levels.
    ``step`` is a ``Step``; ``slots`` has ``load(buffers, slot) -> leaves`` and
    ``save(buffers, slot, leaves) -> buffers``. ADJOINT leaves the state in hand as it was: the
    schedule restores before it is used again.
    """
    restore, start, stop, store, adjoint = group
    hand = when(restore >= 0, lambda _: slots.load(carry.buffers, restore), carry.hand)
    hand = step.advance(hand, start, stop, consts)
    buffers = when(store >= 0, lambda b: slots.save(b, store, hand), carry.buffers)
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
