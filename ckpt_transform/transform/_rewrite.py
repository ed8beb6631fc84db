"""The rewrite: every marked ``with checkpoint(scheme, state): <loop>`` becomes a runtime call.

For ``with checkpoint(Revolve(4), T): for i in range(a, b, c): BODY`` it emits::

    import ckpt_transform.runtime as _ckpt_rt
    def _ckpt_body_0(i, _ckpt_state):
            (T,) = _ckpt_state
            BODY
            return (T,)
    (T,) = _ckpt_rt.checkpointed_range(Revolve(4), a, b, c, _ckpt_body_0, (T,))

and for a ``while test:`` loop a condition function ``_ckpt_cond_0(_ckpt_state)`` returning
``test`` plus ``checkpointed_while(scheme, cond, body, state)``. The body keeps its original
absolute indentation (hence the double indent) so that columns in tracebacks stay right, and the
runtime is imported where the block stood so the rewrite needs nothing at module level.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import libcst as cst

from . import _names
from ._errors import InternalError, Locator
from ._liveness import Liveness
from ._markers import Markers, find_markers
from ._text_check import has_marker
from ._statements import walk_statements
from ._walk import Walker


@dataclass
class Block:
    """One marked block, validated: what the generated code needs."""

    with_node: cst.With
    loop: cst.CSTNode
    scope: cst.CSTNode  # FunctionDef or Module
    state: list  # [(name, Name node)] in the user's order
    index: str | None = None  # for-loop target
    number: int = 0  # position in the module, for the generated names
    parents: tuple = ()  # enclosing compound statements, outermost first
    names: dict = field(default_factory=dict)  # generated function names


class _Fresh:
    """Generated names that cannot clash with any identifier already in the source text."""

    def __init__(self, code: str):
        self.used = set(re.findall(r"\b_ckpt\w*", code))
        self.runtime = self("_ckpt_rt")  # one alias and one parameter name for the whole source
        self.state_param = self("_ckpt_state")
        self.blocks = 0  # blocks numbered so far

    def __call__(self, base: str) -> str:
        name, n = base, 0
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


class _BodyCheck(Walker):
    """Finds the first statement in a loop body that cannot move into a function."""

    def __init__(self):
        self.depth = 0  # inner (unmarked) loops: break/continue there are fine
        self.bad = None

    def _reject(self, node, why):
        if self.bad is None:
            self.bad = (node, why)
        return False

    def _inner_loop(self, node, *heads):
        for head in heads:
            self.walk(head)
        self.depth += 1
        self.walk(node.body)
        self.depth -= 1
        if node.orelse is not None:
            self.walk(node.orelse)
        return False

    def visit_For(self, node):
        return self._inner_loop(node, node.target, node.iter)

    def visit_While(self, node):
        return self._inner_loop(node, node.test)

    def visit_Break(self, node):
        if self.depth == 0:
            self._reject(node, "`break` in a checkpointed loop is not supported (the schedule needs the "
                               "step count up front). Fix: use a while loop whose condition says when to stop")

    def visit_Continue(self, node):
        if self.depth == 0:
            self._reject(node, "`continue` in a checkpointed loop is not supported. Fix: put the rest of "
                               "the body under an `if`")

    def visit_Return(self, node):
        self._reject(node, "`return` in a checkpointed loop is not supported. Fix: move the return "
                           "after the `with checkpoint(...)` block")

    def visit_Yield(self, node):
        self._reject(node, "`yield` in a checkpointed loop is not supported. Fix: collect the values "
                           "in the state and yield them after the block")

    def visit_Await(self, node):
        self._reject(node, "`await` in a checkpointed loop is not supported. Fix: await before or after "
                           "the `with checkpoint(...)` block")

    def visit_Global(self, node, keyword="global"):
        self._reject(node, f"`{keyword}` in a checkpointed loop is not supported. Fix: declare it in the "
                           "enclosing function, or pass the value through the state")

    def visit_Nonlocal(self, node):
        self.visit_Global(node, "nonlocal")

    def visit_Call(self, node):
        if isinstance(node.func, cst.Name) and node.func.value == "super" and not node.args:
            self._reject(node, "zero-argument `super()` does not work in a checkpointed loop (the body "
                               "becomes a function of its own). Fix: write `super(ClassName, self)`, or "
                               "fetch the method before the block (`step = super().step`)")

    def _scope(self, node):
        return False

    visit_FunctionDef = visit_ClassDef = visit_Lambda = _scope


def _state_names(args, where: Locator, call) -> list:
    """``[(name, node)]`` from the marker's state argument(s): a name, a tuple of names, or names."""
    if len(args) == 1 and isinstance(args[0].value, cst.Tuple):
        elements = [el.value for el in args[0].value.elements]
    else:
        elements = [arg.value for arg in args]
    out = []
    for el in elements:
        if not isinstance(el, cst.Name):
            raise where.error(el, "the checkpoint state must be a name or a tuple of names. Fix: write "
                                  "`checkpoint(scheme, (T, u))`; for an object whose attributes the loop "
                                  "updates, name the object (`checkpoint(scheme, heat)`)")
        if el.value in {name for name, _ in out}:
            raise where.error(el, f"`{el.value}` appears twice in the checkpoint state. Fix: name it once")
        out.append((el.value, el))
    if not out:
        raise where.error(call, "checkpoint(...) needs the loop state after the scheme. Fix: write "
                                "`checkpoint(scheme, T)` or `checkpoint(scheme, (T, u))` with every "
                                "variable the loop carries")
    return out


