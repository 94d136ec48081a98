"""Fuzzing event logs (XES, CSV and XLSX) read through a service folder's ``event_log:``:
every generated log ends in referrals and sessions or a clear error, within the deadline.

XES inputs are built as documents: traces and events whose attributes have odd keys, types
(``string``, ``date``, ``int``, ``list``, an unknown tag), values (timestamps at pandas'
bounds, markup, control characters) and nesting, then sometimes a ``<!DOCTYPE>`` with an
entity, a namespace, a comment, gzip, or the bytes cut short. CSV and XLSX logs are the
tests' small log with odd cells, headers and encodings (:mod:`fuzz_inputs`).
"""

from __future__ import annotations

import copy
import gzip
import json
import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import LOG, LOG_SERVICE
from flowcap.io import read_service_folder
from flowcap.model.limits import FIRST_DATE, LAST_DATE
from fuzz_inputs import (
    mutated_bytes,
    mutated_table,
    mutated_workbook,
    odd_cell,
    outcome,
)
from fuzz_profiles import fuzz_settings

fuzz = fuzz_settings()

ACTIVITIES = ("Referral received", "Triage call", "Risk assessment", "Case closed")
TIMESTAMPS = (
    "2024-06-03T10:00:00+01:00",
    "2024-06-03T08:00:00.000Z",
    "2024-06-04T09:00:00",
    "2024-06-04T11:00:00+00:00",
)
ODD_TIMESTAMPS = (
    "1677-09-21T00:12:43.145224193+00:00",
    "1677-09-21T00:00:00+00:00",
    "2262-04-11T23:47:16.854775807+00:00",
    "2262-04-12T00:00:00Z",
    "1899-12-31T23:00:00Z",
    "1900-01-01T00:00:00+14:00",
    "2200-12-31T23:59:59-12:00",
    "2201-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2024-06-03",
    "2024-06-03T25:00:00",
    "2024-02-30T10:00:00Z",
    "2024-06-03T10:00:00+25:00",
    "1e400",
    "now",
    "",
)


def _xes_service(file: str) -> dict:
    service = copy.deepcopy(LOG_SERVICE)
    service["event_log"] = {
        "file": file,
        "default_case_type": "standard",
        "activities": {
            "Triage call": {"resource": "triage", "minutes": 30},
        },
    }
    return service


def _attribute(draw, key: str, value: str, tag: str = "string") -> str:
    return f"<{tag} key={quoteattr(key)} value={quoteattr(value)}/>"


