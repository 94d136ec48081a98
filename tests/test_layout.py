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
