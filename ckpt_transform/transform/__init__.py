"""The rewriter: marked ``with checkpoint(...)`` loops -> calls of ``ckpt_transform.runtime``.

``transform_source`` is the one code path; ``compile_source`` adds position mapping for the import
hook and the decorator; ``transform`` is the decorator. No JAX is imported here.
"""

from ._compile import compile_source
from ._decorator import transform
from ._errors import TransformError
from ._golden import GoldenCase, find_cases
from ._markers import has_marker
from ._rewrite import transform_source

__all__ = ["GoldenCase", "TransformError", "compile_source", "find_cases", "has_marker", "transform",
           "transform_source"]
