"""Which storage a scheme's snapshots use, and the in-graph layout for the compiled executor."""

from __future__ import annotations

from ..storage import HDF5Storage, MemoryStorage


def level_storages(scheme, levels: int) -> list:
    """The storage of each level: ``storage`` for level 0 (default ``MemoryStorage()``) and, for
    schemes with a disk level (``Multistage``), ``disk_storage`` (default ``HDF5Storage()``, a
    temporary file)."""
    defaults = [MemoryStorage(), HDF5Storage() if hasattr(scheme, "disk_storage") else MemoryStorage()]
    given = [getattr(scheme, "storage", None), getattr(scheme, "disk_storage", None)]
    return [g if g is not None else d for g, d in zip(given, defaults)][:levels]


def host_driven(scheme, levels: int) -> bool:
    """Whether one of the first ``levels`` levels (those a schedule uses) keeps its snapshots
    outside the compiled program (host memory, files)."""
    return not all(getattr(s, "in_graph", False) for s in level_storages(scheme, levels))


def in_graph_layout(scheme):
    """The snapshot buffers of the compiled executor, one per leaf (in-memory storage only)."""
    if host_driven(scheme, 1):
        raise AssertionError(
            f"ckpt_transform internal error: {scheme!r} keeps snapshots off the device, so the "
            "host-driven executor should run it, not the compiled one; please report this"
        )
    return MemoryStorage().layout()
