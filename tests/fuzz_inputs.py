"""Generated inputs for the fuzz tests of flowcap's readers (tests/test_fuzz_*.py).

The inputs are structured: a valid file with a few changes a clumsy user or an attacker
could make (a cell replaced by an odd value, a header duplicated, a column dropped, the file
saved in another encoding, cut short), and YAML documents whose values, at any depth, are
replaced by odd values of any type. :func:`outcome` runs a reader on one input and checks
what it did: a result, or a :class:`~flowcap.errors.FlowcapError` whose problems name their
file (anything else propagates, and Hypothesis shrinks the input that raised it).
"""

from __future__ import annotations

import codecs
import copy
import csv
import datetime as dt
import gzip
import io
import os
import time
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import event
from hypothesis import strategies as st

from flowcap.errors import FlowcapError, InputError, Problem

#: The longest message a problem may print: a quoted cell is cut to a few dozen characters,
#: so a message far longer echoes a value whole (a pasted note, a ten-million-character cell).
MAX_MESSAGE_CHARS = 2_000

# --- odd values -------------------------------------------------------------------------------

#: Cells that have broken, or could break, a reader: numbers past 64 bits or not finite,
#: dates at and past pandas' range (1677-09-21 to 2262-04-11) and flowcap's (1900 to 2200),
#: control characters, terminal escapes, Rich and HTML markup, formulas, delimiters, quotes.
ODD_CELLS = (
    "",
    " ",
    "NA",
    "null",
    "None",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "9" * 30,
    "-" + "9" * 30,
    "18446744073709551616",
    "-9223372036854775809",
    "0x1F",
    "1_000",
    "1,5",
    "-0",
    "0",
    "-1",
    "1440.0000001",
    "10001",
    "0001-01-01",
    "1677-09-21",
    "1677-09-22",
    "1677-09-21T00:12:43.145224193",
    "2262-04-11",
    "2262-04-12",
    "2262-04-11T23:47:16.854775807",
    "1899-12-31",
    "1900-01-01",
    "2200-12-31",
    "2201-01-01",
    "9999-12-31",
    "99999-01-01",
    "2025-02-30",
    "2025-13-45",
    "31/12/99",
    "29/02/2023",
    "2025-03-01T24:00:00",
    "2025-03-01T10:00:00+14:00",
    "2025-03-01T10:00:00-23:59",
    "2262-04-11T23:00:00-05:00",
    "1677-09-21T01:00:00+05:00",
    "2025-03-30T01:30:00",
    "2025-10-26T01:30:00",
    "2025-03-01Z",
    "20250301",
    "1740787200",
    "\x00",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;http://x\x07link\x1b]8;;\x07",
    "\r",
    "a\rb",
    "\x0b\x0c",
    "\u2028",
    "\ufeff",
    "\u202etxt.exe",
    "[/x]",
    "[/]",
    "[bold]",
    "[link=http://x]y",
    "<script>alert(1)</script>",
    "=1+1",
    '=HYPERLINK("http://x")',
    "@SUM(1)",
    ",",
    ";",
    "\t",
    '"',
    '""',
    "'",
    "\n",
    "a\nb",
    "é",
    "\U0001f600",
    "x" * 300,
    "9" * 20_000,
)


def odd_cell() -> st.SearchStrategy[str]:
    """An odd cell: one of :data:`ODD_CELLS`, a number or date of any size, or any text."""
    return st.one_of(
        st.sampled_from(ODD_CELLS),
        st.integers().map(str),
        st.floats().map(repr),
        st.dates().map(str),
        st.datetimes().map(lambda d: d.isoformat()),
        st.text(max_size=20),
    )


