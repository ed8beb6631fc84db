"""Array namespaces for the integer kernels (Online, binomial): pure Python, numpy, jax.numpy.

The kernels are written once against this small interface, so ``Online.plan`` and the compiled
runtime run the very same integer arithmetic and produce the very same actions. The kernels keep
every value below 2**31 (positions and binomials saturate at ``2**30``), so Python's unbounded ints,
numpy's int32 and JAX's int32 agree, and ``argmin`` returns the first minimum everywhere.

- ``PYTHON``: Python ints and a tiny list-backed ``Vec``; the kernels are scalar code on small
  states, so this is ~20x faster than numpy for planning.
- ``ArrayOps(numpy)`` / ``ArrayOps(jax.numpy, jax.lax)``: int32 arrays. No JAX import here: the
  runtime builds the JAX one itself.

Interface: ``asarray(list)``, ``scalar(v)``, ``set(arr, i, v)`` (a copy with ``arr[i] = v``),
``cond(pred, f, g, *args)`` (only the taken branch runs; under JAX both must return the same
shapes and dtypes), ``fori(count, body, carry)`` (``count`` static; ``lax.fori_loop`` under JAX
so the body is compiled once), ``lookup(table, i, j)`` (elementwise ``table[i, j]`` of a constant numpy
table), ``logical_not``, ``to_int``, ``where``, ``minimum``, ``maximum``, ``clip``, ``arange``,
``zeros``, ``zeros_like``, ``concatenate``, ``stack``, ``argmin``, ``cumsum``, ``sum`` (the last
ones with numpy's meaning), ``elementwise(fn)`` (``fn(xp, *args)`` over whole arrays; pure Python
maps and memoises it) and ``int`` (the dtype).
"""

from __future__ import annotations

import operator
from functools import lru_cache, partial
from typing import Any

import numpy as np


class ArrayOps:
    """Array namespace ``m`` (numpy or jax.numpy) in int32, plus the operations that differ
    (``lax``: ``jax.lax`` for ``cond`` and ``fori``; ``None``: Python control flow)."""

    def __init__(self, m: Any = np, lax: Any = None):
        self.m = m
        self._lax = lax
        self.int = m.int32

    def asarray(self, value):
        return self.m.asarray(value, dtype=self.int)

    scalar = asarray

    def set(self, arr, index, value):
        if self.m is np:
            out = arr.copy()
            out[index] = value
            return out
        return arr.at[index].set(value)

    def cond(self, pred, true_fn, false_fn, *args):
        if self._lax is None:
            return true_fn(*args) if bool(pred) else false_fn(*args)
        return self._lax.cond(pred, true_fn, false_fn, *args)

    def fori(self, count: int, body, init):
        if self._lax is None:
            for _ in range(count):
                init = body(init)
            return init
        return self._lax.fori_loop(0, count, lambda _, carry: body(carry), init)

    def lookup(self, table: np.ndarray, i, j):
        return self.m.asarray(table)[i, j]

    def to_int(self, value):
        return self.m.asarray(value).astype(self.int)

    def elementwise(self, fn):
        """``fn(xp, *args)`` applied to whole arrays (it is written elementwise)."""
        return lambda *args: fn(self, *args)

    def __getattr__(self, name: str):
        # where, minimum, maximum, clip, arange, zeros, zeros_like, concatenate, stack, argmin,
        # cumsum, sum, logical_not: numpy's functions, the same in jax.numpy
        return getattr(self.m, name)


class Vec:
    """A list of Python ints with elementwise arithmetic, comparisons and numpy-style indexing."""

    __slots__ = ("v",)

    def __init__(self, values):
        self.v = values if type(values) is list else list(values)  # takes ownership of a list

    def __len__(self) -> int:
        return len(self.v)

    def __iter__(self):
        return iter(self.v)

    def __repr__(self) -> str:
        return f"Vec({self.v})"

    def __getitem__(self, index):
        if isinstance(index, Vec):
            v = self.v
            return Vec([v[i] for i in index.v])
        if isinstance(index, slice):
            return Vec(self.v[index])
        return self.v[index]


