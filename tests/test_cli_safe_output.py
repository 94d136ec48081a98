"""What the CLI prints of user text is safe (issue 14): Rich markup in a name is shown as
text, never parsed (``[/x]`` crashed ``variation`` with a MarkupError); terminal escape
sequences and control characters in a name never reach the terminal; quoted cells are cut;
and no exception ends in a traceback unless ``--debug`` asks for one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import flowcap.cli.app as cli_app
from conftest import log_folder, write_folder
from flowcap.cli.app import printable
from flowcap.cli.main import app
from flowcap.errors import MAX_QUOTED_CHARS, Problem, shorten_quotes

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"

#: Markup that fails to parse when left unescaped, and markup that would quietly restyle.
MARKUP = "[/x]"
#: Retitles the terminal (OSC 0), turns text red (CSI), and an 8-bit CSI and a bell.
ESCAPES = "\x1b]0;pwned\x07\x1b[31m\x9b2J\x07"


def yaml_string(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (control characters as YAML escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\x1b", "\\e").replace("\x07", "\\a").replace("\x9b", "\\x9b")
    return f'"{escaped}"'


def hostile_example(folder: Path, tag: str) -> Path:
    """The bundled example with ``tag`` in its service's name, the IDVA resource's name, a
    case type's, a contingency option's and a referral source's."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    names = {
        r"Northshire Victim Support Hub": f"Hub {tag}",
        r"\bidva\b": f"idva{tag}",
        r"\bda_standard\b": f"da_standard{tag}",
        r"lose an IDVA for three months": f"lose an IDVA{tag}",
    }
    for path in folder.iterdir():
        text = path.read_text()
        for pattern, name in names.items():
            new = yaml_string(name) if path.suffix == ".yaml" else name
            text = re.sub(pattern, lambda _, new=new: new, text)
        if path.name == "referrals.csv":
            text = re.sub(r",police$", lambda _: f",police{tag}", text, flags=re.M)
        path.write_text(text)
    return folder


@pytest.fixture(scope="module")
def hostile_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return {
        "markup": hostile_example(root / "markup", MARKUP),
        "escapes": hostile_example(root / "escapes", ESCAPES),
    }


@pytest.fixture
def strict_markup(monkeypatch):
    """No fallback to plain text: user text left unescaped inside markup fails the test."""
    monkeypatch.setattr(cli_app, "MARKUP_FALLBACK", False)


