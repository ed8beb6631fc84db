"""What one schedule action does to the executor's carry, and the compiled executor of a table.

``apply_action`` is the single definition of the action semantics. It works both with Python
integers (a host-driven executor, one action at a time, ``slots`` backed by a host ``Store``) and
with traced integers (the compiled executor below, where the action is a row of an int32 table
and ``slots`` is the in-graph ``PackedLayout``). With traced integers every op is guarded by
``when``, a while loop of zero or one trip: unlike ``lax.cond``, XLA updates a while loop's carry
in place, so the snapshot buffers are never copied by a branch.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from ..schedules._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE


class Carry(NamedTuple):
    """What an executor holds between actions."""

    hand: list  #: leaves of the state in hand
    buffers: object  #: snapshot storage (in-graph buffers, or a host store)
    cot: list | None = None  #: cotangent of the differentiable leaves (reverse sweep only)
    pcot: list | None = None  #: accumulated cotangent of the hoisted arrays (reverse sweep only)


def when(pred, fun, operand):
    """``fun(operand)`` if ``pred`` else ``operand``, without copying ``operand`` when traced."""
    if isinstance(pred, (bool, np.bool_)):
        return fun(operand) if pred else operand
    _, out = lax.while_loop(lambda c: c[0], lambda c: (jnp.zeros_like(c[0]), fun(c[1])), (pred, operand))
    return out


def pick(pred, a, b):
    """``a`` if ``pred`` else ``b``, for Python or traced ``pred``."""
    if isinstance(pred, (bool, np.bool_)):
        return a if pred else b
    return jnp.where(pred, a, b)


def apply_action(action, carry: Carry, step, consts, slots) -> Carry:
    """The carry after one action ``(op, step, to, slot)``; ``slot`` is flat across levels.

    ``step`` is a ``Step``; ``slots`` has ``load(buffers, slot) -> leaves`` and
    ``save(buffers, slot, leaves) -> buffers``. FREE changes nothing here (a store may release
    memory on it). ADJOINT leaves the state in hand as it was: the schedule restores next.
    """
    op, k, to, slot = action
    hand = when(op == RESTORE, lambda _: slots.load(carry.buffers, slot), carry.hand)
    hand = step.advance(hand, k, pick(op == ADVANCE, to, k), consts)
    buffers = when(op == STORE, lambda b: slots.save(b, slot, hand), carry.buffers)
    cot, pcot = carry.cot, carry.pcot
    if cot is not None:
        cot, pcot = when(op == ADJOINT, lambda c: step.adjoint(k, hand, c[0], c[1], consts), (cot, pcot))
    return Carry(hand, buffers, cot, pcot)


class Table(NamedTuple):
    """A schedule as the compiled executor runs it."""

    rows: np.ndarray  #: (len, 4) int32: op, step, to, flat slot; FREE rows dropped
    forward: int  #: rows before the first ADJOINT (the forward sweep)
    slots: int  #: snapshot rows to allocate, all levels together


def compile_table(schedule) -> Table:
    """Drop FREE actions (no-ops for in-graph buffers) and number slots across levels."""
    actions = schedule.to_array()
    budget = schedule.slots
    offsets = np.concatenate([[0], np.cumsum(budget)]).astype(np.int64)
    actions = actions[actions[:, 0] != FREE]
    slot = np.where(actions[:, 3] >= 0, offsets[np.maximum(actions[:, 4], 0)] + actions[:, 3], -1)
    rows = np.stack([actions[:, 0], actions[:, 1], actions[:, 2], slot], axis=1).astype(np.int32)
    adjoints = np.flatnonzero(rows[:, 0] == ADJOINT)
    forward = int(adjoints[0]) if len(adjoints) else len(rows)
    return Table(rows.reshape(-1, 4), forward, int(offsets[-1]))


def run_rows(rows, first: int, last: int, carry: Carry, step, consts, slots) -> Carry:
    """Execute ``rows[first:last]`` (a traced int32 table) as one compiled loop."""

    def body(c):
        r, carry = c
        row = lax.dynamic_index_in_dim(rows, r, keepdims=False)
        return r + 1, apply_action((row[0], row[1], row[2], row[3]), carry, step, consts, slots)

    _, carry = lax.while_loop(lambda c: c[0] < last, body, (jnp.int32(first), carry))
    return carry
