"""``MemoryStorage``: snapshots in one device buffer per dtype, inside the compiled program.

The compiled executor keeps every snapshot in a stacked buffer of shape ``(slots, size)`` per
dtype, the state's leaves raveled and packed side by side. Few large arrays make cheap loop
carries, and a store or restore is one ``dynamic_update_slice``/``dynamic_slice`` per dtype that
XLA performs in place. ``open`` gives the same storage to a host-driven executor as a
``Store`` holding device arrays.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ._store import LeafSpec, Storage, Store


class MemoryStorage(Storage):
    """Snapshots on the device that holds the state (the default storage)."""

    #: the compiled executor keeps this storage's snapshots in the program itself
    in_graph = True

    def layout(self, leaf_specs: Sequence[Any]) -> PackedLayout:
        """How the leaves are packed into per-dtype buffers (see ``PackedLayout``)."""
        return PackedLayout([LeafSpec.of(s) for s in leaf_specs])

    def open(self, slots: int, leaf_specs: Sequence[Any], meta: Mapping[str, Any] | None = None) -> MemoryStore:
        return MemoryStore(slots, leaf_specs, meta)


class PackedLayout:
    """Leaves grouped by dtype, each group raveled into one row of a ``(slots, size)`` buffer."""

    def __init__(self, specs: Sequence[LeafSpec]):
        self.specs = tuple(specs)
        self.dtypes: list[np.dtype] = []
        #: per leaf: (buffer index, offset, size)
        self.places: list[tuple[int, int, int]] = []
        sizes: list[int] = []
        for spec in self.specs:
            if spec.dtype not in self.dtypes:
                self.dtypes.append(spec.dtype)
                sizes.append(0)
            b = self.dtypes.index(spec.dtype)
            size = math.prod(spec.shape)
            self.places.append((b, sizes[b], size))
            sizes[b] += size
        self.sizes = tuple(sizes)
        #: bytes of one snapshot
        self.nbytes = sum(size * dtype.itemsize for size, dtype in zip(self.sizes, self.dtypes))

    def empty(self, slots: int) -> list:
        """Zeroed buffers for ``slots`` snapshots (at least one row: traced guards index it)."""
        import jax.numpy as jnp

        slots = max(slots, 1)
        return [jnp.zeros((slots, size), dtype) for size, dtype in zip(self.sizes, self.dtypes)]

    def save(self, buffers: list, slot, leaves: Sequence[Any]) -> list:
        """``buffers`` with ``leaves`` written into row ``slot`` (slot may be traced)."""
        import jax.numpy as jnp
        from jax import lax

        slot = jnp.asarray(slot, jnp.int32)
        buffers = list(buffers)
        for leaf, (b, offset, size) in zip(leaves, self.places):
            row = lax.reshape(leaf, (1, size)) if size else leaf.reshape(1, 0)
            buffers[b] = lax.dynamic_update_slice(buffers[b], row, (slot, jnp.int32(offset)))
        return buffers

    def load(self, buffers: list, slot) -> list:
        """The leaves held in row ``slot`` (slot may be traced)."""
        import jax.numpy as jnp
        from jax import lax

        slot = jnp.asarray(slot, jnp.int32)
        leaves = []
        for spec, (b, offset, size) in zip(self.specs, self.places):
            row = lax.dynamic_slice(buffers[b], (slot, jnp.int32(offset)), (1, size))
            leaves.append(row.reshape(spec.shape))
        return leaves


class MemoryStore(Store):
    """``MemoryStorage`` for a host-driven executor: the leaves stay JAX arrays on their device."""

    def __init__(self, slots, leaf_specs, meta):
        super().__init__("MemoryStorage", slots, leaf_specs, meta)
        self._data: list[list | None] = [None] * self.slots

    def _put(self, slot, step, leaves):
        import jax.numpy as jnp

        self._data[slot] = [jnp.array(leaf, copy=True) for leaf in leaves]
        return sum(spec.dtype.itemsize * math.prod(spec.shape) for spec in self.leaf_specs)

    def _get(self, slot):
        return list(self._data[slot])

    def _drop(self, slot):
        self._data[slot] = None

    def _release(self):
        self._data = [None] * self.slots
