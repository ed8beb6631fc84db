"""Off-device snapshots inside a traced program (``jax.jit``): ordered ``io_callback``s.

While tracing there are no values for a Python loop to move, so ``HostRun`` hands a traced run
to the compiled table executor (``run_rows``, the same ``apply_group``) with ``CallbackSlots``:
every load and save is an ordered ``io_callback`` into the run's stores, and the executor's
``buffers`` is the run's handle (an int32 scalar), threaded through every call. The stores are
opened by a callback at the start of the forward sweep and closed by one at the end of the
reverse sweep, or when one of these callbacks fails; a newer run of the same loop closes an older
one's. A run stopped by an exception elsewhere in the compiled program (the body raising through
a callback of its own) gives Python no hook: its stores stay open until the next run of the loop,
or until the interpreter exits (temporary files are removed then).
Statistics are reported by the closing callback, when the bytes moved are known.

``vmap`` cannot batch ordered callbacks: the opening callback takes a sliver of the state, so
that a vmapped gradient is refused there, before any store opens, with a ``HostStorageTracedError``
saying to use ``MemoryStorage``.
"""

from __future__ import annotations

from collections import deque
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from ._sweep import Carry, run_rows

_HANDLE = jax.ShapeDtypeStruct((), jnp.int32)


class HostStorageTracedError(TypeError):
    """Off-device snapshots were asked for where they cannot work while JAX traces."""


class CallbackSlots:
    """``apply_group``'s ``slots`` in a compiled program: reads and writes by ordered callbacks."""

    def __init__(self, run):
        self.run = run
        self.shapes = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in run.step.avals]

    def load(self, handle, slot):
        return list(io_callback(self.run.callbacks.read, self.shapes, handle, slot, ordered=True))

    def save(self, handle, slot, leaves):
        return io_callback(self.run.callbacks.write, _HANDLE, handle, slot, *leaves, ordered=True)


class Callbacks:
    """What the compiled program calls back into: one run of ``HostRun``'s stores at a time."""

    def __init__(self, run):
        self.run = run
        self.handle = 0
        self.steps: dict[int, deque] = {}
        # the step each slot is written with, in order: positions replayed along the table
        self._writes: dict[int, list[int]] = {}
        position, held = 0, {}
        for restore, start, stop, store, _ in run.table.rows.tolist():
            position = held[restore] if restore >= 0 else position
            position = stop if stop > start else position
            if store >= 0:
                held[store] = position
                self._writes.setdefault(store, []).append(position)

    def open(self, *probe):
        self.handle += 1
        run = self.run
        run.open_stores(run.schedule.slots or (0,), run.n)
        s = run.schedule
        run.counts = [s.forward_steps + 1, s.reverse_steps, s.stores]
        self.steps = {slot: deque(steps) for slot, steps in self._writes.items()}
        return np.int32(self.handle)

    def write(self, handle, slot, *leaves):
        store, local = self._place(handle, slot)
        with self._closing_on_error():
            store.write(local, self.steps[int(slot)].popleft(), leaves)  # copies: leaves live only now
        return handle

    def read(self, handle, slot):
        store, local = self._place(handle, slot)
        with self._closing_on_error():
            return store.read(local)[1]

    def close(self, handle):
        self._check(handle)
        self.run.finish(self.run.close())

    def _place(self, handle, slot):
        """(store, slot in it) of the open run."""
        self._check(handle)
        return self.run.slots.places[int(slot)]

    def _check(self, handle) -> None:
        """An error unless ``handle`` is the open run's."""
        if int(handle) != self.handle or self.run.slots is None:
            raise RuntimeError(
                f"{self.run.scheme!r}: the snapshots of this run of the loop were released (a newer "
                "run of the same loop started, or this reverse sweep ran already); run the forward "
                "pass again"
            )

    @contextmanager
    def _closing_on_error(self):
        try:
            yield
        except BaseException:
            self.run.close()
            raise


def traced_forward(run, rows, consts, leaves):
    """``HostRun.forward`` while tracing: (result, state at n-1, the run's handle)."""
    run.callbacks = run.callbacks or Callbacks(run)
    # a sliver of the state as operand, so that under vmap JAX refuses before the stores open
    probe = [jnp.ravel(leaf)[:1] for leaf in leaves]
    try:
        handle = io_callback(run.callbacks.open, _HANDLE, *probe, ordered=True)
    except ValueError as exc:
        if "vmap" not in str(exc):
            raise
        raise HostStorageTracedError(
            f"{run.scheme!r} keeps snapshots off the device ({', '.join(map(repr, run.storages))}) "
            "through ordered callbacks, which jax.vmap cannot batch; under vmap use MemoryStorage() "
            "(storage=None; for Multistage also disk_storage=MemoryStorage()), or loop over the batch"
        ) from exc
    carry = run_rows(rows, 0, run.table.forward, Carry(leaves, handle), run.step, consts, CallbackSlots(run))
    return run.step(run.n - 1, carry.hand, consts), carry.hand, carry.buffers


def traced_reverse(run, rows, consts, hand, handle, cot):
    """``HostRun.reverse`` while tracing: the cotangents; the stores close at the end."""
    carry = Carry(hand, handle, list(cot), [jnp.zeros_like(c) for c in consts.diff])
    carry = run_rows(rows, run.table.forward, len(run.table.rows), carry, run.step, consts, CallbackSlots(run))
    io_callback(run.callbacks.close, None, carry.buffers, ordered=True)
    return carry.cot, carry.pcot
