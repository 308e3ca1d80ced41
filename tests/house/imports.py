"""reconciler/'s import graph, read from the source: which module imports which at run time.

Every import counts, at the top of a module or inside a function (a function-level import is
still a run-time edge, and hiding a cycle in one is what the layering forbids); only the imports
under `if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from ..helpers import ROOT
from .syntax import parsed

PACKAGE = ROOT / "reconciler"
Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its own name)."""
    return {module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking(child.test):
            for other in child.orelse:
                yield from _runtime_imports_of(other)
            continue
        yield from _runtime_imports_of(child)


def _runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _runtime_imports(node)


def _base(name: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = name.split(".") if is_package else name.split(".")[:-1]
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, node.module] if node.module else parts)


def _targets(name: str, node: ast.Import | ast.ImportFrom, known: set[str], is_package: bool) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    base = _base(name, node, is_package)
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}


def graph(package: Path = PACKAGE) -> Graph:
    """Module -> the modules of the package it imports at run time."""
    found = modules(package)
    known = set(found)
    edges: Graph = {}
    for name, path in found.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _runtime_imports(parsed(path)):
            targets |= _targets(name, node, known, is_package)
        edges[name] = {t for t in targets if t in known and t != name}
    return edges


def cycles(edges: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = _pop_until(stack, node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def _pop_until(stack: list[str], node: str) -> list[str]:
    component = []
    while True:
        top = stack.pop()
        component.append(top)
        if top == node:
            return component
