"""The storage interface: what an executor calls to keep snapshots outside the compiled program.

A *storage* (``HostStorage()``, ``HDF5Storage(...)``) is only a configuration: picklable, with a
readable ``repr``, safe to put on a scheme. Opening it for one run gives a *store*::

    with storage.open(slots, leaf_specs, meta) as store:
        store.write(slot, step, leaves)      # leaves: numpy or JAX arrays, copied to the host
        step, leaves = store.read(slot)      # numpy arrays, checked against leaf_specs
        store.free(slot)
    store.stats                              # StorageStats(bytes_written, bytes_read, io_seconds, ...)

- ``slots``: how many snapshots the store holds at once (``Schedule.slots`` for the level).
- ``leaf_specs``: one entry per state leaf, anything with ``.shape`` and ``.dtype``
  (``jax.ShapeDtypeStruct``, an array, a ``LeafSpec``). Every write and read is checked against
  them, so a snapshot can only come back with the shapes and dtypes it was written with.
- ``meta``: a flat mapping of str/int/float/bool values (and lists of them) describing the run,
  e.g. ``{"steps": 100, "scheme": "Revolve(4)", "level": 0}``; a file-backed store records it.

``store.steps`` gives the step each slot holds (-1: empty), the slot positions. A bad slot is an
IndexError; a leaf count, shape or dtype that differs from ``leaf_specs``, reading an empty slot,
or using a closed or read-only store is a ValueError raised before anything is stored. A write
that fails part-way leaves its slot empty, never half-written. Unusable paths and files are a
``StorageError`` (an ``OSError``) naming the path.

The API stays at the leaf level (flat lists of arrays), so the executor owns pytree flattening
and a leaf may later be a sharded array. ``read`` may return arrays shared with the store
(read-only); copy them before mutating. A store is used from one thread. Stores are context
managers: leaving the ``with`` block, normally or by an exception, closes the store and releases
what it holds. An executor must open its stores before it runs any step, so that a bad storage
fails before computation starts.
"""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np


def _is_count(value) -> bool:
    """Whether ``value`` is an int (Python or numpy, not bool) >= 0."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 0


def check_slots(where: str, slots) -> int:
    """``slots`` as an int >= 0, or a ValueError saying where it was passed."""
    if not _is_count(slots):
        raise ValueError(f"{where}: slots must be an integer >= 0, got {slots!r}")
    return int(slots)


def check_flag(where: str, name: str, value) -> bool:
    """``value`` if it is True or False, else a TypeError saying where it was passed."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


class StorageError(OSError):
    """A snapshot file or path that cannot be used; the message names the path and the fix."""


@dataclass
class StorageStats:
    """I/O done by one store. Byte counts are logical (array sizes, before any compression)."""

    bytes_written: int = 0
    bytes_read: int = 0
    #: wall time spent inside ``write`` and ``read``, including device-to-host copies
    io_seconds: float = 0.0
    writes: int = 0
    reads: int = 0


