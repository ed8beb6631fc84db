"""Loops with a trip count known while tracing: the ``custom_vjp`` around a compiled schedule.

Without differentiation the loop is a plain ``fori_loop``. Under reverse-mode AD, ``fwd`` runs
the schedule's forward sweep (storing snapshots) and evaluates the last step once more for the
result; ``bwd`` runs the rest of the table, one vjp of the body per ADJOINT action. The table is
an int32 array argument, so the compiled program does not grow with the number of steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._step import Consts, Step
from ._stats import LoopStats, report
from ._storage import in_graph_layout
from ._sweep import Carry, compile_table, run_rows


def run_range(scheme, start: int, stride: int, n: int, body, init, what: str = "loop body"):
    """``init`` after ``body(start + k*stride, x)`` for k = 0..n-1, checkpointed by ``scheme``."""
    if n == 0:
        return init
    step = Step(body, init, index=lambda k: start + jnp.asarray(k).astype(int) * stride, what=what)
    schedule = scheme.plan(n)
    table = compile_table(schedule)
    layout = in_graph_layout(scheme, step)
    nbytes = step.snapshot_bytes

    @jax.custom_vjp
    def run(rows, consts, diff, other):
        leaves = step.advance(step.merge(diff, other), 0, n, consts)
        report(scheme, LoopStats(repr(scheme), n, n, 0, 0, 0, nbytes))
        return step.split(leaves)

    def fwd(rows, consts, diff, other):
        carry = Carry(step.merge(diff, other), layout.empty(table.slots))
        carry = run_rows(rows, 0, table.forward, carry, step, consts, layout)
        out = step(n - 1, carry.hand, consts)
        return step.split(out), (rows, consts, carry.hand, carry.buffers)

    def bwd(res, cotangents):
        rows, consts, hand, buffers = res
        pcot = [jnp.zeros_like(c) for c in consts.diff]
        carry = Carry(hand, buffers, list(cotangents[0]), pcot)
        carry = run_rows(rows, table.forward, len(table.rows), carry, step, consts, layout)
        report(scheme, LoopStats(
            repr(scheme), n, schedule.forward_steps + 1, schedule.reverse_steps, schedule.stores,
            schedule.peak_snapshots, nbytes,
        ))
        return None, Consts(carry.pcot, None), carry.cot, None

    # jitted so that eagerly, too, the last step is compiled as in the plain loop (bit-identical)
    run.defvjp(jax.jit(fwd), bwd)
    diff, other = step.split(step.init)
    out = run(jnp.asarray(table.rows), step.consts, diff, other)
    return step.unflatten(step.merge(*out))
