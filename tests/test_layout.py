"""The package's layers, checked on its source: what each layer may import, and a CLI that
only parses, calls the library and prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "flowcap"


def test_the_argument_rules_sit_beside_the_errors():
    assert flowcap_imports(PACKAGE / "checks.py") == {"flowcap.errors"}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("." * node.level + (node.module or ""))
    return found


def flowcap_imports(path: Path) -> set[str]:
    return {m for m in imports_of(path) if m.startswith("flowcap") or m.startswith(".")}


@pytest.mark.parametrize("path", sorted((PACKAGE / "processmap").glob("*.py")), ids=str)
def test_the_process_map_needs_only_errors_and_the_model(path):
    allowed = ("flowcap.errors", "flowcap.checks", "flowcap.model", "flowcap.processmap", ".")
    assert all(m.startswith(allowed) for m in flowcap_imports(path)), flowcap_imports(path)


@pytest.mark.parametrize("path", sorted((PACKAGE / "model").glob("*.py")), ids=str)
def test_the_model_imports_nothing_above_it(path):
    allowed = ("flowcap.errors", "flowcap.checks", "flowcap.model", ".")
    assert all(m.startswith(allowed) for m in flowcap_imports(path)), flowcap_imports(path)


#: What a statistic is computed with; the CLI formats numbers the library computed.
NUMERIC_LIBRARIES = {"numpy", "pandas", "scipy", "statsforecast", "yaml"}
STATISTIC_METHODS = {
    "min",
    "max",
    "mean",
    "median",
    "sum",
    "std",
    "var",
    "quantile",
    "percentile",
    "groupby",
    "value_counts",
    "idxmax",
    "idxmin",
    "cumsum",
}


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=str)
def test_no_cli_module_computes_a_statistic(path):
    imported = {m.split(".")[0] for m in imports_of(path)}
    assert not imported & NUMERIC_LIBRARIES, imported & NUMERIC_LIBRARIES
    calls = {
        node.func.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & STATISTIC_METHODS, calls & STATISTIC_METHODS


#: The packages from the ground up: each may import only from its own level and below (type
#: hints under ``if TYPE_CHECKING:`` excepted: the analyses name ServiceHistory that way).
LAYERS = [
    {"errors", "checks", "progress", "_json", "targets", "documents", "budget"},
    {"model"},
    {"io"},
    {"store"},
    {"accounts"},
    {"measures"},
    {"history"},
    {"variation", "forecast", "processmap", "examples"},
    {"simulate"},
    {"plan"},
    {"report"},
    {"monitor", "export", "sweep"},
    {"manage", "jobs", "daily", "settings_form", "records"},
    {"web"},
    {"cli"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def runtime_imports(path: Path) -> set[str]:
    """The flowcap modules a file imports when it runs (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(), str(path))
    hinted = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in hinted:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m.startswith("flowcap.")}


def package_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(PACKAGE.rglob("*.py")) if package_of(p) in LEVEL],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_each_package_imports_only_from_its_level_and_below(path):
    mine = LEVEL[package_of(path)]
    above = {
        module for module in runtime_imports(path) if LEVEL.get(module.split(".")[1], -1) > mine
    }
    assert not above, f"{path.relative_to(PACKAGE)} imports from a higher layer: {above}"


def test_every_package_has_a_layer():
    packages = {package_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert packages <= set(LEVEL), packages - set(LEVEL)
