"""Recover a diffusivity from one observed final state, by gradient descent through 4000 steps.

A 1-D rod with fixed zero ends starts from a known profile (a Gaussian and a plateau) and diffuses
with an unknown diffusivity ``kappa``. All we observe is the profile after 4000 explicit steps,
with a little measurement noise. Starting from a poor guess, gradient descent on ``log(kappa)``
minimises the relative misfit between the simulated and the observed final profile. Each
iteration needs the gradient through the whole simulation: the marked loop with ``Revolve(10)``
keeps 10 states instead of 4000, and the loss and its gradient are one ``jax.jit`` function.

The script checks the checkpointed gradient against plain JAX AD (``jax.lax.fori_loop``, which
stores every state) at the first guess, checks the recovered value and plots the loss curve::

    python examples/parameter_fit.py                    # 101 cells, 4000 steps
    python examples/parameter_fit.py --cells 21 --steps 200 --no-plot
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


def step(T, kappa, dt, dx):
    return T.at[1:-1].add(kappa * dt / dx**2 * (T[2:] - 2 * T[1:-1] + T[:-2]))


@ckpt_transform.transform
def final_field(T, kappa, dt, dx, nsteps, scheme):
    with checkpoint(scheme, T):
        for i in range(nsteps):
            T = step(T, kappa, dt, dx)
    return T


def final_field_plain(T, kappa, dt, dx, nsteps):
    """The same loop as ``jax.lax.fori_loop``; ``jax.grad`` of it stores every state."""
    return jax.lax.fori_loop(0, nsteps, lambda i, T: step(T, kappa, dt, dx), T)


def initial_field(cells):
    x = jnp.linspace(0.0, 1.0, cells)
    T = jnp.exp(-(((x - 0.3) / 0.05) ** 2)) + 0.5 * (jnp.abs(x - 0.7) < 0.1)
    return T.at[0].set(0.0).at[-1].set(0.0)


def descend(value_and_grad, loss, p, *, iterations, rtol=1e-9):
    """Gradient descent with a backtracking (Armijo) step, so there is no learning rate to tune.

    Stops after ``iterations`` gradients or when a step lowers the loss by less than ``rtol``
    (relative). Returns the last parameter and the loss at every iterate.
    """
    value, grad = (float(x) for x in value_and_grad(p))
    history, rate = [value], 1.0
    for _ in range(iterations):
        while rate > 1e-12:
            trial = p - rate * grad
            trial_value = float(loss(trial))
            if trial_value <= value - 0.5 * rate * grad**2:
                break
            rate /= 2
        else:
            break  # no step along the gradient lowers the loss: converged to rounding
        converged = value - trial_value <= rtol * value
        p, rate = trial, rate * 2
        value, grad = (float(x) for x in value_and_grad(p))
        history.append(value)
        if converged:
            break
    return p, history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=101, help="grid points, ends included")
    parser.add_argument("--steps", type=int, default=4000, help="time steps per simulation")
    parser.add_argument("--snapshots", type=int, default=10, help="Revolve snapshots")
    parser.add_argument("--kappa", type=float, default=0.7, help="true diffusivity")
    parser.add_argument("--guess", type=float, default=0.2, help="first guess")
    parser.add_argument("--noise", type=float, default=1e-3, help="observation noise (std)")
    parser.add_argument("--iterations", type=int, default=40, help="most descent iterations")
    parser.add_argument("--outdir", default=".", help="where the PNG plot goes")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)

    dx = 1.0 / (args.cells - 1)
    dt = 0.1 * dx**2  # kappa * dt / dx**2 = 0.1 * kappa: stable for kappa < 5
    n, scheme = args.steps, Revolve(args.snapshots)
    T0 = initial_field(args.cells)
    noise = args.noise * jax.random.normal(jax.random.PRNGKey(0), T0.shape)
    observed = final_field_plain(T0, args.kappa, dt, dx, n) + noise.at[0].set(0.0).at[-1].set(0.0)

    def misfit(T):
        return jnp.sum((T - observed) ** 2) / jnp.sum(observed**2)

    def loss(log_kappa):
        return misfit(final_field(T0, jnp.exp(log_kappa), dt, dx, n, scheme))

    def loss_plain(log_kappa):
        return misfit(final_field_plain(T0, jnp.exp(log_kappa), dt, dx, n))

    print(f"fit kappa: {args.cells} cells, {n} steps, {scheme!r}, true {args.kappa}, guess {args.guess}")
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    p0 = float(np.log(args.guess))
    checks = Checks()
    print("check against plain JAX AD (store-all jax.lax.fori_loop) at the first guess:")
    checks.close("loss and gradient", value_and_grad(p0), jax.value_and_grad(loss_plain)(p0), rtol=1e-12)
    print_costs(scheme, n)
    print_stats(scheme)

    p, history = descend(value_and_grad, jax.jit(loss), p0, iterations=args.iterations)
    kappa = float(np.exp(p))
    print(f"{len(history) - 1} iterations: kappa {kappa:.6f} (true {args.kappa}), loss {history[-1]:.3e}")
    checks.close("recovered kappa", kappa, args.kappa, rtol=0.02)
    # At the true kappa the misfit is the noise's; the minimum found must be at least as low.
    noise_level = float(misfit(final_field_plain(T0, args.kappa, dt, dx, n)))
    checks.true("misfit down to the noise level", history[-1] <= noise_level * (1 + 1e-9),
                f"{history[-1]:.6e} <= {noise_level:.6e}")

    if not args.no_plot:
        plot(args.outdir, history, noise_level)
    return checks.exit_code()


def plot(outdir, history, noise_level) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(np.arange(len(history)), history, "o-", label="misfit")
    ax.axhline(noise_level, ls="--", color="0.5", label="misfit of the true kappa (noise)")
    ax.legend()
    ax.set(xlabel="gradient descent iteration", ylabel="relative misfit", title="fitting kappa")
    save(fig, outdir, "parameter_fit_loss.png")


if __name__ == "__main__":
    sys.exit(main())
