"""A read-only walk over libcst trees, several times faster than ``CSTVisitor``.

``node.visit(visitor)`` rebuilds every node it passes (libcst's visitor and transformer share one
code path), which made the analysis cost as much as the parse. The analysis only reads, so it
walks the dataclass fields directly, skipping whitespace and punctuation.
"""

from __future__ import annotations

import dataclasses

import libcst as cst

_SKIP = {"leading_lines", "lines_after_decorators", "lpar", "rpar", "comma", "semicolon", "header",
         "footer", "indent", "equal", "colon", "lbracket", "rbracket", "lbrace", "rbrace",
         "asynchronous", "star", "start", "end", "newline", "trailing_whitespace", "operator", "dot",
         "relative", "default_indent", "default_newline", "encoding", "has_trailing_newline"}
_FIELDS: dict = {}


def _fields(kind) -> tuple:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind)
                                      if f.name not in _SKIP and not f.name.startswith("whitespace"))
    return names


def children(node: cst.CSTNode) -> list:
    """The child nodes of ``node`` that can hold code (not whitespace or punctuation)."""
    out = []
    for name in _fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, cst.CSTNode))
    return out


class Walker:
    """Calls ``visit_<NodeType>(node)`` where defined; returning False skips the node's children."""

    def walk(self, node: cst.CSTNode) -> None:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is not None and method(node) is False:
            return
        for child in children(node):
            self.walk(child)
