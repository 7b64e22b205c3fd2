"""The modules of screening/ import each other without cycles: every import counts, also one inside a function.

A cycle means two modules cannot be understood, tested or moved apart. The layers run one way: the domain
(``ruleset``, ``instruments``, ``answers``...) imports no services, the services no views or commands, and the
entry points (``screening`` the app factory, ``wsgi``, ``tasks`` for the consumers) are imported by nothing in
the package. Features hand their tasks to the queues with ``queues.add_tasks`` from their ``init_app``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "screening"


def module_names() -> dict[str, Path]:
    """Return every module of the package by its dotted name (a package by its own name); migrations left out."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts).removesuffix(".__init__")
        modules[name] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Yield the modules of the package that module ``name`` imports, anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found = target if target in modules else base
                if found in modules and found != name:
                    yield found


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Return the strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(group)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return which modules of the package each module imports."""
    modules = module_names()
    return {name: set(imported(name, path, modules)) for name, path in modules.items()}


def test_the_graph_sees_relative_and_absolute_imports() -> None:
    graph = import_graph()
    assert "screening.engine.evaluation" in graph["screening.decisions"]  # from .engine.evaluation import ...
    assert "screening.engine.safety" in graph["screening.engine.evaluation"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_module_is_in_an_import_cycle() -> None:
    assert [sorted(group) for group in cycles(import_graph())] == []


#: What starts a process: the web workers (``wsgi``, ``gunicorn_conf``) and the task consumers (``tasks``).
ENTRY_POINTS = {"screening.wsgi", "screening.gunicorn_conf", "screening.tasks"}


def test_only_the_entry_points_import_the_app_factory_and_nothing_imports_them() -> None:
    graph = import_graph()
    assert {name for name, targets in graph.items() if "screening" in targets} == ENTRY_POINTS
    assert not {name for name, targets in graph.items() if targets & ENTRY_POINTS}
