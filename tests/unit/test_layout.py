"""The import graph runs one way: operations → jobs | connectors → the shared runtime (docs/architecture.md).

Read from the source with ``ast``, so a violation fails here before anything is imported. Every import of
tickflow's own code sits at module top (a function-level import is how a cycle hides); jobs and connectors
never import each other; nothing imports the test support kit except operations and tests.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"tickflow": ROOT / "tickflow", "jobs": ROOT / "jobs", "connectors": ROOT / "connectors",
            "tickflow_testkit": ROOT / "tests" / "support" / "tickflow_testkit"}

# what each layer may import (besides itself)
RUNTIME, JOBS, CONNECTORS, OPERATIONS, TESTKIT = "runtime", "jobs", "connectors", "operations", "testkit"
MAY_IMPORT = {
    RUNTIME: set(),
    JOBS: {RUNTIME},
    CONNECTORS: {RUNTIME},
    TESTKIT: {RUNTIME, CONNECTORS},
    OPERATIONS: {RUNTIME, JOBS, CONNECTORS, TESTKIT},
}


def layer(module: str) -> str:
    """The layer a module of tickflow's belongs to."""
    if module == "tickflow.runtime" or module.startswith("tickflow.runtime."):
        return RUNTIME
    top = module.split(".")[0]
    return {"jobs": JOBS, "connectors": CONNECTORS, "tickflow_testkit": TESTKIT}.get(top, OPERATIONS)


def own(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in PACKAGES


def modules() -> dict[str, Path]:
    found = {}
    for top, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            parts = (top, *path.relative_to(folder).with_suffix("").parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module top) for each import of tickflow's own code."""
    tree = ast.parse(path.read_text(), str(path))
    top_level: set[int] = set()
    for node in tree.body:
        # module top, including `if TYPE_CHECKING:` and `try:` blocks at module level
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            top_level.add(id(inner))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if own(name):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def resolve(name: str, known: dict[str, Path]) -> str:
    """``from a.b import c`` names a module ``a.b.c`` or an attribute of ``a.b``."""
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


MODULES = modules()
GRAPH = {m: [(resolve(n, MODULES), line, top) for n, line, top in imports(p)] for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_module_imports_only_its_own_layer_and_those_below(module):
    mine = layer(module)
    wrong = [f"{module}:{line} imports {target} ({layer(target)})" for target, line, _ in GRAPH[module]
             if layer(target) != mine and layer(target) not in MAY_IMPORT[mine]]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_module_imports_tickflow_code_at_module_top(module):
    inside = [f"{module}:{line} imports {target} inside a function" for target, line, top in GRAPH[module]
              if not top]
    assert not inside, "\n".join(inside)


def test_import_graph_has_no_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for target, _, _ in GRAPH.get(m, []):
            if target == m or target not in GRAPH or (target == m.rsplit(".", 1)[0]):
                continue  # a package's own __init__ is not a cycle
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if not state.get(target):
                visit(target)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if not state.get(m):
            visit(m)


def test_layers_are_what_the_docs_say():
    assert layer("tickflow.runtime.config") == RUNTIME
    assert layer("tickflow.cli") == OPERATIONS
    assert layer("jobs.market_data_processor") == JOBS
    assert layer("connectors.polygon") == CONNECTORS
    assert "tickflow.runtime.config" in GRAPH and "jobs.catalog" in GRAPH
