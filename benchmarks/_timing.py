"""Timing helpers shared by the benchmarks: warm-up, best-of-k, and waiting for JAX's results.

JAX dispatches asynchronously, so every timed call ends with ``jax.block_until_ready``; the first
call (compilation) is never timed; the best of ``repeats`` runs is reported, the least disturbed
by other processes on a busy machine. Compare ratios measured in one process, not raw seconds.
"""

from __future__ import annotations

import time


def best_time(make, repeat: int = 1) -> tuple[float, object]:
    """``(best wall time, result)`` of ``make()`` over ``repeat`` calls, none of them a warm-up
    (pure-Python work such as planning; JAX work goes through ``best_of``)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = make()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_of(fn, *args, repeats: int = 5, min_seconds: float = 0.0) -> float:
    """Best wall time of ``fn(*args)`` in seconds, after one untimed warm-up call.

    With ``min_seconds``, short calls are repeated until that much time has been spent, so that
    microsecond-scale calls get enough samples.
    """
    import jax

    jax.block_until_ready(fn(*args))
    best = float("inf")
    spent, runs = 0.0, 0
    while runs < repeats or spent < min_seconds:
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return best


def best_of_each(calls: dict, rounds: int = 5) -> dict:
    """Best wall time of each ``name: (fn, *args)`` in ``calls``, measured round-robin.

    Interleaving the candidates makes their ratio robust to load that changes over time (other
    processes on a shared machine); each is warmed up once first.
    """
    import jax

    for fn, *args in calls.values():
        jax.block_until_ready(fn(*args))
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, (fn, *args) in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def compile_seconds(jitted, *args) -> float:
    """Seconds to trace, lower and compile ``jitted`` (a ``jax.jit`` function) for ``args``."""
    start = time.perf_counter()
    jitted.lower(*args).compile()
    return time.perf_counter() - start


def peak_bytes(jitted, *args) -> int:
    """Peak memory XLA plans for ``jitted(*args)``: arguments, outputs and temporaries."""
    stats = jitted.lower(*args).compile().memory_analysis()
    return stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes - stats.alias_size_in_bytes