def _marker_call(with_node: cst.With, markers: Markers):
    for item in with_node.items:
        if isinstance(item.item, cst.Call) and markers.matches(item.item.func):
            return item
    return None


def _validate(with_node: cst.With, item: cst.WithItem, scope, where: Locator) -> Block:
    """Check the block's shape; return what the generator needs. Raises TransformError."""
    call = item.item
    if with_node.asynchronous is not None:
        raise where.error(with_node, "`async with checkpoint(...)` is not supported. Fix: use a plain `with`")
    if len(with_node.items) != 1:
        raise where.error(item, "checkpoint(...) must be the only item of its `with` statement. Fix: "
                                "nest the other context managers inside or outside the block")
    if item.asname is not None:
        raise where.error(item.asname, "`with checkpoint(...) as NAME` binds nothing. Fix: drop the `as` clause")
    for arg in call.args:
        if arg.keyword is not None or arg.star:
            raise where.error(arg, "checkpoint(...) takes positional arguments only: "
                                   "`checkpoint(scheme, state)`. Fix: drop the keyword or star")
    if not call.args:
        raise where.error(call, "checkpoint(...) needs a scheme and the loop state, e.g. "
                                "`checkpoint(Revolve(4), T)`. Fix: add them")
    state = _state_names(call.args[1:], where, call)
    body = with_node.body
    statements = list(body.body)
    if not (isinstance(body, cst.IndentedBlock) and statements and isinstance(statements[0], (cst.For, cst.While))):
        node = statements[0] if statements else with_node
        raise where.error(node, "a `with checkpoint(...)` block must hold exactly one `for ... in range(...)` "
                                "or `while` loop. Fix: move other statements before or after the block")
    if len(statements) > 1:
        raise where.error(statements[1], "a `with checkpoint(...)` block must hold exactly one loop and "
                                         "nothing else. Fix: move this statement after the block")
    loop = statements[0]
    if scope is None:
        raise where.error(with_node, "a checkpointed loop directly in a class body is not supported. Fix: "
                                     "move it into a method or function")
    if loop.orelse is not None:
        raise where.error(loop.orelse, "a loop `else:` is not supported in a checkpointed loop. Fix: move "
                                       "its statements after the `with checkpoint(...)` block")
    block = Block(with_node, loop, scope, state)
    if isinstance(loop, cst.For):
        if loop.asynchronous is not None:
            raise where.error(loop, "`async for` cannot be checkpointed. Fix: use `for i in range(...)`")
        it = loop.iter
        if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range"
                and 1 <= len(it.args) <= 3 and all(a.keyword is None and not a.star for a in it.args)):
            raise where.error(it, "a checkpointed for loop must iterate over `range(stop)`, "
                                  "`range(start, stop)` or `range(start, stop, step)`. Fix: loop over an "
                                  "index and look items up by it")
        if not isinstance(loop.target, cst.Name):
            raise where.error(loop.target, "the loop variable of a checkpointed loop must be one name. "
                                           "Fix: write `for i in range(...)`")
        block.index = loop.target.value
        if block.index in {name for name, _ in state}:
            raise where.error(loop.target, f"the loop index `{block.index}` cannot be part of the state. "
                                           "Fix: remove it from checkpoint(...)")
    else:
        _, binds = _names.reads_binds(loop.test)
        if binds:
            raise where.error(loop.test, "an assignment expression (`:=`) in a checkpointed while condition "
                                         "is not supported. Fix: assign at the end of the body and before the block")
    check = _BodyCheck()
    if isinstance(loop, cst.While):  # the condition becomes a function too
        check.walk(loop.test)
    check.walk(loop.body)
    if check.bad is not None:
        raise where.error(*check.bad)
    return block


