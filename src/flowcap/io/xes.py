"""Reading an XES event log: one row per event, the way a process-mining export records a case.

A public service's case system (a fine issued, a permit received, a referral triaged) can
export its history as XES, the IEEE 1849 XML format. This reader keeps what flowcap needs
from it: which case, which activity, when, and, where the log has them, who did it and the
lifecycle transition.

The file is parsed as a stream with lxml's ``iterparse``, freeing each trace once read, so
memory stays flat whatever the log's size (the 561,470 events of the road-fines log take
about 6 s). It is parsed safely: nothing is fetched from the network or disk (no external
DTD or entity), lxml's limits on huge text nodes and deep trees stay on, and a file with a
``<!DOCTYPE ...>`` is refused before any event is returned. XES needs no DTD, and libxml2
expands internal entities inside attribute values, where XES keeps all its data, even with
``resolve_entities=False``; refusing the DTD is what keeps an entity-expansion ("billion
laughs") file from turning into events.

Attribute defaults declared in ``<global>`` are not filled in: an event without
``org:resource`` has a missing resource, as pm4py reads it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
from lxml import etree

from flowcap.errors import InputError, Problem
from flowcap.io.source import open_binary

_CASE = "concept:name"
_ACTIVITY = "concept:name"
_TIMESTAMP = "time:timestamp"
_RESOURCE = "org:resource"
_LIFECYCLE = "lifecycle:transition"
_KEYS = (_ACTIVITY, _TIMESTAMP, _RESOURCE, _LIFECYCLE)


def _open(path: Path):
    stream = open_binary(path)
    magic = stream.read(2)
    stream.seek(0)
    if magic == b"\x1f\x8b":  # gzip, whatever the file is called
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return stream


def _refuse_dtd(element, path: Path) -> None:
    docinfo = element.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise InputError(
            [Problem(path.name, "has a <!DOCTYPE> declaration; XES logs need none, refused")]
        )


def read_xes(path: str | Path) -> pd.DataFrame:
    """Read an XES log (``.xes`` or gzipped ``.xes.gz``) into one row per event.

    Parameters
    ----------
    path : str or Path
        The log file. Gzip is recognised by its magic bytes, not by the name.

    Returns
    -------
    DataFrame
        Events in file order, columns ``case_id`` (str, the trace's ``concept:name``),
        ``activity`` (str, the event's ``concept:name``), ``timestamp`` (tz-aware, UTC,
        from ``time:timestamp``), then ``resource`` (``org:resource``) and ``lifecycle``
        (``lifecycle:transition``) when any event has them; missing values are NA/NaT.

    Raises
    ------
    InputError
        When the file is not well-formed XML, has a ``<!DOCTYPE>``, or a trace has no
        ``concept:name``.
    """
    path = Path(path)
    case_ids: list[str] = []
    columns: dict[str, list[str | None]] = {key: [] for key in _KEYS}
    pending: list[tuple[str | None, ...]] = []
    trace_number = 0
    try:
        with _open(path) as stream:
            parser = etree.iterparse(
                stream,
                events=("end",),
                tag=("{*}event", "{*}trace"),
                resolve_entities=False,
                no_network=True,
                huge_tree=False,
                load_dtd=False,
                remove_comments=True,
            )
            checked = False
            for _, element in parser:
                if not checked:
                    _refuse_dtd(element, path)
                    checked = True
                if etree.QName(element).localname == "event":
                    found = dict.fromkeys(_KEYS)
                    for child in element:
                        key = child.get("key")
                        if key in found:
                            found[key] = child.get("value")
                    pending.append(tuple(found.values()))
                    element.clear()
                    continue
                # The end of a trace: its own attributes are its direct children.
                trace_number += 1
                case_id = None
                for child in element:
                    if child.get("key") == _CASE:
                        case_id = child.get("value")
                        break
                if case_id is None:
                    raise InputError(
                        [Problem(path.name, f"trace {trace_number} has no concept:name")]
                    )
                case_ids.extend([case_id] * len(pending))
                for values in pending:
                    for key, value in zip(_KEYS, values, strict=True):
                        columns[key].append(value)
                pending.clear()
                element.clear()
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as error:
        raise InputError([Problem(path.name, f"not well-formed XML: {error}")]) from None
    except (OSError, EOFError) as error:
        raise InputError([Problem(path.name, f"cannot read: {error}")]) from None

    events = pd.DataFrame(
        {
            "case_id": pd.Series(case_ids, dtype=object),
            "activity": pd.Series(columns[_ACTIVITY], dtype=object),
            "timestamp": pd.to_datetime(
                pd.Series(columns[_TIMESTAMP], dtype=object), utc=True, format="ISO8601"
            ),
        }
    )
    for name, key in (("resource", _RESOURCE), ("lifecycle", _LIFECYCLE)):
        values = pd.Series(columns[key], dtype=object)
        if values.notna().any():
            events[name] = values
    return events


def daily_new_cases(events: pd.DataFrame, timezone: str) -> pd.Series:
    """New cases per local calendar day: each case counted on the date of its first event.

    Parameters
    ----------
    events : DataFrame
        At least ``case_id`` and ``timestamp`` (tz-aware), as :func:`read_xes` returns.
    timezone : str
        The service's IANA time zone, e.g. ``"Europe/Rome"``. Timestamps are converted to it
        before flooring to days, so a date recorded at local midnight (22:00 or 23:00 UTC)
        stays on its own day.

    Returns
    -------
    Series
        ``new_cases`` (int) indexed by ``date`` (midnight, tz-naive), one entry for every
        calendar day from the first case to the last, zero on days without a new case.
    """
    first = events.groupby("case_id", sort=False)["timestamp"].min().dropna()
    if first.empty:
        return pd.Series([], index=pd.DatetimeIndex([], name="date"), name="new_cases", dtype=int)
    local_day = first.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    counts = local_day.value_counts().sort_index()
    days = pd.date_range(counts.index.min(), counts.index.max(), freq="D", name="date")
    return counts.reindex(days, fill_value=0).astype(int).rename("new_cases")
