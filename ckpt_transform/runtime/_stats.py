"""``LoopStats``: what one run of a checkpointed loop did, and how it reaches the user.

Figures are reported by a ``jax.debug.callback`` when the run actually executes (every call of a
jitted function, not only its tracing), set on ``scheme.last_stats``, logged at INFO level on the
``ckpt_transform`` logger and, with ``verbose=True`` on the scheme, printed as one line to stderr.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import jax

logger = logging.getLogger("ckpt_transform")


@dataclass(frozen=True)
class LoopStats:
    """One run of a checkpointed loop.

    ``forward_steps`` counts body evaluations outside the adjoint steps, including the one that
    produces the loop's result; ``adjoint_steps`` counts vjp evaluations of the body (each also
    evaluates the step once). A run without differentiation is a plain loop: ``steps`` forward
    steps and nothing else.
    """

    scheme: str
    steps: int
    forward_steps: int
    adjoint_steps: int
    stores: int
    peak_snapshots: int
    snapshot_bytes: int

    def summary(self) -> str:
        return (
            f"{self.scheme}: {self.steps} steps, {self.forward_steps} forward steps, "
            f"{self.adjoint_steps} adjoint steps, {self.stores} stores, peak {self.peak_snapshots} "
            f"snapshots of {self.snapshot_bytes} bytes"
        )


def _report(scheme, stats: LoopStats) -> None:
    scheme.last_stats = stats
    logger.info("%s", stats.summary())
    if scheme.verbose:
        print(f"ckpt_transform: {stats.summary()}", file=sys.stderr)


def emit(scheme, steps, forward_steps, adjoint_steps, stores, peak_snapshots, snapshot_bytes) -> None:
    """Report a run when it executes; the counts may be Python ints or traced integer scalars."""

    def callback(*counts):
        counts = [int(c.max()) if hasattr(c, "max") else int(c) for c in counts]
        _report(scheme, LoopStats(repr(scheme), *counts, snapshot_bytes))

    jax.debug.callback(callback, steps, forward_steps, adjoint_steps, stores, peak_snapshots)
