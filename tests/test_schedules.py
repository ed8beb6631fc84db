"""Schemes as planners: exact optimal counts, invariants, the checker over a sweep, bad input."""

import itertools
import subprocess
import sys
from math import comb

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ckpt_transform.schedules import (
    ADVANCE,
    RESTORE,
    STORE,
    Multistage,
    Online,
    Periodic,
    Revolve,
    StoreAll,
    check_schedule,
)
from ckpt_transform.schedules._binomial import optimal_split, repetition_number
from ckpt_transform.schedules._periodic import segments

MAX_N, MAX_S = 2000, 40


def formula(n, s):
    """Griewank & Walther: r*n - C(s + r, r - 1), r smallest with C(s + r, s) >= n; 0 for n <= 1."""
    if n <= 1:
        return 0
    r = 0
    while comb(s + r, s) < n:
        r += 1
    return r * n - comb(s + r, r - 1)


def brute_force_optimum(max_n, max_s):
    """Minimal forward steps by exhaustive search over every split (independent of the formula)."""
    inf = float("inf")
    p = [[0 if n <= 1 else inf for n in range(max_n + 1)] for _ in range(max_s + 1)]
    for s in range(1, max_s + 1):
        for n in range(2, max_n + 1):
            p[s][n] = min(m + p[s - 1][n - m] + p[s][m] for m in range(1, n))
    return p


def split_rule_costs(max_n, max_s):
    """Forward steps the planner's split rule gives, for every n <= max_n and s <= max_s."""
    cost = [[0] * (max_n + 1) for _ in range(max_s + 1)]
    for s in range(1, max_s + 1):
        for n in range(2, max_n + 1):
            m, _ = optimal_split(n, s, repetition_number(n, s))
            assert 1 <= m < n and (n - m == 1 or s > 1)
            cost[s][n] = m + cost[s - 1][n - m] + cost[s][m]
    return cost


def step_evaluations(schedule):
    """How often each step is evaluated outside the adjoint steps."""
    counts = [0] * schedule.steps
    for a in schedule.actions:
        if a.op == ADVANCE:
            for i in range(a.step, a.to):
                counts[i] += 1
    return counts


@pytest.mark.parametrize("n, s, expected", [(500, 4, 3213), (50, 7, 105), (10000, 100, 24747)])
def test_revolve_published_counts(n, s, expected):
    schedule = Revolve(s).plan(n)
    check_schedule(schedule)
    assert schedule.forward_steps == expected
    assert schedule.reverse_steps == n
    assert schedule.peak_snapshots <= s


def test_formula_is_the_exhaustive_optimum():
    p = brute_force_optimum(70, 6)
    for n, s in itertools.product(range(71), range(1, 7)):
        assert p[s][n] == formula(n, s), (n, s)


def test_split_rule_is_optimal_on_the_full_grid():
    cost = split_rule_costs(MAX_N, MAX_S)
    for s in range(1, MAX_S + 1):
        for n in range(MAX_N + 1):
            assert cost[s][n] == formula(n, s), (n, s)


@pytest.mark.parametrize("s", [1, 2, 3, 5, 8, 13, 21, 40])
def test_revolve_plans_follow_the_formula(s):
    for n in list(range(0, 120)) + [255, 256, 999, 1000, 1001, 2000]:
        schedule = Revolve(s).plan(n)
        assert schedule.forward_steps == formula(n, s), (n, s)
        assert schedule.peak_snapshots <= s


@pytest.mark.slow
def test_revolve_full_grid():
    for s in range(1, MAX_S + 1):
        for n in range(1, MAX_N + 1):
            schedule = Revolve(s).plan(n)
            assert schedule.forward_steps == formula(n, s), (n, s)
            if n % 97 == 0:
                check_schedule(schedule)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 30])
def test_revolve_with_enough_snapshots_is_store_all(n):
    store_all = StoreAll().plan(n)
    for s in (max(n - 1, 1), max(n, 1), n + 5):
        assert Revolve(s).plan(n).actions == store_all.actions
    assert store_all.forward_steps == max(n - 1, 0)
    assert all(c == 1 for c in step_evaluations(store_all)[:-1])


@pytest.mark.parametrize("memory, disk", [(1, 0), (0, 1), (1, 1), (2, 3), (3, 2), (1, 7), (5, 20)])
def test_multistage_matches_revolve_counts(memory, disk):
    for n in list(range(0, 80)) + [500, 1234]:
        schedule = Multistage(memory, disk).plan(n)
        assert schedule.forward_steps == formula(n, memory + disk), (n,)
        if n % 11 == 0 or n > 100:
            check_schedule(schedule)


def disk_accesses(schedule):
    return sum(1 for a in schedule.actions if a.op in (STORE, RESTORE) and a.level == 1)


def least_disk_accesses(schedule, memory, disk):
    """Exhaustive search over every level assignment of the stores that fits the budgets."""
    stores = [k for k, a in enumerate(schedule.actions) if a.op == STORE]
    best = None
    for levels in itertools.product((0, 1), repeat=len(stores)):
        level_of = dict(zip(stores, levels))
        held, where, cost, ok = [0, 0], {}, 0, True
        for k, a in enumerate(schedule.actions):
            key = (a.slot, a.level)
            if a.op == STORE:
                where[key] = level_of[k]
                held[level_of[k]] += 1
                cost += level_of[k]
                ok = ok and held[0] <= memory and held[1] <= disk
            elif a.op == RESTORE:
                cost += where[key]
            elif a.op == 3:
                held[where.pop(key)] -= 1
        if ok and (best is None or cost < best):
            best = cost
    return best


