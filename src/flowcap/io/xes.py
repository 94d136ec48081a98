"""Reading an XES event log: one row per event, the way a process-mining export records a case.

A public service's case system (a fine issued, a permit received, a referral triaged) can
export its history as XES, the IEEE 1849 XML format. This reader keeps what flowcap needs
from it: which case, which activity, when, and, where the log has them, who did it and the
lifecycle transition.

**Fast.** The file is streamed through expat (the XML parser in Python's standard library)
in 1 MB blocks. Each element costs one small Python call that keeps four attributes of an
event and skips the rest; nothing else of the log is built: no element tree, no object per
element, no dict per event. Timestamps are parsed once per distinct text (a log records far
fewer distinct instants than events) and the columns are built as arrays. That one call per
element is most of the cost now (expat with handlers that do nothing takes about 80% of
this reader's time): the reader takes about two thirds of the CPU time of the lxml
``iterparse`` reader it replaced, and about a quarter of pm4py's ``read_xes`` on the
road-fines log (561,470 events, 185 MB of XML); see ``benchmarks/bench_processmap.py``.

**Safe.** Nothing is fetched from the network or disk, and a file with a ``<!DOCTYPE ...>``
is refused as soon as the declaration starts, before any entity in it is read: XES needs no
DTD, and refusing it is what keeps an entity-expansion ("billion laughs") file from turning
into events. Limits keep a hostile file from costing memory or time: the XML may inflate
to at most ``FLOWCAP_MAX_FILE_MB`` (a gzip bomb is refused after that many bytes, never
inflated whole), the parser may hold at most :data:`MAX_TOKEN_BYTES` of one unfinished tag
or comment, elements nest at most :data:`MAX_DEPTH` deep (libxml2's two limits, which the
lxml reader had), and the log holds at most ``FLOWCAP_MAX_ROWS`` events.

**Semantics**, as the lxml reader had them: an event is any ``event`` element (in any
namespace); its attributes are its direct children with a ``key`` (the last one wins when a
key repeats), so a ``concept:name`` nested in a list is not taken for the activity. A
trace's case id is its first direct child with key ``concept:name``, wherever it stands
among the events. Attribute defaults declared in ``<global>`` are not filled in: an event
without ``org:resource`` has a missing resource, as pm4py reads it. One change: a timestamp
without an offset is read as UTC wherever it stands (the lxml reader, through pandas, gave
it the offset of the timestamp before it).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd

from flowcap.errors import InputError, Problem, shorten
from flowcap.io import limits
from flowcap.io.source import open_binary

_CASE = "concept:name"
_ACTIVITY = "concept:name"
_TIMESTAMP = "time:timestamp"
_RESOURCE = "org:resource"
_LIFECYCLE = "lifecycle:transition"
#: The event attributes kept, each with its column's position in :func:`_parse`'s result.
_SLOTS = {_ACTIVITY: 0, _TIMESTAMP: 1, _RESOURCE: 2, _LIFECYCLE: 3}
#: An offset after a time of day (``Z``, ``+01:00``, ``-0500``; a bare date has none).
_OFFSET = r":\d\d(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"
#: Bytes read (and, for a gzipped log, inflated) per step of the parser.
_BLOCK = 1 << 20
#: The most bytes of one unfinished tag or comment the parser may hold, checked after each
#: block: libxml2's limit without ``huge_tree`` (a real XES tag is a few hundred bytes).
MAX_TOKEN_BYTES = 10_000_000
#: How deep elements may nest: libxml2's default (an XES log nests five or six levels).
MAX_DEPTH = 256


def _open(path: Path):
    stream = open_binary(path)
    magic = stream.read(2)
    stream.seek(0)
    if magic == b"\x1f\x8b":  # gzip, whatever the file is called
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return stream


def _attribute(attributes: list[str], name: str) -> str | None:
    """The value of attribute ``name`` in expat's ordered ``[name, value, ...]`` list."""
    for i in range(0, len(attributes), 2):
        if attributes[i] == name:
            return attributes[i + 1]
    return None


class _Events:
    """What the parse keeps: four columns of event attributes, and each trace's case id and
    number of events, in file order."""

    def __init__(self) -> None:
        self.columns: tuple[list[str | None], ...] = ([], [], [], [])
        self.case_ids: list[str] = []
        self.events_per_trace: list[int] = []