def odd_scalar() -> st.SearchStrategy[Any]:
    """An odd YAML scalar of any type."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(
            [0, -1, 1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30, 10**400, 1_000_000_000]
        ),
        st.integers(),
        st.floats(),
        st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 5e-324]),
        st.sampled_from(ODD_CELLS[:-1]),  # the longest cell is past a YAML file's size
        st.text(max_size=20),
        st.dates(),
        st.datetimes(),
    )


def odd_value() -> st.SearchStrategy[Any]:
    """An odd YAML value: a scalar, or lists and mappings of them, nested."""
    return st.recursive(
        odd_scalar(),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.one_of(st.text(max_size=10), odd_scalar()), children, max_size=3),
        ),
        max_leaves=8,
    )


# --- delimited tables -------------------------------------------------------------------------

ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32")


def _encode(text: str, encoding: str) -> bytes:
    return codecs.encode(text, encoding, "replace")


@st.composite
def mutated_table(draw, header: list[str], rows: list[list[str]]) -> bytes:
    """The bytes of a CSV file: ``header`` and ``rows`` with a few changes."""
    header = list(header)
    rows = [list(r) for r in rows]
    delimiter = ","
    n_changes = draw(st.integers(0, 4))
    for _ in range(n_changes):
        kind = draw(
            st.sampled_from(
                [
                    "cell",
                    "cell",
                    "cell",
                    "header_cell",
                    "duplicate_header",
                    "drop_column",
                    "extra_column",
                    "extra_field",
                    "missing_field",
                    "blank_row",
                    "duplicate_row",
                    "drop_rows",
                    "delimiter",
                    "many_columns",
                    "many_rows",
                ]
            )
        )
        width = len(header)
        if kind == "cell" and rows:
            r = draw(st.integers(0, len(rows) - 1))
            c = draw(st.integers(0, len(rows[r]) - 1)) if rows[r] else 0
            if rows[r]:
                rows[r][c] = draw(odd_cell())
        elif kind == "header_cell" and header:
            header[draw(st.integers(0, width - 1))] = draw(
                st.one_of(odd_cell(), st.sampled_from([h.upper() for h in header]))
            )
        elif kind == "duplicate_header" and header:
            c = draw(st.integers(0, width - 1))
            header.insert(c, header[c])
            for row in rows:
                row.insert(c, draw(st.sampled_from([row[c] if c < len(row) else "", "x"])))
        elif kind == "drop_column" and header:
            c = draw(st.integers(0, width - 1))
            del header[c]
            for row in rows:
                if c < len(row):
                    del row[c]
        elif kind == "extra_column":
            header.append(draw(st.sampled_from(["notes", "victim_name", "", "case_id"])))
            for row in rows:
                row.append(draw(odd_cell()))
        elif kind == "extra_field" and rows:
            rows[draw(st.integers(0, len(rows) - 1))].append(draw(odd_cell()))
        elif kind == "missing_field" and rows:
            row = rows[draw(st.integers(0, len(rows) - 1))]
            if row:
                row.pop()
        elif kind == "blank_row":
            rows.insert(draw(st.integers(0, len(rows))), [])
        elif kind == "duplicate_row" and rows:
            rows.append(list(rows[draw(st.integers(0, len(rows) - 1))]))
        elif kind == "drop_rows":
            rows = rows[: draw(st.integers(0, len(rows)))]
        elif kind == "delimiter":
            delimiter = draw(st.sampled_from([";", "\t", "|", " "]))
        elif kind == "many_columns":
            extra = draw(st.sampled_from([10, 199, 201, 5_000]))
            header += [f"c{i}" for i in range(extra)]
        elif kind == "many_rows" and rows:
            # Some thousands of rows at most: the deadline is for a file of a few hundred KB.
            rows = (rows * draw(st.sampled_from([10, 200])))[:5_000]
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]))
    try:
        writer = csv.writer(
            out,
            delimiter=delimiter,
            quoting=quoting,
            escapechar="\\" if quoting == csv.QUOTE_NONE else None,
            lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
        )
        writer.writerow(header)
        writer.writerows(rows)
        text = out.getvalue()
    except csv.Error:  # QUOTE_NONE cannot write some cells: write them raw instead
        text = "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"
    return draw(mutated_bytes(text))


@st.composite
def mutated_bytes(draw, text: str) -> bytes:
    """``text`` encoded, perhaps oddly (a BOM, UTF-16, Latin-1, a mix), perhaps cut short."""
    encoding = draw(st.sampled_from(("utf-8",) * 6 + ENCODINGS))
    raw = _encode(text, encoding)
    change = draw(
        st.sampled_from(["none", "none", "none", "bom", "mixed", "truncate", "nul", "bytes"])
    )
    if change == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif change == "mixed" and len(text) > 1:
        cut = draw(st.integers(1, len(text) - 1))
        raw = _encode(text[:cut], "utf-8") + _encode(text[cut:] + "é£", "latin-1")
    elif change == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif change == "nul" and raw:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\x00" + raw[at:]
    elif change == "bytes" and raw:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return raw


# --- XLSX ---------------------------------------------------------------------------------------


def odd_xlsx_value() -> st.SearchStrategy[Any]:
    """A cell a workbook may hold: odd text, numbers (huge, not finite), dates at the edges
    of Excel's range, booleans, formulas, nothing."""
    return st.one_of(
        odd_cell(),
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.sampled_from(
            [
                dt.datetime(1900, 1, 1),
                dt.datetime(1899, 12, 31),
                dt.datetime(1, 1, 1),
                dt.datetime(9999, 12, 31, 23, 59, 59),
                dt.date(1677, 9, 21),
                dt.date(2262, 4, 12),
                dt.time(12, 30),
                dt.timedelta(days=3),
                "=1/0",
                "=NOW()",
            ]
        ),
        st.datetimes(min_value=dt.datetime(1, 1, 1)),
    )


