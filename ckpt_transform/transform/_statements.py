"""Source-order walks over statements only (cheap: expressions are never visited)."""

from __future__ import annotations

from typing import Iterator

import libcst as cst


def blocks(stmt: cst.CSTNode) -> list:
    """The statement suites directly inside a compound statement, in source order."""
    out = []
    if isinstance(stmt, (cst.If, cst.For, cst.While, cst.With, cst.FunctionDef, cst.ClassDef,
                         cst.Try, cst.TryStar)):
        out.append(stmt.body)
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        out.extend(h.body for h in stmt.handlers)
    if isinstance(stmt, cst.Match):
        out.extend(case.body for case in stmt.cases)
    orelse = getattr(stmt, "orelse", None)
    if isinstance(orelse, cst.If):
        out.extend(blocks(orelse))
    elif isinstance(orelse, cst.Else):
        out.append(orelse.body)
    final = getattr(stmt, "finalbody", None)
    if final is not None:
        out.append(final.body)
    return out


def suite_statements(suite) -> tuple:
    """Statements of an IndentedBlock, or the small statements of a same-line suite."""
    return tuple(suite.body) if isinstance(suite, (cst.IndentedBlock, cst.SimpleStatementSuite)) else tuple(suite)


def walk_statements(body, parents: tuple = ()) -> Iterator[tuple]:
    """Yield ``(statement, enclosing compound statements)`` in source order, recursively."""
    for stmt in suite_statements(body):
        yield stmt, parents
        if not isinstance(stmt, cst.BaseSmallStatement):
            for suite in blocks(stmt):
                yield from walk_statements(suite, parents + (stmt,))
