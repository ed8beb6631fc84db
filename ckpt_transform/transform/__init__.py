"""The rewriter: marked ``with checkpoint(...)`` loops -> calls of ``ckpt_transform.runtime``.

``transform_source`` is the one code path; ``compile_source`` adds position mapping for the import
hook and the decorator; ``transform`` is the decorator. No JAX is imported here.

This package is itself called ``transform``, so once it is imported ``ckpt_transform.transform``
is this module rather than the decorator (Python binds submodules on their parent). The module is
therefore made callable as the decorator: ``@ckpt_transform.transform`` works either way.
"""

import importlib
import sys
import types

from ._errors import TransformError
from ._text_check import has_marker

# Loaded on first use, so that the import hook's text check does not import libcst.
_LAZY = {"GoldenCase": "._golden", "compile_source": "._compile", "find_cases": "._golden",
         "transform": "._decorator", "transform_source": "._rewrite"}

__all__ = ["GoldenCase", "TransformError", "compile_source", "find_cases", "has_marker", "transform",
           "transform_source"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


class _CallableModule(types.ModuleType):
    def __call__(self, fn):
        return __getattr__("transform")(fn)


sys.modules[__name__].__class__ = _CallableModule
