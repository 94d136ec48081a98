"""What every command shares (flowcap.cli.app): an argument error names the command's own
flag, without a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import worked_example
from flowcap.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--risk", "0"], "--risk must be between 0 and 1"),
        (["plan", "--risk", "1"], "--risk must be between 0 and 1"),
        (["simulate", "--replications", "0"], "--replications must be at least 1"),
        (["plan", "--seed", "-1"], "--seed must be 0 or more"),
        (["simulate", "--threshold-minutes", "-5"], "--threshold-minutes must be a number"),
        (["plan", "--target-backlog-minutes", "-5"], "--target-backlog-minutes must be a number"),
        (["risk", "--k", "0"], "--k must be a number more than 0"),
        (["forecast", "--horizon", "0"], "--horizon must be from 1 to"),
        (["measures", "--from", "2025-03-05", "--to", "2025-03-04"], "--from 2025-03-05 is after"),
        (["processmap", "--top-edges", "0"], "--top-edges must be at least 1"),
        (["des", "--hours", "0"], "--hours must be more than 0"),
        (["measures", "--to", "9999-12-31"], "--to must be a date from 1900-01-01"),
        (["measures", "--from", "0001-01-01"], "--from must be a date from 1900-01-01"),
        (["variation", "--recalculate-from", "0001-01-01"], "--recalculate-from must be a date"),
        (["variation", "--shift-run", "1"], "--shift-run must be a whole number of 2 or more"),
        (["simulate", "--start", "9999-01-01"], "--start must be a date from 1900-01-01"),
        (["plan", "--start", "1899-12-31"], "--start must be a date from 1900-01-01"),
        (["des", "--start", "9999-01-01"], "--start must be a date from 1900-01-01"),
        (["simulate", "--replications", "1000000000"], "--replications must be at most 100,000"),
        (["plan", "--replications", "100000", "--horizon", "3653"], "--replications × the horizon"),
        (["des", "--replications", "100000"], "--replications × the hours"),
        (["simulate", "--optimise"], "--optimise combines contingency options, and there are none"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]),
)
def test_the_cli_names_the_flag(args, message, tmp_path):
    folder = worked_example(tmp_path / "svc")
    command, *options = args
    result = runner.invoke(app, [command, str(folder), *options])
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["measures", "variation", "forecast", "risk", "simulate"])
def test_a_chart_file_the_writers_cannot_write_is_refused_before_any_work(command, tmp_path):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(app, [command, str(folder), "--chart", str(tmp_path / "out.pdf")])
    assert result.exit_code == 2, result.output  # a usage error, like any bad option
    assert (
        "--chart" in result.output and "must name a file ending in .html or .png" in result.output
    )
    assert not (folder / ".flowcap").exists()  # refused before the folder was even imported


def test_a_process_map_may_also_be_svg(tmp_path):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(app, ["processmap", str(folder), "--chart", str(tmp_path / "map.pdf")])
    assert result.exit_code == 2 and "ending in .svg, .png or .html" in result.output
