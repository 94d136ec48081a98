"""The measures of each service, computed once per import and kept in the app's memory.

A dashboard, the services list and the API all ask for the same measures many times a day,
while the data change only when someone imports, saves a setting or erases a person. Each
request asks the store for the service's *revision* (a handful of indexed lookups: its newest
import, its newest settings version, its erasures); while that is unchanged the history
opened from the store and the measures of every date range asked for are reused, and the
work of opening and measuring is done once whoever asks first (a lock per service).

The slower analyses of a service, its SPC alerts (:func:`flowcap.variation.describe_variation`)
and its risk of bad days ahead (:func:`flowcap.plan.risk.assess_risk`, a forecast inside), take
seconds: :meth:`MeasuresCache.insight` computes them once per revision in a background thread
and says "calculating" until they are there, so that no page waits for them. The process map
of a service's stored event log is kept per revision too (:meth:`MeasuresCache.process_map`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, select

from flowcap.errors import FlowcapError
from flowcap.history import ServiceHistory, open_stored, stored_event_log
from flowcap.measures import DailyMeasures, measure
from flowcap.plan.risk import DEFAULT_KS, RiskReport, assess_risk, format_every
from flowcap.processmap import ProcessMap, process_map
from flowcap.store import Store, schema
from flowcap.variation import VariationReport, describe_variation
from flowcap.variation.report import chart_name

#: Date ranges kept per service and revision (the default range, and the last few asked for).
RANGES_KEPT = 16
#: Days the dashboard's forecast and risk look ahead (as ``flowcap risk --horizon 28``).
RISK_HORIZON_DAYS = 28
#: The longest :meth:`MeasuresCache.warm` waits for a service's insight before warming the
#: next service (seconds): they would otherwise all compute at once.
WARM_INSIGHT_SECONDS = 600.0
#: The ratio of demand to capacity the dashboard calls a bad day.
BAD_DAY_RATIO = 1.5
#: Days back the services page compares the backlog with and counts alerts over.
LOOK_BACK_DAYS = 28
#: A backlog that moved by less than this share of the larger of then and now is "flat".
FLAT_SHARE = 0.05


#: ``FLOWCAP_WARM_CACHE=0`` stops the app warming every service's measures when it starts.
WARM_ON_START = "FLOWCAP_WARM_CACHE"


@asynccontextmanager
async def warming(app) -> AsyncIterator[None]:
    """The app's lifespan: on start, a background thread measures every stored service and
    computes its insight (:meth:`MeasuresCache.warm_all`), so that the first visitors after
    a restart are served from memory instead of waiting seconds each (the load benchmark's
    cold start); pages asked for meanwhile wait for the service they need, as before.
    Off with ``FLOWCAP_WARM_CACHE=0`` (the tests, which open few services once)."""
    if os.environ.get(WARM_ON_START, "1") != "0":
        threading.Thread(
            target=app.state.cache.warm_all, name="flowcap-warm-cache", daemon=True
        ).start()
    yield


@dataclass(frozen=True)
class Revision:
    """What a service's measures depend on in the store: ``key`` changes whenever an import,
    a settings version or an erasure changes what the service holds; ``last_change`` is when
    its data or settings last changed (UTC, naive; ``None`` for an empty service)."""

    key: tuple
    last_change: datetime | None


def _revision_query():
    services, imports, settings, erasures = (
        schema.services,
        schema.imports,
        schema.settings,
        schema.erasures,
    )
    mine = services.c.id

    def newest(table, column):
        return select(column).where(table.c.service_id == mine).scalar_subquery()

    return select(
        mine,
        newest(imports, func.max(imports.c.id)),
        newest(imports, func.max(imports.c.imported_at)),
        newest(settings, func.max(settings.c.id)),
        newest(settings, func.max(settings.c.saved_at)),
        newest(erasures, func.count()),
        newest(erasures, func.max(erasures.c.erased_at)),
    ).where(services.c.name == bindparam("name"))


#: Built once: every request asks it, and building it took more time than running it.
REVISION_QUERY = _revision_query()


def service_revision(store: Store, name: str) -> Revision | None:
    """The service's :class:`Revision`, or ``None`` when the store holds no such service.

    One query (each request asks it, so its cost is the floor of every page's)."""
    with store.engine.connect() as connection:
        row = connection.execute(REVISION_QUERY, {"name": name}).first()
    if row is None:
        return None
    service_id, import_id, imported_at, setting_id, saved_at, erased, erased_at = row
    stamps = [stamp for stamp in (imported_at, saved_at, erased_at) if stamp is not None]
    key = (service_id, import_id, setting_id, erased, erased_at)
    return Revision(key=key, last_change=max(stamps, default=None))


@dataclass
class Measured:
    """The measures of one service over one date range, with their renderings made on first
    use: ``as_json`` (the bytes of ``flowcap measures --json``) and ``figure_json`` (the
    dashboard's Plotly figure)."""

    result: DailyMeasures
    revision: Revision
    _json: bytes | None = field(default=None, repr=False)
    _gzip: bytes | None = field(default=None, repr=False)
    _figure: str | None = field(default=None, repr=False)
    _figure_gzip: bytes | None = field(default=None, repr=False)
    _tables: dict | None = field(default=None, repr=False)
    _trend: tuple | None = field(default=None, repr=False)

    def as_json(self) -> bytes:
        if self._json is None:
            # As the CLI writes it (json.dumps of DailyMeasures.as_json), byte for byte.
            self._json = json.dumps(self.result.as_json()).encode()
        return self._json

    def as_gzip(self) -> bytes:
        """:meth:`as_json` gzip-compressed, made once (a million referrals' three years are
        1.4 MB of JSON, about a tenth of that compressed)."""
        if self._gzip is None:
            self._gzip = gzip.compress(self.as_json(), compresslevel=6, mtime=0)
        return self._gzip

    def tables(self) -> dict:
        """The dashboard's tables, made once (the waiting list and the first-contact counts
        take a few hundred milliseconds on a million referrals: per request they capped a
        worker at a few dashboards a second, ``benchmarks/bench_web_load.py``): ``summary``
        and ``waiting`` as lists of row dicts, ``first_contact`` as share, counts and target.
        Two threads asking at once may both make them; the answer is the same."""
        if self._tables is None:
            result = self.result
            self._tables = {
                "summary": result.summary().to_dict("records"),
                "waiting": result.waiting_list().to_dict("records"),
                "first_contact": {
                    "share": result.first_contact_share(),
                    "counts": result.first_contact_counts(),
                    "target_working_days": result.target_working_days,
                },
            }
        return self._tables

    def figure_json(self) -> str:
        """The measures chart of :func:`flowcap.report.chart.measures_figure` as JSON, safe
        to place inside a ``<script type="application/json">`` element."""
        if self._figure is None:
            from flowcap.report.chart import measures_figure

            title = f"{self.result.service_name}: demand, capacity, activity and backlog"
            text = measures_figure(self.result.table, title).to_json()
            self._figure = (
                text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            )
        return self._figure

    def figure_gzip(self) -> bytes:
        """:meth:`figure_json` gzip-compressed, made once."""
        if self._figure_gzip is None:
            self._figure_gzip = gzip.compress(self.figure_json().encode(), compresslevel=6, mtime=0)
        return self._figure_gzip

    def etag(self) -> str:
        """An HTTP entity tag of these measures: the service's revision and the days."""
        first, last = self.result.period
        text = repr((self.revision.key, str(first.date()), str(last.date())))
        return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'

    def backlog_trend(self, days: int = LOOK_BACK_DAYS) -> list[dict]:
        """Per resource: the backlog (minutes) at the end of the range (``now``, on ``day``)
        and ``days`` earlier (``before``, on ``before_day``; ``None`` when the range is
        shorter), and ``direction``: ``up``, ``down`` or ``flat`` (moved by less than
        :data:`FLAT_SHARE` of the larger), ``None`` without a ``before``. Made once per
        ``days`` asked for last."""
        if self._trend is None or self._trend[0] != days:
            self._trend = (days, self._backlog_trend(days))
        return self._trend[1]

    def _backlog_trend(self, days: int) -> list[dict]:
        table = self.result.table
        last = table["date"].max()
        then = last - pd.Timedelta(days=days)
        rows = []
        for resource, frame in table.groupby("resource", sort=False):
            by_day = frame.set_index("date")["backlog_minutes"]
            now = float(by_day.get(last, np.nan))
            before = float(by_day[then]) if then in by_day.index else None
            direction = None
            if before is not None:
                change = now - before
                if abs(change) <= FLAT_SHARE * max(abs(now), abs(before)):
                    direction = "flat"
                else:
                    direction = "up" if change > 0 else "down"
            rows.append(
                {
                    "resource": resource,
                    "now": now,
                    "day": last.date(),
                    "before": before,
                    "before_day": then.date(),
                    "direction": direction,
                }
            )
        return rows


@dataclass(frozen=True)
class Insight:
    """A service's SPC report and risk of bad days for one revision, as ``flowcap variation
    --json`` and ``flowcap risk --horizon 28 --json`` compute them, and what the pages show
    of them. ``seconds`` is how long computing them took."""

    revision: Revision
    variation: VariationReport
    risk: RiskReport
    seconds: float

    def alerts(self) -> list[dict]:
        """Every SPC alert, minutes and referrals, oldest first: ``date`` (a date),
        ``chart`` (its name, as ``spc_targets:`` names it), ``rule``, ``direction``,
        ``message``. Made once: three years of alerts take tens of milliseconds, and every
        dashboard and services page asks."""
        return self._alerts

    @cached_property
    def _alerts(self) -> list[dict]:
        out = [
            {
                "date": date.fromisoformat(a["date"]),
                "chart": chart_name((a["resource"], a["measure"])),
                "rule": a["rule"],
                "direction": a["direction"],
                "message": a["message"],
            }
            for a in self.variation.alerts
        ]
        out += [
            {**a, "date": date.fromisoformat(a["date"])} for a in self.variation.referral_alerts
        ]
        return sorted(out, key=lambda a: (a["date"], a["chart"], a["rule"]))

    def latest_alerts(self, n: int = 8) -> list[dict]:
        """The ``n`` most recent alerts, newest first."""
        return self.alerts()[::-1][:n]

    def last_day(self) -> date | None:
        """The newest point of any chart (the day the alerts are counted back from)."""
        days = [row["latest"] for row in self.icons() if row["latest"]]
        return max(days, default=None)

    def recent_alert_count(self, days: int = LOOK_BACK_DAYS) -> int:
        """Alerts on the ``days`` days up to the newest point (that day included)."""
        last = self.last_day()
        if last is None:
            return 0
        since = last - timedelta(days=days - 1)
        return sum(a["date"] >= since for a in self.alerts())

    def icons(self) -> list[dict]:
        """Each chart's latest point and Making Data Count icons in words
        (:meth:`~flowcap.variation.VariationReport.chart_summaries`), made once."""
        return self._icons

    @cached_property
    def _icons(self) -> list[dict]:
        return self.variation.chart_summaries()

    def bad_days(self, k: float = BAD_DAY_RATIO, n_dates: int = 3) -> list[dict]:
        """Per resource, the risk of a working day's demand above ``k`` × capacity: the
        library's :class:`~flowcap.plan.risk.BadDayRisk` (``risk``), its return period in
        words (``every``), the chance of at least one such day in the forecast's working
        days (``p_any``: 1 − Π(1 − p) over the days ahead) and the ``n_dates`` riskiest days
        ahead."""
        rows = []
        for risk in self.risk.risks:
            if risk.k != k:
                continue
            p_any = None
            if risk.ahead is not None and len(risk.ahead):
                p_any = float(1.0 - np.prod(1.0 - risk.ahead.to_numpy(dtype=float)))
            rows.append(
                {
                    "risk": risk,
                    "every": format_every(risk.once_every_working_days),
                    "p_any": p_any,
                    "riskiest": risk.riskiest_dates[:n_dates],
                }
            )
        return rows

    def horizon(self) -> tuple[date, date] | None:
        """The first and last day of the forecast."""
        daily = self.risk.daily
        if daily.empty:
            return None
        return daily["date"].min().date(), daily["date"].max().date()


@dataclass(frozen=True)
class InsightState:
    """Where a service's :class:`Insight` stands: ``ready`` (``insight`` set), ``calculating``
    or ``failed`` (``message`` says why: too little data for a forecast, no referrals)."""

    status: str
    insight: Insight | None = None
    message: str = ""


@dataclass(frozen=True)
class MapView:
    """A service's process map for one revision: ``pmap`` (the whole log, as ``flowcap
    processmap --json``), ``source`` (the log's name) and ``svg`` (the picture the CLI's
    HTML page draws without Graphviz; its text escaped, no script)."""

    pmap: ProcessMap
    source: str
    svg: str


@dataclass
class _Entry:
    revision: Revision
    history: ServiceHistory
    ranges: OrderedDict = field(default_factory=OrderedDict)


class MeasuresCache:
    """Per service: the history and measures of its current revision, and its insight and
    process map (see the module)."""

    def __init__(self, store: Store):
        self.store = store
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str | tuple, threading.Lock] = {}
        #: (name, start, end) -> [its lock, threads holding or waiting for it]
        self._range_locks: dict[tuple, list] = {}
        self._guard = threading.Lock()
        #: name -> (revision key, InsightState); and the threads computing one.
        self._insights: dict[str, tuple[tuple, InsightState]] = {}
        self._working: dict[str, tuple[tuple, threading.Thread]] = {}
        self._maps: dict[str, tuple[tuple, MapView | None]] = {}

    def revision(self, name: str) -> Revision | None:
        return service_revision(self.store, name)

    def measures(
        self, name: str, start: date | None = None, end: date | None = None
    ) -> Measured | None:
        """The measures of ``name`` from ``start`` to ``end`` as :func:`flowcap.measures.measure`
        gives them; ``None`` when the store holds no such service. Its errors (a bad range,
        a service with no referrals) pass through."""
        revision = self.revision(name)
        if revision is None:
            return None
        with self._lock(name):
            entry = self._entry(name, revision)
            found = entry.ranges.get((start, end))
            if found is not None:
                entry.ranges.move_to_end((start, end))
                return found
            if (start, end) == (None, None):  # the whole history, once, under the lock
                return self._keep(entry, (start, end), measure(entry.history))
        # Another range is measured under a lock of its own: it takes seconds on a long
        # history, and holding the service's lock made every request for the service wait
        # behind it (the load benchmark's p99); with no lock at all, fifty users asking for
        # one new range measured it fifty times at once and ran the machine out of memory.
        with self._range_lock((name, start, end)):
            with self._lock(name):
                found = entry.ranges.get((start, end))
            if found is None:
                result = measure(entry.history, start, end)
                with self._lock(name):
                    found = self._keep(entry, (start, end), result)
            return found

    @staticmethod
    def _keep(entry: _Entry, key: tuple, result: DailyMeasures) -> Measured:
        """Keep ``result`` as the entry's measures of range ``key`` (the newest ranges)."""
        found = entry.ranges.setdefault(key, Measured(result, entry.revision))
        entry.ranges.move_to_end(key)
        while len(entry.ranges) > RANGES_KEPT:
            entry.ranges.popitem(last=False)
        return found

    def _entry(self, name: str, revision: Revision) -> _Entry:
        """The service's entry for ``revision``, its history opened (under its lock)."""
        entry = self._entries.get(name)
        if entry is None or entry.revision.key != revision.key:
            entry = _Entry(revision, open_stored(name, self.store.url))
            self._entries[name] = entry
        return entry

    def warm(self, name: str) -> None:
        """Do now what the first visitor of ``name`` would wait for: measure its whole
        history, make the dashboard's chart and tables and the API's JSON, and compute its
        insight (SPC alerts and risk). A service with nothing to measure is left as it is."""
        try:
            measured = self.measures(name)
        except FlowcapError:
            return  # no referrals stored yet: its pages say so, with nothing to wait for
        if measured is None:
            return
        measured.as_gzip()
        measured.figure_gzip()
        measured.tables()
        measured.backlog_trend()
        self.insight(name, wait=WARM_INSIGHT_SECONDS)

    def warm_all(self) -> None:
        """:meth:`warm` every service in the store, one after another (for a thread started
        with the app: the first dashboards after a start are then served from memory)."""
        for entry in self.store.services():
            try:
                self.warm(entry["name"])
            except Exception:  # noqa: BLE001 - a page asking later gets the error itself
                continue

    # --- the slow analyses -------------------------------------------------------------------

    def insight(self, name: str, *, start: bool = True, wait: float = 0.0) -> InsightState | None:
        """The service's SPC alerts and risk of bad days for its current revision; ``None``
        for a service the store does not hold. When they are not there yet, a background
        thread computes them (unless ``start`` is false) and this answers ``calculating``
        at once, or after waiting up to ``wait`` seconds for them."""
        revision = self.revision(name)
        if revision is None:
            return None
        with self._guard:
            known = self._insights.get(name)
            if known is not None and known[0] == revision.key:
                return known[1]
            working = self._working.get(name)
            if working is None or working[0] != revision.key or not working[1].is_alive():
                if not start:
                    return InsightState("calculating")
                thread = threading.Thread(
                    target=self._compute_insight,
                    args=(name, revision),
                    name=f"flowcap-insight-{name}",
                    daemon=True,
                )
                self._working[name] = (revision.key, thread)
                thread.start()
            else:
                thread = working[1]
        if wait > 0:
            thread.join(wait)
            with self._guard:
                known = self._insights.get(name)
                if known is not None and known[0] == revision.key:
                    return known[1]
        return InsightState("calculating")

    def start_insight(self, name: str) -> None:
        """Start computing the service's insight when it is not there (for a background
        task: a page asks with ``start=False`` and schedules this after its response, so
        that the work does not slow the page that asked)."""
        self.insight(name)

    def _compute_insight(self, name: str, revision: Revision) -> None:
        began = time.perf_counter()
        try:
            with self._lock(name):
                history = self._entry(name, revision).history
            variation = describe_variation(history)
            risk = assess_risk(history, DEFAULT_KS, RISK_HORIZON_DAYS)
            state = InsightState(
                "ready", Insight(revision, variation, risk, time.perf_counter() - began)
            )
        except FlowcapError as error:
            state = InsightState("failed", message=str(error))
        except Exception as error:  # noqa: BLE001 - said on the page, not lost in a thread
            state = InsightState("failed", message=f"it could not be calculated ({error!r})")
        with self._guard:
            self._insights[name] = (revision.key, state)
            if self._working.get(name, (None,))[0] == revision.key:
                del self._working[name]

    def process_map(self, name: str) -> MapView | None:
        """The directly-follows map of the service's stored event log, with its picture;
        ``None`` when its settings have no ``event_log:`` (or the store holds no such
        service). Computed once per revision."""
        revision = self.revision(name)
        if revision is None:
            return None
        with self._lock(name):
            known = self._maps.get(name)
            if known is not None and known[0] == revision.key:
                return known[1]
            service = self._entry(name, revision).history.service
            view = None
            if service.event_log is not None:
                from flowcap.report.process_map import process_map_svg

                events = stored_event_log(self.store.events(name), service)
                pmap = process_map(events.sorted_events())
                title = f"Process map: {events.source}"
                svg = process_map_svg(pmap, title, graphviz=False)
                view = MapView(pmap, events.source, svg)
            self._maps[name] = (revision.key, view)
            return view

    @contextmanager
    def _range_lock(self, key: tuple) -> Iterator[None]:
        """Hold the lock of one range ``(name, start, end)``; the lock is forgotten when no
        thread holds or waits for it (the ranges users ask for are unbounded)."""
        with self._guard:
            held = self._range_locks.setdefault(key, [threading.Lock(), 0])
            held[1] += 1
        try:
            with held[0]:
                yield
        finally:
            with self._guard:
                held[1] -= 1
                if held[1] == 0:
                    del self._range_locks[key]

    def _lock(self, key: str | tuple) -> threading.Lock:
        """The lock of a service (its name)."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
