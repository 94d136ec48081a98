"""The measures of each service, computed once per import and kept in the app's memory.

A dashboard, the services list and the API all ask for the same measures many times a day,
while the data change only when someone imports, saves a setting or erases a person. Each
request asks the store for the service's *revision* (a handful of indexed lookups: its newest
import, its newest settings version, its erasures); while that is unchanged the history
opened from the store and the measures of every date range asked for are reused, and the
work of opening and measuring is done once whoever asks first (a lock per service).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from flowcap.history import ServiceHistory, open_stored
from flowcap.measures import DailyMeasures, measure
from flowcap.store import Store, schema

#: Date ranges kept per service and revision (the default range, and the last few asked for).
RANGES_KEPT = 16


@dataclass(frozen=True)
class Revision:
    """What a service's measures depend on in the store: ``key`` changes whenever an import,
    a settings version or an erasure changes what the service holds; ``last_change`` is when
    its data or settings last changed (UTC, naive; ``None`` for an empty service)."""

    key: tuple
    last_change: datetime | None


def service_revision(store: Store, name: str) -> Revision | None:
    """The service's :class:`Revision`, or ``None`` when the store holds no such service."""
    services, imports, settings, erasures = (
        schema.services,
        schema.imports,
        schema.settings,
        schema.erasures,
    )
    with store.engine.connect() as connection:
        service_id = connection.scalar(select(services.c.id).where(services.c.name == name))
        if service_id is None:
            return None
        imported = connection.execute(
            select(func.max(imports.c.id), func.max(imports.c.imported_at)).where(
                imports.c.service_id == service_id
            )
        ).one()
        saved = connection.execute(
            select(func.max(settings.c.id), func.max(settings.c.saved_at)).where(
                settings.c.service_id == service_id
            )
        ).one()
        erased = connection.execute(
            select(func.count(), func.max(erasures.c.erased_at)).where(
                erasures.c.service_id == service_id
            )
        ).one()
    stamps = [stamp for stamp in (imported[1], saved[1], erased[1]) if stamp is not None]
    key = (service_id, imported[0], saved[0], erased[0], erased[1])
    return Revision(key=key, last_change=max(stamps, default=None))


@dataclass
class Measured:
    """The measures of one service over one date range, with their renderings made on first
    use: ``as_json`` (the bytes of ``flowcap measures --json``) and ``figure_json`` (the
    dashboard's Plotly figure)."""

    result: DailyMeasures
    revision: Revision
    _json: bytes | None = field(default=None, repr=False)
    _figure: str | None = field(default=None, repr=False)

    def as_json(self) -> bytes:
        if self._json is None:
            # As the CLI writes it (json.dumps of DailyMeasures.as_json), byte for byte.
            self._json = json.dumps(self.result.as_json()).encode()
        return self._json

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


@dataclass
class _Entry:
    revision: Revision
    history: ServiceHistory
    ranges: OrderedDict = field(default_factory=OrderedDict)


class MeasuresCache:
    """Per service: the history and measures of its current revision (see the module)."""

    def __init__(self, store: Store):
        self.store = store
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

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
            entry = self._entries.get(name)
            if entry is None or entry.revision.key != revision.key:
                history = open_stored(name, self.store.url)
                entry = _Entry(revision, history)
                self._entries[name] = entry
            found = entry.ranges.get((start, end))
            if found is None:
                found = Measured(measure(entry.history, start, end), entry.revision)
                entry.ranges[(start, end)] = found
                while len(entry.ranges) > RANGES_KEPT:
                    entry.ranges.popitem(last=False)
            else:
                entry.ranges.move_to_end((start, end))
            return found

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())
