"""2-D viscous Burgers on a periodic grid, its state sharded over several devices.

    u_t + u u_x + v u_y = nu (u_xx + u_yy),    v_t + u v_x + v v_y = nu (v_xx + v_yy)

Explicit Euler with centred differences (``jnp.roll`` stencils) on an N x N periodic grid. The
objective is the kinetic energy of the final field; the gradient is taken with respect to the
initial velocity field and the viscosity ``nu``. The loop carries the tuple ``(u, v)`` and is marked
with ``with checkpoint(Revolve(...), (u, v)):``.

The fields are laid out over a 1-D device mesh that splits the rows (``NamedSharding``); the
checkpointed loop must keep that layout for the loop result, the gradient and the snapshots, so no
device ever holds the whole set of snapshots. The script checks the layouts of the result and the
gradient, and, since the snapshots live inside the compiled program, that each device's working
memory shrinks with the number of devices. On a CPU, ``--devices N`` makes XLA expose N host devices::

    python examples/burgers2d.py --devices 4               # 128 x 128, 400 steps
    python examples/burgers2d.py --devices 4 --size 16 --steps 20 --save grads.npz

The script checks the gradient against plain JAX AD of the same loop (``jax.lax.fori_loop``,
which stores every state) and checks the layouts; ``--save`` writes the gradient so two runs with
different device counts can be compared.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import ckpt_transform
from ckpt_transform import Revolve, checkpoint

from _report import Checks, print_costs, print_stats

AXIS = "rows"


def ddx(f, axis, dx):
    return (jnp.roll(f, -1, axis) - jnp.roll(f, 1, axis)) / (2 * dx)


def laplacian(f, dx):
    return (
        jnp.roll(f, 1, 0) + jnp.roll(f, -1, 0) + jnp.roll(f, 1, 1) + jnp.roll(f, -1, 1) - 4 * f
    ) / dx**2


def step(u, v, nu, dx, dt):
    """One explicit Euler step; axis 0 is y (rows), axis 1 is x."""
    du = -u * ddx(u, 1, dx) - v * ddx(u, 0, dx) + nu * laplacian(u, dx)
    dv = -u * ddx(v, 1, dx) - v * ddx(v, 0, dx) + nu * laplacian(v, dx)
    return u + dt * du, v + dt * dv


def energy(u, v, dx):
    return 0.5 * jnp.sum(u**2 + v**2) * dx**2


@ckpt_transform.transform
def final_energy(u, v, nu, dx, dt, nsteps, scheme):
    with checkpoint(scheme, (u, v)):
        for i in range(nsteps):
            u, v = step(u, v, nu, dx, dt)
    return energy(u, v, dx), (u, v)


def final_energy_plain(u, v, nu, dx, dt, nsteps):
    """The same loop as ``jax.lax.fori_loop``; ``jax.grad`` of it stores every state."""
    u, v = jax.lax.fori_loop(0, nsteps, lambda i, s: step(*s, nu, dx, dt), (u, v))
    return energy(u, v, dx), (u, v)


def initial_field(size):
    """A smooth periodic shear layer with a vortex, so the nonlinear term matters."""
    x = jnp.arange(size) * (2 * jnp.pi / size)
    X, Y = jnp.meshgrid(x, x)
    u = jnp.sin(X) * jnp.cos(Y) + 0.5 * jnp.cos(2 * Y)
    v = -jnp.cos(X) * jnp.sin(Y) + 0.3 * jnp.sin(X + Y)
    return u, v


def use_devices(count: int) -> list:
    """``count`` devices; on the CPU, ask XLA for that many host devices if JAX has not started."""
    flag = f"--xla_force_host_platform_device_count={count}"
    if count > 1:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    devices = jax.devices()
    if len(devices) < count:
        raise SystemExit(
            f"--devices {count}: JAX sees {len(devices)} device(s). On a CPU, pass --devices in a "
            "fresh process (the flag must be set before JAX starts its backend), or set "
            f"XLA_FLAGS={flag} yourself."
        )
    return devices[:count]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1, help="devices to split the rows over")
    parser.add_argument("--size", type=int, default=128, help="grid points per side")
    parser.add_argument("--steps", type=int, default=400, help="time steps")
    parser.add_argument("--nu", type=float, default=0.05, help="viscosity")
    parser.add_argument("--snapshots", type=int, default=10, help="Revolve snapshots")
    parser.add_argument("--save", metavar="FILE.npz", help="write the gradients to this file")
    args = parser.parse_args(argv)
    devices = use_devices(args.devices)
    jax.config.update("jax_enable_x64", True)
    if args.size % args.devices:
        parser.error(f"--size {args.size} must be a multiple of --devices {args.devices}")

    mesh = jax.sharding.Mesh(np.array(devices), (AXIS,))
    layout = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(AXIS, None))
    u0, v0 = (jax.device_put(f, layout) for f in initial_field(args.size))
    nu = jnp.asarray(args.nu)
    dx = 2 * np.pi / args.size
    dt = 0.2 * min(dx, dx**2 / (4 * args.nu))  # inside both the advective and diffusive limits
    n, scheme = args.steps, Revolve(args.snapshots)
    print(
        f"2-D Burgers: {args.size} x {args.size}, {n} steps, dt {dt:.3g}, nu {args.nu}, "
        f"{scheme!r}, rows split over {len(devices)} device(s)"
    )

    @jax.jit
    def gradient(u0, v0, nu):
        return jax.value_and_grad(final_energy, argnums=(0, 1, 2), has_aux=True)(
            u0, v0, nu, dx, dt, n, scheme
        )

    @jax.jit
    def gradient_plain(u0, v0, nu):
        return jax.value_and_grad(final_energy_plain, argnums=(0, 1, 2), has_aux=True)(
            u0, v0, nu, dx, dt, n
        )

    (E, (u, v)), grads = gradient(u0, v0, nu)
    print(f"initial energy {float(energy(u0, v0, dx)):.6f}, final energy {float(E):.6f}")
    print(f"dE/dnu = {float(grads[2]):.10g}, |dE/du0| = {float(jnp.linalg.norm(grads[0])):.10g}")
    print_costs(scheme, n)
    print_stats(scheme)

    checks = Checks()
    print("checks against plain JAX AD (store-all jax.lax.fori_loop):")
    (E_plain, fields_plain), grads_plain = gradient_plain(u0, v0, nu)
    checks.close("final fields", (u, v), fields_plain, rtol=1e-12)
    checks.close("gradient w.r.t. u0, v0, nu", grads, grads_plain, rtol=1e-12)
    print("layouts (the state's row split must be kept):")
    for name, x in (("u", u), ("v", v), ("du0", grads[0]), ("dv0", grads[1])):
        checks.true(f"{name} sharding", x.sharding.is_equivalent_to(layout, x.ndim), str(x.sharding))
    if len(devices) > 1:
        # The runtime keeps its snapshots inside the compiled program, so look at the program: split
        # over D devices, each device's working memory (snapshots included) must shrink about D
        # times. Snapshots gathered onto every device would not shrink at all.
        split = temp_bytes(gradient, u0, v0, nu)
        whole = temp_bytes(gradient, *(jax.device_put(x, devices[0]) for x in (u0, v0, nu)))
        if split is None or whole is None:
            print("  snapshots: XLA gives no memory analysis on this backend, not checked")
        else:
            checks.true(
                "snapshots split with the state",
                split <= 1.5 * whole / len(devices),
                f"working memory per device {split / 1e6:.3g} MB on {len(devices)} devices, "
                f"{whole / 1e6:.3g} MB on one (must be <= 1.5/{len(devices)} of it)",
            )

    if args.save:
        np.savez(args.save, du0=grads[0], dv0=grads[1], dnu=grads[2], energy=E)
        print(f"saved {args.save}")
    return checks.exit_code()


def temp_bytes(jitted, *args):
    """Per-device temporary memory XLA plans for ``jitted`` on these arguments (None: unknown)."""
    analysis = jitted.lower(*args).compile().memory_analysis()
    return None if analysis is None else analysis.temp_size_in_bytes


if __name__ == "__main__":
    sys.exit(main())
