"""The modules of screening/ import each other without cycles: every import counts, also one inside a function.

A cycle means two modules cannot be understood, tested or moved apart. The layers run one way: the domain
(``engine``, ``instruments``, ``answers``...) imports no services and no framework, the services no views or
commands, no command group another, and the entry points (``wsgi``, ``gunicorn_conf``, ``tasks`` for the
consumers) alone import the app factory ``screening``, and nothing imports them. Features hand their tasks to
the queues with ``queues.add_tasks`` from their ``init_app``.
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


# --- The layers -------------------------------------------------------------------------------------

#: The domain: pure code that knows nothing of the web, the database or the queues.
DOMAIN = (
    "screening.answers",
    "screening.engine",
    "screening.errors",
    "screening.fake",
    "screening.instruments",
    "screening.tuning.diff",
    "screening.vocabulary",
)

#: The libraries of the layers above the domain; a domain module imports none of them.
FRAMEWORKS = {"click", "flask", "flask_login", "flask_wtf", "huey", "sqlalchemy", "werkzeug", "wtforms"}

#: Modules every command group may share.
CLI_SHARED = {"screening.cli.common", "screening.cli.rules.files"}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    """Tell whether a module is one of ``prefixes`` or inside one of them."""
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def layer(name: str) -> str:
    """Return the layer of a module: entry, factory, cli, views, services or domain."""
    if name in ENTRY_POINTS:
        return "entry"
    if name == "screening":
        return "factory"
    if within(name, ("screening.cli",)):
        return "cli"
    last = name.rpartition(".")[2]
    if last == "views" or last.endswith("_views") or name == "screening.errorpages":
        return "views"
    if within(name, DOMAIN):
        return "domain"
    return "services"


#: Which layers each layer may import: the imports run one way, domain <- services <- views and commands.
ALLOWED = {
    "domain": {"domain"},
    "services": {"domain", "services"},
    "views": {"domain", "services", "views"},
    "cli": {"domain", "services", "cli"},
    "factory": {"domain", "services", "views", "cli"},
    "entry": {"domain", "services", "factory"},
}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Return each import that runs against the layers, as a line naming both modules and their layers."""
    return sorted(
        f"{name} ({layer(name)}) imports {target} ({layer(target)})"
        for name, targets in graph.items()
        for target in targets
        if layer(target) not in ALLOWED[layer(name)]
    )


def test_every_layer_imports_only_the_layers_below_it() -> None:
    assert layer_violations(import_graph()) == []


def test_an_import_against_the_layers_is_found() -> None:
    graph = {
        "screening.engine.loader": {"screening.review.views"},
        "screening.review.service": {"screening.cli.seed", "screening.engine.loader"},
    }
    assert layer_violations(graph) == [
        "screening.engine.loader (domain) imports screening.review.views (views)",
        "screening.review.service (services) imports screening.cli.seed (cli)",
    ]


def frameworks_imported(path: Path) -> set[str]:
    """Return the top-level names of the outside libraries a module imports, anywhere in its text."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names & FRAMEWORKS


def test_the_domain_imports_no_framework() -> None:
    modules = module_names()
    impure = {name: sorted(frameworks_imported(path)) for name, path in modules.items() if layer(name) == "domain"}
    assert {name: found for name, found in impure.items() if found} == {}


def command_group(name: str) -> str:
    """Return the command group a module of ``screening.cli`` belongs to (``rules`` for its subpackage)."""
    return name.removeprefix("screening.cli.").partition(".")[0]


def test_no_command_group_imports_another() -> None:
    graph = import_graph()
    crossing = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if layer(name) == "cli" and name != "screening.cli"
        for target in targets - CLI_SHARED
        if layer(target) == "cli" and command_group(target) != command_group(name)
    )
    assert crossing == []


def test_the_layers_are_told_apart() -> None:
    assert layer("screening.engine.evaluation") == "domain"
    assert layer("screening.review.views") == "views"
    assert layer("screening.tuning.dry_run_views") == "views"
    assert layer("screening.cli.rules.checking") == "cli"
    assert layer("screening.review.service") == "services"
    assert layer("screening.wsgi") == "entry"
    assert layer("screening") == "factory"
    assert ALLOWED["services"].isdisjoint({"views", "cli", "entry"})
