"""Which names mean ``checkpoint`` in a module (the cheap text check is in ``_text_check``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ._statements import walk_statements
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


def find_markers(module: cst.Module) -> Markers:
    """Collect ``from ckpt_transform import checkpoint [as x]`` and ``import ckpt_transform [as m]``.

    Imports anywhere in the module count (top level or inside functions); the package's own
    submodule that defines the marker counts as the package.
    """
    found = Markers()
    for stmt, _ in walk_statements(module.body):
        smalls = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else (stmt,)
        for small in smalls:
            if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
                source = dotted(small.module)
                if source not in (PACKAGE, f"{PACKAGE}._marker") or isinstance(small.names, cst.ImportStar):
                    continue
                for alias in small.names:
                    if alias.name.value == MARKER:
                        found.names.add(alias.asname.name.value if alias.asname else MARKER)
            elif isinstance(small, cst.Import):
                for alias in small.names:
                    name = dotted(alias.name)
                    if alias.asname is not None and name == PACKAGE:
                        found.modules.add(alias.asname.name.value)
                    elif alias.asname is None and name.split(".")[0] == PACKAGE:
                        found.modules.add(PACKAGE)
    return found
