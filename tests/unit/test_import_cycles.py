"""No import cycles in the project's packages: not between two modules, not between the packages or subpackages
of one package (a cycle there makes their layering meaningless, as api.ops.app and api.ops.console once did).
Imports inside functions count too: a cycle hidden in a function is still one."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import grimp
import pytest

from farmacy.settings import ROOT

PACKAGES = ("farmacy", "writemodel", "sinks", "stack", "ops", "api", "cli")
Graph = dict[str, set[str]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:  # the packages of this checkout, as lint-imports reads them
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _cycles(edges: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (each holds a cycle), sorted."""
    nodes = set(edges) | {w for targets in edges.values() for w in targets}
    reverse: Graph = {v: set() for v in nodes}
    for v, targets in edges.items():
        for w in targets:
            reverse[w].add(v)
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(nodes):  # Kosaraju: finishing order on the graph, then components on its reverse
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(edges.get(start, ()))))]
        while stack:
            v, it = stack[-1]
            following = next((w for w in it if w not in seen), None)
            if following is None:
                stack.pop()
                order.append(v)
            else:
                seen.add(following)
                stack.append((following, iter(sorted(edges.get(following, ())))))
    components: list[list[str]] = []
    assigned: set[str] = set()
    for start in reversed(order):
        if start in assigned:
            continue
        component, todo = [], [start]
        assigned.add(start)
        while todo:
            v = todo.pop()
            component.append(v)
            for w in reverse[v] - assigned:
                assigned.add(w)
                todo.append(w)
        if len(component) > 1:
            components.append(sorted(component))
    return sorted(components)


def _collapsed(graph: grimp.ImportGraph, parent: str | None) -> Graph:
    """Imports between the children of ``parent`` (the top-level packages when None), each child standing for
    itself and everything below it."""

    def child(module: str) -> str | None:
        if parent is None:
            return module.split(".")[0]
        if not module.startswith(parent + "."):
            return None
        return f"{parent}.{module[len(parent) + 1 :].split('.')[0]}"

    edges: Graph = {}
    for module in graph.modules:
        a = child(module)
        if a is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            b = child(imported)
            if b is not None and b != a:
                edges.setdefault(a, set()).add(b)
    return edges


def _packages(graph: grimp.ImportGraph) -> Iterable[str]:
    return sorted(m for m in graph.modules if graph.find_children(m))


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) == []


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def test_no_import_cycle_between_top_level_packages(graph: grimp.ImportGraph) -> None:
    assert set(_collapsed(graph, None)) <= set(PACKAGES)
    assert _cycles(_collapsed(graph, None)) == []


def test_no_import_cycle_between_the_parts_of_a_package(graph: grimp.ImportGraph) -> None:
    cycles = {package: found for package in _packages(graph) if (found := _cycles(_collapsed(graph, package)))}
    assert cycles == {}
