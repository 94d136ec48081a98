"""A CLI that starts at once (issue 13): ``flowcap --help`` and every command's ``--help``
load neither the numeric stack nor the store's (each command imports the library it calls
when it runs), and the defaults the help shows are the library's own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: What a command's --help must not load: seconds of imports between them.
HEAVY = ("pandas", "numpy", "scipy", "sqlalchemy", "alembic", "statsforecast", "numba")

PROBE = """
import json, sys
sys.argv = ["flowcap", *json.loads(sys.argv[1])]
from flowcap.cli.main import app
try:
    app()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": sorted(m for m in HEAVY if m in sys.modules)}),
      file=sys.stderr)
"""


def loaded_by(args: list[str]) -> dict:
    """Run ``flowcap ARGS`` in a fresh interpreter: its exit code and the heavy modules loaded."""
    code = f"HEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=False
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


def commands() -> list[list[str]]:
    """Every command and sub-command, by the names ``flowcap --help`` lists."""
    import typer.main

    from flowcap.cli.main import app

    group = typer.main.get_command(app)
    found = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found += [[name, sub] for sub in subcommands]
        found.append([name])
    return found


def test_every_command_is_probed():
    names = {" ".join(c) for c in commands()}
    assert {"measures", "simulate", "plan", "import", "serve", "user", "user add"} <= names
    assert len(names) >= 25


def test_flowcap_help_loads_no_heavy_module():
    assert loaded_by(["--help"]) == {"code": 0, "loaded": []}


@pytest.mark.parametrize("command", commands(), ids=" ".join)
def test_each_commands_help_loads_no_heavy_module(command):
    assert loaded_by([*command, "--help"]) == {"code": 0, "loaded": []}


def test_a_command_loads_what_it_needs_when_it_runs(tmp_path):
    """The probe can fail: a command that runs does import the library."""
    result = loaded_by(["measures", str(tmp_path / "missing")])
    assert result["code"] == 1
    assert "pandas" in result["loaded"]


def test_the_defaults_in_help_are_the_librarys():
    from flowcap import export
    from flowcap.cli import defaults
    from flowcap.model import scenario
    from flowcap.plan import outlook

    assert defaults.RECRUITMENT_LEAD_DAYS == scenario.RECRUITMENT_LEAD_DAYS
    assert defaults.INDUCTION_DAYS == scenario.INDUCTION_DAYS
    assert defaults.PLAN_REPLICATIONS == outlook.PLAN_REPLICATIONS
    assert defaults.EXPORT_FORMATS == export.FORMATS
    assert defaults.EXPORT_HORIZON_DAYS == export.HORIZON_DAYS
    assert defaults.EXPORT_REPLICATIONS == export.REPLICATIONS


def test_the_library_names_load_on_first_use():
    """``import flowcap`` is light too; ``flowcap.open`` and the rest load when first used."""
    code = (
        "import sys, flowcap; light = 'pandas' not in sys.modules; "
        "flowcap.open, flowcap.import_folder, flowcap.ServiceHistory; "
        "print(light, 'pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]
