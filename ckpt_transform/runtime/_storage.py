"""Which storage a scheme's snapshots use, and the in-graph layout for the compiled executor."""

from __future__ import annotations

from ..storage import MemoryStorage


def level_storages(scheme, levels: int) -> list:
    """The storage of each level: ``storage`` for level 0, ``disk_storage`` for level 1, and
    ``MemoryStorage()`` where the scheme gives none."""
    given = [getattr(scheme, "storage", None), getattr(scheme, "disk_storage", None)]
    return [given[level] if given[level] is not None else MemoryStorage() for level in range(levels)]


def host_driven(scheme) -> bool:
    """Whether some level keeps its snapshots outside the compiled program (host, files)."""
    return not all(getattr(s, "in_graph", False) for s in level_storages(scheme, 2))


def in_graph_layout(scheme, step):
    """The packed buffer layout of the compiled executor (in-memory storage only)."""
    if host_driven(scheme):
        raise AssertionError(
            f"ckpt_transform internal error: {scheme!r} keeps snapshots off the device, so the "
            "host-driven executor should run it, not the compiled one; please report this"
        )
    return MemoryStorage().layout(step.avals)
