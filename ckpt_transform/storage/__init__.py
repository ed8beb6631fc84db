"""Where snapshots live: ``MemoryStorage`` (device memory, inside the compiled program, the
default), ``HostStorage`` (host memory) and ``HDF5Storage`` (an HDF5 file). See ``_store.py`` for
the interface a host-driven executor uses."""

from ._hdf5 import HDF5Storage
from ._host import HostStorage
from ._memory import MemoryStorage
from ._store import LeafSpec, Storage, StorageError, StorageStats, Store

__all__ = [
    "HDF5Storage", "HostStorage", "LeafSpec", "MemoryStorage", "Storage", "StorageError", "StorageStats", "Store",
]
