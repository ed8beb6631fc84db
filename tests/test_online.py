"""Online scheme: validity, the r=2 guarantees, exact reversal costs, any length, bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ckpt_transform.schedules import check_schedule
from ckpt_transform.schedules._actions import ADJOINT, ADVANCE, FREE, STORE
from ckpt_transform.schedules._binomial import optimal_forward_steps
from ckpt_transform.schedules._online import Online


def r2_range(c: int) -> int:
    return (c + 2) * (c + 1) // 2


def forward_sweep(schedule):
    return schedule.actions[: schedule.forward_sweep_length]


def evaluations_per_step(schedule) -> list[int]:
    """How often each step is evaluated: advances, plus the runtime's last forward step."""
    counts = [0] * schedule.steps
    for a in schedule.actions:
        if a.op == ADVANCE:
            for i in range(a.step, a.to):
                counts[i] += 1
    if schedule.steps:
        counts[-1] += 1
    return counts


def held_after_forward(schedule) -> list[int]:
    held: dict[int, int] = {}
    for a in forward_sweep(schedule):
        if a.op == STORE:
            held[a.slot] = a.step
        elif a.op == FREE:
            del held[a.slot]
    return sorted(held.values())


def reversal_model(held: list[int], n: int, c: int) -> int:
    """Forward steps of the best reversal over ``held``: the n-1 steps of the forward sweep, then
    each stretch reversed optimally with the slots it gets (the last one with n-1 in hand)."""
    total = max(n - 1, 0)
    for j, (a, b) in enumerate(zip(held, held[1:])):
        total += optimal_forward_steps(b - a, c - j)
    if held:
        total += optimal_forward_steps(n - 1 - held[-1], c - len(held) + 1)
    return total


@settings(max_examples=120, deadline=None)
@given(c=st.integers(1, 30), n=st.integers(0, 600))
@example(c=1, n=0)
@example(c=1, n=1)
@example(c=1, n=2)
@example(c=2, n=2)
@example(c=5, n=0)
@example(c=5, n=1)
@example(c=5, n=2)
@example(c=30, n=29)
def test_valid_and_reversal_is_optimal_over_held_checkpoints(c, n):
    schedule = Online(c).plan(n)
    check_schedule(schedule)
    assert schedule.peak_snapshots <= c
    assert schedule.reverse_steps == n
    assert schedule.forward_steps == reversal_model(held_after_forward(schedule), n, c)


@pytest.mark.parametrize("c", [1, 2, 3, 4, 7, 12])
def test_store_all_while_slots_last(c):
    for n in range(0, c + 2):
        schedule = Online(c).plan(n)
        check_schedule(schedule)
        assert schedule.forward_steps == max(n - 1, 0)
        assert max(evaluations_per_step(schedule), default=0) <= 1


@pytest.mark.parametrize("c", [1, 2, 3, 5, 8, 13, 20])
def test_r2_range_each_step_at_most_twice_and_optimal_up_to_one(c):
    for n in range(0, r2_range(c) + 1):
        schedule = Online(c).plan(n)
        assert max(evaluations_per_step(schedule), default=0) <= 2, n
        assert schedule.forward_steps <= 2 * n
        best = optimal_forward_steps(n, c) if n > 1 else 0
        stored_last = any(a.op == STORE and a.step == n - 1 for a in forward_sweep(schedule))
        # one more than the offline optimum exactly when the placement spent a slot on n-1
        assert schedule.forward_steps == best + (1 if stored_last and n > c else 0), n


def test_r2_range_ends_where_the_offline_r2_range_ends():
    c = 6
    n = r2_range(c) + 1
    assert max(evaluations_per_step(Online(c).plan(n))) == 3


@pytest.mark.parametrize("c", [2, 3, 5, 10])
def test_long_loops_fixed_memory_near_optimal(c):
    for n in (r2_range(c) + 1, 500, 2000):
        schedule = Online(c).plan(n)
        check_schedule(schedule)
        assert schedule.peak_snapshots == c
        assert schedule.forward_steps <= 1.35 * optimal_forward_steps(n, c), n


def test_forward_stores_every_third_step_in_r2_range_then_rarely():
    c, n = 4, 3000
    stored = [a.step for a in forward_sweep(Online(c).plan(n)) if a.op == STORE]
    early = [s for s in stored if s < r2_range(c)]
    assert early[: c] == list(range(c)) and all(b - a <= 3 for a, b in zip(early, early[1:]))
    late = stored[len(early) - 1 :]
    assert all((b - a) % 3 == 0 for a, b in zip(late, late[1:]))  # decided every third step
    assert 10 < len(stored) - len(early) < n // 10  # instead of n // 3


@pytest.mark.slow
def test_hundred_thousand_steps():
    schedule = Online(10).plan(100_000)
    check_schedule(schedule)
    assert schedule.peak_snapshots == 10
    assert schedule.reverse_steps == 100_000
    assert schedule.forward_steps <= 1.1 * optimal_forward_steps(100_000, 10)


def test_one_slot_holds_only_the_initial_state():
    schedule = Online(1).plan(50)
    check_schedule(schedule)
    assert [a.step for a in schedule.actions if a.op == STORE] == [0]
    assert schedule.forward_steps == 49 * 50 // 2


def test_reversal_starts_with_the_last_step_in_hand():
    schedule = Online(3).plan(17)
    assert schedule.actions[schedule.forward_sweep_length] == (ADJOINT, 16, -1, -1, 0)


@pytest.mark.parametrize(
    "args, error, name",
    [((0,), ValueError, "snapshots"), ((2.5,), TypeError, "snapshots"), ((True,), TypeError, "snapshots"),
     (("3",), TypeError, "snapshots")],
)
def test_bad_snapshots(args, error, name):
    with pytest.raises(error, match=name):
        Online(*args)


@pytest.mark.parametrize("steps, error", [(-1, ValueError), (1.0, TypeError), (None, TypeError)])
def test_bad_steps(steps, error):
    with pytest.raises(error, match="steps"):
        Online(3).plan(steps)


def test_scheme_flags_and_repr():
    scheme = Online(4, verbose=True)
    assert scheme.online and scheme.verbose and scheme.snapshots == 4
    assert repr(scheme) == "Online(4)"
    assert Online(4).plan(20).budget == (4,)


def test_no_jax_import():
    code = (
        "import sys, ckpt_transform.schedules._online as o; o.Online(3).plan(40); "
        "assert 'jax' not in sys.modules, 'schedules imported jax'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
