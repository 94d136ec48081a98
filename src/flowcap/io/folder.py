"""A service folder: ``service.yaml`` plus the referrals, roster, sessions and waiting tables.

``read_service_folder`` checks everything and raises one :class:`InputError` that lists every
problem in every file (up to a cap per file), so a user fixes a folder in one pass.

**A service from its event log.** When service.yaml has ``event_log:``, the log (a case
system's export: XES, CSV or XLSX, read by :func:`flowcap.io.eventlog.read_event_log`) takes
the place of ``referrals.csv`` and, when ``event_log.activities`` maps any activity, of
``sessions.csv``:

- each case is one referral, dated the local date (in the log's time zone) of its first
  event; its case type is the log's ``case_type`` column (the value on its earliest event
  that has one; a value that is not a case type is an error naming the row), else
  ``default_case_type``, else the service's only case type;
- each event of a mapped activity is one session on its local date, at the activity's
  resource, for its minutes. Where the log records lifecycle transitions only ``complete``
  events (and events with none) count, so a start/complete pair is one session;
- demand then comes from the case types' steps (referral date + step offsets) and capacity
  from the resources and ``roster.csv``, as for any folder; ``waiting.csv`` and
  ``roster.csv`` are read as usual.

A folder with both ``event_log:`` and ``referrals.csv`` (or, when activities are mapped,
``sessions.csv``) is refused: two sources of the same table. Log activities that
``activities`` does not map are not work: they are listed in :attr:`ServiceFolder.notes`
(with event counts) so that a user sees what was left out. An ``activities`` key that never
occurs in the log is an error (a typo would otherwise silently drop that work). The two
tables are recorded in the store under the log's file name with a hash of the log's bytes
*and* of what decides its reading (the ``event_log:`` section, the service's time zone and
case types), so a changed log or mapping is imported again and an unchanged one is not.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import InputError, Problem
from flowcap.io.eventlog import EventLog, read_event_log
from flowcap.io.service_yaml import check_service_yaml, read_service_yaml
from flowcap.io.source import read_bytes, sha256_of
from flowcap.io.tables import (
    LISTED_PER_PROBLEM,
    TableCheck,
    capped_problems,
    check_rows,
    parse_dates,
    parse_numbers,
    read_text_table,
    text_lengths,
)
from flowcap.model import Scenario, Service
from flowcap.model.tables import DATE_COLUMNS, Contents, ServiceTables, describe_contents

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
#: Days with no dated row in any table past which the rows on the far side, when they are
#: few (at most :data:`DISTANT_SHARE` of the dated rows), are refused as mistyped dates.
DISTANT_GAP_DAYS = 730
DISTANT_SHARE = 0.05


@dataclass
class ServiceFolder(ServiceTables):
    """A checked service folder: its tables (case ids still raw here; the store pseudonymises
    them, see :class:`~flowcap.model.tables.ServiceTables`) and its settings.

    ``settings`` maps each settings kind the folder has (``service``, ``scenarios``,
    ``school_holidays``; see :data:`flowcap.store.schema.SETTINGS`) to ``(file name, bytes)``,
    as the store keeps them; ``scenarios`` and ``school_holidays`` are those files parsed
    (empty when absent); ``event_log`` is the log read (raw case ids) when the service comes
    from one.
    """

    path: Path
    service: Service
    #: ``{table: (file name, SHA-256)}`` for each data file present, and ``service``,
    #: ``scenarios``, ``school_holidays`` for the settings files present; tables built from
    #: the event log have the log's name and :func:`event_log_hash`.
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    scenarios: tuple[Scenario, ...] = ()
    school_holidays: pd.DataFrame | None = None
    event_log: EventLog | None = None

    def contents(self) -> Contents:
        """What the folder holds, file by file (:func:`describe_contents`): a table built from
        the event log is named ``LOG (table)``, the scenarios file ``FILE (options)``."""
        from_log = log_tables(self.service)
        labels = {
            name: f"{file} ({name})" if name in from_log else file
            for name, (file, _) in self.files.items()
        }
        if "scenarios" in labels:
            labels["scenarios"] = f"{labels['scenarios']} (options)"
        options = len(self.scenarios) if "scenarios" in self.files else None
        return describe_contents(self, self.school_holidays, options, labels)


#: Settings files of a folder besides service.yaml: kind -> table name for :func:`find_table`
#: (school holidays may be CSV or XLSX) or file name.
SETTINGS_FILES = {"scenarios": "scenarios.yaml", "school_holidays": "school_holidays"}


def settings_file(folder: Path, kind: str) -> tuple[Path | None, list[Problem]]:
    """The folder's file for a settings kind, or ``None`` when it has none."""
    name = SETTINGS_FILES[kind]
    if name.endswith(".yaml"):
        path = folder / name
        return (path if path.is_file() else None), []
    return find_table(folder, name)


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


