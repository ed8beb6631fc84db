"""``while`` loops: the trip count is known only when the loop ends.

Without differentiation: a plain ``lax.while_loop``. Under reverse-mode AD:

- an ``online`` scheme (``Online``) runs its placement kernel inside the compiled forward loop,
  which also keeps the state before the last iteration (the reversal starts with its adjoint), and
  its reversal kernel inside the compiled backward loop, one action per iteration through
  ``apply_group``. Works under ``jax.jit``.
- an offline scheme needs the trip count to plan: the forward pass counts it, which works when the
  inputs are concrete (eager ``jax.grad``); while tracing it raises an error suggesting ``Online``.
- a body whose adjoint reads no state (affine in the carry) needs neither: the forward pass counts
  the steps, the backward pass runs that many adjoint steps (any scheme, under ``jax.jit`` too).

Statistics are only known at run time, so a ``jax.debug.callback`` reports them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..schedules._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE
from ..schedules._array_ops import ArrayOps
from ._fori import make_run
from ._stats import emit
from ._step import CarryError, Consts, Step, defined_at
from ._host_while import online_rules
from ._storage import host_driven, in_graph_layout
from ._sweep import Carry, apply_group, at_slot
from ._traced import Traced


class UnknownTripCountError(TypeError):
    """An offline scheme was asked to reverse a loop whose length is unknown while tracing."""


def _condition(cond, step: Step, what: str) -> Traced:
    def flat(xs):
        return [cond(step.unflatten(xs))]

    test = Traced(flat, step.init)
    (out,) = test.out_shape
    if out.shape != () or out.dtype != jnp.bool_:
        raise CarryError(
            f"the {what} condition{defined_at(cond)} must return a boolean scalar, got "
            f"{out.dtype.name}{list(out.shape)}"
        )
    return test


def run_while(scheme, cond, body, init, what: str = "while loop"):
    """``init`` after ``body`` ran while ``cond`` held, checkpointed by ``scheme``."""
    step = Step(body, init, index=None, what=f"{what} body")
    test = _condition(cond, step, what)
    nbytes = step.snapshot_bytes

    def plain(consts, cconsts, leaves):
        def advance(c):
            return c[0] + 1, step(0, c[1], consts)

        return lax.while_loop(lambda c: test(cconsts, c[1])[0], advance, (jnp.int32(0), leaves))

    @jax.custom_vjp
    def run(consts, cconsts, diff, other):
        n, leaves = plain(consts, cconsts, step.merge(diff, other))
        emit(scheme, n, n, 0, 0, 0, nbytes)
        return step.split(leaves)

    if not step.adjoint_reads_state():
        fwd, bwd = _stateless_rules(scheme, step, plain)
    elif scheme.online and host_driven(scheme, 1):
        fwd, bwd = online_rules(scheme, step, test)
    elif scheme.online:
        fwd, bwd = _online_rules(scheme, step, test)
    else:
        fwd, bwd = _offline_rules(scheme, step, plain)
    run.defvjp(fwd, bwd)
    diff, other = step.split(step.init)
    out = run(step.consts, test.consts, diff, other)
    return step.unflatten(step.merge(*out))


def _stateless_rules(scheme, step: Step, plain):
    """A body whose adjoint reads no state: count the steps, then n adjoint steps, no snapshots.

    Needs no trip count while tracing, so any scheme works under ``jax.jit`` here.
    """

    def fwd(consts, cconsts, diff, other):
        n, leaves = plain(consts, cconsts, step.merge(diff, other))
        return step.split(leaves), (consts, n)

    def bwd(res, cotangents):
        consts, n = res
        placeholder = [jnp.zeros(a.shape, a.dtype) for a in step.avals]

        def back(j, c):
            return step.adjoint(n - 1 - j, placeholder, c[0], c[1], consts)

        start = (list(cotangents[0]), [jnp.zeros_like(c) for c in consts.diff])
        cot, pcot = lax.fori_loop(0, n, back, start)
        emit(scheme, n, n, n, 0, 0, step.snapshot_bytes)
        return Consts(pcot, None), None, cot, None

    return fwd, bwd


def _online_rules(scheme, step: Step, test: Traced):
    kern = scheme.kernels(ArrayOps(jnp, lax))
    layout = in_graph_layout(scheme)
    slots = scheme.snapshots

    def fwd(consts, cconsts, diff, other):
        leaves = step.merge(diff, other)

        def iteration(c):
            t, _, x, _, placement, buffers, stores = c
            placement, slot = kern.place(placement, t)
            buffers = at_slot(slot, lambda s, b: layout.save(b, s, x), buffers)
            y = step(t, x, consts)
            return t + 1, x, y, test(cconsts, y)[0], placement, buffers, stores + (slot >= 0)

        start = (jnp.int32(0), leaves, leaves, test(cconsts, leaves)[0], kern.init(), layout.empty(slots, leaves), jnp.int32(0))
        n, before, out, _, placement, buffers, stores = lax.while_loop(lambda c: c[3], iteration, start)
        return step.split(out), (consts, before, buffers, placement, n, stores)

    def bwd(res, cotangents):
        consts, hand, buffers, placement, n, stores = res
        held = placement[0]  # checkpoints held when the forward sweep ended

        def action(c):
            rstate, carry, _, counts = c
            rstate, (op, s, to, slot, _, done) = kern.reverse_next(rstate)
            group = (
                jnp.where(op == RESTORE, slot, -1),
                jnp.where(op == ADVANCE, s, 0),
                jnp.where(op == ADVANCE, to, 0),
                jnp.where(op == STORE, slot, -1),
                jnp.where(op == ADJOINT, s, -1),
            )
            carry = apply_group(group, carry, step, consts, layout)
            advanced, stored, held, peak = counts
            held = held + (op == STORE) - (op == FREE)
            counts = (advanced + jnp.where(op == ADVANCE, to - s, 0), stored + (op == STORE), held, jnp.maximum(peak, held))
            return rstate, carry, done == 1, counts

        carry = Carry(hand, buffers, list(cotangents[0]), [jnp.zeros_like(c) for c in consts.diff])
        start = (kern.reverse_init(placement, n), carry, jnp.bool_(False), (jnp.int32(0), stores, held, held))
        _, carry, _, (advanced, stored, _, peak) = lax.while_loop(lambda c: ~c[2], action, start)
        emit(scheme, n, n + advanced, n, stored, peak, step.snapshot_bytes)
        return Consts(carry.pcot, None), None, carry.cot, None

    return fwd, bwd


def _offline_rules(scheme, step: Step, plain):
    plans = {}  # the plan made by fwd, for bwd (fwd runs eagerly with concrete inputs)

    def fwd(consts, cconsts, diff, other):
        leaves = step.merge(diff, other)
        count, _ = plain(consts, cconsts, leaves)
        try:
            n = int(count)
        except jax.errors.ConcretizationTypeError:
            raise UnknownTripCountError(
                f"{scheme!r} plans for a known number of steps, but this while loop's trip count is not "
                "known while tracing (under jax.jit or jax.vmap). Use an online scheme, "
                f"Online({getattr(scheme, 'snapshots', 8)}), which places checkpoints as the loop runs, "
                "or differentiate without jit so the loop can be counted first."
            ) from None
        plans["run"] = plan = make_run(scheme, step, n) if n else None
        if plan is None:
            return step.split(leaves), (consts, None, None, None)
        rows = jnp.asarray(plan.table.rows)
        out, hand, buffers = plan.forward(rows, consts, leaves)
        return step.split(out), (consts, rows, hand, buffers)

    def bwd(res, cotangents):
        consts, rows, hand, buffers = res
        plan = plans["run"]
        if plan is None:
            return Consts([jnp.zeros_like(c) for c in consts.diff], None), None, list(cotangents[0]), None
        cot, pcot = plan.reverse(rows, consts, hand, buffers, cotangents[0])
        return Consts(pcot, None), None, cot, None

    return fwd, bwd
