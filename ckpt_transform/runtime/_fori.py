"""Loops with a known trip count: the ``custom_vjp`` around a compiled schedule table.

Without differentiation the loop is a plain ``fori_loop``. Under reverse-mode AD, ``fwd`` runs
the schedule's forward sweep (storing snapshots) and evaluates the last step once more for the
result; ``bwd`` runs the rest of the table, one vjp of the body per ADJOINT. The table is an int32
array argument, so the compiled program does not grow with the number of steps.
"""

from __future__ import annotations

import functools
import weakref

import jax
import jax.numpy as jnp

from ._compiled import lean, shared
from ._step import Consts, Step
from ._stats import LoopStats, report
from ._storage import host_driven, in_graph_layout
from ._sweep import Carry, compile_table, run_rows


#: per scheme object: {steps: (schedule, table)}, so retracing does not plan again
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def planned(scheme, n: int):
    """``(schedule, table)`` of ``scheme`` for ``n`` steps, planned once per scheme object."""
    try:
        plans = _PLANS.setdefault(scheme, {})
    except TypeError:  # an unhashable scheme: plan every time
        plans = {}
    if n not in plans:
        schedule = scheme.plan(n)
        plans[n] = schedule, compile_table(schedule)
    return plans[n]


class TableRun:
    """One schedule of ``n`` steps, compiled to a table, for ``step``."""

    def __init__(self, scheme, step: Step, n: int):
        self.scheme, self.step, self.n = scheme, step, n
        self.schedule, self.table = planned(scheme, n)

    @functools.cached_property
    def sweeps(self) -> TableSweeps:
        """The compiled sweeps, built on the first sweep: a forward-only run never needs them."""
        step, n, table = self.step, self.n, self.table
        layout = in_graph_layout(self.scheme)
        extra = ("table", n, table.forward, len(table.rows), table.slots)  # what it compiles
        return shared(step, extra, lambda: TableSweeps(step, n, table, layout))

    def forward(self, rows, consts, leaves):
        """(result leaves, state at n-1, snapshot buffers) after the forward sweep."""
        return self.sweeps.forward(rows, consts, leaves)

    def reverse(self, rows, consts, hand, buffers, cot):
        """(cotangent of the initial differentiable leaves, of the hoisted differentiable arrays)."""
        cot, pcot = self.sweeps.reverse(rows, consts, hand, buffers, cot)
        s = self.schedule
        report(self.scheme, LoopStats(
            repr(self.scheme), self.n, s.forward_steps + 1, s.reverse_steps, s.stores, s.peak_snapshots,
            self.step.snapshot_bytes,
        ))
        return cot, pcot


class TableSweeps:
    """The two sweeps of a table as compiled functions, shared by runs of the same computation.

    Compiled eagerly too, so that the last step is compiled as in the plain loop (bit-identical)
    and an eager ``jax.grad`` does not compile its sweeps again on every call.
    """

    def __init__(self, step: Step, n: int, table, layout):
        step, split, end = lean(step), table.forward, len(table.rows)

        def forward(rows, consts, leaves):
            carry = Carry(leaves, layout.empty(table.slots, leaves))
            carry = run_rows(rows, 0, split, carry, step, consts, layout)
            return step(n - 1, carry.hand, consts), carry.hand, carry.buffers

        def reverse(rows, consts, hand, buffers, cot):
            carry = Carry(hand, buffers, list(cot), [jnp.zeros_like(c) for c in consts.diff])
            carry = run_rows(rows, split, end, carry, step, consts, layout)
            return carry.cot, carry.pcot

        self.forward, self.reverse = jax.jit(forward), jax.jit(reverse)


def _plain(scheme, step: Step, n: int, consts, diff, other):
    """The loop without differentiation: a plain fori_loop, no stores."""
    report(scheme, LoopStats(repr(scheme), n, n, 0, 0, 0, step.snapshot_bytes))
    return step.split(step.advance(step.merge(diff, other), 0, n, consts))


def make_run(scheme, step: Step, n: int):
    """``TableRun``, or ``HostRun`` when snapshots live outside the compiled program."""
    if host_driven(scheme, len(planned(scheme, n)[0].slots)):
        from ._host import HostRun  # imports this module

        return HostRun(scheme, step, n)
    return TableRun(scheme, step, n)


def run_range(scheme, start: int, stride: int, n: int, body, init, what: str = "loop body"):
    """``init`` after ``body(start + k*stride, x)`` for k = 0..n-1, checkpointed by ``scheme``."""
    if n == 0:
        return init
    step = Step(body, init, index=lambda k: start + jnp.asarray(k).astype(int) * stride, what=what)
    if not step.adjoint_reads_state():
        return _run_stateless(scheme, step, n)
    plan = make_run(scheme, step, n)

    @jax.custom_vjp
    def run(rows, consts, diff, other):
        return _plain(scheme, step, n, consts, diff, other)

    def fwd(rows, consts, diff, other):
        out, hand, buffers = plan.forward(rows, consts, step.merge(diff, other))
        return step.split(out), (rows, consts, hand, buffers)

    def bwd(res, cotangents):
        rows, consts, hand, buffers = res
        cot, pcot = plan.reverse(rows, consts, hand, buffers, cotangents[0])
        return None, Consts(pcot, None), cot, None

    run.defvjp(fwd, bwd)
    diff, other = step.split(step.init)
    out = run(jnp.asarray(plan.table.rows), step.consts, diff, other)
    return step.unflatten(step.merge(*out))


def _run_stateless(scheme, step: Step, n: int):
    """A loop whose adjoint steps do not read the state: no snapshots, no recomputation.

    ``bwd`` runs the n adjoint steps in one loop on placeholder states, which XLA removes.
    """

    @jax.custom_vjp
    def run(consts, diff, other):
        return _plain(scheme, step, n, consts, diff, other)

    def fwd(consts, diff, other):
        return step.split(step.advance(step.merge(diff, other), 0, n, consts)), consts

    def bwd(consts, cotangents):
        placeholder = [jnp.zeros(a.shape, a.dtype) for a in step.avals]

        def back(j, c):
            return step.adjoint(n - 1 - j, placeholder, c[0], c[1], consts)

        start = (list(cotangents[0]), [jnp.zeros_like(c) for c in consts.diff])
        cot, pcot = jax.lax.fori_loop(0, n, back, start)
        report(scheme, LoopStats(repr(scheme), n, n, n, 0, 0, step.snapshot_bytes))
        return Consts(pcot, None), cot, None

    run.defvjp(jax.jit(fwd), bwd)
    diff, other = step.split(step.init)
    return step.unflatten(step.merge(*run(step.consts, diff, other)))
