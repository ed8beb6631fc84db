"""Checkpointing schemes as pure-Python planners: ``scheme.plan(steps) -> Schedule``. No JAX here."""

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE, Action
from ._adapter import FromCheckpointSchedules
from ._check import check_schedule
from ._multistage import Multistage
from ._online import Online
from ._periodic import Periodic
from ._revolve import Revolve
from ._schedule import Schedule
from ._scheme import Scheme
from ._storeall import StoreAll

__all__ = [
    "ADJOINT",
    "ADVANCE",
    "Action",
    "FREE",
    "RESTORE",
    "STORE",
    "FromCheckpointSchedules",
    "Multistage",
    "Online",
    "Periodic",
    "Revolve",
    "Schedule",
    "Scheme",
    "StoreAll",
    "check_schedule",
]
