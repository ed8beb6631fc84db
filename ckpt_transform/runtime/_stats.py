"""``LoopStats``: what one run of a checkpointed loop did, and how it reaches the user.

The figures are set on ``scheme.last_stats``, logged at INFO level on the ``ckpt_transform``
logger and, with ``verbose=True`` on the scheme, printed as one line to stderr. With a trip count
known while tracing they follow from the schedule, so they are reported when the loop is traced
(a jitted function reports once per compilation): a ``jax.debug.callback`` costs about as much as
hundreds of small steps. A ``while`` loop's figures are only known when it has run, so it reports
through a callback at the end of every run.
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
    steps and nothing else. A body whose adjoint does not read the state (affine in the carry)
    needs no snapshots: ``stores == 0`` and ``forward_steps == steps`` whatever the scheme.
    Snapshots kept off the device (host memory, HDF5 files) add the bytes written and read and the
    seconds spent in that I/O; they stay 0 for snapshots in device memory.
    """

    scheme: str
    steps: int
    forward_steps: int
    adjoint_steps: int
    stores: int
    peak_snapshots: int
    snapshot_bytes: int
    bytes_written: int = 0
    bytes_read: int = 0
    io_seconds: float = 0.0

    def summary(self) -> str:
        text = (
            f"{self.scheme}: {self.steps} steps, {self.forward_steps} forward steps, "
            f"{self.adjoint_steps} adjoint steps, {self.stores} stores, peak {self.peak_snapshots} "
            f"snapshots of {self.snapshot_bytes} bytes"
        )
        if self.bytes_written or self.bytes_read:
            text += (
                f", {self.bytes_written} bytes written, {self.bytes_read} bytes read, "
                f"{self.io_seconds:.3f} s in I/O"
            )
        return text


def report(scheme, stats: LoopStats) -> None:
    scheme.last_stats = stats
    logger.info("%s", stats.summary())
    if scheme.verbose:
        print(f"ckpt_transform: {stats.summary()}", file=sys.stderr)


def emit(scheme, steps, forward_steps, adjoint_steps, stores, peak_snapshots, snapshot_bytes) -> None:
    """Report a run when it executes; the counts are traced integer scalars."""

    def callback(*counts):
        # under vmap the counts may come batched: report the largest run
        counts = [int(c.max()) for c in counts]
        report(scheme, LoopStats(repr(scheme), *counts, snapshot_bytes))

    jax.debug.callback(callback, steps, forward_steps, adjoint_steps, stores, peak_snapshots)
