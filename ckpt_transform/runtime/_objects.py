"""Plain Python objects as loop state: their array and float attributes are the carry.

The rewriter passes the loop's state variables as a tuple; an entry may be a pytree or an object
whose attributes the body mutates (``sim.T = step(sim.T)``). For an object, attributes holding
arrays or floats are state; everything else (ints, strings, callables, ...) is a constant that
must not change inside the loop. Each trace of the body gets a fresh shallow copy holding the
traced values, so the caller's object is untouched until the loop ends; then it receives the
final values and is returned itself (same identity), as the untransformed loop would leave it.
"""

from __future__ import annotations

import copy
import numbers

import jax
import numpy as np

_MISSING = object()


class ObjectStateError(TypeError):
    """The body changed a constant attribute of a state object, or added one."""


def _is_state_value(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (jax.Array, np.ndarray, np.floating, np.complexfloating, float, complex))


def is_plain_object(value) -> bool:
    """True for objects that are neither pytrees, arrays nor scalars (they carry attributes)."""
    if value is None or isinstance(value, (jax.Array, np.ndarray, np.generic, numbers.Number, str, bytes)):
        return False
    leaves, treedef = jax.tree_util.tree_flatten(value)
    return treedef.num_nodes == 1 and len(leaves) == 1 and leaves[0] is value and hasattr(value, "__dict__")


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # arrays, tracers: compare identity only
        return False


class ObjectState:
    """Converts one state object to a dict pytree of its state attributes and back."""

    def __init__(self, obj, name: str):
        self.obj = obj
        self.name = name
        attrs = vars(obj)
        self.names = sorted(k for k, v in attrs.items() if _is_state_value(v))
        self.constants = {k: v for k, v in attrs.items() if k not in self.names}
        if not self.names:
            raise ObjectStateError(
                f"{name} ({type(obj).__name__} object) has no array or float attribute to carry "
                "through the loop; state objects hold their state in array or float attributes"
            )

    def tree(self) -> dict:
        return {k: getattr(self.obj, k) for k in self.names}

    def rebuild(self, tree: dict):
        """A shallow copy of the object holding ``tree``'s values."""
        new = copy.copy(self.obj)
        for k, v in tree.items():
            setattr(new, k, v)
        return new

    def read(self, new) -> dict:
        """The state attributes of the object the body returned, after checking its constants."""
        if not hasattr(new, "__dict__") or type(new) is not type(self.obj):
            raise ObjectStateError(
                f"the loop body turned {self.name} from a {type(self.obj).__name__} object into "
                f"{type(new).__name__} {new!r}; state objects must stay objects of the same class"
            )
        attrs = vars(new)
        for k, old in self.constants.items():
            value = attrs.get(k, _MISSING)
            if value is _MISSING:
                raise ObjectStateError(f"the loop body deleted attribute {self.name}.{k}; constants must stay")
            if not _same(value, old):
                raise ObjectStateError(
                    f"the loop body changed {self.name}.{k} ({type(old).__name__} {old!r} -> "
                    f"{type(value).__name__}); only array and float attributes are loop state, others "
                    "are constants. Make it a float or array before the loop if it should change"
                )
        added = sorted(set(attrs) - set(self.names) - set(self.constants))
        if added:
            raise ObjectStateError(
                f"the loop body added attribute(s) {', '.join(f'{self.name}.{k}' for k in added)}; "
                "set every attribute before the loop so the carry keeps its structure"
            )
        return {k: attrs[k] for k in self.names}

    def finish(self, tree: dict):
        """The caller's object, holding the final values."""
        for k, v in tree.items():
            setattr(self.obj, k, v)
        return self.obj


def wrap_state(state: tuple, names=None):
    """``(converters, pytree)``: one ``ObjectState`` (or None) per entry, and the carry pytree."""
    converters = []
    for k, entry in enumerate(state):
        name = names[k] if names else f"state[{k}]"
        converters.append(ObjectState(entry, name) if is_plain_object(entry) else None)
    tree = tuple(c.tree() if c else entry for c, entry in zip(converters, state))
    return converters, tree


def unwrap(converters, tree) -> tuple:
    """The state tuple the body sees: objects rebuilt around traced values."""
    return tuple(c.rebuild(t) if c else t for c, t in zip(converters, tree))


def rewrap(converters, state) -> tuple:
    """The carry pytree from the state tuple the body returned."""
    return tuple(c.read(e) if c else e for c, e in zip(converters, state))


def finish(converters, tree) -> tuple:
    """The final state tuple: the caller's own objects, updated."""
    return tuple(c.finish(t) if c else t for c, t in zip(converters, tree))