def _handlers(events: _Events, name: str):
    """expat's start and end handlers filling ``events``.

    They are closures over local variables (the fastest state Python has): they run once
    per element, 4.4 million times for the road-fines log.
    """
    columns = events.columns
    activity, timestamp, resource, lifecycle = columns
    case_ids, events_per_trace = events.case_ids, events.events_per_trace
    slots, deepest = _SLOTS, MAX_DEPTH
    kinds: dict[str, int] = {}  # element name -> 0 attribute, 1 event, 2 trace
    depth = 0
    # The innermost open event or trace: its depth, its values (an event's four, or None
    # for a trace) and, for a trace, its case id. Outer ones wait on the stack (XES nests
    # neither, but a file may).
    container_depth = -2
    child_depth = -1  # container_depth + 1, kept apart to save an addition per element
    values: list[str | None] | None = None
    case: str | None = None
    named = False
    stack: list[tuple] = []
    assigned = 0  # events already given a case id
    traces = 0

    def start(tag: str, attributes: list[str]) -> None:
        nonlocal depth, container_depth, child_depth, values, case, named
        depth += 1
        kind = kinds.get(tag)
        if kind is None:
            local = tag.rpartition(":")[2]  # no namespace processing: "xes:event" -> "event"
            kind = kinds[tag] = 1 if local == "event" else 2 if local == "trace" else 0
        if kind == 0:
            if depth != child_depth or not attributes:
                if depth > deepest:  # (a direct child is one below its parent, checked)
                    raise InputError([Problem(name, f"elements nest more than {deepest} deep")])
                return
            # XES writes key first: <string key="concept:name" value="Create Fine"/>.
            key = attributes[1] if attributes[0] == "key" else _attribute(attributes, "key")
            if key is None:
                return
            if values is not None:
                slot = slots.get(key)
                if slot is not None:
                    if len(attributes) == 4 and attributes[2] == "value":
                        values[slot] = attributes[3]
                    else:
                        values[slot] = _attribute(attributes, "value")
            elif key == _CASE and not named:
                case, named = _attribute(attributes, "value"), True
            return
        if depth > deepest:
            raise InputError([Problem(name, f"elements nest more than {deepest} deep")])
        stack.append((container_depth, values, case, named))
        container_depth, child_depth = depth, depth + 1
        values = [None, None, None, None] if kind == 1 else None
        case, named = None, False

    def end(tag: str) -> None:
        nonlocal depth, container_depth, child_depth, values, case, named, assigned, traces
        if depth != container_depth:
            depth -= 1
            return
        depth -= 1
        if values is not None:  # an event: kept until the trace that holds it ends
            activity.append(values[0])
            timestamp.append(values[1])
            resource.append(values[2])
            lifecycle.append(values[3])
        else:
            traces += 1
            if case is None:
                raise InputError([Problem(name, f"trace {traces} has no concept:name")])
            case_ids.append(case)
            events_per_trace.append(len(activity) - assigned)
            assigned = len(activity)
        container_depth, values, case, named = stack.pop()
        child_depth = container_depth + 1

    return start, end


def _refuse_dtd(name: str):
    def refuse(*_) -> None:
        raise InputError(
            [Problem(name, "has a <!DOCTYPE> declaration; XES logs need none, refused")]
        )

    return refuse


def _parse(path: Path) -> _Events:
    """Stream the log through expat, within the limits; see the module docstring."""
    name = path.name
    events = _Events()
    start, end = _handlers(events, name)
    parser = expat.ParserCreate()
    parser.ordered_attributes = True
    parser.StartDoctypeDeclHandler = _refuse_dtd(name)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    most_bytes, most_events = limits.FILE_MB.value(), limits.ROWS.value()
    inflated = 0
    try:
        with _open(path) as stream:
            while block := stream.read(_BLOCK):
                inflated += len(block)
                if inflated > most_bytes:
                    raise InputError(
                        [
                            Problem(
                                name,
                                f"the XML inflates to more than {most_bytes:,} bytes, the limit "
                                f"({limits.FILE_MB.variable})",
                            )
                        ]
                    )
                parser.Parse(block, False)
                if inflated - parser.CurrentByteIndex > MAX_TOKEN_BYTES:
                    raise InputError(
                        [
                            Problem(
                                name,
                                f"one tag or comment is longer than {MAX_TOKEN_BYTES:,} bytes; "
                                "refused",
                            )
                        ]
                    )
                if len(events.columns[0]) > most_events:
                    raise InputError(
                        [
                            Problem(
                                name,
                                f"more than {most_events:,} events, the limit "
                                f"({limits.ROWS.variable})",
                            )
                        ]
                    )
            parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise InputError([Problem(name, f"not well-formed XML: {error}")]) from None
    except (OSError, EOFError, zlib.error) as error:
        raise InputError([Problem(name, f"cannot read: {error}")]) from None
    return events


