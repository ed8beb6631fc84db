"""Which storage a scheme's snapshots use, and the in-graph layout for the compiled executor."""

from __future__ import annotations

from ..storage import MemoryStorage


def in_graph_layout(scheme, step):
    """The packed buffer layout, or a clear error when the scheme's storage lives off-graph."""
    storages = [getattr(scheme, "storage", None), getattr(scheme, "disk_storage", None)]
    for storage in storages:
        if storage is not None and not getattr(storage, "in_graph", False):
            raise NotImplementedError(
                f"{scheme!r}: snapshots in {storage!r} need the host-driven executor, which is not "
                "available yet; use MemoryStorage() (the default, storage=None) for now"
            )
    return MemoryStorage().layout(step.avals)