COMMANDS = {
    "validate": [],
    "measures": [],
    "variation": [],
    "risk": ["--horizon", "10"],
    "simulate": ["--replications", "50", "--horizon", "10"],
    "plan": ["--replications", "50", "--horizon", "10"],
    "des": ["--replications", "2", "--hours", "100"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_markup_in_names_is_printed_as_text(command, hostile_folders, strict_markup):
    folder = hostile_folders["markup"]
    result = runner.invoke(app, [command, str(folder), *COMMANDS[command]])
    assert result.exit_code == 0, result.output
    if command != "plan":  # plan's tables name the resources only
        assert f"Hub {MARKUP}" in result.stdout  # the service's name, as written
    if command != "validate":  # validate's table names the files
        assert f"idva{MARKUP}" in result.stdout
    assert "\\[" not in result.output  # no escape shown raw (the plain-text fallback)


@pytest.mark.parametrize("command", COMMANDS)
def test_escape_sequences_in_names_never_reach_the_terminal(command, hostile_folders):
    folder = hostile_folders["escapes"]
    result = runner.invoke(app, [command, str(folder), *COMMANDS[command]])
    assert result.exit_code == 0, result.output
    assert "pwned" not in result.output  # the whole OSC sequence went, not just ESC
    assert ("Hub " if command == "validate" else "idva") in result.stdout
    controls = {c for c in result.output if ord(c) < 32 or 0x7F <= ord(c) <= 0x9F}
    assert controls <= {"\n"}, controls


def test_calibrate_prints_markup_and_escapes_in_activities_as_text(tmp_path, strict_markup):
    rows = [
        ("A", f"Triage {MARKUP}", "2024-06-03T10:00:00"),
        ("A", f"Risk {ESCAPES}", "2024-06-04T11:00:00"),
        ("B", f"Triage {MARKUP}", "2024-06-03T09:30:00"),
        ("B", f"Risk {ESCAPES}", "2024-06-05T09:30:00"),
    ]
    log = tmp_path / "log.csv"
    log.write_text("Ref,Event,When\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    args = ["--case-id", "Ref", "--activity", "Event", "--timestamp", "When"]
    for command in ("calibrate", "processmap"):
        result = runner.invoke(app, [command, str(log), *args])
        assert result.exit_code == 0, result.output
        assert f"Triage {MARKUP}" in result.stdout
        assert "Risk " in result.stdout and "pwned" not in result.stdout
        assert "\x1b" not in result.output and "\x07" not in result.output


def test_a_folder_name_with_markup_and_escapes_in_an_error(tmp_path, strict_markup):
    missing = tmp_path / f"no {MARKUP} here{ESCAPES}"
    result = runner.invoke(app, ["measures", str(missing)])
    assert result.exit_code == 1
    assert f"no {MARKUP} here" in result.stderr
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("length", [5_000, 1_000_000])
def test_a_huge_cell_is_never_echoed_whole(tmp_path, length):
    big = "9" * length
    folder = write_folder(
        tmp_path / "svc",
        referrals=f"case_id,referral_date,case_type\nR1,{big},advocacy\nR2,2025-03-04,advocacy\n",
    )
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert len(result.output) < 1_000
    line = next(line for line in result.stderr.splitlines() if "referral_date" in line)
    assert "row 2" in line and len(line) < 300
    if "'9" in line:  # quoted (the readers may refuse so long a cell before quoting it)
        assert "9" * MAX_QUOTED_CHARS in line and "9" * (MAX_QUOTED_CHARS + 1) not in line
        assert f"{length:,} characters" in line


def test_a_long_column_header_is_cut(tmp_path):
    header = "case_id,referral_date,case_type," + "h" * 100_000
    folder = log_folder(tmp_path / "svc")
    (folder / "referrals.csv").write_text(header + "\nR1,2025-03-04,standard,x\n")
    result = runner.invoke(app, ["validate", str(folder)])
    assert len(result.output) < 2_000, result.output[:500]


def test_problems_cut_long_quoted_values_once_for_every_reader():
    problem = Problem("f.csv", "not a date: " + repr("x" * 500), 3, "c" * 500)
    assert str(problem) == (
        f"f.csv, row 3, column {'c' * 40}… (500 characters): "
        f"not a date: '{'x' * 40}…' (500 characters)"
    )
    # Short values, apostrophes in words and several quotes are left as they are.
    text = "missing column 'When' for the timestamp; the file's columns: 'Ref', 'Event'"
    assert shorten_quotes(text) == text
    assert shorten_quotes('"' + "it's " * 10 + '"') == '"' + "it's " * 8 + '…" (50 characters)'


def test_printable_strips_escape_sequences_and_control_characters():
    assert printable("a\x1b]0;pwned\x07b") == "ab"  # OSC, ended by BEL
    assert printable("a\x1b]8;;http://x\x1b\\b") == "ab"  # OSC, ended by ST
    assert printable("\x1b[1;31mred\x1b[0m") == "red"  # CSI
    assert printable("\x9b2Jc1") == "c1"  # 8-bit CSI
    assert printable("\x1b]0;no end") == "0;no end"  # unended: only the introducer goes
    assert printable("nul\x00 bs\x08 cr\r del\x7f nel\x85.") == "nul bs cr del nel."
    assert printable("tab\tnewline\n£ é → ↺ – ×") == "tab\tnewline\n£ é → ↺ – ×"


# --- no traceback at the boundary -------------------------------------------------------------


def boom(*args, **kwargs):
    raise ZeroDivisionError("division by zero\nsecond line")


def test_an_unexpected_exception_is_one_line_without_debug(tmp_path, monkeypatch):
    import flowcap.history

    monkeypatch.setattr(flowcap.history, "open_folder", boom)
    folder = write_folder(tmp_path / "svc", referrals="case_id,referral_date,case_type\n")
    result = runner.invoke(app, ["measures", str(folder)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: unexpected ZeroDivisionError: division by zero … (a fault in flowcap: run "
        "again as `flowcap --debug ...` to see where, and report it)"
    ]
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    import flowcap.history

    monkeypatch.setattr(flowcap.history, "open_folder", boom)
    folder = write_folder(tmp_path / "svc", referrals="case_id,referral_date,case_type\n")
    result = runner.invoke(app, ["--debug", "measures", str(folder)])
    assert result.exit_code == 1
    assert isinstance(result.exception, ZeroDivisionError)
    assert "unexpected" not in result.output


def test_an_exception_while_printing_is_one_line_too(tmp_path, monkeypatch):
    """Outside the command's error handling (the printing after the work): still one line."""
    import flowcap.cli.data as data

    monkeypatch.setattr(data, "_summary_table", boom)
    folder = write_folder(
        tmp_path / "svc", referrals="case_id,referral_date,case_type\nR1,2025-03-04,advocacy\n"
    )
    result = runner.invoke(app, ["measures", str(folder)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: unexpected ZeroDivisionError")
    assert "Traceback" not in result.output


def test_flowcap_errors_with_debug_show_their_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "measures", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "InputError"


def test_usage_errors_keep_exit_code_2(tmp_path):
    result = runner.invoke(app, ["measures", str(tmp_path), "--no-such-option"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["variation", str(tmp_path), "--period", MARKUP])
    assert result.exit_code == 2
    assert MARKUP in result.output