@pytest.mark.parametrize("memory, disk, n", [(1, 1, 9), (1, 2, 14), (2, 1, 14), (2, 2, 25), (1, 3, 18), (3, 1, 20)])
def test_multistage_disk_traffic_is_least_possible(memory, disk, n):
    schedule = Multistage(memory, disk).plan(n)
    assert schedule.stores <= 14  # keep the exhaustive search small
    assert disk_accesses(schedule) == least_disk_accesses(schedule, memory, disk)
    assert 0 < disk_accesses(schedule) < sum(1 for a in schedule.actions if a.op in (STORE, RESTORE))


@pytest.mark.parametrize("n, s", [(n, s) for n in (0, 1, 2, 5, 10, 11, 17, 100) for s in (1, 2, 3, 4, 7, 200)])
def test_periodic_segments_tile_the_range(n, s):
    bounds = segments(n, s)
    assert len(bounds) == min(n, s)
    assert [a for a, _ in bounds[1:]] == [b for _, b in bounds[:-1]]
    if bounds:
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        lengths = [b - a for a, b in bounds]
        assert max(lengths) - min(lengths) <= 1 and min(lengths) >= 1
    schedule = Periodic(s).plan(n)
    check_schedule(schedule)
    forward = schedule.actions[: schedule.forward_sweep_length]
    stored = {a.step for a in forward if a.op == STORE}
    starts = {a for a, b in bounds if a < n - 1 or b - a > 1}
    assert starts <= stored
    lengths = [b - a for a, b in bounds]
    assert schedule.forward_steps == max(n - 1, 0) + sum(length - 1 for length in lengths[:-1])
    assert all(c <= 2 for c in step_evaluations(schedule))
    assert schedule.peak_snapshots <= schedule.budget[0] <= min(n, s) + max(max(lengths, default=0) - 2, 0)


SCHEMES = [
    ("revolve", lambda s: Revolve(s)),
    ("periodic", lambda s: Periodic(s)),
    ("online", lambda s: Online(s)),
    ("storeall", lambda s: StoreAll()),
    ("multistage", lambda s: Multistage((s + 1) // 2, s // 2)),
    ("multistage-disk-heavy", lambda s: Multistage(1, s)),
]


@pytest.mark.parametrize("name, make", SCHEMES, ids=[name for name, _ in SCHEMES])
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), s=st.integers(1, 40))
@example(n=0, s=1)
@example(n=1, s=1)
@example(n=2, s=1)
@example(n=2, s=2)
@example(n=5, s=5)
@example(n=5, s=9)
def test_every_scheme_passes_the_checker(name, make, n, s):
    schedule = make(s).plan(n)
    check_schedule(schedule)
    assert schedule.reverse_steps == n
    assert schedule.peak_snapshots <= sum(schedule.budget)
    assert all(c >= 1 for c in step_evaluations(schedule)[:-1])


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: Revolve(0), ValueError, "snapshots"),
        (lambda: Revolve(-3), ValueError, "snapshots"),
        (lambda: Revolve(2.5), TypeError, "snapshots"),
        (lambda: Revolve("4"), TypeError, "snapshots"),
        (lambda: Revolve(True), TypeError, "snapshots"),
        (lambda: Periodic(0), ValueError, "snapshots"),
        (lambda: Periodic(None), TypeError, "snapshots"),
        (lambda: Multistage(-1, 2), ValueError, "memory"),
        (lambda: Multistage(2, 1.0), TypeError, "disk"),
        (lambda: Multistage(0, 0), ValueError, "memory \\+ disk"),
        (lambda: Revolve(3).plan(-1), ValueError, "steps"),
        (lambda: Revolve(3).plan(10.0), TypeError, "steps"),
        (lambda: StoreAll().plan(False), TypeError, "steps"),
        (lambda: Periodic(3).plan(-5), ValueError, "steps"),
        (lambda: Multistage(1, 1).plan("9"), TypeError, "steps"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_bad_input_names_the_scheme():
    with pytest.raises(ValueError, match="^Revolve: snapshots must be >= 1, got 0$"):
        Revolve(0)
    with pytest.raises(TypeError, match="^Multistage.plan: steps must be an integer"):
        Multistage(1, 1).plan("9")
    with pytest.raises(ValueError, match="^Online.plan: steps must be >= 0, got -1$"):
        Online(2).plan(-1)


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    assert Revolve(np.int64(4)).plan(np.int32(500)).forward_steps == 3213


def test_text_rendering_and_array():
    schedule = Revolve(2).plan(4)
    text = str(schedule)
    assert text.splitlines()[0] == schedule.summary()
    assert "Revolve(2)" in text and "advance 0 -> " in text and "adjoint 3" in text
    assert len(text.splitlines()) == len(schedule) + 1
    array = schedule.to_array()
    assert array.shape == (len(schedule), 5)
    assert [tuple(row) for row in array.tolist()] == [tuple(a) for a in schedule.actions]


def test_schemes_repr():
    assert repr(Revolve(4)) == "Revolve(4)"
    assert repr(Multistage(2, 8)) == "Multistage(2, 8)"
    assert repr(StoreAll()) == "StoreAll()"


def test_schedules_do_not_import_jax():
    code = "import sys, ckpt_transform.schedules as s; s.Revolve(3).plan(50); assert 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
