"""Online checkpointing: forward steps against the offline optimum, plan time, in-graph kernel cost.

Run: python benchmarks/bench_online.py [--no-jax]

The offline optimum for n steps and c slots is r*n - C(c + r, r - 1), r the smallest repetition
number with C(c + r, c) >= n (the formula, not Revolve's plan). Within the r=2 range
n <= (c+2)(c+1)/2 Online is at most one step above it; beyond, the dynamic thinning's excess is
printed, with the stores of the forward sweep (snapshot copies while the loop runs). The JAX part times the same kernels jitted inside lax.while_loop (what the runtime runs
for a while loop): compile time, microseconds per placed step and per reversal action.
"""

from __future__ import annotations

import sys

from _timing import best_time

from ckpt_transform.schedules._actions import STORE
from ckpt_transform.schedules._binomial import optimal_forward_steps
from ckpt_transform.schedules._online import Online, OnlineKernels


def forward_steps_table() -> None:
    header = (f"{'c':>4}{'n':>8}{'phase':>8}{'online':>10}{'optimum':>10}{'excess':>8}{'ratio':>7}"
              f"{'<=2n':>6}{'fwd stores':>11}")
    print(header)
    print("-" * len(header))
    for c in (2, 3, 5, 10, 20, 50):
        r2 = (c + 2) * (c + 1) // 2
        for n in sorted({r2 // 2, r2 - 1, r2, r2 + 1, 4 * r2, 1000, 10_000}):
            schedule = Online(c).plan(n)
            best = optimal_forward_steps(n, c)
            phase = "r=2" if n <= r2 else "dynamic"
            within = "yes" if schedule.forward_steps <= 2 * n else "no"
            placed = sum(1 for a in schedule.actions[: schedule.forward_sweep_length] if a.op == STORE)
            print(f"{c:>4}{n:>8}{phase:>8}{schedule.forward_steps:>10}{best:>10}{schedule.forward_steps - best:>8}"
                  f"{schedule.forward_steps / best if best else 1:>7.3f}{within:>6}{placed:>11}")


def plan_times() -> None:
    print("\nplan time for n = 100_000 (pure-Python kernels, one run each):")
    for c in (4, 10, 100):
        seconds, schedule = best_time(lambda: Online(c).plan(100_000))
        print(f"  Online({c}).plan(100_000): {seconds:6.2f} s, {len(schedule)} actions, "
              f"{1e6 * seconds / len(schedule):.1f} us/action, overhead {schedule.overhead:.2f} "
              f"(offline optimum {optimal_forward_steps(100_000, c) / 100_000:.2f})")


def jax_kernels() -> None:
    import jax
    import jax.numpy as jnp

    from ckpt_transform.schedules._array_ops import ArrayOps

    print("\nkernels under jax.jit inside lax.while_loop (CPU):")
    xp = ArrayOps(jnp, jax.lax)
    n = 20_000
    for c in (4, 50):
        kern = OnlineKernels(c, xp)

        @jax.jit
        def forward(steps):
            def body(carry):
                state, t = carry
                state, _ = kern.place(state, t)
                return state, t + 1

            return jax.lax.while_loop(lambda s: s[1] < steps, body, (kern.init(), jnp.int32(0)))[0]

        @jax.jit
        def reverse(state, steps):
            def body(carry):
                rstate, count, done = carry
                rstate, action = kern.reverse_next(rstate)
                return rstate, count + 1, action[5]

            init = (kern.reverse_init(state, steps), jnp.int32(0), jnp.int32(0))
            return jax.lax.while_loop(lambda s: s[2] == 0, body, init)[1]

        compile_fwd, state = best_time(lambda: jax.block_until_ready(forward(jnp.int32(3))))
        compile_rev, _ = best_time(lambda: jax.block_until_ready(reverse(state, jnp.int32(3))))
        run_fwd, state = best_time(lambda: jax.block_until_ready(forward(jnp.int32(n))))
        run_rev, count = best_time(lambda: jax.block_until_ready(reverse(state, jnp.int32(n))))
        print(f"  c={c:<3} compile {compile_fwd:.2f} s + {compile_rev:.2f} s; n={n}: "
              f"place {1e6 * run_fwd / n:.2f} us/step, reverse {1e6 * run_rev / int(count):.2f} us/action "
              f"({int(count)} actions)")


def main() -> None:
    forward_steps_table()
    plan_times()
    if "--no-jax" not in sys.argv:
        jax_kernels()


if __name__ == "__main__":
    main()
