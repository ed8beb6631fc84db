"""Gradient time with snapshots off the device (HDF5 file, host memory) against device memory.

diffusion2d (float32, Revolve(10)): ``jax.grad`` of the sum of squares of the final field with
the scheme's snapshots in ``HDF5Storage()`` (a temporary file) and in ``HostStorage()``, run by
the host-driven executor (eager ``jax.grad``) and by the compiled executor with ordered callbacks
(under ``jax.jit``), against ``MemoryStorage()`` run by the compiled executor, eagerly and under
``jax.jit`` (the fastest the in-memory path gets). Prints the ratios (target for HDF5 <=
1.5x memory) and the bytes moved and seconds spent in I/O from ``scheme.last_stats``; all in this
one process, the variants called in turn (best of ``--repeats`` rounds) so that the load of a
shared machine disturbs each alike.

Usage: python benchmarks/bench_storage_runtime.py [--full] [--repeats 5]
(default 128 x 128, 100 steps; ``--full``: 512 x 512, 400 steps, as the issue states it)
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from _timing import best_of_each  # noqa: E402
from bench_runtime import diffusion_step  # noqa: E402

from ckpt_transform.runtime import fori_loop  # noqa: E402
from ckpt_transform.schedules import Revolve  # noqa: E402
from ckpt_transform.storage import HDF5Storage, HostStorage  # noqa: E402


def gradient(steps, scheme):
    def loss(x):
        return jnp.sum(fori_loop(0, steps, lambda i, x: diffusion_step(x), x, scheme=scheme) ** 2)

    return jax.grad(loss)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="512 x 512, 400 steps (default 128 x 128, 100)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    cells, steps, snapshots = (512, 400, 10) if args.full else (128, 100, 10)
    x = jax.random.uniform(jax.random.PRNGKey(0), (cells, cells), jnp.float32)
    plan = Revolve(snapshots).plan(steps)
    print(f"diffusion2d {cells}x{cells} float32, {steps} steps, Revolve({snapshots}): "
          f"{plan.forward_steps} forward steps, {plan.stores} stores")

    runs = {"memory, jit": (Revolve(snapshots), jax.jit), "memory, eager": (Revolve(snapshots), None)}
    for name, storage in (("HDF5", HDF5Storage()), ("host", HostStorage())):
        runs[f"{name}, eager"] = (Revolve(snapshots, storage=storage), None)
        runs[f"{name}, jit"] = (Revolve(snapshots, storage=storage), jax.jit)
    grads = {k: (wrap or (lambda g: g))(gradient(steps, scheme)) for k, (scheme, wrap) in runs.items()}
    best = best_of_each({label: (fn, x) for label, fn in grads.items()}, rounds=args.repeats)
    for label, took in best.items():
        scheme = runs[label][0]
        target = "  (target <= 1.5)" if label.startswith("HDF5") else ""
        print(f"  {label:14s} {took * 1e3:9.1f} ms = {took / best['memory, jit']:5.2f} x memory under jit, "
              f"{took / best['memory, eager']:5.2f} x memory eager{target}")
        s = scheme.last_stats
        if s.bytes_written:
            print(f"  {'':14s} moved {s.bytes_written / 2**20:.1f} MiB written, {s.bytes_read / 2**20:.1f} MiB "
                  f"read, {s.io_seconds * 1e3:.1f} ms in I/O ({s.io_seconds / took:.0%} of the run)")


if __name__ == "__main__":
    main()
