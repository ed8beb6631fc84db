"""The host-driven executor: a Python loop over schedule groups, snapshots in ``Store``s.

Used when a scheme keeps snapshots outside the compiled program (``HostStorage``,
``HDF5Storage``, ``Multistage``'s ``disk_storage``). Every group goes through ``apply_group``, the
one definition of the action semantics, with Python integers; the state moves through two
compiled pieces whose loop positions are traced arguments, so each compiles once: an advance of
k steps (one inner loop) and one adjoint step. ``HostRun`` has ``TableRun``'s interface, so the
``custom_vjp`` rules of ``fori_loop`` and of counted ``while`` loops drive either.

Store lifetime: the stores are opened before the first step of the forward sweep (a bad path
fails before any computation), stay open until the reverse sweep has used them, and are closed
when it ends, or when an exception escapes either sweep. A run abandoned between the sweeps (an
exception raised after the loop, a ``jax.vjp`` whose function is never called) releases them
when JAX drops the pending reverse sweep: the stores are then garbage, and a temporary HDF5 file
is removed when its store is collected or at interpreter exit at the latest. Calling the same
vjp function again repeats the forward sweep first (the first reverse sweep consumed the
snapshots).

While JAX traces (``jax.jit``) there are no values to move from Python: a traced run goes to
the compiled table executor with ordered callbacks into the same stores (``_host_traced``).
Online ``while`` loops and vjps whose forward pass ran eagerly need concrete values and raise
``HostStorageTracedError`` saying to differentiate eagerly or use ``MemoryStorage``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from ._compiled import lean, shared
from ._fori import planned
from ._host_progress import progress_bar
from ._host_traced import HostStorageTracedError, traced_forward, traced_reverse
from ._stats import LoopStats, report
from ._storage import level_storages
from ._sweep import Carry, apply_group


class CompiledStep:
    """``Step.advance`` and ``Step.adjoint`` as compiled calls, for ``apply_group`` with ints."""

    def __init__(self, step):
        step = lean(step)  # the run's values are passed in
        self._advance = jax.jit(step.advance)
        self._one = jax.jit(lambda leaves, k, consts: step(k, leaves, consts))
        self._adjoint = jax.jit(step.adjoint)

    def advance(self, leaves, start: int, stop: int, consts):
        if stop <= start:
            return leaves
        if stop == start + 1:  # most advances of a reverse sweep: no loop to enter (~100 us less)
            return self._one(leaves, np.int32(start), consts)
        return self._advance(leaves, np.int32(start), np.int32(stop), consts)

    def adjoint(self, k: int, leaves, cot, pcot, consts):
        return self._adjoint(np.int32(k), leaves, cot, pcot, consts)


class LevelSlots:
    """The table's flat slot numbers onto the stores of the levels: ``apply_group``'s ``slots``.

    ``position`` is the step of the state in hand, set by the executor before each group, so the
    stores record which step every slot holds. A write runs on a background thread while the
    next steps compute. One write is in
    flight at a time, so a slow store holds back the computation rather than piling up
    snapshots; reads and ``close`` wait for it first, and ``wait`` raises what it raised. The
    leaves of the last write stay referenced (one state more in device memory) until the next
    write, so restoring the slot just written, which Revolve does for about a third of its
    restores, neither waits for that write nor reads it back.

    Measured on a 2-core machine (diffusion2d 512^2 float32, 400 steps, Revolve(10), best of 5,
    ``benchmarks/bench_storage_runtime.py --full``): HDF5Storage 423 -> 321 ms and HostStorage
    351 -> 297 ms with this and the one-step advance of ``CompiledStep`` (compiled executor with
    memory storage: 231 ms). Reading restores ahead on a second thread, in schedule order, gained
    nothing measurable (355 against 358 ms).
    """

    def __init__(self, stores, counts):
        self.stores = stores
        self.places = [(store, local) for store, count in zip(stores, counts) for local in range(count)]
        self.position = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ckpt_transform-store")
        self._pending = None
        self._recent = None  # (slot, leaves) of the last write: a restore of it reads nothing
        self._held = [-1] * len(self.places)

    def step_at(self, slot: int) -> int:
        """The step slot ``slot`` holds (known without waiting for its write)."""
        return self._held[slot]

    def load(self, buffers, slot: int):
        if self._recent is not None and self._recent[0] == slot:  # just written: still in hand
            return list(self._recent[1])
        self.wait()
        store, local = self.places[slot]
        # numpy arrays the store no longer holds become device arrays without a copy
        return [jax.device_put(leaf) for leaf in store.read(local)[1]]

    def save(self, buffers, slot: int, leaves):
        self.wait()
        store, local = self.places[slot]
        self._pending = self._writer.submit(_write, store, local, self.position, leaves)
        self._held[slot] = self.position
        self._recent = (slot, leaves)
        return buffers

    def wait(self) -> None:
        """Until the write in flight, if any, has finished; raises what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Close the stores once the write in flight is over (its error is not raised here: the
        sweep that submitted it waited for it, unless another exception escaped first)."""
        self._writer.shutdown(wait=True)
        for store in self.stores:
            store.close()


def _write(store, local: int, step: int, leaves) -> None:
    jax.block_until_ready(leaves)  # waiting for the computation is not I/O time
    store.write(local, step, leaves)


def _traced(*values) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(values))


class HostRun:
    """One schedule run group by group from Python; ``TableRun``'s interface.

    ``n=None`` (a ``while`` loop placed online): ``open`` the stores, run a forward sweep, then
    ``plan(n)`` once the trip count is known; ``repeat`` redoes that forward sweep.
    """

    def __init__(self, scheme, step, n: int | None):
        self.scheme, self.step = scheme, step
        self.storages = level_storages(scheme, 2)
        self.progress = any(s.progress for s in self.storages)
        self.compiled = None  # built by the first sweep (it keys on concrete values)
        self.slots = None  # the stores holding a forward sweep's snapshots, until its reverse
        self.repeat = None  # () -> state at n-1 after running the forward sweep again
        self.callbacks = None  # what a traced run's program calls back into (_host_traced)
        self.counts = [0, 0, 0]  # forward steps, adjoint steps, stores of the current run
        if n is not None:
            self.plan(n)

    def plan(self, n: int) -> None:
        self.n = n
        self.schedule, self.table = planned(self.scheme, n)
        self._rows = self.table.rows.tolist()

    def open(self, slots: tuple[int, ...], consts, leaves, steps: int | None) -> LevelSlots:
        """Stores for a new eager forward sweep from ``leaves``, opened before any step runs."""
        self._check_concrete(consts, leaves)
        self.compiled = self.compiled or shared(self.step, "host", lambda: CompiledStep(self.step))
        return self.open_stores(slots, steps)

    def open_stores(self, slots: tuple[int, ...], steps: int | None) -> LevelSlots:
        """``slots`` per level in the levels' storages (closing the previous run's)."""
        self.close()
        self.counts = [0, 0, 0]
        meta = {"scheme": repr(self.scheme), "leaves": ", ".join(self.step.paths)}
        if steps is not None:
            meta["steps"] = steps
        stores = []
        try:
            for level, count in enumerate(slots):
                stores.append(self.storages[level].open(count, self.step.avals, {**meta, "level": level}))
        except BaseException:
            for store in stores:
                store.close()
            raise
        self.slots = LevelSlots(stores, slots)
        return self.slots

    def forward(self, rows, consts, leaves):
        """(result leaves, state at n-1, None) after the forward sweep, snapshots in the stores."""
        if _traced(consts, leaves):
            return traced_forward(self, rows, consts, leaves)
        self.open(self.schedule.slots or (0,), consts, leaves, self.n)
        self.repeat = lambda: self.forward(rows, consts, leaves)[1]
        try:
            carry = self._run(0, self.table.forward, Carry(leaves, None), consts, "forward sweep")
            out = self.compiled.advance(carry.hand, self.n - 1, self.n, consts)
            self.counts[0] += 1
        except BaseException:
            self.close()
            raise
        return out, carry.hand, None

    def reverse(self, rows, consts, hand, buffers, cot):
        """(cotangent of the initial differentiable leaves, of the hoisted differentiable arrays)."""
        if buffers is not None:  # the forward sweep was traced: so is this one
            return traced_reverse(self, rows, consts, hand, buffers, cot)
        self._check_concrete(consts, hand, cot)
        if self.slots is None:  # a second call of the same vjp: the snapshots were consumed
            hand = self.repeat()
        carry = Carry(hand, None, list(cot), [jnp.zeros_like(c) for c in consts.diff])
        try:
            carry = self._run(self.table.forward, len(self._rows), carry, consts, "reverse sweep")
        finally:
            slots = self.close()
        self.finish(slots)
        return carry.cot, carry.pcot

    def finish(self, slots: LevelSlots) -> None:
        """Report the run's statistics, with the I/O of its (closed) off-device stores."""
        written = read = seconds = 0
        for store, storage in zip(slots.stores, self.storages):
            if not getattr(storage, "in_graph", False):  # device copies are not I/O
                written += store.stats.bytes_written
                read += store.stats.bytes_read
                seconds += store.stats.io_seconds
        forward, adjoints, stores = self.counts
        report(self.scheme, LoopStats(
            repr(self.scheme), self.n, forward, adjoints, stores, self.schedule.peak_snapshots,
            self.step.snapshot_bytes, written, read, seconds,
        ))

    def _run(self, first: int, last: int, carry: Carry, consts, desc: str) -> Carry:
        """Groups ``first:last`` of the table, one ``apply_group`` each."""
        slots = self.slots
        rows = self._rows[first:last]
        reverse = carry.cot is not None
        total = sum(1 for r in rows if r[4] >= 0) if reverse else sum(r[2] - r[1] for r in rows)
        bar = progress_bar(self.progress, total, desc)
        try:
            for group in rows:
                restore, start, stop, store, adjoint = group
                if restore >= 0:
                    slots.position = slots.step_at(restore)
                if stop > start:
                    slots.position = stop
                carry = apply_group(group, carry, self.compiled, consts, slots)
                self.counts[0] += max(stop - start, 0)
                self.counts[1] += adjoint >= 0
                self.counts[2] += store >= 0
                bar.update((adjoint >= 0) if reverse else max(stop - start, 0))
            slots.wait()
        finally:
            bar.close()
        return carry

    def close(self):
        """Close the stores of the current run, if any; returns their ``LevelSlots``."""
        slots, self.slots = self.slots, None
        if slots is not None:
            slots.close()
        return slots

    def _check_concrete(self, *values) -> None:
        if _traced(*values):
            storage = next(s for s in self.storages if not getattr(s, "in_graph", False))
            raise HostStorageTracedError(
                f"{self.scheme!r} keeps snapshots in {storage!r}; for a while loop placed online (or a "
                "vjp whose forward pass ran eagerly) a host-driven loop writes and reads them between "
                "compiled steps, which needs concrete values, but this gradient is being traced "
                "(jax.jit, jax.vmap, or a checkpointed loop inside another). Take the gradient "
                "eagerly (call jax.grad outside jax.jit; the steps are still compiled), or use "
                "MemoryStorage() (storage=None) to differentiate under jit."
            )