def _check_carried(block: Block, live: Liveness, where: Locator) -> None:
    """Every name bound in the body and live at the loop head must be in the state, and so must
    every object whose attributes or items the body assigns (unless the body created it)."""
    assigned = _names.bound(block.loop.body).names
    head = live.head[id(block.loop)]
    state = {name for name, _ in block.state}
    if block.index is not None and block.index in live.after[id(block.with_node)]:
        raise where.error(block.loop.target, f"the loop index `{block.index}` is read after the checkpointed "
                                             "loop, but the rewritten loop does not leave it set. Fix: compute "
                                             "its last value explicitly after the block")
    for name, node in assigned.items():
        if name in head and name not in state and name != block.index:
            raise where.error(node, f"`{name}` is assigned in the checkpointed loop and read in a later "
                                    f"iteration or after the loop, but it is not in the checkpoint state. "
                                    f"Fix: add it to the state, e.g. {_with_state(block, name)}")
    for name, node in _names.mutated(block.loop.body).items():
        if name not in state and name not in assigned:
            raise where.error(node, f"the checkpointed loop assigns an attribute or item of `{name}`, which "
                                    f"is not in the checkpoint state, so the change would escape the "
                                    f"checkpointing. Fix: add it to the state, e.g. {_with_state(block, name)}")


def _with_state(block: Block, name: str) -> str:
    return f"`checkpoint(scheme, ({', '.join([n for n, _ in block.state] + [name])}))`"


def _exit_live(scope) -> set:
    """Names still observable when a scope ends: its ``global``/``nonlocal`` declarations."""
    if isinstance(scope, cst.Module):
        return set()
    declared = _names.bound(scope.body)
    return declared.globals | declared.nonlocals


def analyse(module: cst.Module, markers: Markers, where: Locator, first_number: int = 0) -> list:
    """Validated blocks of a module, in source order; raises TransformError on the first problem."""
    blocks = []
    for stmt, parents in walk_statements(module.body):
        if not isinstance(stmt, cst.With):
            continue
        item = _marker_call(stmt, markers)
        if item is None:
            continue
        scope = module
        for parent in reversed(parents):
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef)):
                scope = parent if isinstance(parent, cst.FunctionDef) else None
                break
        block = _validate(stmt, item, scope, where)
        block.number = first_number + len(blocks)
        block.parents = parents
        blocks.append(block)
    by_scope = {}
    for block in blocks:
        by_scope.setdefault(id(block.scope), []).append(block)
    for group in by_scope.values():
        scope = group[0].scope
        live = Liveness([id(b.with_node) for b in group] + [id(b.loop) for b in group])
        live.scope(scope.body, _exit_live(scope))
        for block in group:
            _check_carried(block, live, where)
    return blocks


def _names_tuple(names) -> cst.Tuple:
    return cst.Tuple([cst.Element(cst.Name(n)) for n in names])


def _line(small, **kw) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([small], **kw)


