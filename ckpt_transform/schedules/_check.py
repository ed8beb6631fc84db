"""``check_schedule``: replay a Schedule on a bookkeeping model and fail on the first violation.

The model tracks only which step's state is in hand and which step each slot holds, so it checks
any scheme (ours, Online's, converted ``checkpoint_schedules`` ones) against the contract a runtime
relies on, without running anything.
"""

from __future__ import annotations

from ._actions import ADJOINT, ADVANCE, FREE, OP_NAMES, RESTORE, STORE
from ._schedule import Schedule


def check_schedule(schedule: Schedule) -> None:
    """Raise AssertionError naming the action index of the first violation of the contract.

    - ``ADVANCE a -> b`` starts from the state at ``a`` in hand and ends at ``b <= steps - 1``
      (the runtime itself evaluates the last step to produce the loop's result);
    - ``STORE`` copies the state in hand into a free slot of a level with a budget, and the slots
      held per level never exceed ``schedule.budget`` (slot indices stay below it too);
    - ``RESTORE``/``FREE`` name a held slot holding the step they claim;
    - every ``ADJOINT i`` happens exactly once, in the order ``steps-1 .. 0``, with the state at
      ``i`` in hand, and leaves no state in hand; the forward sweep (actions before the first
      adjoint) ends with the state at ``steps - 1`` in hand;
    - at the end every adjoint step has run and every slot has been freed.
    """
    n = schedule.steps
    budget = tuple(schedule.budget)
    in_hand: int | None = 0
    held: dict[tuple[int, int], int] = {}
    per_level = [0] * len(budget)
    next_adjoint = n - 1

    def fail(k: int, action, message: str) -> None:
        shown = action if 0 <= action[0] < len(OP_NAMES) else tuple(action)
        raise AssertionError(f"{schedule.scheme or 'schedule'} ({n} steps), action {k} ({shown}): {message}")

    for k, action in enumerate(schedule.actions):
        op, step, to, slot, level = action
        if op == ADVANCE:
            if in_hand != step:
                fail(k, action, f"advance from step {step} but the state in hand is {_hand(in_hand)}")
            if not step < to <= n - 1:
                fail(k, action, f"advance must end after its start and at most at step {n - 1}")
            in_hand = to
        elif op in (STORE, RESTORE, FREE):
            if not 0 <= level < len(budget):
                fail(k, action, f"level {level} has no slot budget (budget {budget})")
            if not 0 <= slot < budget[level]:
                fail(k, action, f"slot {slot} outside the budget of {budget[level]} slots on level {level}")
            key = (level, slot)
            if op == STORE:
                if in_hand != step:
                    fail(k, action, f"store of step {step} but the state in hand is {_hand(in_hand)}")
                if key in held:
                    fail(k, action, f"slot already holds step {held[key]}; free it first")
                held[key] = step
                per_level[level] += 1
                if per_level[level] > budget[level]:
                    fail(k, action, f"{per_level[level]} slots held on level {level}, budget {budget[level]}")
            else:
                if held.get(key) != step:
                    fail(k, action, f"{OP_NAMES[op]} of step {step} but the slot holds {_hand(held.get(key))}")
                if op == RESTORE:
                    in_hand = step
                else:
                    del held[key]
                    per_level[level] -= 1
        elif op == ADJOINT:
            if step != next_adjoint:
                expected = next_adjoint if next_adjoint >= 0 else "none (all done)"
                fail(k, action, f"adjoint of step {step} out of order; expected {expected}")
            if in_hand != step:
                fail(k, action, f"adjoint of step {step} but the state in hand is {_hand(in_hand)}")
            next_adjoint -= 1
            in_hand = None
        else:
            fail(k, action, f"unknown op {op}")
    if next_adjoint != -1:
        raise AssertionError(f"{schedule.scheme or 'schedule'} ({n} steps): adjoint steps {next_adjoint}..0 never run")
    if held:
        raise AssertionError(f"{schedule.scheme or 'schedule'} ({n} steps): slots never freed: {sorted(held.items())}")


def _hand(step: int | None) -> str:
    return "none" if step is None else f"step {step}"
