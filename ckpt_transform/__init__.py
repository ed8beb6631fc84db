"""ckpt_transform: checkpointed reverse-mode gradients of ordinary Python time-stepping loops.

Public names are loaded lazily so that ``ckpt_transform.schedules`` and the import hook do not
import JAX until a loop actually runs.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "checkpoint": "ckpt_transform._marker",
    "Revolve": "ckpt_transform.schedules",
    "Periodic": "ckpt_transform.schedules",
    "Online": "ckpt_transform.schedules",
    "StoreAll": "ckpt_transform.schedules",
    "Multistage": "ckpt_transform.schedules",
    "FromCheckpointSchedules": "ckpt_transform.schedules",
    "Schedule": "ckpt_transform.schedules",
    "MemoryStorage": "ckpt_transform.storage",
    "HostStorage": "ckpt_transform.storage",
    "HDF5Storage": "ckpt_transform.storage",
    "fori_loop": "ckpt_transform.runtime",
    "while_loop": "ckpt_transform.runtime",
    "transform": "ckpt_transform.transform",
    "transform_source": "ckpt_transform.transform",
    "TransformError": "ckpt_transform.transform",
    "install_import_hook": "ckpt_transform.hook",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ckpt_transform' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
