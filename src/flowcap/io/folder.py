"""A service folder: ``service.yaml`` plus the referrals, roster, sessions and waiting tables.

``read_service_folder`` checks everything and raises one :class:`InputError` that lists every
problem in every file (up to a cap per file), so a user fixes a folder in one pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import InputError, Problem, capped
from flowcap.io.service_yaml import check_service_yaml
from flowcap.io.tables import TableCheck, check_rows, parse_dates, parse_numbers, read_text_table
from flowcap.model import Service

#: Table name -> (required columns, optional columns).
TABLES: dict[str, tuple[list[str], list[str]]] = {
    "referrals": (["case_id", "referral_date", "case_type"], ["source"]),
    "waiting": (["case_id", "case_type", "waiting_since"], []),
    "roster": (["date", "resource", "staff"], ["minutes_per_staff"]),
    "sessions": (["date", "case_id", "resource", "minutes"], []),
}
OPTIONAL_TABLES = ("waiting", "roster", "sessions")
MAX_CASE_ID_CHARS = 100
MAX_SOURCE_CHARS = 60


@dataclass
class ServiceFolder:
    """A checked service folder. Case ids are still raw here; the store pseudonymises them.

    Frames (dates are datetime64 at midnight, minutes are floats):

    - ``referrals``: case_id, referral_date, case_type, source
    - ``waiting``: case_id, case_type, waiting_since (may be empty)
    - ``roster``: date, resource, staff, minutes_per_staff (NaN = the resource's default)
    - ``sessions``: date, case_id, resource, minutes (``None`` when no sessions file)
    """

    path: Path
    service: Service
    referrals: pd.DataFrame
    waiting: pd.DataFrame
    roster: pd.DataFrame
    sessions: pd.DataFrame | None
    #: ``{table: (file name, SHA-256)}`` for each data file present, and ``service`` for the YAML.
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def find_table(folder: Path, table: str) -> tuple[Path | None, list[Problem]]:
    """The file holding ``table`` (``NAME.csv`` or ``NAME.xlsx``), or ``None``."""
    found = [
        folder / f"{table}{ext}"
        for ext in (".csv", ".xlsx")
        if (folder / f"{table}{ext}").is_file()
    ]
    if len(found) > 1:
        return None, [
            Problem(found[0].name, f"both {found[0].name} and {found[1].name} exist; keep one")
        ]
    return (found[0] if found else None), []


def file_hashes(folder: str | Path) -> dict[str, tuple[str, str]]:
    """The folder's data files by table: ``{table: (file name, SHA-256)}``; cheap to compute."""
    found = {"service": ("service.yaml", _sha256(Path(folder) / "service.yaml"))}
    for table in TABLES:
        path, _ = find_table(Path(folder), table)
        if path is not None:
            found[table] = (path.name, _sha256(path))
    return found


def read_service_folder(folder: str | Path) -> ServiceFolder:
    """Check every file in a service folder and return the parsed tables.

    Raises
    ------
    InputError
        Listing every problem found, each with its file, row and column.
    """
    folder = Path(folder)
    if not folder.is_dir():
        reason = "is a file, not a service folder" if folder.exists() else "no such folder"
        raise InputError([Problem(str(folder), reason)])
    service, problems = check_service_yaml(folder / "service.yaml")
    if service is None:
        raise InputError(problems)
    notes: list[str] = []
    files = {"service": ("service.yaml", _sha256(folder / "service.yaml"))}
    frames: dict[str, pd.DataFrame | None] = {}
    for table in TABLES:
        path, found_problems = find_table(folder, table)
        problems += found_problems
        if path is None:
            modelled = all(ct.demand is not None for ct in service.case_types.values())
            if table == "referrals" and not found_problems and not modelled:
                problems.append(
                    Problem(
                        "referrals.csv",
                        f"file not found in {folder} (without history, give every case type a "
                        "demand model to simulate)",
                    )
                )
            frames[table] = _empty("referrals") if table == "referrals" and modelled else None
            continue
        check = TableCheck(path.name)
        required, optional = TABLES[table]
        text = read_text_table(path, required, optional, check)
        frames[table] = None if text is None else _PARSERS[table](text, check, service)
        files[table] = (path.name, _sha256(path))
        problems += capped(check.problems, path.name)
        notes += check.notes
    if frames["referrals"] is not None:
        # Run on whatever rows parsed, so every problem comes out in one pass.
        problems += _check_across_tables(frames, files)
    if problems:
        raise InputError(problems)
    return ServiceFolder(
        path=folder,
        service=service,
        referrals=frames["referrals"],
        waiting=frames["waiting"] if frames["waiting"] is not None else _empty("waiting"),
        roster=frames["roster"] if frames["roster"] is not None else _empty("roster"),
        sessions=frames["sessions"],
        files=files,
        notes=notes,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _empty(table: str) -> pd.DataFrame:
    if table == "referrals":
        return pd.DataFrame(
            {
                "case_id": pd.Series(dtype=str),
                "referral_date": pd.Series(dtype="datetime64[ns]"),
                "case_type": pd.Series(dtype=str),
                "source": pd.Series(dtype=str),
            }
        )
    if table == "waiting":
        return pd.DataFrame(
            {
                "case_id": pd.Series(dtype=str),
                "case_type": pd.Series(dtype=str),
                "waiting_since": pd.Series(dtype="datetime64[ns]"),
            }
        )
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "resource": pd.Series(dtype=str),
            "staff": pd.Series(dtype=float),
            "minutes_per_staff": pd.Series(dtype=float),
        }
    )