@dataclass(frozen=True)
class LeafSpec:
    """Shape and dtype of one state leaf."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def of(cls, leaf) -> LeafSpec:
        """The spec of anything with ``.shape`` and ``.dtype`` (arrays, ShapeDtypeStruct)."""
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            leaf = np.asarray(leaf)
        return cls(tuple(operator.index(d) for d in leaf.shape), np.dtype(leaf.dtype))

    def __str__(self) -> str:
        return f"{self.dtype.name}[{', '.join(map(str, self.shape))}]"


class Storage:
    """Base of the storage configurations: ``open`` makes a ``Store`` for one run."""

    #: show a progress bar (tqdm) of the forward and reverse sweeps of host-driven runs
    progress = False

    def open(self, slots: int, leaf_specs: Sequence[Any], meta: Mapping[str, Any] | None = None) -> Store:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(vars(self).items()))))


class Store:
    """One open snapshot store: checks arguments, keeps slot positions and counts the I/O.

    Subclasses implement ``_put(slot, step, arrays)``, ``_get(slot) -> arrays``, ``_drop(slot)``
    and ``_release()``; this class validates every call before it reaches them.
    """

    def __init__(self, name: str, slots: int, leaf_specs: Sequence[Any], meta: Mapping[str, Any] | None):
        self.name = name
        self.slots = check_slots(f"{name}.open", slots)
        self.leaf_specs = tuple(LeafSpec.of(s) for s in leaf_specs)
        self.meta = dict(meta or {})
        for key in self.meta:
            if not isinstance(key, str):
                raise TypeError(f"{name}.open: meta keys must be strings, got {key!r}")
        self.stats = StorageStats()
        self._steps = [-1] * self.slots
        self.closed = False
        #: True for stores opened only to read what an earlier run kept
        self.read_only = False

    @property
    def steps(self) -> tuple[int, ...]:
        """The step whose state each slot holds, -1 for an empty slot (the slot positions)."""
        return tuple(self._steps)

    def write(self, slot: int, step: int, leaves: Sequence[Any]) -> None:
        """Store ``leaves`` (the state at ``step``) in ``slot``, replacing what it held."""
        slot = self._check_slot(slot, "write")
        if not _is_count(step):
            raise ValueError(f"{self.name}.write: step must be an integer >= 0, got {step!r}")
        self._check_leaves(slot, leaves)
        start = time.perf_counter()
        if self._steps[slot] >= 0:  # empty the slot first: a write that fails leaves it empty
            self._drop(slot)
            self._steps[slot] = -1
        written = self._put(slot, int(step), leaves)
        self.stats.io_seconds += time.perf_counter() - start
        self._steps[slot] = int(step)
        self.stats.bytes_written += written
        self.stats.writes += 1

    def read(self, slot: int) -> tuple[int, list[np.ndarray]]:
        """``(step, leaves)`` held in ``slot``, as host arrays with the specs' shapes and dtypes."""
        slot = self._check_slot(slot, "read")
        if self._steps[slot] < 0:
            raise ValueError(f"{self.name}.read: slot {slot} is empty (never written, or freed)")
        start = time.perf_counter()
        arrays = self._get(slot)
        self.stats.io_seconds += time.perf_counter() - start
        self.stats.bytes_read += sum(a.nbytes for a in arrays)
        self.stats.reads += 1
        return self._steps[slot], arrays

    def free(self, slot: int) -> None:
        """Forget what ``slot`` holds (durably, for files); reading it afterwards is an error."""
        slot = self._check_slot(slot, "free")
        self._drop(slot)
        self._steps[slot] = -1

    def close(self) -> None:
        """Release the store (idempotent). Its ``stats`` stay readable."""
        if not self.closed:
            self.closed = True
            self._release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{sum(s >= 0 for s in self._steps)}/{self.slots} slots used"
        return f"<{self.name} store, {len(self.leaf_specs)} leaves, {state}>"

    def _check_slot(self, slot, what: str) -> int:
        if self.closed:
            raise ValueError(f"{self.name}.{what}: the store is closed")
        if self.read_only and what != "read":
            raise ValueError(f"{self.name}.{what}: the store is read-only")
        if not (_is_count(slot) and slot < self.slots):
            raise IndexError(f"{self.name}.{what}: slot must be an integer in [0, {self.slots}), got {slot!r}")
        return int(slot)

    def _check_leaves(self, slot: int, leaves: Sequence[Any]) -> None:
        if len(leaves) != len(self.leaf_specs):
            raise ValueError(
                f"{self.name}.write: slot {slot}: expected {len(self.leaf_specs)} leaves, got {len(leaves)}"
            )
        for k, (leaf, spec) in enumerate(zip(leaves, self.leaf_specs)):
            got = LeafSpec.of(leaf)
            if got != spec:
                raise ValueError(f"{self.name}.write: slot {slot} leaf {k}: expected {spec}, got {got}")

    def _put(self, slot: int, step: int, leaves: Sequence[Any]) -> int:
        """Store the (already checked) leaves; return the bytes written."""
        raise NotImplementedError

    def _get(self, slot: int) -> list[np.ndarray]:
        raise NotImplementedError

    def _drop(self, slot: int) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


class InProcessStore(Store):
    """A store whose snapshots are arrays this process holds, one list of leaves per slot.

    Subclasses implement only ``_put``, which sets ``self._data[slot]`` and returns the bytes.
    """

    def __init__(self, name: str, slots: int, leaf_specs: Sequence[Any], meta: Mapping[str, Any] | None):
        super().__init__(name, slots, leaf_specs, meta)
        self._data: list[list | None] = [None] * self.slots

    def _get(self, slot):
        return list(self._data[slot])

    def _drop(self, slot):
        self._data[slot] = None

    def _release(self):
        self._data = [None] * self.slots