@st.composite
def xes_logs(draw) -> bytes:
    """An XES log: a few traces of a few events, with odd attributes here and there."""

    def odd_attribute() -> str:
        tag = draw(
            st.sampled_from(["string", "date", "int", "float", "boolean", "id", "odd", "list"])
        )
        key = draw(
            st.sampled_from(
                ["concept:name", "time:timestamp", "org:resource", "lifecycle:transition"]
            )
            | odd_cell()
        )
        value = draw(odd_cell())
        if tag == "list":
            inner = _attribute(draw, "concept:name", draw(odd_cell()))
            return f"<list key={quoteattr(key)}><values>{inner}</values></list>"
        return _attribute(draw, key, value, tag)

    traces = []
    for t in range(draw(st.integers(0, 3))):
        events = []
        for e in range(draw(st.integers(1, 4))):
            activity = ACTIVITIES[1] if e == 0 else draw(st.sampled_from(ACTIVITIES))
            attributes = [
                _attribute(draw, "concept:name", activity),
                _attribute(draw, "time:timestamp", TIMESTAMPS[e % len(TIMESTAMPS)], "date"),
                _attribute(draw, "lifecycle:transition", "complete"),
            ]
            if draw(st.booleans()):
                attributes.append(_attribute(draw, "org:resource", "Ann"))
            for _ in range(draw(st.integers(0, 1))):
                where = draw(st.integers(0, len(attributes)))
                change = draw(st.sampled_from(["none", "odd", "drop", "timestamp", "nested"]))
                if change == "none":
                    pass
                elif change == "odd":
                    attributes.insert(where, odd_attribute())
                elif change == "drop" and attributes:
                    attributes.pop(min(where, len(attributes) - 1))
                elif change == "timestamp":
                    stamp = draw(st.sampled_from(ODD_TIMESTAMPS) | odd_cell())
                    attributes[1 % len(attributes)] = _attribute(
                        draw, "time:timestamp", stamp, "date"
                    )
                else:
                    attributes.append(
                        f'<string key="note" value="x">{odd_attribute()}{odd_attribute()}</string>'
                    )
            events.append("<event>" + "".join(attributes) + "</event>")
        name = draw(st.sampled_from([f"case {t}", "", "NA", "[/x]"]) | odd_cell())
        head = (
            _attribute(draw, "concept:name", name) if draw(st.integers(0, 9)) else odd_attribute()
        )
        traces.append("<trace>" + head + "".join(events) + "</trace>")
    body = "".join(traces)
    log = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">'
        '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>'
        f"{body}</log>\n"
    )
    change = draw(
        st.sampled_from(
            ["none"] * 5 + ["doctype", "entity", "comment", "pi", "encoding", "no_ns", "cdata"]
        )
    )
    if change == "doctype":
        log = log.replace("<log ", '<!DOCTYPE log SYSTEM "file:///etc/passwd">\n<log ', 1)
    elif change == "entity":
        log = log.replace(
            "<log ",
            '<!DOCTYPE log [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n<log ',
            1,
        ).replace('value="Ann"', 'value="&b;&b;&b;"')
    elif change == "comment":
        log = log.replace("<trace>", "<trace><!-- [/x] \x1b[31m -->", 1)
    elif change == "pi":
        log = log.replace("<trace>", '<trace><?xml-stylesheet href="x"?>', 1)
    elif change == "encoding":
        log = log.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    elif change == "no_ns":
        log = log.replace(' xmlns="http://www.xes-standard.org/"', "", 1)
    elif change == "cdata":
        log = log.replace("</trace>", "<![CDATA[ ]]></trace>", 1)
    raw = draw(mutated_bytes(log))
    if draw(st.integers(0, 4)) == 0:
        raw = gzip.compress(raw, mtime=0)
        if draw(st.booleans()):
            raw = raw[: draw(st.integers(0, len(raw) - 1))]
    return raw


def _in_range(dates: pd.Series) -> bool:
    return bool(
        dates.notna().all()
        and (dates >= pd.Timestamp(FIRST_DATE)).all()
        and (dates <= pd.Timestamp(LAST_DATE)).all()
    )


def _read_log_folder(service: dict, file: str, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        (folder / "service.yaml").write_text(yaml.safe_dump(service))
        (folder / file).write_bytes(raw)
        checked, _ = outcome(lambda: read_service_folder(folder))
    if checked is None:
        return
    referrals = checked.referrals
    assert _in_range(referrals["referral_date"])
    assert referrals["case_type"].isin(list(checked.service.case_types)).all()
    if checked.sessions is not None and len(checked.sessions):
        assert _in_range(checked.sessions["date"])
        minutes = checked.sessions["minutes"].to_numpy(dtype=float)
        assert np.isfinite(minutes).all() and (minutes > 0).all()
    events = checked.event_log.events
    assert events["timestamp"].notna().all()
    assert _in_range(events["local_date"])


@fuzz
@given(raw=xes_logs())
def test_a_fuzzed_xes_log_reads_cleanly_or_fails_clearly(raw):
    _read_log_folder(_xes_service("log.xes"), "log.xes", raw)


LOG_ROWS = [row.split(",") for row in LOG.strip().splitlines()]
LOG_TABLE = (LOG_ROWS[0], LOG_ROWS[1:])


#: Time zones far from UTC either way: a naive time near pandas' bounds read in one of them
#: once wrapped round to the other end of pandas' range.
ZONES = ("Europe/London", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12")


@fuzz
@given(raw=mutated_table(*LOG_TABLE), zone=st.sampled_from(ZONES))
def test_a_fuzzed_csv_log_reads_cleanly_or_fails_clearly(raw, zone):
    service = json.loads(json.dumps(LOG_SERVICE))
    service["event_log"]["timezone"] = zone
    _read_log_folder(service, "events.csv", raw)


@fuzz
@given(raw=mutated_workbook(*LOG_TABLE))
def test_a_fuzzed_xlsx_log_reads_cleanly_or_fails_clearly(raw):
    service = json.loads(json.dumps(LOG_SERVICE))
    service["event_log"]["file"] = "events.xlsx"
    _read_log_folder(service, "events.xlsx", raw)