def file_hashes(folder: str | Path, service: Service | None = None) -> dict[str, tuple[str, str]]:
    """The folder's files by table or settings kind: ``{name: (file name, SHA-256)}``.

    Tables that come from the event log get the log's name and :func:`event_log_hash`.
    ``service`` is the folder's checked service.yaml (read here when not given).
    """
    folder = Path(folder)
    found = {"service": ("service.yaml", _sha256(folder / "service.yaml"))}
    if service is None:
        service = read_service_yaml(folder / "service.yaml")
    from_log = log_tables(service)
    for table in TABLES:
        path, _ = find_table(folder, table)
        if path is not None:
            # A table file beside the log is refused on reading; its own hash never matches
            # the log's, so the store is never taken as current while it is there.
            found[table] = (path.name, _sha256(path))
        elif table in from_log:
            found[table] = event_log_hash(folder, service)
    if from_log:
        found["events"] = event_log_hash(folder, service)
    for kind in SETTINGS_FILES:
        path, _ = settings_file(folder, kind)
        if path is not None:
            found[kind] = (path.name, _sha256(path))
    return found


def log_tables(service: Service) -> tuple[str, ...]:
    """The tables the service's event log supplies: referrals, plus sessions when it maps
    activities; none without ``event_log:``."""
    if service.event_log is None:
        return ()
    return ("referrals", "sessions") if service.event_log.activities else ("referrals",)


def event_log_hash(folder: str | Path, service: Service) -> tuple[str, str]:
    """``(log file name, SHA-256)`` of the log's bytes and of everything that decides how it
    becomes referrals and sessions: the ``event_log:`` section, the service's time zone (the
    log's by default) and its case types (a log without case types takes the only one)."""
    config = service.event_log
    path = config.path_in(Path(folder))
    settings = {
        "event_log": config.model_dump(mode="json"),
        "timezone": service.timezone,
        "case_types": sorted(service.case_types),
    }
    digest = hashlib.sha256(_sha256(path).encode() if path.is_file() else b"missing")
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return path.name[:200], digest.hexdigest()


def not_a_folder(path: Path, by_name: bool = True) -> InputError:
    """The error for a service folder that is not one, with a hint for a stored service where
    the command could open one by name (``by_name``)."""
    if path.exists():
        return InputError([Problem(str(path), "is a file, not a service folder")])
    hint = " (a service in the store is opened by its name: --service NAME)" if by_name else ""
    return InputError([Problem(str(path), f"no such folder{hint}")])


