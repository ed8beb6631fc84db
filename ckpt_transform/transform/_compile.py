"""Compile rewritten source so that code objects carry the user's original positions.

The generated source has extra lines (the runtime import, the body function header, the state
unpacking, the return, the call), so its line numbers differ from the user's file. Both texts are
parsed with ``ast`` (fast, in C) and walked side by side: every node that came from the user's code
gets the original node's line and column; generated nodes get the position of the ``with``
(import, call) or of the loop header (function, unpacking, return). Tracebacks from the body then
point at the user's file, line and column.
"""

from __future__ import annotations

import ast
import types

from ._errors import InternalError
from ._rewrite import Rewrite, rewrite_source
from ._text_check import has_marker

_POSITION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def _place(gen: ast.AST, orig: ast.AST) -> None:
    """Give ``gen`` and everything below it the position of ``orig`` (if it has one)."""
    if "lineno" not in orig._attributes:
        return
    for node in ast.walk(gen):
        if "lineno" in node._attributes:
            for attr in _POSITION:
                setattr(node, attr, getattr(orig, attr, None))


def _copy(gen: ast.AST, orig: ast.AST) -> None:
    if "lineno" in gen._attributes and "lineno" in orig._attributes:
        for attr in _POSITION:
            setattr(gen, attr, getattr(orig, attr, None))


def _header(stmt: ast.stmt, last: ast.AST) -> ast.AST:
    """A position spanning a compound statement's header only (``with ...:``, ``for ... in ...:``)."""
    span = ast.Pass()
    span.lineno, span.col_offset = stmt.lineno, stmt.col_offset
    span.end_lineno, span.end_col_offset = last.end_lineno, last.end_col_offset
    return span


class _Aligner:
    """Walks the original and the generated AST in step (see the module docstring)."""

    def __init__(self, runtime: str):
        self.runtime = runtime

    def node(self, orig, gen) -> None:
        if type(orig) is not type(gen):
            _place(gen, orig)
            return
        _copy(gen, orig)
        for name in gen._fields:
            o, g = getattr(orig, name, None), getattr(gen, name, None)
            if isinstance(g, list):
                if g and isinstance(g[0], ast.stmt):
                    self.statements(o, g, orig)
                elif isinstance(o, list) and len(o) == len(g):
                    for oo, gg in zip(o, g):
                        if isinstance(gg, ast.AST):
                            self.node(oo, gg)
                else:
                    for gg in g:
                        if isinstance(gg, ast.AST):
                            _place(gg, orig)
            elif isinstance(g, ast.AST):
                if isinstance(o, ast.AST):
                    self.node(o, g)
                else:
                    _place(g, orig)

    def _is_generated(self, stmt) -> bool:
        return isinstance(stmt, ast.Import) and stmt.names[0].asname == self.runtime

    def statements(self, orig: list, gen: list, parent) -> None:
        j = 0
        for o in orig or ():
            if j >= len(gen):
                return
            if isinstance(o, ast.With) and self._is_generated(gen[j]):
                j = self.block(o, gen, j)
            else:
                self.node(o, gen[j])
                j += 1
        for g in gen[j:]:
            _place(g, parent)

    def block(self, with_node: ast.With, gen: list, j: int) -> int:
        loop = with_node.body[0]
        with_header = _header(with_node, with_node.items[-1].context_expr)
        loop_header = _header(loop, loop.iter if isinstance(loop, ast.For) else loop.test)
        _place(gen[j], with_header)
        if isinstance(loop, ast.While):
            cond = gen[j + 1]
            _place(cond, loop_header)
            self.node(loop.test, cond.body[-1].value)
            j += 1
        body = gen[j + 1]
        _place(body, loop_header)
        if isinstance(loop, ast.For):
            _copy(body.args.args[0], loop.target)
        self.statements(loop.body, body.body[1:-1], loop_header)
        call = gen[j + 2]
        _place(call, with_header)
        args = call.value.args
        self.node(with_node.items[0].context_expr.args[0], args[0])
        if isinstance(loop, ast.For):
            bounds = loop.iter.args
            slots = {1: [2], 2: [1, 2], 3: [1, 2, 3]}[len(bounds)]
            for b, k in zip(bounds, slots):
                self.node(b, args[k])
        return j + 3


def compile_transformed(original: str, rewrite: Rewrite, filename: str, *,
                        line_offset: int = 0, flags: int = 0) -> types.CodeType:
    """Compile ``rewrite.code`` with the positions of the matching nodes of ``original``.

    Top-level statements outside the rewritten spans are taken from the original's tree as they
    are (same text, right positions), so the work grows with the rewritten code only.
    """
    try:
        tree = ast.parse(rewrite.code, filename)
    except SyntaxError as exc:
        raise InternalError(f"ckpt_transform generated invalid Python for {filename} ({exc}); this is a "
                            f"bug in ckpt_transform, please report it with this source:\n{rewrite.code}") from None
    orig = (rewrite.tree or ast.parse(original, filename)).body
    if any(last is None for _, last in rewrite.spans):  # a module-level block: align everything
        _Aligner(rewrite.runtime).statements(orig, tree.body, tree)
    else:  # only definitions were rewritten, one for one
        for k, stmt in enumerate(orig):
            first = min([d.lineno for d in getattr(stmt, "decorator_list", ())] + [stmt.lineno])
            if any(first <= last and stmt.end_lineno >= start for start, last in rewrite.spans):
                _Aligner(rewrite.runtime).node(stmt, tree.body[k])
            else:
                tree.body[k] = stmt
    if line_offset:
        ast.increment_lineno(tree, line_offset)
    return compile(tree, filename, "exec", flags=flags, dont_inherit=True)


def compile_source(code: str, filename: str) -> types.CodeType:
    """Transform ``code`` (if it holds a marked block) and compile it as the file ``filename``.

    Line numbers and columns of the user's code are the original ones, so tracebacks from inside
    a checkpointed loop point at the user's file and line.
    """
    if has_marker(code):
        rewrite = rewrite_source(code, filename)
        if rewrite.runtime:
            return compile_transformed(code, rewrite, filename)
    return compile(code, filename, "exec", dont_inherit=True)


def function_code(code: types.CodeType, name: str, line: int | None = None) -> types.CodeType | None:
    """The code object of the function ``name`` (defined at ``line``, if given) inside ``code``."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name and line in (None, const.co_firstlineno):
                return const
            found = function_code(const, name, line)
            if found is not None:
                return found
    return None
