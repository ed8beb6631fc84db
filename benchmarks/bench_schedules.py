"""Plan times and costs of the schemes. Run: python benchmarks/bench_schedules.py

The issue's target: Revolve(100).plan(100_000) built in under a second.
"""

from __future__ import annotations

from _timing import best_time

from ckpt_transform.schedules import FromCheckpointSchedules, Multistage, Periodic, Revolve, StoreAll
from ckpt_transform.schedules._binomial import optimal_forward_steps


def main() -> None:
    seconds, schedule = best_time(lambda: Revolve(100).plan(100_000), repeat=3)
    print(f"Revolve(100).plan(100_000): {seconds:.3f} s (best of 3), {len(schedule)} actions, "
          f"{1e6 * seconds / len(schedule):.2f} us/action, target < 1 s: {'ok' if seconds < 1 else 'MISSED'}")
    print()
    cases = [
        (Revolve(4), 500), (Revolve(7), 50), (Revolve(100), 10_000), (Revolve(10), 100_000),
        (Multistage(4, 6), 10_000), (Multistage(2, 98), 100_000),
        (Periodic(20), 10_000), (Periodic(100), 100_000), (StoreAll(), 100_000),
    ]
    try:
        import checkpoint_schedules as cs

        # checkpoint_schedules' own Revolve generator is slow (about 20 s to iterate n = 2000)
        cases.append((FromCheckpointSchedules(lambda n: cs.Revolve(n, 10)), 300))
    except ImportError:
        pass
    header = f"{'scheme':<34}{'steps':>8}{'fwd steps':>11}{'overhead':>9}{'optimum':>10}{'stores':>9}{'peak':>6}{'plan s':>8}"
    print(header)
    print("-" * len(header))
    for scheme, n in cases:
        seconds, schedule = best_time(lambda: scheme.plan(n))
        slots = sum(schedule.budget)
        print(f"{schedule.scheme[:33]:<34}{n:>8}{schedule.forward_steps:>11}{schedule.overhead:>9.3f}"
              f"{optimal_forward_steps(n, slots):>10}{schedule.stores:>9}{schedule.peak_snapshots:>6}{seconds:>8.3f}")
    print("\noptimum: Griewank-Walther minimum for the same total slot budget (Revolve(sum of budget)).")


if __name__ == "__main__":
    main()