def _case_ids(frame: pd.DataFrame, check: TableCheck, unique: bool) -> None:
    ids = frame["case_id"]
    check_rows(check, ids == "", "case_id", "missing case id")
    check_rows(
        check,
        ids.str.len() > MAX_CASE_ID_CHARS,
        "case_id",
        f"case id longer than {MAX_CASE_ID_CHARS} characters",
    )
    if unique:
        duplicated = ids.duplicated(keep="first") & (ids != "")
        if duplicated.any():
            first_row = ids.drop_duplicates(keep="first")
            first_row = pd.Series(first_row.index + 2, index=first_row.values)
            for row in duplicated[duplicated].index[:100]:
                check.problems.append(
                    Problem(
                        check.file,
                        f"duplicate case id (first seen in row {first_row[ids.iat[row]]})",
                        int(row) + 2,
                        "case_id",
                    )
                )


def _known(frame: pd.DataFrame, column: str, known: dict, what: str, check: TableCheck) -> None:
    empty = frame[column] == ""
    check_rows(check, empty, column, f"missing {what}")
    unknown = ~frame[column].isin(list(known)) & ~empty
    names = ", ".join(sorted(known))
    check_rows(check, unknown, column, f"unknown {what} (known: {names})", frame[column])


def _parse_referrals(text: pd.DataFrame, check: TableCheck, service: Service) -> pd.DataFrame:
    _case_ids(text, check, unique=True)
    _known(text, "case_type", service.case_types, "case type", check)
    frame = pd.DataFrame(
        {
            "case_id": text["case_id"],
            "referral_date": parse_dates(text, "referral_date", check, service.timezone),
            "case_type": text["case_type"],
            "source": text["source"] if "source" in text else "",
        }
    )
    check_rows(
        check,
        frame["source"].str.len() > MAX_SOURCE_CHARS,
        "source",
        f"source must be a short label (at most {MAX_SOURCE_CHARS} characters), not free text",
    )
    return frame


def _parse_waiting(text: pd.DataFrame, check: TableCheck, service: Service) -> pd.DataFrame:
    _case_ids(text, check, unique=True)
    _known(text, "case_type", service.case_types, "case type", check)
    return pd.DataFrame(
        {
            "case_id": text["case_id"],
            "case_type": text["case_type"],
            "waiting_since": parse_dates(text, "waiting_since", check, service.timezone),
        }
    )


def _parse_roster(text: pd.DataFrame, check: TableCheck, service: Service) -> pd.DataFrame:
    _known(text, "resource", service.resources, "resource", check)
    frame = pd.DataFrame(
        {
            "date": parse_dates(text, "date", check, service.timezone),
            "resource": text["resource"],
            "staff": parse_numbers(text, "staff", check, maximum=10_000),
        }
    )
    if "minutes_per_staff" in text:
        frame["minutes_per_staff"] = parse_numbers(
            text, "minutes_per_staff", check, maximum=1440, required=False
        )
    else:
        frame["minutes_per_staff"] = float("nan")
    duplicated = frame.duplicated(["date", "resource"], keep="first") & frame["date"].notna()
    check_rows(check, duplicated, "date", "a second roster row for the same date and resource")
    return frame


def _parse_sessions(text: pd.DataFrame, check: TableCheck, service: Service) -> pd.DataFrame:
    check_rows(check, text["case_id"] == "", "case_id", "missing case id")
    _known(text, "resource", service.resources, "resource", check)
    return pd.DataFrame(
        {
            "date": parse_dates(text, "date", check, service.timezone),
            "case_id": text["case_id"],
            "resource": text["resource"],
            "minutes": parse_numbers(text, "minutes", check, strictly_positive=True, maximum=1440),
        }
    )


_PARSERS = {
    "referrals": _parse_referrals,
    "waiting": _parse_waiting,
    "roster": _parse_roster,
    "sessions": _parse_sessions,
}


def _check_across_tables(frames: dict, files: dict) -> list[Problem]:
    """Rules across tables: the opening backlog predates referrals; sessions name known cases
    and come no earlier than the case. Case ids are never quoted: messages end up in logs."""
    problems: list[Problem] = []
    referrals = frames["referrals"]
    first_referral = referrals["referral_date"].min()
    waiting = frames["waiting"]
    if waiting is not None and len(waiting) and pd.notna(first_referral):
        name = files["waiting"][0]
        check = TableCheck(name)
        late = waiting["waiting_since"] >= first_referral
        check_rows(
            check,
            late,
            "waiting_since",
            f"on or after the first referral date ({first_referral:%Y-%m-%d}): "
            "this case belongs in referrals, not in the opening backlog",
        )
        in_referrals = referrals.reset_index().drop_duplicates("case_id").set_index("case_id")
        both = waiting["case_id"].isin(in_referrals.index) & (waiting["case_id"] != "")
        rows = np.flatnonzero(both.to_numpy())
        for row in rows[:100]:
            other = int(in_referrals.loc[waiting["case_id"].iat[row], "index"]) + 2
            check.problems.append(
                Problem(
                    name,
                    f"case id is also in referrals (row {other})",
                    int(waiting.index[row]) + 2,
                    "case_id",
                )
            )
        problems += capped(check.problems, name)
    sessions = frames["sessions"]
    if sessions is not None:
        name = files["sessions"][0]
        check = TableCheck(name)
        started = pd.concat(
            [
                referrals.set_index("case_id")["referral_date"],
                waiting.set_index("case_id")["waiting_since"] if waiting is not None else None,
            ]
        )
        started = started[~started.index.duplicated()]
        known = sessions["case_id"].isin(started.index)
        check_rows(
            check,
            ~known & (sessions["case_id"] != ""),
            "case_id",
            "case id is in neither referrals nor waiting",
        )
        case_start = sessions["case_id"].map(started)
        check_rows(
            check,
            known & (sessions["date"] < case_start),
            "date",
            "session is dated before its case was referred",
        )
        problems += capped(check.problems, name)
    return problems
