"""The layering of docs/architecture.md holds: no import circle, and no import against the layers.

Imports are read with `ast`, at module level and inside functions (an import hidden in a function body still ties
two modules together), and the layers are read from the table of docs/architecture.md, which is the authority.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("incidents", "config", "bench")
SKIPPED = ("migrations",)  # generated; they import nothing but Django and the models' helpers by path
ARCHITECTURE = ROOT / "docs" / "architecture.md"

Graph = Mapping[str, Iterable[str]]


@dataclass(frozen=True)
class Layer:
    name: str
    rank: int


# --- Reading the code --------------------------------------------------------------------------------------


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's packages, by dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if any(skipped in parts for skipped in SKIPPED):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _owner(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module that `name` names: itself, or the module or package that holds it."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The project modules that `module` imports, wherever the import stands: module level, functions, classes,
    `if TYPE_CHECKING:` blocks, and importlib.import_module("...") with a constant name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import mod` imports pkg.mod when it is a module, else a name of pkg
            named.update(
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            )
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            named.add(node.args[0].value)
    found = {_owner(name, modules) for name in named}
    return {owner for owner in found if owner is not None and owner != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


# --- Reading the layers --------------------------------------------------------------------------------------


def layer_table(text: str) -> dict[str, Layer]:
    """Module name (or package above modules) -> its layer, from the markdown table | Layer | Rank | Modules |."""
    table: dict[str, Layer] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].isdigit():
            continue
        layer = Layer(cells[0], int(cells[1]))
        for name in re.findall(r"`([\w.]+)`", cells[2]):
            assert name not in table, f"{name} is in two rows of the layer table"
            table[name] = layer
    return table


def layer_of(module: str, table: Mapping[str, Layer]) -> Layer | None:
    """The layer of the longest name in the table that is `module` or a package above it."""
    name = module
    while name:
        if name in table:
            return table[name]
        name = name.rpartition(".")[0]
    return None


# --- The checks ----------------------------------------------------------------------------------------------


def circles(graph: Graph) -> list[list[str]]:
    """Every import circle: the strongly connected components of more than one module (Tarjan), each given as a
    closed path a -> b -> ... -> a through the graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(_closed_path(sorted(component), graph))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _closed_path(component: list[str], graph: Graph) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, ())):
                if target == start:
                    return [*paths[node], start]
                if target in members and target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return [*component, start]


def wrong_way(graph: Graph, table: Mapping[str, Layer]) -> list[str]:
    """Every import that runs against the layers, and every module that no row of the table places."""
    problems = []
    for module in sorted(graph):
        source = layer_of(module, table)
        if source is None:
            problems.append(f"{module} has no layer in docs/architecture.md")
            continue
        for target in sorted(graph[module]):
            into = layer_of(target, table)
            if into is None or into == source or into.rank < source.rank:
                continue
            problems.append(f"{module} ({source.name}) -> {target} ({into.name})")
    return problems


# --- The project ---------------------------------------------------------------------------------------------


def test_no_import_circle():
    found = circles(import_graph())
    assert not found, "Import circles:\n" + "\n".join(" -> ".join(circle) for circle in found)


def test_every_import_runs_down_the_layers():
    table = layer_table(ARCHITECTURE.read_text())
    assert {layer.name for layer in table.values()} >= {"leaf", "models", "selectors", "services", "work", "web"}
    problems = wrong_way(import_graph(), table)
    assert not problems, "Imports against docs/architecture.md:\n" + "\n".join(problems)


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "incidents.tasks" in graph["incidents.apps"]  # imported in IncidentsConfig.ready only
    assert "incidents.services" in graph["incidents.tasks"]
    assert graph["incidents.tokens"] == set()
    assert graph["incidents.outbox"] <= {"incidents.models", "config.celery"}


# --- The checker itself, on a small made-up house -------------------------------------------------------------

SYNTHETIC_TABLE = """
| Layer    | Rank | Modules |
|----------|------|---------|
| leaf     | 1    | `app.tokens` |
| models   | 2    | `app.models` |
| services | 3    | `app.services` |
| web      | 4    | `app.views` |
| api      | 4    | `app.api` |
"""


def test_checker_finds_a_circle_and_prints_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert circles({"a": {"a"}}) == [["a", "a"]]


def test_checker_finds_arrows_against_the_layers():
    table = layer_table(SYNTHETIC_TABLE)
    assert layer_of("app.services.reports", table) == Layer("services", 3)
    graph = {
        "app.models": {"app.services", "app.tokens"},  # wrong way: models import a service
        "app.services.reports": {"app.models", "app.services"},
        "app.views.home": {"app.services", "app.api.views"},  # a door importing another door
        "app.api.views": {"app.models"},
        "app.tokens": set(),
        "app.stray": set(),
    }
    assert wrong_way(graph, table) == [
        "app.models (models) -> app.services (services)",
        "app.stray has no layer in docs/architecture.md",
        "app.views.home (web) -> app.api.views (api)",
    ]


def test_reader_counts_imports_in_functions_and_relative_ones(tmp_path):
    package = tmp_path / "incidents"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("")
    (package / "tokens.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import helper\n")
    (package / "sub" / "helper.py").write_text(
        "import json\n\ndef late():\n    from incidents.models import Thing\n    from ..tokens import x\n"
        "    import importlib\n    importlib.import_module('incidents.sub')\n"
    )
    modules = project_modules(tmp_path)
    assert imports_of("incidents.sub.helper", modules["incidents.sub.helper"], modules) == {
        "incidents.models",
        "incidents.tokens",
        "incidents.sub",
    }
    assert imports_of("incidents.sub", modules["incidents.sub"], modules) == {"incidents.sub.helper"}