def _elementwise(op, swap: bool = False):
    def method(self, other):
        a, b = (other, self) if swap else (self, other)
        return Vec(map(op, _values(a, len(self)), _values(b, len(self))))

    return method


def _values(x, n: int):
    return x.v if isinstance(x, Vec) else [x] * n


for _name, _op in {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "and": operator.and_,
    "or": operator.or_,
}.items():
    setattr(Vec, f"__{_name}__", _elementwise(_op))
    setattr(Vec, f"__r{_name}__", _elementwise(_op, swap=True))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Vec, f"__{_name}__", _elementwise(getattr(operator, _name)))
Vec.__hash__ = None  # type: ignore[assignment]


def _map(fn, *args):
    """``fn`` elementwise over scalars and Vecs (broadcasting scalars)."""
    for a in args:
        if isinstance(a, Vec):
            n = len(a.v)
            return Vec(map(fn, *(_values(x, n) for x in args)))
    return fn(*args)


_ROWS: dict[int, list[list[int]]] = {}


def _rows(table: np.ndarray) -> list[list[int]]:
    """``table`` as nested lists (tables are long-lived constants, so keyed by identity)."""
    rows = _ROWS.get(id(table))
    if rows is None:
        rows = _ROWS[id(table)] = table.tolist()
    return rows


class PyOps:
    """The interface above on Python ints and ``Vec``; ``cond`` is a Python ``if``."""

    int = int

    def __init__(self):
        self._cached: dict = {}

    def elementwise(self, fn):
        """``fn(xp, *args)`` element by element on Python ints, memoised: the kernels' binomial
        helpers are pure functions of a few small ints that recur throughout a plan."""
        scalar = self._cached.get(fn)
        if scalar is None:
            scalar = self._cached[fn] = lru_cache(maxsize=1 << 16)(partial(fn, self))
        return lambda *args: _map(scalar, *args)

    def asarray(self, value):
        return Vec(int(x) for x in value)

    def scalar(self, value):
        return int(value)

    def set(self, arr, index, value):
        out = Vec(arr.v.copy())
        out.v[index] = value
        return out

    def cond(self, pred, true_fn, false_fn, *args):
        return true_fn(*args) if pred else false_fn(*args)

    def fori(self, count: int, body, init):
        for _ in range(count):
            init = body(init)
        return init

    def lookup(self, table, i, j):
        rows = _rows(table)
        if type(i) is int and type(j) is int:
            return rows[i][j]
        return _map(lambda a, b: rows[a][b], i, j)

    def where(self, pred, a, b):
        if type(pred) is not Vec:
            return a if pred else b
        return _map(lambda p, x, y: x if p else y, pred, a, b)

    def minimum(self, a, b):
        if type(a) is int and type(b) is int:
            return a if a < b else b
        return _map(min, a, b)

    def maximum(self, a, b):
        if type(a) is int and type(b) is int:
            return a if a > b else b
        return _map(max, a, b)

    def clip(self, a, lo, hi):
        if type(a) is int:
            return lo if a < lo else hi if a > hi else a
        return _map(lambda x: lo if x < lo else hi if x > hi else x, a)

    def logical_not(self, a):
        if type(a) is bool:
            return not a
        return _map(operator.not_, a)

    def to_int(self, a):
        return _map(int, a)

    def arange(self, n, dtype=None):
        return Vec(range(n))

    def zeros(self, n, dtype=None):
        return Vec([0] * n)

    def zeros_like(self, a):
        return Vec([0] * len(a)) if isinstance(a, Vec) else 0

    def concatenate(self, parts):
        out: list[int] = []
        for p in parts:
            out.extend(p.v)
        return Vec(out)

    def stack(self, values):
        return Vec(values)

    def argmin(self, a):
        v = a.v
        return v.index(min(v))

    def cumsum(self, a, dtype=None):
        total, out = 0, []
        for x in a.v:
            total += x
            out.append(total)
        return Vec(out)

    def sum(self, a, dtype=None):
        return sum(a.v)


PYTHON = PyOps()
NUMPY = ArrayOps(np)