def read_service_folder(folder: str | Path, service: Service | None = None) -> ServiceFolder:
    """Check every file in a service folder and return the parsed tables and settings.

    ``service`` is the folder's service.yaml when the caller has already read it (so it is
    not parsed twice). ``scenarios.yaml`` and ``school_holidays.csv`` are checked too.

    Raises
    ------
    InputError
        Listing every problem found, each with its file, row and column.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise not_a_folder(folder)
    problems: list[Problem] = []
    if service is None:
        service, problems = check_service_yaml(folder / "service.yaml")
        if service is None:
            raise InputError(problems)
    notes: list[str] = []
    files = {"service": ("service.yaml", _sha256(folder / "service.yaml"))}
    settings = {"service": ("service.yaml", read_bytes(folder / "service.yaml"))}
    frames: dict[str, pd.DataFrame | None] = {}
    from_log = log_tables(service)
    for table in TABLES:
        path, found_problems = find_table(folder, table)
        problems += found_problems
        if table in from_log:
            frames[table] = None
            if path is not None:
                problems.append(
                    Problem(
                        path.name,
                        f"service.yaml has event_log: the {table} come from "
                        f"{service.event_log.file}; remove {path.name} or the event_log section",
                    )
                )
            continue
        if path is None:
            # Without history a folder can still be simulated: the daily model from every
            # case type's demand model, the pathway from its declared arrivals.
            modelled = all(ct.demand is not None for ct in service.case_types.values()) or (
                service.pathway is not None and service.pathway.arrivals is not None
            )
            if table == "referrals" and not found_problems and not modelled:
                problems.append(
                    Problem(
                        "referrals.csv",
                        f"file not found in {folder} (without history, give every case type a "
                        "demand model to simulate, or pathway.arrivals for flowcap des)",
                    )
                )
            frames[table] = _empty("referrals") if table == "referrals" and modelled else None
            continue
        check = TableCheck(path.name)
        required, optional = TABLES[table]
        text = read_text_table(path, required, optional, check)
        frames[table] = None if text is None else _PARSERS[table](text, check, service)
        files[table] = (path.name, _sha256(path))
        problems += check.capped()
        notes += check.notes
    event_log = None
    if from_log:
        tables, log_problems, log_notes, event_log = tables_from_event_log(folder, service)
        problems += log_problems
        notes += log_notes
        if tables is not None:
            source = event_log_hash(folder, service)
            for table in (*from_log, "events"):
                files[table] = source
            for table in from_log:
                frames[table] = tables[table]
    if frames["referrals"] is not None:
        # Run on whatever rows parsed, so every problem comes out in one pass.
        problems += _check_across_tables(frames, files, service)
    parsed: dict = {}
    for kind in SETTINGS_FILES:
        path, found_problems = settings_file(folder, kind)
        problems += found_problems
        if path is None:
            continue
        raw = read_bytes(path)
        settings[kind] = (path.name, raw)
        files[kind] = (path.name, _sha256(path))
        try:
            parsed[kind] = parse_settings(kind, path.name, raw, service)
        except InputError as error:
            problems += error.problems
    if problems:
        raise InputError(problems)
    return ServiceFolder(
        referrals=frames["referrals"],
        waiting=frames["waiting"] if frames["waiting"] is not None else _empty("waiting"),
        roster=frames["roster"] if frames["roster"] is not None else _empty("roster"),
        sessions=frames["sessions"],
        path=folder,
        service=service,
        files=files,
        notes=notes,
        settings=settings,
        scenarios=parsed.get("scenarios", ()),
        school_holidays=parsed.get("school_holidays"),
        event_log=event_log,
    )


def parse_settings(kind: str, file_name: str, raw: bytes, service: Service):
    """A settings file's content parsed: the options of ``scenarios`` (in file order), or the
    ``school_holidays`` frame; raises :class:`InputError` naming the file's problems."""
    from flowcap.io.scenarios_yaml import parse_scenarios_bytes
    from flowcap.io.school_holidays import parse_school_holidays

    if kind == "scenarios":
        return parse_scenarios_bytes(raw, service, file=file_name)
    if kind == "school_holidays":
        return parse_school_holidays(Path(file_name), service.timezone, raw)
    raise ValueError(f"unknown settings kind {kind!r}")


