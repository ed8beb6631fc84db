"""The runtime against store-all AD, equinox's checkpointed while loop and the compute bound.

Everything is measured in this one process and printed as ratios (ours / theirs):

- heat1d: 1-D heat equation, 100 cells, 500 steps, float64, Revolve(4); gradient time against
  ``jax.grad`` of a store-all ``lax.scan`` (target <= 4) and against
  ``equinox.internal.while_loop(kind="checkpointed", checkpoints=4)`` (target <= 0.1), for d/dT
  (the step is linear in T: no snapshots needed) and for d/dT and d/dlam (the schedule runs); and
  the same loop as ``while_loop`` with ``Online(4)``, for scale.
- diffusion2d: 512 x 512 float32, 400 steps, Revolve(10); gradient time against the compute bound
  ``forward_steps x (one compiled step) + steps x (one compiled vjp step)`` (target <= 1.15) and
  against equinox with 10 checkpoints (target <= 0.75); peak memory planned by XLA against the
  forward-only program, in state sizes (target <= snapshots + 4; store-all needs 400).
- compile time of heat1d's gradient for 500 and for 50,000 steps (target: within 1.5x).

Usage: python benchmarks/bench_runtime.py [--cells2d 512] [--steps2d 400] [--repeats 3] [--skip-equinox]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from _timing import best_of, best_of_each, compile_seconds, peak_bytes  # noqa: E402

from ckpt_transform.runtime import fori_loop, while_loop  # noqa: E402
from ckpt_transform.runtime._fori import planned  # noqa: E402
from ckpt_transform.schedules import Online, Revolve  # noqa: E402


def heat_step(T, lam=0.5):
    return T.at[1:-1].add(lam * (T[2:] - 2 * T[1:-1] + T[:-2]))


def diffusion_step(u, nu=0.2):
    lap = jnp.roll(u, 1, 0) + jnp.roll(u, -1, 0) + jnp.roll(u, 1, 1) + jnp.roll(u, -1, 1) - 4 * u
    return u + nu * lap - 0.01 * u**3


def ours_grad(step, steps, scheme, argnums=0):
    def loss(x, *params):
        return jnp.sum(fori_loop(0, steps, lambda i, x: step(x, *params), x, scheme=scheme) ** 2)

    return jax.jit(jax.grad(loss, argnums=argnums))


def online_grad(step, steps, scheme, argnums=(0, 1)):
    def loss(x, *params):
        out = while_loop(lambda c: c[0] < steps, lambda c: (c[0] + 1, step(c[1], *params)), (0, x), scheme=scheme)[1]
        return jnp.sum(out**2)

    return jax.jit(jax.grad(loss, argnums=argnums))


def scan_grad(step, steps, argnums=0):
    def loss(x, *params):
        return jnp.sum(jax.lax.scan(lambda x, _: (step(x, *params), None), x, None, length=steps)[0] ** 2)

    return jax.jit(jax.grad(loss, argnums=argnums))


def equinox_grad(step, steps, checkpoints, argnums=0):
    import equinox.internal as eqxi

    def loss(x, *params):
        out = eqxi.while_loop(
            lambda c: c[0] < steps, lambda c: (c[0] + 1, step(c[1], *params)), (0, x),
            max_steps=steps, kind="checkpointed", checkpoints=checkpoints,
        )[1]
        return jnp.sum(out**2)

    return jax.jit(jax.grad(loss, argnums=argnums))


def heat1d(args) -> None:
    jax.config.update("jax_enable_x64", True)
    T0 = jnp.zeros(100, jnp.float64).at[0].set(20.0)
    lam = jnp.float64(0.5)
    # d/dT only: the step is linear in T, so the adjoint reads no state and needs no snapshots;
    # d/dT and d/dlam: every adjoint step reads its state, so the Revolve(4) schedule runs
    for label, argnums, params in (("d/dT      ", 0, ()), ("d/dT,d/lam", (0, 1), (lam,))):
        ours = best_of(ours_grad(heat_step, 500, Revolve(4), argnums), T0, *params, repeats=args.repeats, min_seconds=0.5)
        scan = best_of(scan_grad(heat_step, 500, argnums), T0, *params, repeats=args.repeats, min_seconds=0.5)
        print(f"heat1d  {label} Revolve(4) {ours * 1e3:7.3f} ms: {ours / scan:6.2f} x store-all scan "
              f"({scan * 1e3:.3f} ms; target <= 4)")
        if not args.skip_equinox:
            eqx = best_of(equinox_grad(heat_step, 500, 4, argnums), T0, *params, repeats=args.repeats)
            print(f"heat1d  {label} {'':10} {'':10} {ours / eqx:6.3f} x equinox 4 checkpoints "
                  f"({eqx * 1e3:.3f} ms; target <= 0.1)")
    # the same loop as a while loop with Online(4): placement and reversal kernels run in the loop
    online = best_of(online_grad(heat_step, 500, Online(4)), T0, lam, repeats=args.repeats, min_seconds=0.5)
    print(f"heat1d  d/dT,d/lam Online(4) while_loop {online * 1e3:7.3f} ms: {online / ours:6.2f} x Revolve(4) fori_loop "
          "(includes the callback reporting its statistics)")
    plan_s, plan_l, small, large = [], [], [], []
    for cells in (101, 102, 103):  # a new shape each round, so no compilation is a cache hit
        for steps, plans, compiles in ((500, plan_s, small), (50_000, plan_l, large)):
            scheme = Revolve(4)
            start = time.perf_counter()
            planned(scheme, steps)  # Python planning, cached per scheme object; timed apart
            plans.append(time.perf_counter() - start)
            grad = ours_grad(heat_step, steps, scheme, (0, 1))
            compiles.append(compile_seconds(grad, jnp.zeros(cells, jnp.float64), lam))
    plan_s, plan_l, small, large = min(plan_s), min(plan_l), min(small), min(large)
    print(f"compile 50,000 vs 500 steps {large / small:8.2f} x  ({large:.2f} s vs {small:.2f} s, trace+lower+compile; "
          f"target <= 1.5)")
    print(f"        planning            {plan_l:8.2f} s for 50,000 steps ({plan_s * 1e3:.1f} ms for 500), once per scheme")
    jax.config.update("jax_enable_x64", False)


def diffusion2d(args) -> None:
    n, cells, snapshots = args.steps2d, args.cells2d, 10
    scheme = Revolve(snapshots)
    x = jax.random.uniform(jax.random.PRNGKey(0), (cells, cells), jnp.float32)
    grad = ours_grad(diffusion_step, n, scheme)
    one_step = jax.jit(diffusion_step)
    one_vjp = jax.jit(lambda x, ct: jax.vjp(diffusion_step, x)[1](ct)[0])
    singles = [(best_of(one_step, x, repeats=30), best_of(one_vjp, x, x, repeats=30))]
    calls = {
        "ours": (grad, x),
        "plain": (jax.jit(lambda x: jax.lax.fori_loop(0, n, lambda i, x: diffusion_step(x), x)), x),
    }
    if not args.skip_equinox:
        calls["equinox"] = (equinox_grad(diffusion_step, n, snapshots), x)
    t = best_of_each(calls, rounds=args.repeats + 2)
    # single calls are short: many samples, before and after the loops, the best of them
    singles.append((best_of(one_step, x, repeats=30), best_of(one_vjp, x, x, repeats=30)))
    t["step"], t["vjp"] = min(s for s, _ in singles), min(v for _, v in singles)
    plan = scheme.plan(n)
    bound = plan.forward_steps * t["step"] + n * t["vjp"]
    print(f"diff2d  Revolve({snapshots}) gradient {t['ours'] * 1e3:8.1f} ms ({cells}x{cells}, {n} steps, "
          f"{plan.forward_steps} forward steps)")
    print(f"diff2d  vs compute bound    {t['ours'] / bound:8.3f} x  (bound {bound * 1e3:.1f} ms; target <= 1.15)")
    # for scale: the same step inside a plain compiled loop, per step, against one compiled call
    print(f"        (a plain lax.fori_loop of this step costs {t['plain'] / n / t['step']:.2f} x one compiled call per step)")
    if not args.skip_equinox:
        print(f"diff2d  vs equinox (10 ckpt){t['ours'] / t['equinox']:8.3f} x  (equinox {t['equinox'] * 1e3:.1f} ms; "
              "target <= 0.75)")
    state = x.size * x.dtype.itemsize
    base = peak_bytes(jax.jit(lambda x: jnp.sum(fori_loop(0, n, lambda i, x: diffusion_step(x), x, scheme=scheme) ** 2)), x)
    peak = peak_bytes(grad, x)
    store_all = peak_bytes(scan_grad(diffusion_step, n), x)
    print(f"diff2d  peak memory         {(peak - base) / state:8.1f} states above the forward run "
          f"(target <= {snapshots + 4}; store-all scan: {(store_all - base) / state:.0f})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells2d", type=int, default=512)
    parser.add_argument("--steps2d", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-equinox", action="store_true", help="skip the (slow) equinox baselines")
    args = parser.parse_args(argv)
    heat1d(args)
    diffusion2d(args)


if __name__ == "__main__":
    main()