@st.composite
def mutated_workbook(draw, header: list[str], rows: list[list[str]]) -> bytes:
    """An XLSX workbook of ``header`` and ``rows`` with odd cells, or its bytes damaged."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    rows = [list(r) for r in rows]
    header = list(header)
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()) and rows:
            r = draw(st.integers(0, len(rows) - 1))
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(odd_xlsx_value())
        else:
            header[draw(st.integers(0, len(header) - 1))] = draw(odd_xlsx_value())
    book = Workbook()
    sheet = book.active
    for r, row in enumerate([header, *rows], start=1):
        for c, value in enumerate(row, start=1):
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            try:
                sheet.cell(r, c, value)
            except (ValueError, TypeError, OverflowError):
                sheet.cell(r, c, str(value))
    out = io.BytesIO()
    try:
        book.save(out)
    except (ValueError, TypeError, OverflowError):
        # openpyxl cannot write some values (a date before year 1 of its epoch): as text
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None and not isinstance(cell.value, str | int | float):
                    cell.value = str(cell.value)
        out = io.BytesIO()
        book.save(out)
    raw = out.getvalue()
    change = draw(st.sampled_from(["none"] * 6 + ["truncate", "flip", "empty_zip", "gzip"]))
    # Places as fractions of the length: a workbook's size varies by a byte or two from run to
    # run (openpyxl stamps the time it was saved), and Hypothesis needs the same draws.
    at = int(draw(st.floats(0, 1)) * (len(raw) - 1))
    if change == "truncate":
        raw = raw[:at]
    elif change == "flip":
        raw = raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :]
    elif change == "empty_zip":
        raw = b"PK\x05\x06" + b"\x00" * 18
    elif change == "gzip":
        raw = gzip.compress(raw)
    return raw


# --- YAML documents -----------------------------------------------------------------------------


def _paths(node: Any, here: tuple = ()) -> list[tuple]:
    """Every path to a value in a document (its mappings' keys and its lists' indices)."""
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, here + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, here + (index,))
    return found


def _parent(document: Any, path: tuple) -> Any:
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


def nearby(value: Any) -> st.SearchStrategy[Any]:
    """A value close to ``value`` that may still be valid: a number scaled, negated or moved
    by one, a text with odd characters around it, a list or mapping half kept."""
    if isinstance(value, bool):
        return st.sampled_from([not value, str(value).lower(), 1])
    if isinstance(value, int | float):
        # An int already scaled past a float's range (a mutation of a mutation) is divided
        # as an int: ``value / 7`` would raise in the generator, not in the reader.
        seventh = value // 7 if isinstance(value, int) and abs(value) > 2**1000 else value / 7
        return st.one_of(
            st.sampled_from([0, -value, value + 1, value - 1, value * 1000, seventh, 10**9]),
            st.integers(-3, 20).map(lambda k: value * 10**k),
        )
    if isinstance(value, str):
        return st.tuples(st.sampled_from(ODD_CELLS[:-2]), st.booleans()).map(
            lambda pair: pair[0] + value if pair[1] else value + pair[0]
        )
    if isinstance(value, list) and value:
        return st.integers(0, len(value)).map(lambda n: copy.deepcopy(value[:n]))
    return odd_value()


@st.composite
def mutated_document(draw, base: Any) -> Any:
    """``base`` (a parsed YAML document) with up to four values replaced by odd or nearby
    values, removed, or added beside, at any depth."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(_paths(document)))
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "odd_key"]))
        if not path:
            if kind == "replace" and draw(st.integers(0, 9)) == 0:
                document = draw(odd_value())
            continue
        parent = _parent(document, path)
        if kind == "replace":
            here = parent[path[-1]]
            parent[path[-1]] = draw(st.one_of(nearby(here), odd_value()))
        elif kind == "delete":
            del parent[path[-1]]
        elif kind in ("add", "odd_key"):
            target = parent[path[-1]]
            if isinstance(target, dict):
                key = (
                    draw(odd_scalar())
                    if kind == "odd_key"
                    # A key beside an existing one (an odd key added earlier may be no text).
                    else f"{draw(st.sampled_from(list(target) or ['x']))}_"
                )
                try:
                    target[key] = draw(odd_value())
                except TypeError:  # an unhashable key
                    pass
            elif isinstance(target, list):
                target.append(copy.deepcopy(target[0]) if target else draw(odd_value()))
    return document