def tables_from_event_log(
    folder: str | Path, service: Service
) -> tuple[dict[str, pd.DataFrame] | None, list[Problem], list[str], EventLog | None]:
    """Referrals and sessions from the service's event log (see the module docstring).

    Returns ``(tables, problems, notes, log)``: ``tables`` maps ``referrals`` (and
    ``sessions`` when activities are mapped) to frames shaped as :class:`ServiceFolder`'s,
    with raw case ids (the store pseudonymises them); ``None`` when the log cannot be read at
    all; ``log`` the log as read.
    """
    config = service.event_log
    try:
        log = read_event_log(
            config.path_in(Path(folder)), config, service_timezone=service.timezone
        )
    except InputError as error:
        return None, error.problems, [], None
    events = log.events
    codes = events["case"].cat.codes.to_numpy()
    case_ids = np.asarray(events["case"].cat.categories, dtype=object)
    unlisted = [0]  # problems found past the first LISTED_PER_PROBLEM of a kind
    problems = _long_case_ids(log, codes, case_ids, config.case_id, unlisted)
    problems += _long_values(log, config, unlisted)
    problems += _unused_activities(log, service)
    # Each case's first event (ties: file order) dates its referral.
    instants = events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    by_case = np.lexsort(
        (events["order"].to_numpy(), instants.to_numpy(dtype="datetime64[ns]"), codes)
    )
    starts = by_case[np.r_[True, codes[by_case][1:] != codes[by_case][:-1]]]
    case_types, type_problems, notes = _case_types(log, service, by_case, len(case_ids))
    problems += type_problems
    tables = {
        "referrals": pd.DataFrame(
            {
                "case_id": pd.Series(case_ids[codes[starts]], dtype=object),
                "referral_date": _midnights(events["local_date"].iloc[starts]),
                "case_type": pd.Series(case_types, dtype=object),
                "source": "",
            }
        )
    }
    if config.activities:
        sessions, session_notes = _log_sessions(log, service)
        tables["sessions"] = sessions
        notes += session_notes
    else:
        notes.append(
            f"{log.source}: event_log maps no activities, so the log gives referrals only; "
            "activity is modelled from capacity unless sessions.csv records it"
        )
    return tables, capped_problems(problems, log.source, unlisted[0]), notes, log


def _midnights(dates: pd.Series) -> pd.Series:
    return pd.Series(dates.to_numpy().astype("datetime64[ns]"))


def _long_case_ids(
    log: EventLog, codes: np.ndarray, case_ids: np.ndarray, column: str, unlisted: list[int]
) -> list[Problem]:
    """Case ids over :data:`MAX_CASE_ID_CHARS`, each at its first row (ids are not quoted);
    those past the first hundred are counted in ``unlisted[0]``."""
    lengths = np.fromiter((len(c) for c in case_ids), dtype=np.int64, count=len(case_ids))
    long = np.flatnonzero(lengths > MAX_CASE_ID_CHARS)
    if not len(long):
        return []
    unlisted[0] += max(len(long) - LISTED_PER_PROBLEM, 0)
    first = pd.Series(np.arange(len(codes))).groupby(codes).min()
    return [
        Problem(
            log.source,
            f"case id longer than {MAX_CASE_ID_CHARS} characters",
            log.row_of(int(first[code])),
            column if log.rows is not None else "concept:name",
        )
        for code in long[:LISTED_PER_PROBLEM]
    ]


#: The longest activity name and lifecycle value stored with a log's events: names of steps
#: and transitions, never notes (a longer value is most likely free text in the wrong column).
MAX_ACTIVITY_CHARS = 200
MAX_LIFECYCLE_CHARS = 50


