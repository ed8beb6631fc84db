"""``Traced``: a function traced once to a jaxpr, the tracers it closes over hoisted into arguments.

Closed-over tracers (parameters under ``grad``, jit arguments, vmapped inputs) cannot cross a
``custom_vjp`` boundary inside a closure; as explicit arguments they can, and they receive
cotangents. Concrete constants stay inside the jaxpr. (``jax.closure_convert`` hoists only values
that may carry tangents, and would leave vmapped or jit-traced integers in the closure.)
"""

from __future__ import annotations

import jax
from jax.extend.core import ClosedJaxpr, jaxpr_as_fun


class Traced:
    """``fun(*example)`` traced once; ``traced(consts, *args)`` -> flat output list.

    ``args`` must have the pytree structure of ``example``.
    """

    def __init__(self, fun, *example):
        closed, self.out_shape = jax.make_jaxpr(fun, return_shape=True)(*example)
        self._jaxpr = closed.jaxpr
        self._hoisted = [isinstance(c, jax.core.Tracer) for c in closed.consts]
        self._fixed = [c for c, h in zip(closed.consts, self._hoisted) if not h]
        #: the hoisted values, to pass back in as ``consts``
        self.consts = [c for c, h in zip(closed.consts, self._hoisted) if h]

    def __call__(self, consts, *args):
        moving, fixed = iter(consts), iter(self._fixed)
        values = [next(moving) if h else next(fixed) for h in self._hoisted]
        return jaxpr_as_fun(ClosedJaxpr(self._jaxpr, values))(*jax.tree_util.tree_leaves(args))
