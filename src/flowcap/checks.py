"""One rule per argument, checked once, in the library.

Each check raises :class:`ArgumentError` naming the *parameter* (``risk_target``,
``replications``); the CLI maps the name to its flag (``--risk``) and the web app to its form
field, so the rule and its wording live here only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from flowcap.errors import FlowcapError

#: The longest horizon ahead (days): 10 years. Past that a daily plan says nothing useful
#: and the arrays grow without bound.
MAX_HORIZON_DAYS = 3653
#: The longest pathway simulation (hours): 100 years of simulated time.
MAX_HOURS = 876_600
#: The days a date argument may name. Daily arrays are indexed by nanosecond timestamps
#: (pandas: 1677 to 2262); the last day leaves room for the longest simulation after it.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2099, 12, 31)
#: The most simulated futures one call may ask for: each resource's backlog path is kept per
#: replication and day, so past this the arrays outgrow a workstation's memory long before
#: the intervals gain anything (at 100,000 the Monte Carlo error of a 5% chance is ±0.14%).
MAX_REPLICATIONS = 100_000
#: The most resource-replication-days one daily simulation may hold: each resource's backlog
#: is kept per replication and day, and 60 million (three resources) took 0.9 GB and 36 s
#: (``flowcap simulate examples/victim-support --replications 20000 --horizon 1000``).
MAX_REPLICATION_DAYS = 60_000_000
#: The most replication-hours one pathway simulation may hold (hourly queue lengths per
#: step and replication): 20 million took 1.5 GB (``flowcap des examples/victim-support
#: --replications 200 --hours 100000``).
MAX_REPLICATION_HOURS = 20_000_000
#: Bytes one resource-replication-day of a daily simulation holds at its peak (0.9 GB for 60
#: million, above, rounded up), to estimate a run's memory before allocating it.
BYTES_PER_REPLICATION_DAY = 16
#: Bytes one replication-hour of a pathway simulation holds at its peak (1.5 GB for 20
#: million, above, rounded up).
BYTES_PER_REPLICATION_HOUR = 80
#: The share of the memory free when a run starts that the run may plan to fill.
MEMORY_SHARE = 0.8
#: The most referrals one pathway simulation may draw (replications × hours × referrals an
#: hour): each is followed through its steps, about 20,000 a second (``flowcap des
#: examples/victim-support``: 77,000 referrals in 4 s), so this is about five minutes.
MAX_SIMULATED_CASES = 5_000_000
#: File suffixes the chart writers accept: interactive HTML, or a PNG picture.
CHART_SUFFIXES = (".html", ".png")
#: File suffixes a process map is written to (Graphviz draws SVG too).
PROCESS_MAP_SUFFIXES = (".svg", ".png", ".html")


class ArgumentError(FlowcapError, ValueError):
    """An argument outside its rule. ``parameter`` is the library's name for it; ``rule`` says
    what it must be, so a caller can print ``f"{its own name} {rule}"``. A ``ValueError`` too,
    as a bad value is to Python."""

    def __init__(self, parameter: str, rule: str):
        self.parameter = parameter
        self.rule = rule
        super().__init__(f"{parameter} {rule}")


def check_horizon(horizon_days: int, parameter: str = "horizon") -> None:
    """Days ahead: a whole number from 1 to :data:`MAX_HORIZON_DAYS`."""
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ArgumentError(
            parameter, f"must be from 1 to {MAX_HORIZON_DAYS:,} days (10 years), not {horizon_days}"
        )


def check_replications(replications: int, minimum: int = 1) -> None:
    """Simulated runs: at least ``minimum`` (2 where intervals need two), at most
    :data:`MAX_REPLICATIONS`."""
    if replications < minimum:
        why = " (the intervals need two)" if minimum == 2 else ""
        raise ArgumentError("replications", f"must be at least {minimum}{why}")
    if replications > MAX_REPLICATIONS:
        raise ArgumentError(
            "replications", f"must be at most {MAX_REPLICATIONS:,}, not {replications:,}"
        )


def available_memory_bytes() -> int | None:
    """Memory free for a new run now, in bytes: Linux's ``MemAvailable`` (what can be had
    without swapping), else the free physical pages; ``None`` where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:,.0f} MB"