def _long_values(log: EventLog, config, unlisted: list[int]) -> list[Problem]:
    """Activities and lifecycle values too long to be a step's name, each at its first row;
    those past the first hundred of a column are counted in ``unlisted[0]``."""
    problems = []
    events = log.events
    for column, limit, named in (
        ("activity", MAX_ACTIVITY_CHARS, config.activity),
        ("lifecycle", MAX_LIFECYCLE_CHARS, config.lifecycle or "lifecycle:transition"),
    ):
        values = events[column].astype(str)
        long = np.flatnonzero(values.str.len().to_numpy() > limit)
        seen = set()
        for position in long:
            value = values.iat[position]
            if value in seen:
                continue
            seen.add(value)
            if len(seen) > LISTED_PER_PROBLEM:
                unlisted[0] += values.iloc[long].nunique() - LISTED_PER_PROBLEM
                break
            problems.append(
                Problem(
                    log.source,
                    f"{column} longer than {limit} characters (a step's name, not a note)",
                    log.row_of(int(position)),
                    named if log.rows is not None else column,
                )
            )
    return problems


def _unused_activities(log: EventLog, service: Service) -> list[Problem]:
    """An ``activities`` key that no event has: most likely a typo, so an error with a hint."""
    present = set(log.events["activity"].cat.categories)
    folded = {name.casefold(): name for name in present}
    problems = []
    for name in service.event_log.activities:
        if name in present:
            continue
        guess = folded.get(name.casefold()) or next(
            iter(difflib.get_close_matches(name, sorted(present), n=1, cutoff=0.6)), None
        )
        hint = (
            f"did you mean {guess!r}?"
            if guess
            else "its activities are: "
            + ", ".join(repr(a) for a in log.activities()[:20])
            + (" ..." if len(present) > 20 else "")
        )
        problems.append(
            Problem(
                "service.yaml",
                f"event_log.activities: {name!r} never occurs in {log.source} ({hint})",
                None,
                "event_log",
            )
        )
    return problems


def _case_types(
    log: EventLog, service: Service, by_case: np.ndarray, n_cases: int
) -> tuple[np.ndarray, list[Problem], list[str]]:
    """Each case's type: the log's value on its earliest event that has one, else the
    default (``default_case_type``, or the service's only case type)."""
    config = service.event_log
    events = log.events
    given = events["case_type"].to_numpy(dtype=object)
    column = config.case_type
    problems: list[Problem] = []
    notes: list[str] = []
    known = set(service.case_types)
    unknown = pd.Series(given)[(given != "") & ~np.isin(given, list(known))]
    for value, positions in unknown.groupby(unknown, sort=True).groups.items():
        problems.append(
            Problem(
                log.source,
                f"unknown case type {value!r} on {len(positions):,} event(s), first here "
                f"(known: {', '.join(sorted(known))})",
                log.row_of(int(min(positions))),
                column,
            )
        )
    default = config.default_case_type
    if default is None and len(service.case_types) == 1:
        default = next(iter(service.case_types))
    codes = events["case"].cat.codes.to_numpy()
    ordered = by_case[given[by_case] != ""]
    types = np.full(n_cases, default or "", dtype=object)
    if len(ordered):
        # ``ordered`` runs by case, then time: a case's first entry is its earliest value.
        _, first = np.unique(codes[ordered], return_index=True)
        types[codes[ordered[first]]] = given[ordered[first]]
        several = pd.Series(given[ordered]).groupby(codes[ordered]).nunique()
        if (several > 1).any():
            notes.append(
                f"{log.source}: {int((several > 1).sum()):,} case(s) change case type part-way; "
                "each takes the case type of its earliest event that has one"
            )
    untyped = np.flatnonzero(types == "")
    if len(untyped):
        first = _first_event_of(codes, untyped[0])
        problems.append(
            Problem(
                log.source,
                f"{len(untyped):,} case(s) have no case type, first here: give "
                "event_log.default_case_type in service.yaml",
                log.row_of(first),
                column,
            )
        )
    return types, problems, notes


def _first_event_of(codes: np.ndarray, code: int) -> int:
    return int(np.flatnonzero(codes == code)[0])


