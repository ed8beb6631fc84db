"""Backward liveness over one scope, loop back edges included.

A name is live at a point when some path from there reads it before rebinding it. The rewriter
asks two questions about every marked block: which names are live right after the ``with``
statement, and which are live at the head of its loop (where the back edge arrives). A name bound
in the loop body and live at the loop head is carried from one iteration to the next or out of the
loop, so it must be part of the state. libcst's scope analysis has no control flow, hence this pass.

The pass is structured (it follows the statement nesting) rather than a general CFG: ``break``
jumps to the live set after the loop, ``continue`` to the loop head, ``return`` to the scope exit,
and anything inside ``try`` may jump to the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from . import _names
from ._statements import suite_statements


@dataclass(frozen=True)
class _Jumps:
    """Live sets at the targets of the jumps a statement may take."""

    brk: frozenset = frozenset()
    cont: frozenset = frozenset()
    ret: frozenset = frozenset()
    exc: frozenset = frozenset()


class Liveness:
    """Run ``scope(body, exit_live)``; then ``after[id(with)]`` and ``head[id(loop)]`` hold the live
    sets for the statements whose ids were passed as ``watch``."""

    def __init__(self, watch=()):
        self.watch = set(watch)
        self.after: dict = {}
        self.head: dict = {}

    def scope(self, body, exit_live=frozenset()) -> set:
        exit_live = frozenset(exit_live)
        return self.block(body, set(exit_live), _Jumps(ret=exit_live))

    def block(self, suite, out: set, jumps: _Jumps) -> set:
        for stmt in reversed(suite_statements(suite)):
            out = self.statement(stmt, out, jumps)
        return out

    def statement(self, stmt, out: set, jumps: _Jumps) -> set:
        live = self._statement(stmt, set(out), jumps)
        return live | jumps.exc if jumps.exc else live

    def _small(self, small, out: set, jumps: _Jumps) -> set:
        if isinstance(small, cst.Break):
            return set(jumps.brk)
        if isinstance(small, cst.Continue):
            return set(jumps.cont)
        uses, binds = _names.small_statement(small)
        if isinstance(small, cst.Return):
            return uses | jumps.ret
        if isinstance(small, cst.Raise):
            return uses | jumps.exc
        return uses | (out - binds)

    def _statement(self, stmt, out: set, jumps: _Jumps) -> set:
        if isinstance(stmt, cst.BaseSmallStatement):
            return self._small(stmt, out, jumps)
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in reversed(stmt.body):
                out = self._small(small, out, jumps)
            return out
        if isinstance(stmt, cst.If):
            other = out
            if isinstance(stmt.orelse, cst.If):
                other = self.statement(stmt.orelse, out, jumps)
            elif isinstance(stmt.orelse, cst.Else):
                other = self.block(stmt.orelse.body, out, jumps)
            uses, binds = _names.reads_binds(stmt.test)
            return uses | ((self.block(stmt.body, out, jumps) | other) - binds)
        if isinstance(stmt, (cst.For, cst.While)):
            return self._loop(stmt, out, jumps)
        if isinstance(stmt, cst.With):
            if id(stmt) in self.watch:
                self.after[id(stmt)] = set(out)
            inner = self.block(stmt.body, out, jumps)
            uses = _names.reads(*(item.item for item in stmt.items))
            binds = set()
            for item in stmt.items:
                if item.asname is not None:
                    uses |= _names.target_reads(item.asname.name)
                    binds |= {n.value for n in _names.target_names(item.asname.name)}
            return uses | (inner - binds)
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            return self._try(stmt, out, jumps)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return _names.free_names(stmt) | (out - {stmt.name.value})
        if isinstance(stmt, cst.Match):
            live = _names.reads(stmt.subject) | out
            for case in stmt.cases:
                captures = set(_names.bound(case.pattern).names)
                pattern_reads = _names.reads(case.pattern) - captures
                inner = self.block(case.body, out, jumps) | _names.reads(case.guard)
                live |= pattern_reads | (inner - captures)
            return live
        raise NotImplementedError(f"liveness of {type(stmt).__name__}")

    def _loop(self, loop, out: set, jumps: _Jumps) -> set:
        exit_live = self.block(loop.orelse.body, out, jumps) if loop.orelse is not None else set(out)
        if isinstance(loop, cst.For):
            entry = _names.reads(loop.iter)
            test_reads, target_reads = set(), _names.target_reads(loop.target)
            binds = {n.value for n in _names.target_names(loop.target)}
        else:
            entry = set()
            test_reads, binds = _names.reads_binds(loop.test)
            target_reads = set()
        head = set(exit_live) | test_reads
        while True:
            inner = replace(jumps, brk=frozenset(out), cont=frozenset(head))
            body = self.block(loop.body, head, inner)
            if isinstance(loop, cst.For):
                new = exit_live | target_reads | (body - binds)
            else:
                new = test_reads | ((exit_live | body) - binds)
            if new == head:
                break
            head = new
        if id(loop) in self.watch:
            self.head[id(loop)] = set(head)
        return entry | head

    def _try(self, stmt, out: set, jumps: _Jumps) -> set:
        final = stmt.finalbody.body if stmt.finalbody is not None else None

        def through_finally(live):
            return self.block(final, set(live), jumps) if final is not None else set(live)

        after = through_finally(out)
        handlers = through_finally(jumps.exc)
        for handler in stmt.handlers:
            name = {n.value for n in _names.target_names(handler.name.name)} if handler.name is not None else set()
            handlers |= _names.reads(handler.type) | (self.block(handler.body, after, jumps) - name)
        inner = _Jumps(brk=frozenset(through_finally(jumps.brk)), cont=frozenset(through_finally(jumps.cont)),
                       ret=frozenset(through_finally(jumps.ret)), exc=frozenset(handlers))
        else_live = self.block(stmt.orelse.body, after, jumps) if stmt.orelse is not None else after
        return self.block(stmt.body, else_live, inner) | handlers
