"""The validity checker accepts correct schedules and catches every kind of corruption."""

import pytest

from ckpt_transform.schedules import (
    ADJOINT,
    ADVANCE,
    FREE,
    RESTORE,
    STORE,
    Action,
    Revolve,
    Schedule,
    check_schedule,
)


def revolve_6():
    return Revolve(2).plan(6)


def replaced(schedule, actions, budget=None):
    return Schedule(schedule.steps, tuple(actions), schedule.scheme, schedule.budget if budget is None else budget)


def index_of(schedule, op, step=None, nth=0):
    hits = [k for k, a in enumerate(schedule.actions) if a.op == op and (step is None or a.step == step)]
    return hits[nth]


def test_valid_schedule_passes():
    check_schedule(revolve_6())


def test_empty_and_one_step_loops():
    check_schedule(Schedule(0, ()))
    check_schedule(Schedule(1, (Action(ADJOINT, 0),)))


def corruptions():
    """(name, corrupt(schedule) -> schedule, words the error must contain)."""
    def drop(op, step=None, nth=0):
        def f(s):
            k = index_of(s, op, step, nth)
            return replaced(s, s.actions[:k] + s.actions[k + 1 :])
        return f

    def swap_first_adjoints(s):
        acts = list(s.actions)
        i, j = index_of(s, ADJOINT, nth=0), index_of(s, ADJOINT, nth=1)
        acts[i], acts[j] = acts[j], acts[i]
        return replaced(s, acts)

    def edit(op, nth, **changes):
        def f(s):
            acts = list(s.actions)
            k = index_of(s, op, nth=nth)
            acts[k] = acts[k]._replace(**changes)
            return replaced(s, acts)
        return f

    def insert(k, action):
        return lambda s: replaced(s, s.actions[:k] + (action,) + s.actions[k:])

    return [
        ("missing adjoint", drop(ADJOINT, 3), "out of order"),
        ("adjoints swapped", swap_first_adjoints, "out of order"),
        ("missing restore", drop(RESTORE), "in hand"),
        ("missing free", drop(FREE), "slot already holds"),
        ("missing final free", lambda s: replaced(s, s.actions[:-1]), "never freed"),
        ("restore of a freed slot", drop(STORE, nth=1), "slot holds none"),
        ("restore claims the wrong step", edit(RESTORE, 0, step=1), "slot holds step 3"),
        ("restore of another slot", edit(RESTORE, 0, slot=0), "slot holds step 0"),
        ("advance from the wrong state", edit(ADVANCE, 1, step=0), "advance from step 0"),
        ("advance past the last step", edit(ADVANCE, 1, to=6), "at most at step 5"),
        ("store of a state not in hand", edit(STORE, 1, step=2), "store of step 2"),
        ("slot outside the budget", edit(STORE, 1, slot=2), "outside the budget"),
        ("level without budget", edit(STORE, 1, level=1), "no slot budget"),
        ("forward sweep not at the end", insert(2, Action(ADJOINT, 2)), "out of order"),
        ("unknown op", insert(0, Action(7, 0)), "unknown op"),
        ("adjoint leaves nothing in hand", insert(index_of(revolve_6(), ADJOINT) + 1, Action(ADVANCE, 5, 5)), "in hand is none"),
        ("last adjoints never run", lambda s: replaced(s, s.actions[: index_of(s, ADJOINT, 0)] + s.actions[-1:]), "never run"),
    ]


@pytest.mark.parametrize("name, corrupt, words", corruptions(), ids=[c[0] for c in corruptions()])
def test_corrupted_schedule_fails(name, corrupt, words):
    with pytest.raises(AssertionError, match=words):
        check_schedule(corrupt(revolve_6()))


def test_budget_exceeded_per_level():
    s = revolve_6()
    with pytest.raises(AssertionError, match="outside the budget of 1 slots"):
        check_schedule(replaced(s, s.actions, budget=(1,)))
    # slot indices within budget but more slots held than promised
    acts = [Action(STORE, 0, -1, 0), Action(ADVANCE, 0, 1), Action(STORE, 1, -1, 1)]
    with pytest.raises(AssertionError, match="budget"):
        check_schedule(Schedule(3, tuple(acts), "x", (1,)))


def test_error_names_the_action_index():
    s = revolve_6()
    k = index_of(s, RESTORE)
    with pytest.raises(AssertionError, match=rf"action {k} "):
        check_schedule(replaced(s, s.actions[:k] + s.actions[k + 1 :]))