def _log_sessions(log: EventLog, service: Service) -> tuple[pd.DataFrame, list[str]]:
    """One session per event of a mapped activity (``complete`` events only where the log has
    lifecycle transitions), and notes on what was left out."""
    activities = service.event_log.activities
    events = log.events
    activity = events["activity"]
    mapped = activity.isin(list(activities)).to_numpy()
    lifecycle = events["lifecycle"].astype(str).str.strip().str.lower()
    complete = lifecycle.isin(["", "complete"]).to_numpy()
    counted = mapped & complete
    notes = []
    skipped = int((mapped & ~complete).sum())
    if skipped:
        kinds = lifecycle[mapped & ~complete].value_counts()
        detail = ", ".join(f"{n:,} {kind}" for kind, n in kinds.items())
        notes.append(
            f"{log.source}: only complete events count as sessions; {skipped:,} other "
            f"lifecycle events of mapped activities left out ({detail})"
        )
    unmapped = activity[~mapped].value_counts()
    unmapped = (
        unmapped[unmapped > 0].sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    )
    if len(unmapped):
        shown = ", ".join(
            f"{name!r} ({n:,} event{'' if n == 1 else 's'})"
            for name, n in unmapped.head(10).items()
        )
        more = f" and {len(unmapped) - 10} more" if len(unmapped) > 10 else ""
        notes.append(
            f"{log.source}: {len(unmapped)} activit{'y' if len(unmapped) == 1 else 'ies'} not "
            f"in event_log.activities give no sessions (not counted as work): {shown}{more}"
        )
    work = events[counted]
    names = work["activity"].astype(str)
    sessions = pd.DataFrame(
        {
            "date": _midnights(work["local_date"]),
            "case_id": pd.Series(work["case"].astype(str).to_numpy(dtype=object), dtype=object),
            "resource": pd.Series(
                names.map({a: w.resource for a, w in activities.items()}).to_numpy(dtype=object),
                dtype=object,
            ),
            "minutes": names.map({a: float(w.minutes) for a, w in activities.items()}).to_numpy(
                dtype=float
            ),
        }
    )
    return sessions, notes


