"""Checkpointing schemes as pure-Python planners: ``scheme.plan(steps) -> Schedule``. No JAX here."""

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE, Action
from ._check import check_schedule
from ._revolve import Revolve
from ._schedule import Schedule
from ._scheme import Scheme

__all__ = [
    "ADJOINT",
    "ADVANCE",
    "Action",
    "FREE",
    "RESTORE",
    "STORE",
    "Revolve",
    "Schedule",
    "Scheme",
    "check_schedule",
]
