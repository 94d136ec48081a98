"""Reading XES event logs: file order, UTC timestamps, gzip, and refusing entity tricks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from flowcap.errors import InputError
from flowcap.io.xes import daily_new_cases, read_xes

SHARED = Path(__file__).resolve().parents[2] / "shared"
RECEIPT = SHARED / "data" / "real" / "receipt.xes.gz"

# Two fines: the second trace names itself after its events, one event has a nested
# attribute whose inner concept:name must not be taken for the activity.
LOG = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- handmade for flowcap's tests -->
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <global scope="event"><string key="org:resource" value="UNKNOWN"/></global>
  <trace>
    <string key="concept:name" value="F1"/>
    <event>
      <string key="concept:name" value="Create Fine"/>
      <string key="org:resource" value="561"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2006-07-24T00:00:00+02:00"/>
    </event>
    <event>
      <string key="concept:name" value="Send Fine"/>
      <list key="notes"><string key="concept:name" value="NOT AN ACTIVITY"/></list>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2006-12-05T00:00:00+01:00"/>
    </event>
  </trace>
  <trace>
    <event>
      <string key="concept:name" value="Create Fine"/>
      <date key="time:timestamp" value="2006-07-24T09:30:00.000Z"/>
    </event>
    <string key="concept:name" value="F2"/>
  </trace>
</log>
"""


@pytest.fixture(params=["plain", "gzip"])
def log_file(request, tmp_path) -> Path:
    if request.param == "plain":
        path = tmp_path / "fines.xes"
        path.write_text(LOG, encoding="utf-8")
    else:
        path = tmp_path / "fines.xes.gz"
        path.write_bytes(gzip.compress(LOG.encode("utf-8")))
    return path


def test_events_come_back_in_file_order_with_utc_timestamps(log_file):
    events = read_xes(log_file)
    assert list(events.columns) == ["case_id", "activity", "timestamp", "resource", "lifecycle"]
    assert events["case_id"].tolist() == ["F1", "F1", "F2"]
    assert events["activity"].tolist() == ["Create Fine", "Send Fine", "Create Fine"]
    assert str(events["timestamp"].dt.tz) == "UTC"
    assert events["timestamp"].tolist() == [
        pd.Timestamp("2006-07-23 22:00", tz="UTC"),
        pd.Timestamp("2006-12-04 23:00", tz="UTC"),
        pd.Timestamp("2006-07-24 09:30", tz="UTC"),
    ]
    # Attribute defaults in <global> are not filled in, as pm4py reads them.
    assert events["resource"].tolist()[0] == "561"
    assert events["resource"].isna().tolist() == [False, True, True]
    assert events["lifecycle"].tolist()[:2] == ["complete", "complete"]


def test_optional_columns_are_absent_when_no_event_has_them(tmp_path):
    path = tmp_path / "bare.xes"
    path.write_text(
        '<log><trace><string key="concept:name" value="c"/>'
        '<event><string key="concept:name" value="a"/>'
        '<date key="time:timestamp" value="2025-01-01T00:00:00Z"/></event></trace></log>'
    )
    events = read_xes(path)
    assert list(events.columns) == ["case_id", "activity", "timestamp"]


def test_entity_expansion_is_refused_not_expanded(tmp_path):
    path = tmp_path / "laughs.xes"
    path.write_text(
        '<?xml version="1.0"?>\n'
        "<!DOCTYPE log [\n"
        ' <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
        "]>\n"
        '<log><trace><string key="concept:name" value="c"/>'
        '<event><string key="concept:name" value="&lol3;"/>'
        '<date key="time:timestamp" value="2025-01-01T00:00:00Z"/></event></trace></log>'
    )
    with pytest.raises(InputError, match="DOCTYPE"):
        read_xes(path)


def test_external_entities_are_not_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    path = tmp_path / "xxe.xes"
    path.write_text(
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE log [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<log><trace><string key="concept:name" value="c"/>'
        '<event><string key="concept:name" value="&xxe;"/></event></trace></log>'
    )
    with pytest.raises(InputError) as caught:
        read_xes(path)
    assert "TOP SECRET" not in str(caught.value)


def test_a_trace_without_a_name_is_an_input_error(tmp_path):
    path = tmp_path / "anonymous.xes"
    path.write_text(
        '<log><trace><event><string key="concept:name" value="a"/></event></trace></log>'
    )
    with pytest.raises(InputError, match="trace 1 has no concept:name"):
        read_xes(path)


def test_broken_xml_is_an_input_error(tmp_path):
    path = tmp_path / "broken.xes"
    path.write_text("<log><trace>")
    with pytest.raises(InputError, match="not well-formed"):
        read_xes(path)


def test_new_cases_count_on_the_local_date_of_the_first_event():
    events = pd.DataFrame(
        {
            "case_id": ["a", "a", "b", "c"],
            # Local midnight in Rome is 23:00 UTC in winter: it belongs to the next day.
            "timestamp": pd.to_datetime(
                [
                    "2025-03-09T23:00:00Z",
                    "2025-03-01T10:00:00Z",
                    "2025-03-01T23:00:00Z",
                    "2025-03-04T11:00:00Z",
                ],
                utc=True,
            ),
        }
    )
    counts = daily_new_cases(events, "Europe/Rome")
    assert counts.index[0] == pd.Timestamp("2025-03-01")
    assert counts.to_dict() == {
        pd.Timestamp("2025-03-01"): 1,  # case a's first event, not its later one
        pd.Timestamp("2025-03-02"): 1,  # case b, 00:00 local on 2 March
        pd.Timestamp("2025-03-03"): 0,
        pd.Timestamp("2025-03-04"): 1,
    }
    assert counts.name == "new_cases"


@pytest.mark.skipif(not RECEIPT.exists(), reason="../shared/data/real is not checked out")
def test_the_receipt_log_has_its_published_counts():
    events = read_xes(RECEIPT)
    assert events["case_id"].nunique() == 1_434
    assert len(events) == 8_577
    assert events["activity"].nunique() == 27
    assert events["resource"].nunique() == 48
    assert (events["lifecycle"] == "complete").all()
