"""Structure rules beyond imports: no import cycles, no reaching into another object's
private state, small application modules (docs/architecture.md, "The engine").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.architecture.test_import_rules import LAYERS, ROOT, collect_imports, module_name, project_modules

#: A module past this usually has two reasons to change (docs/architecture.md, "The engine").
MAX_APPLICATION_LINES = 300


def _module_paths() -> dict[str, str]:
    """Module name -> repository-relative path, for every project module."""
    return {module_name(path): path for path in project_modules()}


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from pkg import sub`` counts as ``pkg.sub``
    when ``sub`` is a module). Imports under ``if TYPE_CHECKING:`` count too: a cycle that
    only type checking sees is still two modules that cannot be understood apart.

    Args:
        sources: module name -> its path relative to the repository root.
    """
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
        imports, _ = collect_imports(path, tree)
        edges: set[str] = set()
        for _, imported in imports:
            # The most specific project module the name refers to (a name imported from a
            # module is not a module: walk up to the module that defines it).
            candidate = imported
            while candidate and candidate not in sources:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                edges.add(candidate)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    graph = import_graph(_module_paths())
    assert "pyworker.application.task_manager" in graph
    assert find_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def _foreign_private_access(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}:
            continue
        yield node.lineno, ast.unparse(node)


@pytest.mark.parametrize("layer", LAYERS)
def test_no_class_touches_another_objects_private_attributes(layer: str) -> None:
    """``other._state`` couples two classes through what one of them may change at will."""
    found = [
        f"{path}:{line}: {text}"
        for path in project_modules()
        if path.startswith(layer + "/")
        for line, text in _foreign_private_access(ast.parse((ROOT / path).read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_private_access_check_sees_one() -> None:
    tree = ast.parse("class A:\n    def f(self, other):\n        return other._secret, self._mine\n")
    assert [text for _, text in _foreign_private_access(tree)] == ["other._secret"]


def test_application_modules_are_small() -> None:
    sizes = {
        path: len((ROOT / path).read_text(encoding="utf-8").splitlines())
        for path in project_modules()
        if path.startswith("application/")
    }
    assert sizes
    assert {path: lines for path, lines in sizes.items() if lines > MAX_APPLICATION_LINES} == {}


def test_the_repository_layout_is_what_the_package_links_say() -> None:
    """pyworker/<layer> links to the top-level folder (docs/adr/0009-one-pyworker-namespace.md)."""
    for layer in (*LAYERS, "protos"):
        link = ROOT / "pyworker" / layer
        assert link.is_symlink(), layer
        assert link.resolve() == (ROOT / layer).resolve()
    assert Path(ROOT / "pyworker" / "__init__.py").is_file()
