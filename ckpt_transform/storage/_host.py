"""``HostStorage``: snapshots as numpy arrays in host memory.

On an accelerator this moves snapshots off the device, so device memory holds only the state in
hand; on the CPU it is a plain copy. ``write`` copies every leaf (a numpy leaf the caller mutates
later, or a JAX buffer that gets donated, must not change the snapshot); ``read`` returns the
stored arrays themselves, marked read-only, so restoring the same slot many times costs nothing.
See ``_store.py`` for the interface.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._store import InProcessStore, Storage, check_flag


class HostStorage(Storage):
    """Snapshots in host memory (frees accelerator memory; correct on the CPU too).

    ``progress=True`` shows a progress bar of the forward and reverse sweeps (needs tqdm).
    """

    def __init__(self, *, progress: bool = False):
        self.progress = check_flag("HostStorage", "progress", progress)

    def __repr__(self) -> str:
        return "HostStorage(progress=True)" if self.progress else "HostStorage()"

    def open(self, slots: int, leaf_specs: Sequence[Any], meta: Mapping[str, Any] | None = None) -> HostStore:
        return HostStore(slots, leaf_specs, meta)


class HostStore(InProcessStore):
    def __init__(self, slots, leaf_specs, meta):
        super().__init__("HostStorage", slots, leaf_specs, meta)

    def _put(self, slot, step, leaves):
        arrays = []
        for leaf in leaves:
            array = np.array(leaf, copy=True, order="C")
            array.flags.writeable = False
            arrays.append(array)
        self._data[slot] = arrays
        return sum(a.nbytes for a in arrays)
