"""The shape of the package: no import cycle (function-local imports count), small modules.

A cycle held together by a function-local import breaks as soon as someone
moves that import to the top of its file; so every ``import`` statement
anywhere in a module is an edge here.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vergeml"
MAX_LINES = 420          # "no module over about 400 lines"
MAX_COMMAND_LINES = 120  # commands/ holds thin adapters


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path, name):
    """Every module name an import statement in ``path`` may refer to."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph():
    """Module -> the package's modules it imports (a package's own submodules may import it)."""
    found = modules()

    def owner(name):
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None
    graph = {}
    for name, path in found.items():
        targets = {owner(n) for n in imported_names(path, name) if n.startswith("vergeml")}
        graph[name] = {t for t in targets if t and t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph):
    """Strongly connected sets of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_cycle_through_a_function_local_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_local_imports_are_edges(tmp_path):
    source = "def f():\n    from vergeml.errors import VergeMLError\n"
    path = tmp_path / "x.py"
    path.write_text(source)
    assert "vergeml.errors" in set(imported_names(path, "vergeml.x"))


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small(name):
    path = modules()[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    limit = MAX_COMMAND_LINES if name.startswith("vergeml.commands.") else MAX_LINES
    assert lines <= limit, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (limit {limit})"
