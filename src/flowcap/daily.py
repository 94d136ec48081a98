"""Daily figures: a day's counts entered by hand, for a service without a case system, stored
as the rows an import would store so that the measures read them like any other data.

A day's figures are

- **referrals by case type**: ``n`` referrals of a case type on a day become ``n`` rows of
  the referrals table, dated that day, with the source :data:`SOURCE`. Their case keys are
  pseudonyms (the store's key) of ``daily figures|SERVICE|DAY|CASE TYPE|INDEX`` for index
  0 to n - 1, so entering a day again gives the same cases: raising a count adds cases,
  lowering it removes the last ones;
- **staff on duty per resource**: a roster row for the day and resource (``staff``;
  ``minutes_per_staff`` blank, so the resource's default minutes apply, or kept as stored when
  the row came from a roster file). No figure (``None``, an empty box) means no roster row:
  the resource's default staffing applies, as for a day a roster file does not list;
- **sessions delivered per resource**: ``count`` sessions taking ``minutes`` in all (split
  evenly), or ``minutes`` alone (the count is then the minutes over the minutes a piece of work
  at the resource plans, at least 1), or ``count`` alone (each session takes the minutes the
  work it completes plans). They become rows of the sessions table.

**How a session finds its case.** The store's sessions name a case, and the measures complete
with the k-th session of a case at a resource its k-th piece of work due there (sessions of
an unknown case are not counted at all). A session entered here is given to a case entered as
daily figures (never to an imported case: their rows must stay as their files had them), and
to the one the measures would have completed first: the figure-cases referred on or before
the day, their pieces of work at the resource not yet completed by their sessions before the
day, due by the day first (priority first, then oldest due, then oldest referral), then those
falling due after it (soonest first: a session before the work falls due completes it on its
due day). Sessions beyond every piece of work go to the latest of those cases (they count as
activity and complete nothing). Entering sessions where no figure-case has work at the
resource is refused: enter the referrals first. Entering a day again re-assigns only that
day's sessions; the sessions of later days keep their cases.

**Recorded or modelled activity.** A service with no sessions stored has its activity
modelled from capacity. The first sessions stored (by file or by daily figures) switch the
whole service to recorded activity: from then on a day without sessions shows no activity.
Enter sessions every day, or never.

**Only recent days** may be entered or changed: today and the :data:`WINDOW_DAYS` - 1 days
before it, in the service's time zone; never a day ahead. Each save is one transaction, and
each table it writes is recorded in the imports table (file name ``daily figures DAY``) as an
import is, so the measures cache sees the change. Importing or uploading a table later
replaces it as a whole, daily figures included, as it replaces any earlier import. A service
whose referrals come from its event log takes no daily figures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select

from flowcap.errors import InputError, Problem
from flowcap.io.folder import log_tables
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.io.service_yaml import read_service_yaml
from flowcap.measures.work import due_work
from flowcap.model import Service
from flowcap.store import Store, default_database_url, schema
from flowcap.store.repository import ABSENT, bulk_insert

#: Days that may be entered or changed: today and the days before it, this many in all.
WINDOW_DAYS = 14
#: The source of the referrals entered as daily figures.
SOURCE = "daily figures"
#: The imports table's name for a save of daily figures (besides each table it writes).
IMPORT_TABLE = "daily"
#: The most of each figure on one day.
MAX_REFERRALS = 1_000
MAX_STAFF = 10_000
MAX_SESSIONS = 5_000
MAX_SESSION_MINUTES = 1_440
#: The file everything entered here is named by in problems.
FILE = "daily figures"


@dataclass(frozen=True)
class Sessions:
    """Sessions delivered at one resource on one day: how many and their minutes in all."""

    count: int
    minutes: float

    def as_json(self) -> dict:
        minutes = int(self.minutes) if float(self.minutes).is_integer() else self.minutes
        return {"count": self.count, "minutes": minutes}


@dataclass(frozen=True)
class DayFigures:
    """One day's figures as the store holds them: referrals per case type entered as daily
    figures, staff on duty per resource (``None``: no roster row, the default applies),
    sessions per resource of the figure-cases; ``entered``: a save of daily figures was made
    for the day (the roster may hold the day from a file too)."""

    service: str
    day: date
    referrals: dict[str, int]
    staff: dict[str, float | None]
    sessions: dict[str, Sessions]
    entered: bool = False

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "date": self.day.isoformat(),
            "entered": self.entered,
            "referrals": dict(self.referrals),
            "staff": {
                r: (int(s) if s is not None and float(s).is_integer() else s)
                for r, s in self.staff.items()
            },
            "sessions": {r: s.as_json() for r, s in self.sessions.items()},
        }


@dataclass(frozen=True)
class Entry:
    """A day's figures as entered, checked: ``sessions`` maps a resource to ``(count,
    minutes)``, either of which may be ``None`` (see the module's docstring)."""

    day: date
    referrals: dict[str, int]
    staff: dict[str, int | None]
    sessions: dict[str, tuple[int | None, int | None]]


@dataclass(frozen=True)
class DaySaved:
    """What a save stored (``figures``, read back), what it changed (``changes``: one line
    per figure changed, counts only) and the sessions of later days it removed because their
    case was removed with a lowered referral count."""

    figures: DayFigures
    changes: tuple[str, ...]
    removed_later_sessions: int = 0

    def audit_detail(self) -> str:
        """For the audit log: the day and what changed, as counts (never a case key)."""
        text = f"{self.figures.day.isoformat()}: " + ("; ".join(self.changes) or "no change")
        if self.removed_later_sessions:
            text += (
                f"; {self.removed_later_sessions} session(s) of later days removed with their cases"
            )
        return text[:1000]

    def as_json(self) -> dict:
        return self.figures.as_json() | {
            "changes": list(self.changes),
            "removed_later_sessions": self.removed_later_sessions,
        }


# --- the window ------------------------------------------------------------------------------


def service_today(service: Service, now: datetime | None = None) -> date:
    """Today in the service's time zone."""
    zone = ZoneInfo(service.timezone)
    return (now.astimezone(zone) if now is not None else datetime.now(zone)).date()


def window(today: date) -> list[date]:
    """The days that may be entered on ``today``, newest first."""
    return [today - timedelta(days=n) for n in range(WINDOW_DAYS)]


# --- checking what was entered ---------------------------------------------------------------


def _whole(value, where: str, maximum: int, problems: list[Problem], blank=0):
    """A whole number from 0 to ``maximum`` (a JSON number or a form's text); ``blank`` for
    an empty box or ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return blank
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None or number < 0:
        problems.append(Problem(FILE, "must be a whole number, 0 or more", None, where))
        return blank
    if number > maximum:
        problems.append(Problem(FILE, f"must be at most {maximum:,}", None, where))
        return blank
    return number


def check_entry(service: Service, raw: dict, today: date) -> Entry:
    """Check a day's figures as sent (the API's JSON, or the form's fields gathered in the
    same shape: ``{"date", "referrals": {case type: n}, "staff": {resource: n},
    "sessions": {resource: {"count": n, "minutes": m}}}``) with the rules of an import: case
    types and resources known, whole numbers from 0, limits, and the day within the window.

    Raises
    ------
    InputError
        Each problem with its field as the column: ``date``, ``referrals.CASE_TYPE``,
        ``staff.RESOURCE``, ``sessions.RESOURCE.count``, ``sessions.RESOURCE.minutes``.
    """
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise InputError([Problem(FILE, "must be an object with date and the figures")])
    if log_tables(service):
        raise InputError(
            [
                Problem(
                    FILE,
                    "this service's referrals come from its event log: upload the log instead",
                    None,
                    "date",
                )
            ]
        )
    day = _day(raw.get("date"), today, problems)
    sections = {}
    for section in ("referrals", "staff", "sessions"):
        value = raw.get(section) or {}
        if not isinstance(value, dict):
            problems.append(Problem(FILE, "must be an object of names and numbers", None, section))
            value = {}
        sections[section] = value
    for section, known, what in (
        ("referrals", service.case_types, "case type"),
        ("staff", service.resources, "resource"),
        ("sessions", service.resources, "resource"),
    ):
        for name in sections[section]:
            if name not in known:
                problems.append(
                    Problem(
                        FILE,
                        f"unknown {what} (known: {', '.join(sorted(known))})",
                        None,
                        f"{section}.{str(name)[:100]}",
                    )
                )
    referrals = {
        name: _whole(sections["referrals"].get(name), f"referrals.{name}", MAX_REFERRALS, problems)
        for name in service.case_types
    }
    staff = {
        name: _whole(sections["staff"].get(name), f"staff.{name}", MAX_STAFF, problems, blank=None)
        for name in service.resources
    }
    sessions = {}
    for name in service.resources:
        given = sections["sessions"].get(name)
        if given is None:
            given = {}
        if not isinstance(given, dict):
            problems.append(
                Problem(FILE, "must be an object with count and minutes", None, f"sessions.{name}")
            )
            given = {}
        count = _whole(
            given.get("count"), f"sessions.{name}.count", MAX_SESSIONS, problems, blank=None
        )
        minutes = _whole(
            given.get("minutes"),
            f"sessions.{name}.minutes",
            MAX_SESSIONS * MAX_SESSION_MINUTES,
            problems,
            blank=None,
        )
        if count == 0 and minutes:
            problems.append(
                Problem(FILE, "no sessions cannot take minutes", None, f"sessions.{name}.minutes")
            )
        elif count and minutes == 0:
            problems.append(
                Problem(
                    FILE,
                    "sessions delivered take more than 0 minutes",
                    None,
                    f"sessions.{name}.minutes",
                )
            )
        elif count and minutes and minutes > count * MAX_SESSION_MINUTES:
            problems.append(
                Problem(
                    FILE,
                    f"more than {MAX_SESSION_MINUTES:,} minutes a session",
                    None,
                    f"sessions.{name}.minutes",
                )
            )
        sessions[name] = (count, minutes)
    if problems:
        raise InputError(problems)
    return Entry(day, referrals, staff, sessions)


def _day(value, today: date, problems: list[Problem]) -> date | None:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        problems.append(Problem(FILE, "must be a date as YYYY-MM-DD", None, "date"))
        return None
    first = today - timedelta(days=WINDOW_DAYS - 1)
    if day > today:
        problems.append(
            Problem(FILE, "is in the future: enter a day once it is over", None, "date")
        )
    elif day < first:
        problems.append(
            Problem(
                FILE,
                f"only the last {WINDOW_DAYS} days may be entered or changed (from "
                f"{first.isoformat()} to {today.isoformat()}): upload a file for older days",
                None,
                "date",
            )
        )
    return day


# --- reading ---------------------------------------------------------------------------------


def stored_service(name: str, database_url: str | None = None) -> Service:
    """The stored service's definition (its newest service.yaml)."""
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    try:
        return _service(store, name)
    finally:
        store.close()


