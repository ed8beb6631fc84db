"""``Schedule``: a scheme's plan for one loop length, as data plus its costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

from ._actions import ADJOINT, ADVANCE, FREE, STORE, Action


@dataclass(frozen=True)
class Schedule:
    """The actions a runtime executes to reverse a loop of ``steps`` iterations.

    The actions before the first ``ADJOINT`` form the forward sweep, which ends with the state at
    ``steps - 1`` in hand; the runtime evaluates the last step once more to produce the loop's
    result. Every ``ADJOINT i`` needs the state at ``i`` in hand and leaves no state in hand.
    """

    steps: int
    actions: tuple[Action, ...]
    scheme: str = ""
    #: slot budget per level, as the scheme promised it (the validity checker enforces it)
    budget: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        actions = self.actions
        if type(actions) is not tuple or not all(type(a) is Action for a in actions):
            object.__setattr__(self, "actions", tuple(Action(*a) for a in actions))

    @cached_property
    def forward_steps(self) -> int:
        """Step evaluations outside the adjoint steps (Griewank-Walther's count)."""
        return sum(a.to - a.step for a in self.actions if a.op == ADVANCE)

    @cached_property
    def reverse_steps(self) -> int:
        return sum(1 for a in self.actions if a.op == ADJOINT)

    @cached_property
    def stores(self) -> int:
        return sum(1 for a in self.actions if a.op == STORE)

    @cached_property
    def slots(self) -> tuple[int, ...]:
        """Slots used per level (highest slot index + 1), what a runtime must allocate."""
        counts: list[int] = []
        for a in self.actions:
            if a.slot >= 0:
                counts.extend([0] * (a.level + 1 - len(counts)))
                counts[a.level] = max(counts[a.level], a.slot + 1)
        return tuple(counts)

    @cached_property
    def peak_snapshots(self) -> int:
        """Most snapshots held at once, over all levels."""
        held: set[tuple[int, int]] = set()
        peak = 0
        for a in self.actions:
            if a.op == STORE:
                held.add((a.level, a.slot))
                peak = max(peak, len(held))
            elif a.op == FREE:
                held.discard((a.level, a.slot))
        return peak

    @cached_property
    def forward_sweep_length(self) -> int:
        """Number of actions before the first adjoint step (the part run with the primal)."""
        for k, a in enumerate(self.actions):
            if a.op == ADJOINT:
                return k
        return len(self.actions)

    @property
    def overhead(self) -> float:
        """forward_steps / steps: recomputation factor (0 for an empty loop)."""
        return self.forward_steps / self.steps if self.steps else 0.0

    def to_array(self):
        """The actions as an ``(len, 5)`` int32 numpy array: op, step, to, slot, level."""
        import numpy as np

        return np.asarray(self.actions, dtype=np.int32).reshape(len(self.actions), 5)

    def plot(self, ax=None):
        """Step against action index with stores, restores and adjoint steps marked; returns the
        matplotlib figure (needs the ``plot`` extra)."""
        from ._plot import plot_schedule

        return plot_schedule(self, ax)

    def summary(self) -> str:
        return (
            f"{self.scheme or 'schedule'}: {self.steps} steps, {self.forward_steps} forward steps "
            f"(overhead {self.overhead:.2f}), {self.reverse_steps} adjoint steps, "
            f"{self.stores} stores, peak {self.peak_snapshots} snapshots"
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        lines.extend(f"{k:6d}  {a}" for k, a in enumerate(self.actions))
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.actions)


def make_schedule(steps: int, actions: Sequence[Action], scheme: str, budget: Sequence[int]) -> Schedule:
    return Schedule(steps=steps, actions=tuple(actions), scheme=scheme, budget=tuple(budget))
