"""A ``while`` loop of unknown length: a damped Duffing oscillator with a state-dependent step.

    x'' + gamma x' + k x + beta x**3 = 0,    integrated until t >= t_final

Each step is semi-implicit Euler with ``dt = min(dt_max, c / (|v| + |a|))``: fast motion takes
short steps, so how many steps the loop runs is known only when it ends. That is what the
``Online`` scheme is for: it places its snapshots while the loop runs (Stumm and Walther's
online checkpointing) and keeps a fixed number of them whatever the final length.

The objective is the oscillator's energy at the end; its gradient is taken with respect to the
initial position and velocity and to the three coefficients. The script checks it against plain
JAX AD of the same loop run for as many steps with ``jax.lax.fori_loop``, which stores every state
(JAX's own ``jax.lax.while_loop`` cannot be reverse-differentiated at all)::

    python examples/adaptive_while.py                    # t_final 40, a few thousand steps
    python examples/adaptive_while.py --t-final 2 --snapshots 3
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp

import ckpt_transform
from ckpt_transform import Online, checkpoint

from _report import Checks, print_stats

DT_MAX = 0.05
ACCURACY = 0.05  # c in dt = min(dt_max, c / (|v| + |a|))


def advance(x, v, params):
    """One semi-implicit Euler step with a step size that shrinks where the motion is fast."""
    a = -params["gamma"] * v - params["k"] * x - params["beta"] * x**3
    dt = jnp.minimum(DT_MAX, ACCURACY / (jnp.abs(v) + jnp.abs(a)))
    v = v + dt * a
    return x + dt * v, v, dt


@ckpt_transform.transform
def integrate(x, v, params, t_final, scheme):
    t = 0.0
    steps = 0
    with checkpoint(scheme, (x, v, t, steps)):
        while t < t_final:
            x, v, dt = advance(x, v, params)
            t = t + dt
            steps = steps + 1
    return x, v, t, steps


def count_steps(x, v, params, t_final):
    """How many steps the unmarked loop takes, as ``jax.lax.while_loop`` runs it (primal only)."""

    def body(carry):
        x, v, t, steps = carry
        x, v, dt = advance(x, v, params)
        return x, v, t + dt, steps + 1

    return jax.lax.while_loop(lambda c: c[2] < t_final, body, (x, v, 0.0, 0))[3]


def integrate_plain(x, v, params, steps):
    """The same loop run for ``steps`` steps as ``jax.lax.fori_loop``, which JAX AD reverses by
    storing every state (``jax.lax.while_loop`` cannot be reverse-differentiated)."""

    def body(i, carry):
        x, v, t = carry
        x, v, dt = advance(x, v, params)
        return x, v, t + dt

    x, v, t = jax.lax.fori_loop(0, steps, body, (x, v, 0.0))
    return x, v, t, steps


def energy(x, v, params):
    return 0.5 * v**2 + 0.5 * params["k"] * x**2 + 0.25 * params["beta"] * x**4


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--t-final", type=float, default=40.0, help="integrate until this time")
    parser.add_argument("--snapshots", type=int, default=10, help="Online snapshots")
    parser.add_argument("--x0", type=float, default=1.5, help="initial position")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)

    x0, v0 = jnp.asarray(args.x0), jnp.asarray(0.0)
    params = {"gamma": jnp.asarray(0.1), "k": jnp.asarray(1.0), "beta": jnp.asarray(2.0)}
    scheme = Online(args.snapshots)

    def objective(x0, v0, params):
        x, v, t, steps = integrate(x0, v0, params, args.t_final, scheme)
        return energy(x, v, params), (t, steps)

    def objective_plain(x0, v0, params, steps):
        x, v, t, steps = integrate_plain(x0, v0, params, steps)
        return energy(x, v, params), (t, steps)

    print(f"Duffing oscillator until t = {args.t_final}, {scheme!r}, float64")
    value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1, 2), has_aux=True))
    (E, (t, steps)), (dx0, dv0, dparams) = value_and_grad(x0, v0, params)
    print(f"{int(steps)} steps, final time {float(t):.6f}, final energy {float(E):.10g}")
    print(f"dE/dx0 = {float(dx0):.10g}, dE/dv0 = {float(dv0):.10g}")
    print("dE/d" + ", dE/d".join(f"{k} = {float(g):.10g}" for k, g in sorted(dparams.items())))
    print_stats(scheme)

    checks = Checks()
    print("checks against plain JAX AD of the unmarked loop:")
    steps_plain = int(jax.jit(count_steps, static_argnums=3)(x0, v0, params, args.t_final))
    checks.true("same number of steps", int(steps) == steps_plain, f"{int(steps)} and {steps_plain}")
    plain = jax.jit(
        jax.value_and_grad(objective_plain, argnums=(0, 1, 2), has_aux=True), static_argnums=3
    )
    (E_plain, (t_plain, _)), g_plain = plain(x0, v0, params, steps_plain)
    checks.close("final time and energy", (t, E), (t_plain, E_plain), rtol=1e-12)
    checks.close("gradient w.r.t. x0, v0, gamma, k, beta", (dx0, dv0, dparams), g_plain, rtol=1e-12)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
