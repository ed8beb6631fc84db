"""checkpoint_schedules schedules converted into ours: valid, and costing what they cost there."""

import pytest

from ckpt_transform.schedules import FromCheckpointSchedules, Multistage, Revolve, StoreAll, check_schedule

cs = pytest.importorskip("checkpoint_schedules")

pytestmark = pytest.mark.filterwarnings("ignore:Numba not available")


def their_forward_steps(schedule, n):
    """Step evaluations of their Forward actions (each dependency-writing step included)."""
    total = 0
    for action in schedule:
        if isinstance(action, cs.Forward):
            total += min(action.n1, n) - action.n0
        elif isinstance(action, cs.EndReverse):
            break
    return total


BINOMIAL = [
    ("Revolve", lambda n: cs.Revolve(n, 3)),
    ("MultistageCheckpointSchedule", lambda n: cs.MultistageCheckpointSchedule(n, 1, 2)),
    ("HRevolve", lambda n: cs.HRevolve(n, 1, 2)),
    ("DiskRevolve", lambda n: cs.DiskRevolve(n, 2)),
    ("PeriodicDiskRevolve", lambda n: cs.PeriodicDiskRevolve(n, 2)),
]


@pytest.mark.parametrize("name, make", BINOMIAL, ids=[name for name, _ in BINOMIAL])
@pytest.mark.parametrize("n", [2, 3, 7, 20, 41])
def test_converted_schedules_are_valid_and_cost_the_same(name, make, n):
    schedule = FromCheckpointSchedules(make).plan(n)
    check_schedule(schedule)
    # their dependency-writing Forward of one step is folded into our ADJOINT of that step
    assert schedule.forward_steps == their_forward_steps(make(n), n) - n
    assert schedule.reverse_steps == n


@pytest.mark.parametrize("n", [1, 2, 5, 30, 100])
def test_their_revolve_and_multistage_match_ours(n):
    assert FromCheckpointSchedules(lambda k: cs.Revolve(k, 4)).plan(n).forward_steps == Revolve(4).plan(n).forward_steps
    converted = FromCheckpointSchedules(lambda k: cs.MultistageCheckpointSchedule(k, 2, 3)).plan(n)
    ours = Multistage(2, 3).plan(n)
    assert converted.forward_steps == ours.forward_steps
    assert all(used <= promised for used, promised in zip(converted.budget, ours.budget))


@pytest.mark.parametrize("n", [1, 2, 9])
def test_schedules_of_unknown_length_are_finalized(n):
    store_all = FromCheckpointSchedules(lambda k: cs.SingleMemoryStorageSchedule()).plan(n)
    assert store_all.forward_steps == StoreAll().plan(n).forward_steps
    on_disk = FromCheckpointSchedules(lambda k: cs.SingleDiskStorageSchedule()).plan(n)
    assert on_disk.budget == (0, n)
    two_level = FromCheckpointSchedules(lambda k: cs.TwoLevelCheckpointSchedule(3, 2)).plan(n)
    check_schedule(two_level)


def test_schedule_object_is_copied_per_plan():
    scheme = FromCheckpointSchedules(cs.Revolve(20, 3))
    first, second = scheme.plan(20), scheme.plan(20)
    assert first.actions == second.actions
    assert first.forward_steps == Revolve(3).plan(20).forward_steps
    with pytest.raises(ValueError, match="steps"):
        scheme.plan(21)


def test_unconvertible_and_bad_sources():
    with pytest.raises(ValueError, match="NoneCheckpointSchedule cannot be converted"):
        FromCheckpointSchedules(lambda k: cs.NoneCheckpointSchedule()).plan(4)
    with pytest.raises(TypeError, match="source"):
        FromCheckpointSchedules(42)
    assert FromCheckpointSchedules(lambda k: cs.Revolve(k, 2)).plan(0).actions == ()
