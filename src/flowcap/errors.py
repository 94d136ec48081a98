"""Errors a user can act on: each names the file, the row and the column at fault."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: How many problems one file may report before the rest are summarised in one line.
MAX_PROBLEMS_PER_FILE = 50

#: The most characters of a value a message quotes (a cell, a name): longer ones are cut, so
#: a ten-million-character cell is not echoed whole.
MAX_QUOTED_CHARS = 40

#: A value quoted as Python's ``repr`` does (``'...'`` or ``"..."``), not inside a word.
_QUOTED = re.compile(r"""(?<![\w'"])(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")


def shorten_quotes(message: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``message`` with every quoted value longer than ``limit`` characters cut to its first
    ``limit``, followed by its length: ``'9999…' (1,000,000 characters)``."""

    def cut(match: re.Match) -> str:
        quoted = match.group()
        body = quoted[1:-1]
        if len(body) <= limit:
            return quoted
        return f"{quoted[0]}{body[:limit]}…{quoted[0]} ({len(body):,} characters)"

    return _QUOTED.sub(cut, message)


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` cut to its first ``limit`` characters, with its length, when it is longer."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input file.

    ``row`` is the line a spreadsheet user would look at: in a CSV the header is row 1 and
    the first record row 2; in YAML it is the line of the offending key.
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        # Messages quote cells and names: each quoted value cut to a readable length here,
        # once for every reader. The column is cut only when printed: it is also the key the
        # web app's forms place the problem by (a setting's path).
        object.__setattr__(self, "message", shorten_quotes(self.message))

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {shorten(self.column)}")
        return f"{', '.join(where)}: {self.message}"


class FlowcapError(Exception):
    """Base of every error flowcap raises on purpose; the CLI prints it without a traceback."""


class InputError(FlowcapError):
    """A service folder or file that cannot be used as it is; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(FlowcapError):
    """The store refused an operation (wrong pseudonymisation key, unknown service, ...)."""


def capped(problems: list[Problem], file: str, limit: int = MAX_PROBLEMS_PER_FILE) -> list[Problem]:
    """Keep the first ``limit`` problems of one file and summarise the rest in one line."""
    if len(problems) <= limit:
        return problems
    extra = len(problems) - limit
    return problems[:limit] + [Problem(file, f"... and {extra} more problems in this file")]