class _Rewriter(cst.CSTTransformer):
    """Replaces each marked ``with`` by its generated statements; visits only what leads to one."""

    def __init__(self, blocks, module: cst.Module, fresh: _Fresh):
        super().__init__()
        self.blocks = {id(b.with_node): b for b in blocks}
        self.path = set()
        for b in blocks:
            self.path.add(id(b.with_node))
            self.path.update(id(p) for p in b.parents)
        self.default_indent = module.default_indent
        self.runtime, self.state_param = fresh.runtime, fresh.state_param
        for b in blocks:
            b.names["body"] = fresh(f"_ckpt_body_{b.number}")
            if isinstance(b.loop, cst.While):
                b.names["cond"] = fresh(f"_ckpt_cond_{b.number}")

    def on_visit(self, node):
        if isinstance(node, (cst.BaseStatement, cst.BaseSmallStatement)):
            return id(node) in self.path
        return True

    def leave_With(self, original_node, updated_node):
        block = self.blocks.get(id(original_node))
        if block is None:
            return updated_node
        return cst.FlattenSentinel(self._generate(block, updated_node))

    def _function(self, name, params, statements, header, leading, indent, footer=()):
        return cst.FunctionDef(
            name=cst.Name(name),
            params=cst.Parameters([cst.Param(cst.Name(p)) for p in params]),
            body=cst.IndentedBlock(list(statements), header=header, indent=indent, footer=list(footer)),
            leading_lines=list(leading),
        )

    def _generate(self, block: Block, updated: cst.With) -> list:
        loop = updated.body.body[0]
        state = [name for name, _ in block.state]

        def unpack():
            return _line(cst.Assign([cst.AssignTarget(_names_tuple(state))], cst.Name(self.state_param)))

        if isinstance(loop.body, cst.IndentedBlock):
            body, header, footer = list(loop.body.body), loop.body.header, list(loop.body.footer)
            loop_indent = loop.body.indent or self.default_indent
        else:  # `for i in range(n): x = f(x)` on one line
            body, header, footer = [cst.SimpleStatementLine(list(loop.body.body))], loop.body.trailing_whitespace, []
            loop_indent = self.default_indent
        indent = (updated.body.indent or self.default_indent) + loop_indent  # the body's original column
        footer += list(updated.body.footer)
        out = [_line(
            cst.Import([cst.ImportAlias(cst.Attribute(cst.Name("ckpt_transform"), cst.Name("runtime")),
                                        asname=cst.AsName(cst.Name(self.runtime)))]),
            leading_lines=list(updated.leading_lines), trailing_whitespace=updated.body.header)]
        ret = _line(cst.Return(_names_tuple(state)))
        body_name = block.names["body"]
        if isinstance(loop, cst.For):
            out.append(self._function(body_name, [block.index, self.state_param], [unpack(), *body, ret],
                                      header, loop.leading_lines, indent, footer))
            bounds = [a.value for a in loop.iter.args]  # range(stop), (start, stop), (start, stop, step)
            if len(bounds) == 1:
                bounds.insert(0, cst.Integer("0"))
            if len(bounds) == 2:
                bounds.append(cst.Integer("1"))
            func, args = "checkpointed_range", [*bounds, cst.Name(body_name)]
        else:
            cond_name = block.names["cond"]
            out.append(self._function(cond_name, [self.state_param], [unpack(), _line(cst.Return(loop.test))],
                                      cst.TrailingWhitespace(), loop.leading_lines, indent))
            out.append(self._function(body_name, [self.state_param], [unpack(), *body, ret],
                                      header, (), indent, footer))
            func, args = "checkpointed_while", [cst.Name(cond_name), cst.Name(body_name)]
        scheme = updated.items[0].item.args[0].value
        call = cst.Call(cst.Attribute(cst.Name(self.runtime), cst.Name(func)),
                        [cst.Arg(a) for a in [scheme, *args, _names_tuple(state)]])
        out.append(_line(cst.Assign([cst.AssignTarget(_names_tuple(state))], call)))
        return out


def _source_lines(code: str) -> list | None:
    """Lines as ``ast`` counts them (``str.splitlines`` also splits at form feeds); None for
    old-Mac line ends (a lone CR), where the whole module is parsed instead."""
    if "\r" in code.replace("\r\n", ""):
        return None
    return re.findall(r"[^\n]*\n|[^\n]+\Z", code)


def _marked_spans(tree: ast.Module, markers: Markers, lines: list) -> list | None:
    """``[(first line, last line)]`` of the top-level definitions that mention the marker.

    Only those are parsed with libcst (the slow step). None when a mention is at module level:
    a module-level block needs liveness over the whole module, so the whole module is parsed.
    """
    spans, body = [], tree.body
    for k, stmt in enumerate(body):
        first = min([d.lineno for d in getattr(stmt, "decorator_list", ())] + [stmt.lineno])
        if not markers.mentioned_in("".join(lines[first - 1:stmt.end_lineno])):
            continue
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return None
        if (k and body[k - 1].end_lineno >= first) or (k + 1 < len(body) and body[k + 1].lineno <= stmt.end_lineno):
            return None  # shares a line with another statement (`;`)
        spans.append((first, stmt.end_lineno))
    return spans


