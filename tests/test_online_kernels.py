"""The Online kernels' contract: the same actions from pure Python, numpy and jax.numpy inside a
jitted ``lax.while_loop`` (what the runtime relies on), and exact binomial helpers."""

from __future__ import annotations

from math import comb

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform.schedules._actions import STORE
from ckpt_transform.schedules._binomial import (
    CAP,
    beta,
    optimal_forward_steps,
    optimal_split,
    repetition_number,
    repetitions,
    reversal_cost,
    split,
)
from ckpt_transform.schedules._online import Online, OnlineKernels
from ckpt_transform.schedules._array_ops import NUMPY, PYTHON, ArrayOps

JAX = ArrayOps(jnp, jax.lax)


def trace(kern: OnlineKernels, n: int) -> list[tuple[int, ...]]:
    """Slots chosen at t = 0..n-1, then the reversal's action rows, driven from Python."""
    state, rows = kern.init(), []
    for t in range(n):
        state, slot = kern.place(state, t)
        rows.append((t, int(slot)))
    rstate = kern.reverse_init(state, n)
    while True:
        rstate, action = kern.reverse_next(rstate)
        rows.append(tuple(int(v) for v in action))
        if rows[-1][5]:
            return rows


def traced_in_jit(c: int, lengths: list[int], max_actions: int) -> list[list[tuple[int, ...]]]:
    """The same, with both sweeps as ``lax.while_loop``s in one jitted function of a traced n."""
    kern = OnlineKernels(c, JAX)
    steps_cap = max(lengths)

    @jax.jit
    def run(n):
        def forward(carry):
            state, t, slots = carry
            state, slot = kern.place(state, t)
            return state, t + 1, slots.at[t].set(slot)

        init = (kern.init(), jnp.int32(0), jnp.full(steps_cap, -9, jnp.int32))
        state, _, slots = jax.lax.while_loop(lambda s: s[1] < n, forward, init)

        def backward(carry):
            rstate, k, rows = carry
            rstate, action = kern.reverse_next(rstate)
            return rstate, k + 1, rows.at[k].set(action)

        def more(carry):
            return (carry[1] == 0) | (carry[2][jnp.maximum(carry[1] - 1, 0), 5] == 0)

        init = (kern.reverse_init(state, n), jnp.int32(0), jnp.zeros((max_actions, 6), jnp.int32))
        _, count, rows = jax.lax.while_loop(more, backward, init)
        return slots, count, rows

    out = []
    for n in lengths:
        slots, count, rows = (np.asarray(v) for v in run(jnp.int32(n)))
        placed = [(t, int(s)) for t, s in enumerate(slots[:n])]
        out.append(placed + [tuple(int(v) for v in row) for row in rows[: int(count)]])
    return out


def test_python_numpy_and_jitted_jax_give_identical_actions():
    c, lengths = 4, [0, 1, 2, 3, 6, 14, 15, 16, 40, 150]
    expected = [trace(OnlineKernels(c, PYTHON), n) for n in lengths]
    assert expected == [trace(OnlineKernels(c, NUMPY), n) for n in lengths]
    assert expected == traced_in_jit(c, lengths, max_actions=2000)


@pytest.mark.parametrize("c", [1, 2, 3, 9, 25])
def test_python_and_numpy_agree(c):
    for n in (0, 1, c, c + 2, (c + 2) * (c + 1) // 2 + 1, 300):
        assert trace(OnlineKernels(c, PYTHON), n) == trace(OnlineKernels(c, NUMPY), n), n


def test_plan_is_the_kernels_trace():
    c, n = 3, 30
    rows = trace(OnlineKernels(c), n)
    reversal = [tuple(r[:5]) for r in rows[n:-1]]
    schedule = Online(c).plan(n)
    assert list(schedule.actions[schedule.forward_sweep_length :]) == reversal
    forward = schedule.actions[: schedule.forward_sweep_length]
    assert [t for t, slot in rows[:n] if slot >= 0] == [a.step for a in forward if a.op == STORE]


def test_done_row_changes_nothing():
    kern = OnlineKernels(2)
    rstate = kern.reverse_init(kern.init(), 0)
    again, action = kern.reverse_next(rstate)
    assert list(action) == [-1, -1, -1, -1, 0, 1] and list(again) == list(rstate)


def test_beta_is_saturated_binomial():
    edges = [100, 1000, 2047, 2048, 5000, 46339, 46340, 65535]
    s, r = np.meshgrid(np.arange(0, 60), np.r_[np.arange(-2, 60), edges])
    got = beta(NUMPY, NUMPY.asarray(s), NUMPY.asarray(r))
    want = [[0 if b < 0 else min(comb(a + b, a), CAP) for a, b in zip(row_s, row_r)] for row_s, row_r in zip(s, r)]
    assert got.tolist() == want
    assert beta(PYTHON, 2, 46340) == CAP and beta(PYTHON, 3, 1000) == comb(1003, 3)


def test_repetitions_cost_and_split_match_exact_revolve():
    def cost(steps, slots):
        return optimal_forward_steps(steps, slots) if steps > 1 else 0

    for slots in (1, 2, 3, 4, 7, 40):
        for steps in [*range(2, 200), 1000, 4321, 10**5]:
            assert repetitions(PYTHON, steps, slots) == repetition_number(steps, slots)
            assert reversal_cost(PYTHON, steps, slots, CAP) == min(cost(steps, slots), CAP)
            # advance m, reverse the right part with one slot less, then the left part
            m = split(PYTHON, steps, slots)
            right = cost(steps - m, slots - 1) if steps - m > 1 else 0
            assert 1 <= m < steps and m + right + cost(m, slots) == cost(steps, slots), (steps, slots, m)
    assert reversal_cost(PYTHON, 10**5, 2, 1000) == 1000 and reversal_cost(PYTHON, 1, 5, 1000) == 0


def test_split_is_revolve_planners_split():
    # the two forms of the split rule in _binomial: saturated over xp, and Revolve's exact one
    for slots in (1, 2, 3, 5, 12, 40):
        for steps in [*range(2, 400), 4321, 10**5, 10**6]:
            assert split(PYTHON, steps, slots) == optimal_split(steps, slots, repetition_number(steps, slots))[0]
