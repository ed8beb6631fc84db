"""1-D heat equation: the gradient of a 500-step explicit solver with 4 snapshots (Revolve).

A rod of 100 cells starts cold, its left end held at 20 degrees and its right end at 0. Each step
is one explicit Euler update with lambda = dt * kappa / dx**2 = 0.5. The objective is the sum of
the final temperatures; its gradient with respect to the initial field says how much each initial
temperature matters after 500 steps. The loop is written twice, as a scientist would write it:

* ``final_field``: the state is an array, rebound every iteration (``T = step(T, lam)``);
* ``final_field_object``: the state is a plain object with two buffers whose attributes the loop
  assigns, as with a Fortran derived type or a Julia mutable struct.

Both are ordinary loops marked with ``with checkpoint(Revolve(4), state):`` and rewritten by the
``@ckpt_transform.transform`` decorator. The script checks both against plain JAX AD of the
same loop without the marker (which stores all 500 states), prints the schedule's costs and saves
two plots::

    python examples/heat.py                               # full size, plots in .
    python examples/heat.py --steps 50 --cells 20 --no-plot
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

import ckpt_transform
from ckpt_transform import Revolve, checkpoint

from _report import Checks, print_costs, print_stats, pyplot, save

LEFT, RIGHT = 20.0, 0.0
#: The seed's published numbers for 100 cells, lambda 0.5, 500 steps (float64).
SEED_FIELD_NORM = 66.21987468492061
SEED_GRADIENT_NORM = 6.970279349365908


def initial_field(cells: int):
    return jnp.zeros(cells).at[0].set(LEFT).at[-1].set(RIGHT)


def step(T, lam):
    """One explicit Euler step of T_t = kappa T_xx; the two boundary cells stay fixed."""
    return T.at[1:-1].add(lam * (T[2:] - 2 * T[1:-1] + T[:-2]))


@ckpt_transform.transform
def final_field(T, lam, nsteps, scheme):
    with checkpoint(scheme, T):
        for i in range(nsteps):
            T = step(T, lam)
    return T


class Heat:
    """Two temperature buffers and the diffusion number, like a solver's mutable struct."""

    def __init__(self, T, lam):
        self.T = T
        self.Tnext = T
        self.lam = lam


def advance(heat):
    return step(heat.T, heat.lam)


@ckpt_transform.transform
def final_field_object(heat, nsteps, scheme):
    with checkpoint(scheme, heat):
        for i in range(nsteps):
            heat.Tnext = advance(heat)
            heat.T, heat.Tnext = heat.Tnext, heat.T
    return heat.T


def final_field_plain(T, lam, nsteps):
    """The same loop without the marker: plain JAX AD of it stores every state."""
    for i in range(nsteps):
        T = step(T, lam)
    return T


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=100, help="grid cells, boundaries included")
    parser.add_argument("--steps", type=int, default=500, help="time steps")
    parser.add_argument("--lam", type=float, default=0.5, help="diffusion number (<= 0.5 is stable)")
    parser.add_argument("--snapshots", type=int, default=4, help="Revolve snapshots")
    parser.add_argument("--outdir", default=".", help="where the PNG plots go")
    parser.add_argument("--no-plot", action="store_true", help="skip the plots")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)

    T0, lam, n = initial_field(args.cells), args.lam, args.steps
    scheme = Revolve(args.snapshots)
    checks = Checks()

    def objective(T0):
        return final_field(T0, lam, n, scheme).sum()

    def objective_object(T0):
        return final_field_object(Heat(T0, lam), n, scheme).sum()

    def objective_plain(T0):
        return final_field_plain(T0, lam, n).sum()

    print(f"heat equation: {args.cells} cells, lambda {lam}, {n} steps, {scheme!r}, float64")
    T = final_field(T0, lam, n, scheme)
    grad = jax.grad(objective)(T0)
    print(f"norm of the final field:             {float(jnp.linalg.norm(T))!r}")
    print(f"norm of the gradient (interior):     {float(jnp.linalg.norm(grad[1:-1]))!r}")
    print_costs(scheme, n)
    print_stats(scheme, "gradient, rebinding")

    T_object = final_field_object(Heat(T0, lam), n, scheme)
    grad_object = jax.grad(objective_object)(T0)
    print_stats(scheme, "gradient, mutable object")

    print("checks against plain JAX AD of the unmarked loop:")
    T_plain = final_field_plain(T0, lam, n)
    grad_plain = jax.grad(objective_plain)(T0)
    checks.close("final field, rebinding", T, T_plain, rtol=1e-13)
    checks.close("final field, mutable object", T_object, T_plain, rtol=1e-13)
    checks.close("gradient, rebinding", grad, grad_plain, rtol=1e-12)
    checks.close("gradient, mutable object", grad_object, grad_plain, rtol=1e-12)
    if (args.cells, n, lam) == (100, 500, 0.5):
        checks.close("seed field norm", jnp.linalg.norm(T), SEED_FIELD_NORM, atol=1e-11)
        checks.close("seed gradient norm", jnp.linalg.norm(grad[1:-1]), SEED_GRADIENT_NORM, atol=1e-11)

    if not args.no_plot:
        plot(args.outdir, np.asarray(T0), np.asarray(T), np.asarray(grad), n)
    return checks.exit_code()


def plot(outdir, T0, T, grad, n) -> None:
    plt = pyplot()
    if plt is None:
        return
    x = np.arange(T.size)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x, T0, "--", color="0.6", label="initial")
    ax.plot(x, T, label=f"after {n} steps")
    ax.set(xlabel="cell", ylabel="temperature", title="1-D heat equation")
    ax.legend()
    save(fig, outdir, "heat_temperature.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x[1:-1], grad[1:-1])
    ax.set(
        xlabel="cell",
        ylabel="d(sum of final field) / d(initial T)",
        title=f"gradient through {n} steps (checkpointed)",
    )
    save(fig, outdir, "heat_gradient.png")


if __name__ == "__main__":
    sys.exit(main())
