"""``Scheme``: what every checkpointing scheme shares (argument checks, storage, verbosity)."""

from __future__ import annotations

import operator

from ._schedule import Schedule


def check_count(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or a TypeError/ValueError naming the argument and where
    it was passed (``name`` such as ``"Revolve: snapshots"``)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


class Scheme:
    """Base of the checkpointing schemes. Subclasses implement ``plan(steps) -> Schedule``.

    ``storage`` says where level-0 snapshots live (``None``: device memory). ``verbose=True`` makes
    the runtime log a one-line summary of every run; the same figures are on ``last_stats``.
    """

    #: True when the scheme can place checkpoints without knowing the loop length (``while`` loops)
    online = False

    def __init__(self, *, storage=None, verbose: bool = False):
        self.storage = storage
        self.verbose = bool(verbose)
        #: statistics of the most recent run with this scheme (set by the runtime)
        self.last_stats = None

    def plan(self, steps: int) -> Schedule:
        raise NotImplementedError

    def _params(self) -> str:
        return ""

    def __repr__(self) -> str:
        params = self._params()
        if self.storage is not None:
            params = f"{params}, storage={self.storage!r}" if params else f"storage={self.storage!r}"
        return f"{type(self).__name__}({params})"