def _rewrite_module(module: cst.Module, code: str, rewriter: _Rewriter) -> str:
    """Print only the top-level statements that hold a marked block; keep the rest of the text
    (printing a whole module costs as much as parsing it)."""
    pieces = []
    for stmt in module.body:
        if id(stmt) in rewriter.path:
            result = stmt.visit(rewriter)
            new = result.nodes if isinstance(result, cst.FlattenSentinel) else [result]
            pieces.append((module.code_for_node(stmt), "".join(module.code_for_node(n) for n in new)))
    spliced = _splice(code, pieces)
    return spliced if spliced is not None else module.visit(rewriter).code


class Rewrite(NamedTuple):
    """The rewritten source; the runtime alias (``_ckpt_rt`` unless taken; None when nothing was
    marked), by which generated imports are recognised; and the ``(first, last)`` line ranges of
    the original that were rewritten (``last`` None: to the end); the original's ``ast``."""

    code: str
    runtime: str | None
    spans: tuple = ()
    tree: ast.Module | None = None


def rewrite_source(code: str, filename: str, *, markers: Markers | None = None, line_offset: int = 0,
                   file_lines: list | None = None) -> Rewrite:
    """Rewrite every marked block of ``code`` (see ``Rewrite``).

    ``markers`` adds marker spellings imported elsewhere (the decorator passes the module's);
    ``line_offset`` and ``file_lines`` place errors in the user's file when ``code`` is an excerpt.
    """
    lines = _source_lines(code)
    try:
        tree = ast.parse(code, filename)
    except SyntaxError as exc:  # Python's own message and position, as running the file would give
        if exc.lineno is not None:
            exc.lineno += line_offset
            if exc.end_lineno is not None:
                exc.end_lineno += line_offset
        raise
    found = find_markers(tree)
    if markers is not None:
        found.update(markers)
    if not found:
        return Rewrite(code, None)
    if file_lines is None:
        file_lines = lines if lines is not None else code.splitlines()
    spans = _marked_spans(tree, found, lines) if lines is not None else None
    if spans is None:
        spans, lines = [(1, None)], [code]
    fresh, out, cursor, rewritten = _Fresh(code), [], 0, []
    for first, last in spans:
        text = "".join(lines[first - 1:last])
        where_offset = line_offset + first - 1
        module = parse(text, filename, where_offset, file_lines)
        try:
            blocks = analyse(module, found, Locator(module, filename, where_offset, file_lines), fresh.blocks)
            new = _rewrite_module(module, text, _Rewriter(blocks, module, fresh)) if blocks else None
        except SyntaxError:  # TransformError included: the user's problem, already located
            raise
        except Exception as exc:
            raise InternalError(f"ckpt_transform failed on {filename}, lines {where_offset + 1} and after "
                                f"({type(exc).__name__}: {exc}); this is a bug in ckpt_transform, please "
                                f"report it with this code:\n{text}") from exc
        if new is None:
            continue
        fresh.blocks += len(blocks)
        out += ["".join(lines[cursor:first - 1]), new]
        cursor = len(lines) if last is None else last
        rewritten.append((first, last))
    if not out:
        return Rewrite(code, None)
    out.append("".join(lines[cursor:]))
    return Rewrite("".join(out), fresh.runtime, tuple(rewritten), tree)


def _splice(code: str, pieces) -> str | None:
    """``code`` with each ``(old, new)`` text replaced, or None unless each ``old`` occurs exactly once."""
    out, cursor = [], 0
    for old, new in pieces:
        start = code.find(old, cursor)
        if start < 0 or code.count(old) != 1:
            return None
        out += [code[cursor:start], new]
        cursor = start + len(old)
    out.append(code[cursor:])
    return "".join(out)


def parse(code: str, filename: str, line_offset: int = 0, lines=None) -> cst.Module:
    """libcst parse with the parser's error turned into a located ``SyntaxError``."""
    try:
        return cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        line = exc.raw_line + line_offset
        text = lines[line - 1] if lines is not None and line - 1 < len(lines) else None
        raise SyntaxError(exc.message, (filename, line, exc.raw_column + 1, text)) from None


def transform_source(code: str, *, filename: str = "<string>") -> str:
    """The rewritten source of a module: every marked block becomes a call of the runtime.

    Deterministic and idempotent; the result compiles. Source without a marked block comes back
    unchanged (the same string), and without being parsed when the cheap text check says so.
    Raises ``TransformError`` (a ``SyntaxError``) for a block that cannot be checkpointed.
    """
    if not has_marker(code):
        return code
    return rewrite_source(code, filename).code