def _service(store: Store, name: str) -> Service:
    row = store.settings(name)["service"]
    return read_service_yaml(Path(row["file_name"]), row["content"])


def read_day(name: str, day: date, *, database_url: str | None = None) -> DayFigures:
    """The figures the store holds for ``day`` (zeros and no staff for a day never entered)."""
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    try:
        service = _service(store, name)
        with store.engine.connect() as connection:
            service_id = store.service_id(connection, name)
            return _read_day(connection, service, service_id, day)
    finally:
        store.close()


def entered_days(name: str, *, database_url: str | None = None) -> set[date]:
    """The days a save of daily figures was made for."""
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    try:
        with store.engine.connect() as connection:
            service_id = store.service_id(connection, name)
            return _entered_days(connection, service_id)
    finally:
        store.close()


def _file_name(day: date) -> str:
    return f"{SOURCE} {day.isoformat()}"


def _entered_days(connection, service_id: int) -> set[date]:
    imports = schema.imports
    names = connection.scalars(
        select(imports.c.file_name)
        .where(imports.c.service_id == service_id, imports.c.table_name == IMPORT_TABLE)
        .distinct()
    )
    days = set()
    for file_name in names:
        try:
            days.add(date.fromisoformat(file_name.removeprefix(f"{SOURCE} ")))
        except ValueError:
            continue
    return days