def _sha256(path: Path) -> str:
    return sha256_of(path)


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
        pd.Series(text_lengths(ids) > MAX_CASE_ID_CHARS, index=ids.index),
        "case_id",
        f"case id longer than {MAX_CASE_ID_CHARS} characters",
    )
    if unique:
        duplicated = ids.duplicated(keep="first") & (ids != "")
        if duplicated.any():
            first_row = ids.drop_duplicates(keep="first")
            first_row = pd.Series(first_row.index + 2, index=first_row.values)
            check.unlisted += max(int(duplicated.sum()) - LISTED_PER_PROBLEM, 0)
            # The index holds each row's place in the file (blank lines dropped), not its
            # position in ``ids``.
            for row, case_id in ids[duplicated].iloc[:LISTED_PER_PROBLEM].items():
                check.problems.append(
                    Problem(
                        check.file,
                        f"duplicate case id (first seen in row {first_row[case_id]})",
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
        pd.Series(text_lengths(frame["source"]) > MAX_SOURCE_CHARS, index=frame.index),
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


def _check_across_tables(
    frames: dict, files: dict, service: Service | None = None
) -> list[Problem]:
    """Rules across tables: no date years apart from the rest (:func:`distant_dates`, unless
    ``service`` allows them); the opening backlog predates referrals; sessions name known cases
    and come no earlier than the case. Case ids are never quoted: messages end up in logs."""
    if service is None or not service.allow_distant_dates:
        distant = distant_dates(frames, files, log_tables(service) if service else ())
        if distant:  # the rules below would only echo the mistyped date
            return distant
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
        check.unlisted += max(len(rows) - LISTED_PER_PROBLEM, 0)
        for row in rows[:LISTED_PER_PROBLEM]:
            other = int(in_referrals.loc[waiting["case_id"].iat[row], "index"]) + 2
            check.problems.append(
                Problem(
                    name,
                    f"case id is also in referrals (row {other})",
                    int(waiting.index[row]) + 2,
                    "case_id",
                )
            )
        problems += check.capped()
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
        problems += check.capped()
    return problems


def distant_dates(frames: dict, files: dict, from_log: tuple[str, ...] = ()) -> list[Problem]:
    """Rows dated years apart from the rest of the data, each a problem at its file, row and
    date column.

    Every table's dates are pooled; wherever :data:`DISTANT_GAP_DAYS` pass with no dated row
    at all, the data split in two. The rows of a part holding at most :data:`DISTANT_SHARE`
    of the dated rows (and fewer than the largest part) are reported: one referral dated
    1900-01-01 (a spreadsheet's zero date) or 1970 (a two-digit year) among 2025's would
    stretch the measures over a century and divide each day's demand by thousands. Tables
    in ``from_log`` came from the event log: their rows are not the file's, so none is named.
    """
    tables = [
        (table, column, frames[table] if table != "roster" else _roster_rows(frames[table]))
        for table, column in DATE_COLUMNS.items()
        if frames.get(table) is not None
    ]
    days = {
        table: frame[column].to_numpy(dtype="datetime64[D]").astype(np.int64)
        for table, column, frame in tables
        if len(frame)
    }
    if not days:
        return []
    pooled = np.concatenate(list(days.values()))
    dated = pooled[pooled != np.datetime64("NaT").astype(np.int64)]
    distinct, counts = np.unique(dated, return_counts=True)
    cuts = np.flatnonzero(np.diff(distinct) > DISTANT_GAP_DAYS)
    if not len(cuts):
        return []
    firsts, lasts = np.r_[0, cuts + 1], np.r_[cuts, len(distinct) - 1]
    sizes = np.array([counts[a : b + 1].sum() for a, b in zip(firsts, lasts, strict=True)])
    largest = int(np.argmax(sizes))
    far = (sizes <= DISTANT_SHARE * len(dated)) & (np.arange(len(sizes)) != largest)
    if not far.any():
        return []
    kept = ~far
    low, high = distinct[firsts[kept].min()], distinct[lasts[kept].max()]
    span = (distinct[-1] - distinct[0]) / 365.25
    problems: list[Problem] = []
    for table, column, frame in tables:
        if table not in days:
            continue
        values = days[table]
        odd = np.zeros(len(values), dtype=bool)
        for part in np.flatnonzero(far):
            odd |= (values >= distinct[firsts[part]]) & (values <= distinct[lasts[part]])
        if not odd.any():
            continue
        name = files[table][0]
        check = TableCheck(name)
        positions = np.flatnonzero(odd)
        check.unlisted += max(len(positions) - LISTED_PER_PROBLEM, 0)
        for position in positions[:LISTED_PER_PROBLEM]:
            day = values[position]
            years = (low - day if day < low else day - high) / 365.25
            side = "before" if day < low else "after"
            check.problems.append(
                Problem(
                    name,
                    f"{_iso(day)} is {years:,.0f} years {side} the rest of the data "
                    f"({_iso(low)} to {_iso(high)}): a spreadsheet's zero date, or a "
                    f"two-digit year read wrongly? The measures would stretch over "
                    f"{span:,.0f} years. Correct it, or set allow_distant_dates: true in "
                    "service.yaml if it is right",
                    None if table in from_log else int(frame.index[position]) + 2,
                    column,
                )
            )
        problems += check.capped()
    return problems


def _roster_rows(roster) -> pd.DataFrame:
    """A roster's rows, whether given as a frame or a :class:`~flowcap.model.roster.Roster`."""
    return roster if isinstance(roster, pd.DataFrame) else roster.rows


def _iso(day: np.int64) -> str:
    return str(np.datetime64(int(day), "D"))
