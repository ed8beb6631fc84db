"""Loops and checks shared by the runtime and storage tests: the seed example (1-D heat, 100 cells,
500 steps), a nonlinear index-dependent body, and the I/O a schedule implies."""

import jax
import jax.numpy as jnp
import numpy as np

from ckpt_transform.runtime import fori_loop
from ckpt_transform.schedules._actions import RESTORE, STORE

FINAL_NORM = 66.21987468492061
GRAD_NORM = 6.970279349365908
T0 = jnp.zeros(100).at[0].set(20.0)


def heat_step(T, lam):
    return T.at[1:-1].add(lam * (T[2:] - 2 * T[1:-1] + T[:-2]))


def check_heat_seed(scheme, wrap=lambda f: f):
    """The seed numbers with ``scheme``, gradients taken through ``wrap`` (e.g. ``jax.jit``).

    w.r.t. T only, the adjoint of the linear step reads no state, so nothing is stored; with lam
    too, every adjoint step reads its state and the whole schedule runs (checked against the plan,
    and d/dlam against forward-mode AD of the plain loop). Returns the plan and the last stats.
    """

    def final(T, lam):
        return fori_loop(0, 500, lambda i, T: heat_step(T, lam), T, scheme=scheme)

    assert abs(np.linalg.norm(final(T0, 0.5)) - FINAL_NORM) < 1e-11
    g = wrap(jax.grad(lambda T: final(T, 0.5).sum()))(T0)
    assert abs(np.linalg.norm(g[1:-1]) - GRAD_NORM) < 1e-11
    stats = scheme.last_stats
    assert (stats.forward_steps, stats.adjoint_steps, stats.stores, stats.bytes_written) == (500, 500, 0, 0)
    g, g_lam = wrap(jax.grad(lambda T, lam: final(T, lam).sum(), argnums=(0, 1)))(T0, 0.5)
    assert abs(np.linalg.norm(g[1:-1]) - GRAD_NORM) < 1e-11
    _, want = jax.jvp(lambda lam: jax.lax.fori_loop(0, 500, lambda i, T: heat_step(T, lam), T0).sum(), (0.5,), (1.0,))
    np.testing.assert_allclose(g_lam, want, rtol=1e-12)
    plan, stats = scheme.plan(500), scheme.last_stats
    assert (stats.steps, stats.adjoint_steps, stats.stores) == (500, 500, plan.stores)
    assert stats.forward_steps == plan.forward_steps + 1
    assert stats.peak_snapshots == plan.peak_snapshots and stats.snapshot_bytes == 800
    return plan, stats


X0 = jnp.array([0.3, -0.7, 1.1])
P0 = jnp.array([0.9, 0.2, -0.4])


def nl_body(i, x, p):
    return x + 0.01 * i * jnp.sin(x) * p + 0.02 * x**2


def io_bytes(schedule, levels, nbytes, *, eager=True):
    """(bytes written, bytes read) the schedule moves through the off-device ``levels``.

    ``eager``: the host-driven executor, which restores the slot it stored last from the leaves
    it still holds, reading nothing; the compiled executor (under jit) reads every restore.
    """
    written = read = 0
    last = None
    for a in schedule.actions:
        if a.op == STORE:
            written += a.level in levels
            last = (a.level, a.slot)
        elif a.op == RESTORE:
            read += a.level in levels and not (eager and last == (a.level, a.slot))
    return written * nbytes, read * nbytes
