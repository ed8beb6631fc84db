"""Which names mean ``checkpoint`` in a module (the cheap text check is in ``_text_check``)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import libcst as cst

from ._text_check import MARKER, PACKAGE


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


@dataclass
class Markers:
    """Spellings of the marker in one module: bare names and ``module.checkpoint`` prefixes."""

    names: set = field(default_factory=set)
    modules: set = field(default_factory=set)

    def update(self, other: "Markers") -> None:
        self.names |= other.names
        self.modules |= other.modules

    def matches(self, func: cst.BaseExpression) -> bool:
        """Whether ``func`` (the callee of a ``with`` item) is the marker."""
        if isinstance(func, cst.Name):
            return func.value in self.names
        if isinstance(func, cst.Attribute) and func.attr.value == MARKER:
            return dotted(func.value) in self.modules
        return False

    def __bool__(self) -> bool:
        return bool(self.names or self.modules)

    def mentioned_in(self, text: str) -> bool:
        """Whether ``text`` may call the marker (a cheap regex, to skip parsing what cannot)."""
        spellings = [re.escape(n) for n in self.names]
        spellings += [rf"{re.escape(m)}\s*\.\s*{MARKER}" for m in self.modules]
        return bool(spellings) and re.search(rf"\b(?:{'|'.join(spellings)})\s*\(", text) is not None


def find_markers(tree: ast.AST) -> Markers:
    """Collect ``from ckpt_transform import checkpoint [as x]`` and ``import ckpt_transform [as m]``.

    Imports anywhere in the module count (top level or inside functions); the package's own
    submodule that defines the marker counts as the package. Read from the ``ast``, statements only.
    """
    found = Markers()
    for node in _statements(tree.body):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module in (PACKAGE, f"{PACKAGE}._marker"):
            found.names.update(alias.asname or MARKER for alias in node.names if alias.name == MARKER)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None and alias.name == PACKAGE:
                    found.modules.add(alias.asname)
                elif alias.asname is None and alias.name.split(".")[0] == PACKAGE:
                    found.modules.add(PACKAGE)
    return found


def _statements(body):
    """Every statement in ``body``, nested ones included (expressions are not visited)."""
    for stmt in body:
        yield stmt
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _statements(inner)