def _check_memory(
    need: float, available: int | None, what: str, unit_bytes: float, fewer: str
) -> None:
    """Refuse a run estimated at ``need`` bytes when that is past :data:`MEMORY_SHARE` of
    ``available`` (free memory: measured when ``None``); ``unit_bytes`` is one replication's
    share, to say how many would fit."""
    available = available_memory_bytes() if available is None else available
    if available is None or need <= MEMORY_SHARE * available:
        return
    most = int(MEMORY_SHARE * available // max(unit_bytes, 1))
    raise ArgumentError(
        "replications",
        f"{what} would need about {_gigabytes(need)} of memory, and {_gigabytes(available)} "
        f"is free: ask for at most {most:,} replications, or {fewer}",
    )


def check_simulation_size(
    replications: int, horizon_days: int, resources: int = 1, available: int | None = None
) -> None:
    """Resources × replications × days ahead: at most :data:`MAX_REPLICATION_DAYS`, and its
    arrays (:data:`BYTES_PER_REPLICATION_DAY` each) within :data:`MEMORY_SHARE` of the memory
    free (``available`` bytes; measured when ``None``), estimated before any is allocated."""
    if resources * replications * horizon_days > MAX_REPLICATION_DAYS:
        most = MAX_REPLICATION_DAYS // max(resources * horizon_days, 1)
        raise ArgumentError(
            "replications",
            f"× the horizon × the resources ({replications:,} × {horizon_days:,} days × "
            f"{resources}) must be at most {MAX_REPLICATION_DAYS:,} to fit in memory: ask for "
            f"at most {most:,} replications, or a shorter horizon",
        )
    per_replication = resources * horizon_days * BYTES_PER_REPLICATION_DAY
    _check_memory(
        replications * per_replication,
        available,
        f"({replications:,}) × {horizon_days:,} days × {resources} resources",
        per_replication,
        "a shorter horizon",
    )


def check_pathway_size(replications: int, hours: float, available: int | None = None) -> None:
    """Replications × simulated hours: at most :data:`MAX_REPLICATION_HOURS`, and within
    :data:`MEMORY_SHARE` of the memory free (``available`` bytes; measured when ``None``)."""
    if replications * hours > MAX_REPLICATION_HOURS:
        raise ArgumentError(
            "replications",
            f"× the hours ({replications:,} × {hours:,.0f}) must be at most "
            f"{MAX_REPLICATION_HOURS:,} simulated hours to fit in memory: ask for fewer "
            "replications or fewer hours",
        )
    per_replication = hours * BYTES_PER_REPLICATION_HOUR
    _check_memory(
        replications * per_replication,
        available,
        f"({replications:,}) × {hours:,.0f} hours",
        per_replication,
        "fewer hours",
    )


def check_pathway_cases(replications: int, hours: float, referrals_per_hour: float) -> None:
    """Referrals one pathway simulation draws, replications × hours × ``referrals_per_hour``
    (the mean over the week): at most :data:`MAX_SIMULATED_CASES`. Checked once the arrival
    rates are known, before any is drawn."""
    expected = replications * hours * referrals_per_hour
    if not math.isfinite(expected) or expected > MAX_SIMULATED_CASES:
        most = int(MAX_SIMULATED_CASES // max(hours * referrals_per_hour, 1e-9))
        raise ArgumentError(
            "replications",
            f"× the hours × the referrals an hour ({replications:,} × {hours:,.0f} × "
            f"{referrals_per_hour:,.2f}, about {expected:,.0f} referrals) must be at most "
            f"{MAX_SIMULATED_CASES:,} referrals simulated: ask for at most {max(most, 0):,} "
            "replications, or fewer hours",
        )


def check_day(day: date | None, parameter: str) -> None:
    """A day, when given: a date from :data:`FIRST_DAY` to :data:`LAST_DAY`."""
    if day is None:
        return
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ArgumentError(parameter, f"must be a date, not {day!r}")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ArgumentError(parameter, f"must be a date from {FIRST_DAY} to {LAST_DAY}, not {day}")


def check_period(start: date | None, end: date | None) -> None:
    """A span of days, either end left out (``None``): each a day, ``start`` not after
    ``end``."""
    check_day(start, "start")
    check_day(end, "end")
    if start is not None and end is not None and start > end:
        raise ArgumentError("start", f"{start} is after the last day asked for ({end})")


def check_run_length(value: int, parameter: str) -> None:
    """A number of SPC points (a run, or the points a segment needs): a whole number, 2 or
    more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ArgumentError(parameter, f"must be a whole number of 2 or more, not {value!r}")


def check_optimise(optimise: bool, n_options: int, where: str, most: int) -> None:
    """Combining options (``optimise``) needs options, and at most ``most`` of them
    (``where`` names the file they came from)."""
    if optimise and not n_options:
        raise ArgumentError(
            "optimise",
            "combines contingency options, and there are none: give them in the service's "
            "scenarios.yaml, or a scenarios file",
        )
    if optimise and n_options > most:
        raise ArgumentError("optimise", f"combines at most {most} options; {where} has {n_options}")


#: The longest wall-clock budget a run may be given (seconds): a week.
MAX_TIME_LIMIT_SECONDS = 7 * 24 * 3600


def check_time_limit(seconds: float, parameter: str = "time_limit") -> None:
    """A wall-clock budget (seconds): a finite number more than 0, at most a week."""
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIME_LIMIT_SECONDS):
        raise ArgumentError(
            parameter,
            f"must be a number of seconds more than 0 and at most {MAX_TIME_LIMIT_SECONDS:,} "
            f"(a week), not {seconds}",
        )


def check_seed(seed: int) -> None:
    """A seed: 0 or more (NumPy's SeedSequence takes no negative numbers)."""
    if seed < 0:
        raise ArgumentError("seed", f"must be 0 or more, not {seed}")


def check_risk(risk: float, parameter: str = "risk_target") -> None:
    """An accepted chance of a bad outcome: strictly between 0 and 1 (0 cannot be met by
    any finite staff in a model with random demand; 1 asks for nothing)."""
    if not (isinstance(risk, int | float) and 0 < risk < 1):
        raise ArgumentError(parameter, "must be between 0 and 1")


def check_minutes(minutes: float, parameter: str) -> None:
    """A backlog in minutes: a finite number, 0 or more."""
    if not (isinstance(minutes, int | float) and math.isfinite(minutes) and minutes >= 0):
        raise ArgumentError(parameter, "must be a number of minutes, 0 or more")


def check_ratios(ks: Iterable[float]) -> None:
    """Ratios of demand to capacity: finite numbers more than 0."""
    if not all(math.isfinite(k) and k > 0 for k in ks):
        raise ArgumentError("ks", "must be a number more than 0")


def check_hours(hours: float, parameter: str = "hours", allow_zero: bool = False) -> None:
    """Simulated hours: more than 0 (or 0 where allowed) and at most 100 years."""
    low_ok = hours >= 0 if allow_zero else hours > 0
    if not (math.isfinite(hours) and low_ok and hours <= MAX_HOURS):
        low = "between 0 and" if allow_zero else "more than 0 and at most"
        raise ArgumentError(parameter, f"must be {low} {MAX_HOURS:,} (100 years)")


def check_at_least_one(value: int | None, parameter: str) -> None:
    """A count that may be left out (``None``) but, given, is 1 or more."""
    if value is not None and value < 1:
        raise ArgumentError(parameter, f"must be at least 1, not {value}")


def check_chart(
    path: Path | None, parameter: str = "chart", suffixes: tuple[str, ...] = CHART_SUFFIXES
) -> None:
    """A chart file, when given: its name ends in one of ``suffixes`` (by default
    :data:`CHART_SUFFIXES`; a process map also takes ``.svg``)."""
    if path is None:
        return
    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        listed = f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
        raise ArgumentError(
            parameter,
            f"must name a file ending in {listed} ({Path(path).name} has {suffix or 'no suffix'})",
        )


def check_windows(windows: int | None, most: int | None = None, why: str = "") -> None:
    """Backtest windows (forecast origins), when given: at least 1 and, where ``most`` is
    known, at most ``most``, the windows the history holds (``why`` says so, e.g. "183 days of
    history hold 4 windows of 28 days")."""
    if windows is None:
        return
    if windows < 1:
        raise ArgumentError("windows", f"must be at least 1, not {windows}")
    if most is not None and windows > most:
        reason = f" ({why})" if why else ""
        raise ArgumentError("windows", f"must be at most {most}, not {windows}{reason}")


#: The three ways ``flowcap plan`` takes its backlog target, by parameter name.
BACKLOG_TARGETS = ("target_backlog_minutes", "target_backlog_cases", "target_wait_weeks")


def check_backlog_target(
    minutes: float | None, cases: float | None = None, weeks: float | None = None
) -> None:
    """The backlog target, given one way at most: minutes of work waiting, cases waiting (each a
    finite number, 0 or more) or weeks the oldest case waits (more than 0)."""
    given = [
        name
        for name, value in zip(BACKLOG_TARGETS, (minutes, cases, weeks), strict=True)
        if value is not None
    ]
    if len(given) > 1:
        raise ArgumentError(
            given[1],
            "cannot be given with another target: give the backlog target one way (minutes of "
            "work, cases waiting or weeks the oldest case waits)",
        )
    if minutes is not None:
        check_minutes(minutes, "target_backlog_minutes")
    if cases is not None and not (
        isinstance(cases, int | float) and math.isfinite(cases) and cases >= 0
    ):
        raise ArgumentError("target_backlog_cases", "must be a number of cases, 0 or more")
    if weeks is not None and not (
        isinstance(weeks, int | float) and math.isfinite(weeks) and 0 < weeks <= 520
    ):
        raise ArgumentError("target_wait_weeks", "must be a number of weeks, more than 0")


def check_recruitment(
    first: date,
    recruit_from: date,
    by: date,
    lead_days: int,
    induction_days: int = 0,
    induction_output: float = 0.5,
) -> None:
    """A recruitment plan: the list judged on ``by``, on or after the first day ahead
    (``first``) and within :data:`MAX_HORIZON_DAYS` of it; recruiting starts on
    ``recruit_from`` and the recruits join ``lead_days`` (0 or more) later, on or before
    ``by``; ``induction_days`` 0 or more at ``induction_output`` (0 to 1) of a person's
    minutes."""
    check_day(by, "by")
    check_day(recruit_from, "recruit_from")
    for value, parameter in ((lead_days, "lead_days"), (induction_days, "induction_days")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ArgumentError(
                parameter, f"must be a whole number of days, 0 or more, not {value}"
            )
    if not (isinstance(induction_output, int | float) and 0 <= induction_output <= 1):
        raise ArgumentError("induction_output", "must be a share from 0 to 1")
    if by < first:
        raise ArgumentError(
            "by", f"({by}) must be on or after the first day simulated ({first}, after the data)"
        )
    check_horizon((by - first).days + 1, "by")
    joins = date.fromordinal(recruit_from.toordinal() + lead_days)
    if joins > by:
        raise ArgumentError(
            "by",
            f"({by}) is before the recruits could join: {joins}, {lead_days} days after "
            f"recruiting starts on {recruit_from}; give a later date, start recruiting sooner "
            "or a shorter lead time",
        )
