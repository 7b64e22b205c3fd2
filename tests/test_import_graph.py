"""The modules of screening/ import each other without cycles: every import counts, also one inside a function.

A cycle means two modules cannot be understood, tested or moved apart. The cycles that remain are listed in
``KNOWN_CYCLES`` until the layout is untangled; a new module in a cycle fails, and so does a listed module that
is in none any more (the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "screening"

#: Modules still in an import cycle: the app factory (``screening``) imports every blueprint and command, and the
#: task queue, the alerts and the dry runs import each other at run time.
KNOWN_CYCLES: frozenset[str] = frozenset(
    {
        "screening",
        "screening.alerts",
        "screening.backtest_cli",
        "screening.cli",
        "screening.intake.service",
        "screening.intake.views",
        "screening.review.seed",
        "screening.rules_cli",
        "screening.seed_cli",
        "screening.tasks",
        "screening.tuning.backtests",
        "screening.tuning.cli",
        "screening.tuning.dry_run_views",
        "screening.tuning.forms",
        "screening.tuning.pages",
        "screening.tuning.views",
    }
)


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
    assert "screening.ruleset.engine" in graph["screening.decisions"]  # from .ruleset.engine import ...
    assert "screening.ruleset.safety" in graph["screening.ruleset.engine"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_module_joins_an_import_cycle() -> None:
    in_cycles = set().union(*cycles(import_graph()))
    assert in_cycles <= KNOWN_CYCLES, f"new modules in an import cycle: {sorted(in_cycles - KNOWN_CYCLES)}"
    assert in_cycles >= KNOWN_CYCLES, (
        f"no longer in a cycle, take them off KNOWN_CYCLES: {sorted(KNOWN_CYCLES - in_cycles)}"
    )
