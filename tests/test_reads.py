"""Each command reads each input file once and parses it once.

Reads are counted at the interpreter: an audit hook sees every ``open`` of a file (Python's,
pandas', openpyxl's; lxml is handed a stream), so a reader that went around
:mod:`flowcap.io.source` would be counted too. Parses are counted at the parsers every input
goes through: the YAML loader, the CSV and XLSX readers and the XES reader.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

import flowcap.io.eventlog
import flowcap.io.safe_yaml
import flowcap.io.scenarios_yaml
import flowcap.io.service_yaml
import flowcap.io.tables
from flowcap.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

#: Paths opened while a command runs under :func:`counting` (None: not counting).
_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)


def run_counting(args: list[str], folder: Path, monkeypatch) -> tuple[Counter, Counter]:
    """Run a command; return (opens, parses) per file name of ``folder``'s inputs."""
    global _opened
    parsed: Counter = Counter()

    def counted(function, name_of):
        def wrapper(*a, **k):
            parsed[name_of(*a, **k)] += 1
            return function(*a, **k)

        return wrapper

    load_yaml = counted(flowcap.io.safe_yaml.load_yaml, lambda text, file: Path(file).name)
    read_csv = counted(flowcap.io.tables.read_csv, lambda raw, check, **k: check.file)
    read_xlsx = counted(flowcap.io.tables.read_xlsx, lambda raw, check: check.file)
    read_xes = counted(flowcap.io.eventlog.read_xes, lambda path: Path(path).name)
    for module in (flowcap.io.service_yaml, flowcap.io.scenarios_yaml):
        monkeypatch.setattr(module, "load_yaml", load_yaml)
    for module in (flowcap.io.tables, flowcap.io.eventlog):
        monkeypatch.setattr(module, "read_csv", read_csv)
        monkeypatch.setattr(module, "read_xlsx", read_xlsx)
    monkeypatch.setattr(flowcap.io.eventlog, "read_xes", read_xes)
    _opened = []
    try:
        result = runner.invoke(app, args)
    finally:
        opened, _opened = _opened, None
    assert result.exit_code == 0, result.output
    inputs = {p.resolve() for p in folder.iterdir() if p.is_file()}
    opens = Counter(Path(p).name for p in opened if Path(p).resolve() in inputs)
    return opens, parsed


def copy_example(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / "examples" / name, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


VS_FILES = {
    "service.yaml",
    "referrals.csv",
    "roster.csv",
    "sessions.csv",
    "waiting.csv",
    "scenarios.yaml",
    "school_holidays.csv",
}
#: Every command on a service folder, with options that keep it quick.
COMMANDS = {
    "measures": ["measures"],
    "variation": ["variation"],
    "forecast": ["forecast", "--horizon", "7"],
    "risk": ["risk", "--horizon", "7"],
    "simulate": ["simulate", "--replications", "20", "--horizon", "10"],
    "plan": ["plan", "--replications", "20", "--horizon", "10"],
    "des": ["des", "--hours", "48", "--warmup-hours", "0", "--replications", "2"],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_each_input_read_and_parsed_once(command, tmp_path, monkeypatch):
    folder = copy_example(tmp_path, "victim-support")
    name, *options = COMMANDS[command]
    args = [name, str(folder), *options, "--json"]
    # First the folder is new to the store (checked and imported), then it is current (only
    # hashed; the settings parsed): once each either way.
    for state in ("importing", "current"):
        opens, parses = run_counting(args, folder, monkeypatch)
        assert set(opens) == VS_FILES, (state, opens)
        assert max(opens.values()) == 1, (state, opens)
        expected = VS_FILES if state == "importing" else {"service.yaml", "scenarios.yaml"}
        expected |= {"school_holidays.csv"} if state == "current" else set()
        assert set(parses) == expected, (state, parses)
        assert max(parses.values()) == 1, (state, parses)


def test_the_folder_verbs_read_each_input_once(tmp_path, monkeypatch):
    folder = copy_example(tmp_path, "victim-support")
    for args in (["validate", str(folder)], ["import", str(folder)]):
        opens, parses = run_counting(args, folder, monkeypatch)
        assert set(opens) == VS_FILES and max(opens.values()) == 1, (args, opens)
        assert set(parses) == VS_FILES and max(parses.values()) == 1, (args, parses)


@pytest.mark.parametrize(
    "args",
    [["measures"], ["processmap"], ["calibrate", "--replications", "2"]],
    ids=["measures", "processmap", "calibrate"],
)
def test_an_event_log_service_reads_its_log_once(args, tmp_path, monkeypatch):
    folder = copy_example(tmp_path, "victim-support-log")
    name, *options = args
    for state in ("importing", "current"):
        opens, parses = run_counting([name, str(folder), *options, "--json"], folder, monkeypatch)
        assert opens == Counter({"service.yaml": 1, "events.csv": 1, "roster.csv": 1}), (
            state,
            opens,
        )
        # Current: the log is hashed, not parsed; its events come back from the store.
        expected = {"service.yaml": 1}
        if state == "importing":
            expected |= {"events.csv": 1, "roster.csv": 1}
        assert parses == Counter(expected), (state, parses)


@pytest.mark.slow
def test_the_demo_reads_each_input_once(tmp_path, monkeypatch):
    folder = copy_example(tmp_path, "victim-support")
    args = ["demo", "--dir", str(folder), "--out", str(tmp_path / "out")]
    opens, parses = run_counting(args, folder, monkeypatch)
    assert set(opens) == VS_FILES and max(opens.values()) == 1, opens
    assert set(parses) == VS_FILES and max(parses.values()) == 1, parses


def test_erase_reads_only_the_service_definition_once(tmp_path, monkeypatch):
    folder = copy_example(tmp_path, "victim-support")
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
    opens, parses = run_counting(["erase", str(folder), "no-such-case"], folder, monkeypatch)
    assert opens == Counter({"service.yaml": 1}) and parses == Counter({"service.yaml": 1})
