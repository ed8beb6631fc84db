"""The JAX runtime: executes a checkpointing schedule inside ``jax.grad``.

Public: ``fori_loop`` and ``while_loop`` (checkpointed twins of ``jax.lax``'s), ``LoopStats``.
The rewriter targets ``checkpointed_range`` and ``checkpointed_while``.
"""

from ._api import checkpointed_range, checkpointed_while, fori_loop, while_loop
from ._stats import LoopStats

__all__ = ["LoopStats", "checkpointed_range", "checkpointed_while", "fori_loop", "while_loop"]