def _figure_referrals(connection, service_id: int) -> pd.DataFrame:
    table = schema.referrals
    rows = connection.execute(
        select(table.c.case_key, table.c.referral_date, table.c.case_type).where(
            table.c.service_id == service_id, table.c.source == SOURCE
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["case_key", "referral_date", "case_type"])
    frame["referral_date"] = pd.to_datetime(frame["referral_date"]).astype("datetime64[ns]")
    return frame


def _figure_sessions(connection, service_id: int) -> pd.DataFrame:
    """The sessions of figure-cases, all days: ``date``, ``case_key``, ``resource``,
    ``minutes``."""
    sessions, referrals = schema.sessions, schema.referrals
    keys = select(referrals.c.case_key).where(
        referrals.c.service_id == service_id, referrals.c.source == SOURCE
    )
    rows = connection.execute(
        select(sessions.c.date, sessions.c.case_key, sessions.c.resource, sessions.c.minutes)
        .where(sessions.c.service_id == service_id, sessions.c.case_key.in_(keys))
        .order_by(sessions.c.id)
    ).all()
    frame = pd.DataFrame(rows, columns=["date", "case_key", "resource", "minutes"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def _read_day(connection, service: Service, service_id: int, day: date) -> DayFigures:
    referrals = _figure_referrals(connection, service_id)
    on_day = referrals[referrals["referral_date"] == pd.Timestamp(day)]
    counts = on_day["case_type"].value_counts()
    roster = schema.roster
    staffed = dict(
        connection.execute(
            select(roster.c.resource, roster.c.staff).where(
                roster.c.service_id == service_id, roster.c.date == day
            )
        ).all()
    )
    sessions = _figure_sessions(connection, service_id)
    today = sessions[sessions["date"] == pd.Timestamp(day)]
    delivered = {}
    for resource in service.resources:
        mine = today[today["resource"] == resource]
        delivered[resource] = Sessions(len(mine), float(mine["minutes"].sum()))
    return DayFigures(
        service=service.name,
        day=day,
        referrals={name: int(counts.get(name, 0)) for name in service.case_types},
        staff={name: staffed.get(name) for name in service.resources},
        sessions=delivered,
        entered=day in _entered_days(connection, service_id),
    )


# --- saving ----------------------------------------------------------------------------------


def figure_case_ids(service_name: str, day: date, case_type: str, count: int) -> list[str]:
    """The raw ids of a day's figure-cases of a case type (pseudonymised before storing)."""
    return [f"{SOURCE}|{service_name}|{day.isoformat()}|{case_type}|{i}" for i in range(count)]


def save_day(
    name: str,
    raw: dict,
    *,
    database_url: str | None = None,
    today: date | None = None,
) -> DaySaved:
    """Check a day's figures (:func:`check_entry`) and store them in one transaction, in
    place of what was entered for that day before (see the module's docstring).

    ``today``: by default today in the service's time zone.

    Raises
    ------
    InputError
        Every problem, each naming its field (nothing is stored).
    StoreError
        For a service the store does not hold, or a store written under another key.
    """
    store = Store.open(database_url or default_database_url(create=False), existing=True)
    try:
        service = _service(store, name)
        entry = check_entry(service, raw, today or service_today(service))
        key = load_key()
        with store.writing() as connection:
            store.check_key(connection, key)
            service_id = store.service_id(connection, name)
            before = _read_day(connection, service, service_id, entry.day)
            removed = _write_day(connection, store, service, service_id, entry, key)
            after = _read_day(connection, service, service_id, entry.day)
        return DaySaved(after, _changes(before, after), removed)
    finally:
        store.close()


def _write_day(connection, store: Store, service: Service, service_id: int, entry: Entry, key):
    """Replace the day's figure rows; returns the sessions of other days removed with their
    cases."""
    day, stamp = entry.day, pd.Timestamp(entry.day)
    referrals_table, sessions_table, roster_table = (
        schema.referrals,
        schema.sessions,
        schema.roster,
    )
    figures = _figure_referrals(connection, service_id)
    old_keys = set(figures.loc[figures["referral_date"] == stamp, "case_key"])
    erased = set(
        connection.scalars(
            select(schema.erasures.c.case_key).where(schema.erasures.c.service_id == service_id)
        )
    )
    new_rows = []
    for case_type, count in entry.referrals.items():
        keys = pseudonymise(figure_case_ids(service.name, day, case_type, count), key)
        new_rows += [(k, case_type) for k in keys if k not in erased]
    new_keys = {k for k, _ in new_rows}
    gone = sorted(old_keys - new_keys)
    figure_sessions = _figure_sessions(connection, service_id)

    # The day's figure sessions, and every session of a figure-case no longer entered.
    day_keys = sorted(set(figure_sessions.loc[figure_sessions["date"] == stamp, "case_key"]))
    removed_later = int(
        (figure_sessions["case_key"].isin(gone) & (figure_sessions["date"] != stamp)).sum()
    )
    for chunk in _chunks(day_keys):
        connection.execute(
            delete(sessions_table).where(
                sessions_table.c.service_id == service_id,
                sessions_table.c.date == day,
                sessions_table.c.case_key.in_(chunk),
            )
        )
    for chunk in _chunks(gone):
        connection.execute(
            delete(sessions_table).where(
                sessions_table.c.service_id == service_id,
                sessions_table.c.case_key.in_(chunk),
            )
        )
    connection.execute(
        delete(referrals_table).where(
            referrals_table.c.service_id == service_id,
            referrals_table.c.source == SOURCE,
            referrals_table.c.referral_date == day,
        )
    )
    referrals = pd.DataFrame(
        {
            "case_key": [k for k, _ in new_rows],
            "referral_date": pd.Series([stamp] * len(new_rows), dtype="datetime64[ns]"),
            "case_type": [t for _, t in new_rows],
            "source": SOURCE,
        }
    )
    written = {"referrals": bulk_insert(connection, referrals_table, referrals, service_id)}

    # The roster: the day's rows replaced (a file's minutes_per_staff kept).
    kept = dict(
        connection.execute(
            select(roster_table.c.resource, roster_table.c.minutes_per_staff).where(
                roster_table.c.service_id == service_id, roster_table.c.date == day
            )
        ).all()
    )
    connection.execute(
        delete(roster_table).where(
            roster_table.c.service_id == service_id, roster_table.c.date == day
        )
    )
    roster = pd.DataFrame(
        [
            (stamp, resource, float(staff), kept.get(resource))
            for resource, staff in entry.staff.items()
            if staff is not None
        ],
        columns=["date", "resource", "staff", "minutes_per_staff"],
    )
    roster["date"] = roster["date"].astype("datetime64[ns]")
    roster["minutes_per_staff"] = roster["minutes_per_staff"].astype(object)
    written["roster"] = bulk_insert(connection, roster_table, roster, service_id)

    # The sessions, given to the figure-cases as the module's docstring says.
    cases = pd.concat(
        [
            figures[~figures["case_key"].isin(gone) & (figures["referral_date"] != stamp)],
            referrals[["case_key", "referral_date", "case_type"]],
        ],
        ignore_index=True,
    )
    cases = cases[cases["referral_date"] <= stamp]
    earlier = figure_sessions[
        (figure_sessions["date"] < stamp) & ~figure_sessions["case_key"].isin(gone)
    ]
    problems, rows = [], []
    for resource, (count, minutes) in entry.sessions.items():
        if not count and not minutes:
            continue
        try:
            rows += _assign(service, cases, earlier, day, resource, count, minutes)
        except InputError as error:
            problems += error.problems
    if problems:
        raise InputError(problems)
    sessions = pd.DataFrame(rows, columns=["date", "case_key", "resource", "minutes"])
    sessions["date"] = sessions["date"].astype("datetime64[ns]")
    written["sessions"] = bulk_insert(connection, sessions_table, sessions, service_id)

    # Recorded as imports: each table written, and the save itself.
    digest = hashlib.sha256(
        json.dumps(
            {
                "day": day.isoformat(),
                "referrals": entry.referrals,
                "staff": entry.staff,
                "sessions": {r: list(v) for r, v in entry.sessions.items()},
                "at": datetime.now().isoformat(),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    file_name = _file_name(day)
    last_sessions = store.last_sha(connection, service_id, "sessions")
    has_sessions = connection.scalar(
        select(func.count())
        .select_from(sessions_table)
        .where(sessions_table.c.service_id == service_id)
    )
    for table in ("referrals", "roster", "sessions"):
        if table == "sessions" and not has_sessions and last_sessions in (None, ABSENT):
            continue  # no sessions then or now: activity stays modelled
        count = connection.scalar(
            select(func.count())
            .select_from(getattr(schema, table))
            .where(getattr(schema, table).c.service_id == service_id)
        )
        store.record_import(connection, service_id, table, file_name, digest, count)
    store.record_import(
        connection, service_id, IMPORT_TABLE, file_name, digest, sum(written.values())
    )
    return removed_later


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _assign(
    service: Service,
    cases: pd.DataFrame,
    earlier: pd.DataFrame,
    day: date,
    resource: str,
    count: int | None,
    minutes: int | None,
) -> list[tuple]:
    """The session rows of ``count`` sessions (or ``minutes``) at ``resource`` on ``day``,
    each given a figure-case (see the module's docstring)."""
    stamp = pd.Timestamp(day)
    empty = pd.DataFrame(
        {
            "case_key": pd.Series(dtype=object),
            "case_type": pd.Series(dtype=object),
            "waiting_since": pd.Series(dtype="datetime64[ns]"),
        }
    )
    work = due_work(service, cases, empty)
    work = work[work["resource"] == resource].reset_index(drop=True)
    if work.empty:
        raise InputError(
            [
                Problem(
                    FILE,
                    f"no case entered as daily figures up to this day has work at {resource}: "
                    "enter the referrals the sessions were for first",
                    None,
                    f"sessions.{resource}.count",
                )
            ]
        )
    work["order"] = np.arange(len(work))
    work = work.sort_values(["case_key", "due_date", "order"], kind="stable")
    work["rank"] = work.groupby("case_key").cumcount()
    done = earlier[earlier["resource"] == resource]["case_key"].value_counts()
    work = work[work["rank"] >= work["case_key"].map(done).fillna(0).to_numpy()]
    due_now = work[work["due_date"] <= stamp].sort_values(
        ["priority", "due_date", "case_date", "case_key"], kind="stable"
    )
    later = work[work["due_date"] > stamp].sort_values(
        ["due_date", "priority", "case_key"], kind="stable"
    )
    queue = pd.concat([due_now, later], ignore_index=True)
    planned = queue["minutes"] if len(queue) else due_work(service, cases, empty)["minutes"]
    if count is None:
        typical = float(planned.iloc[0]) if len(planned) else 60.0
        count = max(1, round((minutes or 0) / typical))
        if minutes / count > MAX_SESSION_MINUTES:
            count = -(-minutes // MAX_SESSION_MINUTES)
    if len(queue) >= count:
        chosen = queue.iloc[:count]
        keys, planned_minutes = list(chosen["case_key"]), list(chosen["minutes"])
    else:
        last = (
            queue["case_key"].iloc[-1]
            if len(queue)
            else cases.sort_values(["referral_date", "case_key"])["case_key"].iloc[-1]
        )
        extra = count - len(queue)
        keys = list(queue["case_key"]) + [last] * extra
        spare = float(queue["minutes"].mean()) if len(queue) else 60.0
        planned_minutes = list(queue["minutes"]) + [spare] * extra
    each = [minutes / count] * count if minutes is not None else planned_minutes
    return [(stamp, k, resource, float(m)) for k, m in zip(keys, each, strict=True)]


def _changes(before: DayFigures, after: DayFigures) -> tuple[str, ...]:
    """One line per figure that changed, counts only."""
    lines = []
    for name, count in after.referrals.items():
        if before.referrals.get(name, 0) != count:
            lines.append(f"referrals {name} {before.referrals.get(name, 0)} -> {count}")
    for name, staff in after.staff.items():
        if before.staff.get(name) != staff:
            lines.append(f"staff {name} {_staff(before.staff.get(name))} -> {_staff(staff)}")
    for name, sessions in after.sessions.items():
        old = before.sessions.get(name, Sessions(0, 0.0))
        if old != sessions:
            lines.append(
                f"sessions {name} {old.count} ({old.minutes:g} min) -> "
                f"{sessions.count} ({sessions.minutes:g} min)"
            )
    return tuple(lines)


def _staff(value) -> str:
    return "default" if value is None else f"{value:g}"


__all__ = [
    "MAX_REFERRALS",
    "SOURCE",
    "WINDOW_DAYS",
    "DayFigures",
    "DaySaved",
    "Entry",
    "Sessions",
    "check_entry",
    "entered_days",
    "read_day",
    "save_day",
    "service_today",
    "stored_service",
    "window",
]