def _instants(texts: pd.Series) -> pd.Series:
    """Timestamp texts as UTC instants: an offset converted, a time without one read as UTC.

    The two kinds are parsed apart: pandas, given both in one column, reads a time without
    an offset after one with an offset as if it had that offset, so a text's instant would
    depend on the texts before it.
    """
    aware = texts.str.contains(_OFFSET, regex=True, na=False).to_numpy(dtype=bool)
    instants = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns, UTC]")
    for part in (aware, ~aware):
        if part.any():
            instants[part] = pd.to_datetime(texts[part], utc=True, format="ISO8601")
    return instants


def _unreadable(uniques: np.ndarray, codes: np.ndarray) -> ValueError:
    """The error for the first event whose timestamp cannot be read (``_instants`` failed
    on ``uniques``, the distinct texts in order of first appearance), naming it by its
    position in the log."""
    for code, text in enumerate(uniques):
        try:
            _instants(pd.Series([text], dtype=object))
        except ValueError as error:
            reason = str(error).splitlines()[0]
            reason = reason.split(", at position 0")[0].split(". You might want to try")[0]
            position = int(np.argmax(codes == code))
            return ValueError(f"event {position + 1:,} of the log: {shorten(reason, 200)}")
    return ValueError("a time:timestamp cannot be read")  # each reads alone: not seen


def _timestamps(text: list[str | None], count: int) -> pd.Series:
    """The first ``count`` ``time:timestamp`` texts as UTC instants (NaT where missing),
    each distinct text parsed once: the road-fines log has 561,470 events at 2,000-odd
    distinct instants."""
    codes, uniques = pd.factorize(np.array(text[:count], dtype=object))
    try:
        parsed = _instants(pd.Series(uniques, dtype=object))
    except ValueError:
        raise _unreadable(uniques, codes) from None
    if len(parsed) == 0:  # no event has a timestamp
        return pd.Series(pd.NaT, index=range(len(codes)), dtype="datetime64[ns, UTC]")
    instants = pd.DatetimeIndex(parsed)
    return pd.Series(instants.take(np.maximum(codes, 0)).where(codes >= 0))


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
        from ``time:timestamp``; one without an offset is read as UTC), then ``resource``
        (``org:resource``) and ``lifecycle`` (``lifecycle:transition``) when any event has
        them; missing values are NA/NaT.

    Raises
    ------
    InputError
        When the file is not well-formed XML, has a ``<!DOCTYPE>``, breaks a limit (see the
        module docstring) or a trace has no ``concept:name``.
    ValueError
        When a ``time:timestamp`` is not an ISO 8601 time pandas can hold, naming the first
        such event by its position in the log (never by its case id).
    """
    path = Path(path)
    events = _parse(path)
    # Events after the last trace belong to none: they are dropped, as they always were.
    count = sum(events.events_per_trace)
    trace_of_event = np.repeat(
        np.arange(len(events.case_ids)), np.asarray(events.events_per_trace, dtype=np.int64)
    )
    case_ids = np.array(events.case_ids, dtype=object)
    frame = pd.DataFrame(
        {
            "case_id": pd.Series(case_ids.take(trace_of_event), dtype=object),
            "activity": _text(events.columns[_SLOTS[_ACTIVITY]], count),
            "timestamp": _timestamps(events.columns[_SLOTS[_TIMESTAMP]], count),
        }
    )
    for column, key in (("resource", _RESOURCE), ("lifecycle", _LIFECYCLE)):
        values = _text(events.columns[_SLOTS[key]], count)
        if values.notna().any():
            frame[column] = values
    return frame


def _text(values: list[str | None], count: int) -> pd.Series:
    """The first ``count`` values as an object Series, ``None`` for a missing attribute."""
    return pd.Series(np.array(values[:count], dtype=object), dtype=object)


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