def dump_yaml(document: Any) -> str:
    """A document as YAML text (odd values written as PyYAML writes them)."""
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@st.composite
def mutated_yaml_text(draw, base: Any) -> bytes:
    """YAML bytes: ``base`` mutated (:func:`mutated_document`), and sometimes the text too:
    an anchor, an alias, a tag, a tab, deep nesting, a key given twice, another encoding."""
    text = dump_yaml(draw(mutated_document(base)))
    lines = text.splitlines(keepends=True) or [""]
    change = draw(
        st.sampled_from(
            ["none"] * 8
            + ["anchor", "tag", "python_tag", "tab", "deep_flow", "deep_block", "duplicate"]
            + ["insert_line", "truncate", "multi_document"]
        )
    )
    at = draw(st.integers(0, len(lines)))
    if change == "anchor":
        text = "x: &a [1, 2]\ny: *a\n" + text
    elif change == "tag":
        lines.insert(at, "odd: !!binary aGVsbG8=\n")
        text = "".join(lines)
    elif change == "python_tag":
        lines.insert(at, "odd: !!python/object/apply:os.system ['true']\n")
        text = "".join(lines)
    elif change == "tab":
        lines.insert(at, "\tname: x\n")
        text = "".join(lines)
    elif change == "deep_flow":
        depth = draw(st.sampled_from([60, 1_000, 20_000, 100_000]))
        text = "odd: " + "[" * depth + "]" * depth + "\n" + text
    elif change == "deep_block":
        depth = draw(st.sampled_from([60, 500]))
        text = text + "".join("  " * i + "k:\n" for i in range(depth))
    elif change == "duplicate" and lines:
        lines.insert(at, lines[min(at, len(lines) - 1)])
        text = "".join(lines)
    elif change == "insert_line":
        lines.insert(at, draw(st.text(max_size=30)) + "\n")
        text = "".join(lines)
    elif change == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif change == "multi_document":
        text = text + "---\n" + text
    return draw(mutated_bytes(text))


# --- the check ----------------------------------------------------------------------------------


def check_error(error: FlowcapError) -> None:
    """A clear error: every problem names its file, its message is short enough to read, and
    the error prints."""
    text = str(error)
    assert text.strip(), "an error with no message"
    if isinstance(error, InputError):
        assert error.problems, "an InputError with no problems"
        for problem in error.problems:
            assert isinstance(problem, Problem)
            assert isinstance(problem.file, str) and problem.file.strip(), problem
            assert len(problem.message) <= MAX_MESSAGE_CHARS, problem.message[:200]
            assert problem.row is None or (isinstance(problem.row, int) and problem.row >= 1)
            str(problem)


def _tally(kind: str, started: float) -> None:
    """One line per input in the file ``FUZZ_TALLY`` names, when set: the test, the outcome
    (``clean``, ``error``, ``traceback TYPE``) and the seconds taken, so that a long run's
    figures survive its time limit."""
    path = os.environ.get("FUZZ_TALLY")
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{test}\t{kind}\t{time.perf_counter() - started:.3f}\n")


def outcome(read: Callable[[], Any]) -> tuple[Any, FlowcapError | None]:
    """``(result, None)`` when ``read()`` ends cleanly, ``(None, error)`` for a clear
    :class:`FlowcapError` (checked by :func:`check_error`); any other exception propagates."""
    started = time.perf_counter()
    try:
        result = read()
    except FlowcapError as error:
        _tally("error", started)
        check_error(error)
        event("outcome: clear error")
        return None, error
    except Exception as error:
        _tally(f"traceback {type(error).__name__}", started)
        raise
    _tally("clean", started)
    event("outcome: clean")
    return result, None
