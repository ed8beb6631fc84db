"""``@transform``: rewrite one function from its module's source at definition time.

The function's ``def`` is found with ``ast`` and cut out of its module's text (decorators dropped:
they are already being applied around us), rewritten, and compiled at its original position. A
function that closes over variables is compiled inside a synthetic ``def _ckpt_closure(<free names>):`` so that those names
stay free variables; the new function then reuses the original closure cells, globals, defaults
and metadata, exactly like the function it replaces.

A function of a module that the import hook loaded comes back as it is: the hook has rewritten its
loops already, and decorating it then costs neither a second rewrite nor the import of libcst.
"""

from __future__ import annotations

import __future__
import ast
import functools
import inspect
import linecache
import types

from .._marker import HOOK_OR_CLI
from ..hook import hooked_module_of
from ._errors import InternalError, TransformError

_ALTERNATIVES = f"Alternatives: {HOOK_OR_CLI}."

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _file_lines(fn) -> list:
    """The lines of the file defining ``fn`` (as linecache holds them), or a TransformError."""
    code = fn.__code__
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    if not lines:
        raise TransformError(
            f"@transform needs the source of {fn.__qualname__!r}, but {code.co_filename!r} has none "
            f"(functions typed at the REPL or built with exec() have no source file). Fix: define it "
            f"in a module file. {_ALTERNATIVES}", code.co_filename, code.co_firstlineno)
    return lines


def _find_def(tree: ast.Module, fn):
    """The ``ast`` node of ``fn``'s ``def``: same name, decorators-to-def range holding its first line."""
    code = fn.__code__
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            if first <= code.co_firstlineno <= node.lineno:
                return node
    raise TransformError(
        f"@transform could not find the definition of {fn.__qualname__!r} in {code.co_filename!r} "
        f"(was the file edited after it was imported?). Fix: re-import the module. {_ALTERNATIVES}",
        code.co_filename, code.co_firstlineno)


def transform(fn):
    """Decorator: checkpoint the marked loops of ``fn`` (put it directly above ``def``).

    Raises ``TransformError`` when a marked block cannot be checkpointed, or when the source of
    ``fn`` is unavailable (REPL, ``exec``); the message names the import hook and the CLI instead.
    """
    if not inspect.isfunction(fn) or fn.__code__.co_name == "<lambda>":
        raise TypeError(f"@ckpt_transform.transform decorates a function defined with `def`, got "
                        f"{type(fn).__name__} {fn!r}. Fix: put @transform directly above `def` "
                        "(below any other decorator)")
    if hooked_module_of(fn) is not None:
        return fn
    return _rewrite_function(fn)


def _rewrite_function(fn):
    """``fn`` compiled from its rewritten source, or ``fn`` itself when it has no marked loop."""
    from ._compile import compile_transformed, function_code  # libcst: loaded only to rewrite
    from ._markers import find_markers
    from ._rewrite import rewrite_source

    filename = fn.__code__.co_filename
    lines = _file_lines(fn)
    tree = ast.parse("".join(lines), filename)
    node = _find_def(tree, fn)
    text = "".join(lines[node.lineno - 1:node.end_lineno])  # from `def`: the decorators are dropped
    freevars = fn.__code__.co_freevars
    if node.col_offset:  # nested: compile inside a function whose parameters are fn's free names
        excerpt, offset = f"def _ckpt_closure({', '.join(freevars)}):\n{text}", node.lineno - 2
    else:
        excerpt, offset = text, node.lineno - 1
    rewrite = rewrite_source(excerpt, filename, markers=find_markers(tree), line_offset=offset, file_lines=lines)
    if rewrite.runtime is None:
        return fn
    module_code = compile_transformed(excerpt, rewrite, filename, line_offset=offset,
                                      flags=fn.__code__.co_flags & _FUTURE_FLAGS)
    code = function_code(module_code, fn.__code__.co_name)
    cells = dict(zip(freevars, fn.__closure__ or ()))
    missing = [n for n in code.co_freevars if n not in cells] if code is not None else None
    if code is None or missing:
        raise InternalError(f"ckpt_transform lost track of {fn.__qualname__} (free names {missing}); this is a "
                            f"bug in ckpt_transform, please report it with this source:\n{rewrite.code}")
    closure = tuple(cells[n] for n in code.co_freevars) or None
    new_fn = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    new_fn.__kwdefaults__ = dict(fn.__kwdefaults__) if fn.__kwdefaults__ else None
    return functools.update_wrapper(new_fn, fn)
