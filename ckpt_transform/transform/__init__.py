"""The rewriter: marked ``with checkpoint(...)`` loops -> calls of ``ckpt_transform.runtime``.

``transform_source`` is the one code path; ``compile_source`` adds position mapping for the import
hook and the decorator; ``transform`` is the decorator. No JAX is imported here.

What is accepted::

    with checkpoint(SCHEME, STATE):        # `checkpoint` as imported: bare, `as ck`, `ct.checkpoint`
        for i in range(a[, b[, c]]):       # or: while TEST:
            BODY

``STATE`` is a name, a tuple of names, or several names; a name may hold a plain object whose
attributes the body assigns. ``BODY`` becomes a function: names it only reads are closed over
(gradients reach them), names it assigns are its locals, and every assigned name that is read in a
later iteration or after the loop (found by a liveness pass over the enclosing scope, loop back
edges included) must be in ``STATE``. Temporaries therefore do not outlive the loop, and the index
is not set after it. Nested marked loops, loops in closures, methods and at module level work.

Rejected with a ``TransformError`` (a ``SyntaxError`` naming file, line, column and the fix):
``break``/``continue`` of the marked loop, ``return``, ``yield``, ``await``, ``global``/``nonlocal``
and zero-argument ``super()`` in the body, a loop ``else:``, anything but one loop in the block,
iterables other than ``range``, a carried name missing from ``STATE``, an attribute or item
assigned on an object that is not in ``STATE`` (and not created in the body), the index in
``STATE`` or read after the loop, ``:=`` in a ``while`` test, a marked loop directly in a class body.

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
    """This module's class: calling it is calling the ``transform`` decorator (see above). Kept
    rather than renaming the subpackage because users write ``@ckpt_transform.transform`` after
    ``import ckpt_transform``, and whether that attribute is this module or the function depends
    on what was imported before."""

    def __call__(self, fn):
        return __getattr__("transform")(fn)


sys.modules[__name__].__class__ = _CallableModule
