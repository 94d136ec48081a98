"""The commissioner's report as plain data: a one-page summary in sentences, then sections
of tables and figures, built once from the library's own analyses.

A service manager sends it at the end of the month to the Police and Crime Commissioner's
office or the board: where the service stands (backlog, waits, first contacts), how that
compares with the month before, what the SPC charts flagged, the riskiest days ahead and
what the contingency options would buy. :func:`build_report` gathers every number from the
analyses the CLI prints (:func:`~flowcap.measures.measure`,
:func:`~flowcap.variation.describe_variation`, :func:`~flowcap.forecast.forecast_demand`,
:func:`~flowcap.plan.risk.assess_risk`, :func:`~flowcap.plan.simulate_ahead`,
:func:`~flowcap.processmap.process_map`); the sentences read the same frames as the tables
(:mod:`.summary`), and the writers (:mod:`.html`, :mod:`.pdf`, :mod:`.excel`) only lay them
out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.checks import ArgumentError, check_period
from flowcap.progress import Progress, quiet

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory

#: The report's default look ahead (the CLI's default horizon for forecast, risk, simulate).
HORIZON_DAYS = 90
#: The ratio of demand to capacity that makes a bad day in the summary.
BAD_DAY_K = 1.5


@dataclass(frozen=True)
class Table:
    """One table of a section: ``frame`` holds typed values (dates as Timestamps, minutes
    as floats); ``formats`` maps a column to how the HTML and PDF show it (a format spec
    such as ``",.0f"``, ``".0%"`` or ``"date"``); ``note`` says what its numbers are."""

    key: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    note: str = ""
    #: Day-by-day detail: in the workbook, left out of the HTML and the PDF.
    detail: bool = False


@dataclass(frozen=True)
class Figure:
    """A static chart: ``data`` the image's bytes (``mime`` image/png or image/svg+xml),
    ``alt`` its text alternative."""

    key: str
    title: str
    data: bytes
    mime: str
    alt: str


@dataclass
class Section:
    """One part of the report: a heading, sentences, tables and figures. ``missing`` says,
    in words, what could not be computed (too little data for a forecast, no event log)."""

    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    missing: str | None = None
    #: The analyses' own results the summary reads beside the tables (the simulation, the
    #: process map); not written out.
    data: dict = field(default_factory=dict, repr=False)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


@dataclass
class Report:
    """The whole report: the period, the summary sentences, the sections and the notes the
    analyses raised (scenarios outside the horizon, ignored columns)."""

    service_name: str
    start: date
    end: date
    previous: tuple[date, date] | None
    data_end: date
    generated: datetime
    summary: list[str]
    sections: list[Section]
    notes: list[str] = field(default_factory=list)

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def table(self, key: str) -> Table | None:
        """The table named ``key`` in any section (``None`` when the report has none)."""
        for section in self.sections:
            for table in section.tables:
                if table.key == key:
                    return table
        return None


def report_period(
    history: ServiceHistory, start: date | None, end: date | None
) -> tuple[date, date, tuple[date, date] | None]:
    """The period reported and the one before it, of the same length.

    ``end`` defaults to the last day of data; ``start`` to the day after the same date a
    month before ``end`` (a month: 1 to 31 Dec, or 16 Nov to 15 Dec). The period before is
    the same number of days just before ``start``, or ``None`` when the data do not cover
    it all.
    """
    check_period(start, end)
    measures = history.require_measures("a report")
    first, last = (d.date() for d in measures.period)
    end = end or last
    if start is None:
        start = (pd.Timestamp(end) - pd.DateOffset(months=1) + pd.Timedelta(days=1)).date()
        start = max(start, first)
    if start < first:
        raise ArgumentError("start", f"{start} is before the first day of data ({first:%Y-%m-%d})")
    if start > end:
        raise ArgumentError("start", f"{start} is after the end of the period ({end})")
    days = (end - start).days + 1
    before_end = start - timedelta(days=1)
    before_start = before_end - timedelta(days=days - 1)
    previous = (before_start, before_end) if before_start >= first else None
    return start, end, previous


def build_report(
    history: ServiceHistory,
    start: date | None = None,
    end: date | None = None,
    *,
    horizon: int = HORIZON_DAYS,
    k: float = BAD_DAY_K,
    replications: int = 10_000,
    seed: int = 0,
    threshold_minutes: float = 2400.0,
    risk_target: float = 0.05,
    figures: bool = True,
    progress: Progress = quiet,
    warn: Progress = quiet,
) -> Report:
    """The report on ``history`` for ``start``..``end`` (defaults: :func:`report_period`).

    Looking ahead (forecast, risk, simulation) always starts after the last day of data,
    with the CLI's defaults (90 days, 10,000 simulated futures, seed 0, a 2,400-minute
    threshold and a 5% risk target), so the numbers are those ``flowcap forecast``, ``risk``
    and ``simulate`` print. ``figures=False`` leaves the charts out (the workbook draws its
    own). ``warn`` hears the simulation's notes as they come (they are also kept in
    :attr:`Report.notes`). An analysis that cannot run (too little history for a forecast)
    leaves its section with ``missing`` saying why; the others still run.
    """
    from flowcap.report.commissioner import sections as build
    from flowcap.report.commissioner.summary import summary_sentences

    start, end, previous = report_period(history, start, end)
    notes: list[str] = list(history.notes)
    measures = build.measures_section(history, start, end, previous, figures, progress)
    variation = build.variation_section(history, start, end, figures, progress)
    ahead = build.forecast_section(history, horizon, k, figures, progress)
    options = build.options_section(
        history,
        horizon=horizon,
        replications=replications,
        seed=seed,
        threshold_minutes=threshold_minutes,
        risk_target=risk_target,
        figures=figures,
        progress=progress,
        warn=_kept(notes, warn),
    )
    sections = [measures, variation, ahead, options]
    if history.service.event_log is not None:
        sections.append(build.process_map_section(history, figures, progress))
    data_end = history.measures.period[1].date()
    report = Report(
        service_name=history.name,
        start=start,
        end=end,
        previous=previous,
        data_end=data_end,
        generated=datetime.now().replace(microsecond=0),
        summary=[],
        sections=sections,
        notes=notes,
    )
    return replace(report, summary=summary_sentences(report, k=k))


def _kept(notes: list[str], warn: Progress) -> Progress:
    """A ``warn`` that also keeps each note in ``notes``."""

    def heard(note: str) -> None:
        notes.append(note)
        warn(note)

    return heard


__all__ = ["Figure", "Report", "Section", "Table", "build_report", "report_period"]
