"""The rewriter: marked ``with checkpoint(...)`` loops -> calls of ``ckpt_transform.runtime``.

``transform_source`` is the one code path; ``compile_source`` adds position mapping for the import
hook and the decorator; ``transform`` is the decorator. No JAX is imported here.

This package is itself called ``transform``, so once it is imported ``ckpt_transform.transform``
is this module rather than the decorator (Python binds submodules on their parent). The module is
therefore made callable as the decorator: ``@ckpt_transform.transform`` works either way.
"""

import sys
import types

from ._compile import compile_source
from ._decorator import transform
from ._errors import TransformError
from ._golden import GoldenCase, find_cases
from ._markers import has_marker
from ._rewrite import transform_source

__all__ = ["GoldenCase", "TransformError", "compile_source", "find_cases", "has_marker", "transform",
           "transform_source"]


class _CallableModule(types.ModuleType):
    def __call__(self, fn):
        return transform(fn)


sys.modules[__name__].__class__ = _CallableModule
