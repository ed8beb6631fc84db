"""Names read and bound by expressions and simple statements, the facts the liveness pass needs.

Nested scopes (lambdas, comprehensions, nested ``def``/``class``) count as reads of their free
names at the point where they are created: a closure may run at any later time, so treating its
free names as read there is the safe approximation for deciding what a loop must carry.
"""

from __future__ import annotations

import libcst as cst

from ._walk import Walker

_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def target_names(target: cst.CSTNode) -> list:
    """``Name`` nodes bound by an assignment target (``a``, ``(a, *b)``, ``[a, b]``)."""
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in target_names(el.value)]
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    return []


def target_reads(target: cst.CSTNode) -> set:
    """Names an assignment target reads: ``a`` and ``i`` in ``a.x = ...`` or ``a[i] = ...``."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(target_reads(el.value) for el in target.elements))
    if isinstance(target, cst.StarredElement):
        return target_reads(target.value)
    if isinstance(target, cst.Name):
        return set()
    return reads(target)


class _Mentions(Walker):
    """Every identifier used as a variable in a subtree (not attribute names or keywords)."""

    def __init__(self):
        self.names = set()

    def visit_Name(self, node):
        self.names.add(node.value)

    def visit_Attribute(self, node):
        self.walk(node.value)
        return False

    def visit_Arg(self, node):
        self.walk(node.value)
        return False

    def visit_Param(self, node):
        for part in (node.annotation, node.default):
            if part is not None:
                self.walk(part)
        return False

    def visit_ImportAlias(self, node):
        return False


class _AssignmentTargets(Walker):
    """Calls ``self._target(target)`` for what assignment statements (plain, augmented, annotated
    with a value), ``for`` loops and ``del`` bind or unbind: the one list of those statements."""

    def _target(self, target):
        raise NotImplementedError

    def visit_AssignTarget(self, node):
        self._target(node.target)

    def visit_AugAssign(self, node):
        self._target(node.target)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._target(node.target)

    def visit_For(self, node):
        self._target(node.target)

    def visit_Del(self, node):
        self._target(node.target)


class _Bound(_AssignmentTargets):
    """Names bound in a scope, first binding node first (source order).

    With ``nested=False`` it stays in the current scope (no lambda, comprehension or def bodies);
    with ``nested=True`` it also collects bindings of every scope inside (used for free names).
    """

    def __init__(self, nested: bool):
        self.nested = nested
        self.names: dict = {}
        self.globals: set = set()
        self.nonlocals: set = set()

    def _target(self, target):
        for name in target_names(target):
            self.names.setdefault(name.value, name)

    def visit_CompFor(self, node):
        self._target(node.target)

    def visit_WithItem(self, node):
        if node.asname is not None:
            self._target(node.asname.name)

    def visit_NamedExpr(self, node):
        self._target(node.target)

    def visit_ExceptHandler(self, node):
        if node.name is not None:
            self._target(node.name.name)

    def visit_ImportAlias(self, node):
        if node.asname is not None:
            self._target(node.asname.name)
        else:
            name = node.name
            while isinstance(name, cst.Attribute):
                name = name.value
            self._target(name)
        return False

    def visit_Param(self, node):
        self._target(node.name)

    def visit_MatchAs(self, node):
        if node.name is not None:
            self._target(node.name)

    def visit_MatchStar(self, node):
        if node.name is not None:
            self._target(node.name)

    def visit_MatchMapping(self, node):
        if node.rest is not None:
            self._target(node.rest)

    def visit_Global(self, node):
        self.globals.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node):
        self.nonlocals.update(item.name.value for item in node.names)

    def _scope(self, node):
        return self.nested

    def visit_FunctionDef(self, node):
        self._target(node.name)
        return self.nested

    def visit_ClassDef(self, node):
        self._target(node.name)
        return self.nested

    visit_Lambda = _scope
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _scope


def bound(node_or_nodes, *, nested: bool = False) -> _Bound:
    """Bindings of the current scope in a node or a sequence of nodes (see ``_Bound``)."""
    visitor = _Bound(nested)
    for node in node_or_nodes if isinstance(node_or_nodes, (list, tuple)) else (node_or_nodes,):
        visitor.walk(node)
    return visitor


def free_names(scope: cst.CSTNode) -> set:
    """Names a nested scope reads from outside: the ones it mentions but does not bind.

    For a ``def``, decorators, defaults and annotations are evaluated outside and count too.
    """
    mentions = _Mentions()
    if isinstance(scope, (cst.FunctionDef, cst.ClassDef)):
        outside = list(scope.decorators)
        if isinstance(scope, cst.FunctionDef):
            params = scope.params
            outside += [p for p in (*params.posonly_params, *params.params, *params.kwonly_params,
                                    params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
            if scope.returns is not None:
                outside.append(scope.returns)
            inner = bound([scope.params, scope.body], nested=True)
        else:
            outside += list(scope.bases) + list(scope.keywords)
            inner = bound(scope.body, nested=True)
        for node in outside:
            mentions.walk(node)
        outer_reads = set(mentions.names)
        mentions = _Mentions()
        mentions.walk(scope.body)
        own = bound(scope.body)
        return outer_reads | (mentions.names - set(inner.names) - own.globals) | own.nonlocals
    inner = bound(scope, nested=True)
    mentions.walk(scope)
    return mentions.names - set(inner.names)


class _Reads(_Mentions):
    """Names an expression reads in the current scope; walrus targets are recorded as bindings."""

    def __init__(self):
        super().__init__()
        self.binds: dict = {}

    def visit_NamedExpr(self, node):
        self.walk(node.value)
        self.binds.setdefault(node.target.value, node.target)
        return False

    def _nested(self, node):
        self.names |= free_names(node)
        return False

    visit_Lambda = _nested
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _nested


def reads(*nodes) -> set:
    """Names read by expressions (None entries ignored)."""
    visitor = _Reads()
    for node in nodes:
        if node is not None:
            visitor.walk(node)
    return visitor.names


def reads_binds(*nodes) -> tuple:
    """``(reads, walrus bindings)`` of expressions."""
    visitor = _Reads()
    for node in nodes:
        if node is not None:
            visitor.walk(node)
    return visitor.names, set(visitor.binds)


def small_statement(small: cst.BaseSmallStatement) -> tuple:
    """``(reads, binds)`` of a simple statement; reads happen before binds."""
    if isinstance(small, cst.Assign):
        uses, binds = reads_binds(small.value)
        for t in small.targets:
            uses |= target_reads(t.target)
            binds |= {n.value for n in target_names(t.target)}
        return uses, binds
    if isinstance(small, cst.AugAssign):
        uses, binds = reads_binds(small.value)
        uses |= target_reads(small.target) | {n.value for n in target_names(small.target)}
        return uses, binds | {n.value for n in target_names(small.target)}
    if isinstance(small, cst.AnnAssign):
        uses, binds = reads_binds(small.annotation, small.value)
        if small.value is not None:
            uses |= target_reads(small.target)
            binds |= {n.value for n in target_names(small.target)}
        return uses, binds
    if isinstance(small, cst.Del):
        names = _Mentions()
        names.walk(small.target)
        return names.names, {n.value for n in target_names(small.target)}
    if isinstance(small, (cst.Import, cst.ImportFrom)):
        return set(), set(bound(small).names)
    if isinstance(small, (cst.Global, cst.Nonlocal, cst.Pass, cst.Break, cst.Continue)):
        return set(), set()
    if isinstance(small, cst.Expr):
        return reads_binds(small.value)
    if isinstance(small, cst.Return):
        return reads_binds(small.value)
    if isinstance(small, cst.Raise):
        return reads_binds(small.exc, small.cause)
    if isinstance(small, cst.Assert):
        return reads_binds(small.test, small.msg)
    names = _Mentions()  # anything newer: read everything it mentions, bind nothing
    names.walk(small)
    return names.names, set()


class _Mutations(_AssignmentTargets):
    """Names whose attributes or items a scope assigns or deletes (``a.x = ...``, ``a[i] += ...``)."""

    def __init__(self):
        self.roots: dict = {}

    def _target(self, target):
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._target(el.value)
        elif isinstance(target, cst.StarredElement):
            self._target(target.value)
        elif isinstance(target, (cst.Attribute, cst.Subscript)):
            root = target
            while isinstance(root, (cst.Attribute, cst.Subscript)):
                root = root.value
            if isinstance(root, cst.Name):
                self.roots.setdefault(root.value, target)

    def _scope(self, node):
        return False

    visit_FunctionDef = visit_ClassDef = visit_Lambda = _scope
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _scope


def mutated(node) -> dict:
    """``{name: first target}`` for the names whose attributes or items ``node`` assigns."""
    visitor = _Mutations()
    visitor.walk(node)
    return visitor.roots
