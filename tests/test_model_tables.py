"""The four tables as one type (flowcap.model.tables): spans, history, contents."""

from __future__ import annotations

import pandas as pd

from flowcap.model.roster import Roster
from flowcap.model.tables import ServiceTables, describe_contents


def tables(referral_dates: list[str], sessions: pd.DataFrame | None = None) -> ServiceTables:
    referrals = pd.DataFrame(
        {
            "case": [f"R{i}" for i in range(len(referral_dates))],
            "referral_date": pd.to_datetime(referral_dates),
            "case_type": "advocacy",
            "source": "",
        }
    )
    waiting = pd.DataFrame(
        {"case": [], "case_type": [], "waiting_since": pd.to_datetime([])}, dtype=object
    )
    roster = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-03-03", "2025-03-04"]),
            "resource": "idva",
            "staff": [2.0, 1.0],
            "minutes_per_staff": [240.0, 240.0],
        }
    )
    return ServiceTables(referrals=referrals, waiting=waiting, roster=roster, sessions=sessions)


def test_a_roster_given_as_rows_is_wrapped_and_none_is_empty():
    made = tables(["2025-03-04"])
    assert isinstance(made.roster, Roster) and len(made.roster.rows) == 2
    bare = ServiceTables(made.referrals, made.waiting, None, None)
    assert isinstance(bare.roster, Roster) and len(bare.roster.rows) == 0


def test_spans_count_rows_and_their_first_and_last_dates():
    spans = tables(["2025-03-05", "2025-03-03", "2025-03-04"]).spans()
    assert spans["referrals"] == (3, pd.Timestamp("2025-03-03"), pd.Timestamp("2025-03-05"))
    assert spans["waiting"] == (0, None, None)
    assert spans["roster"] == (2, pd.Timestamp("2025-03-03"), pd.Timestamp("2025-03-04"))
    assert "sessions" not in spans  # none recorded: activity is modelled


def test_history_needs_a_referral():
    assert tables(["2025-03-04"]).has_history
    assert not tables([]).has_history


def test_contents_list_the_labelled_tables_then_holidays_and_options():
    holidays = pd.DataFrame(
        {
            "start": pd.to_datetime(["2025-04-07", "2025-07-21"]),
            "end": pd.to_datetime(["2025-04-18", "2025-09-01"]),
            "name": ["Easter", "Summer"],
        }
    )
    labels = {"referrals": "referrals.csv", "school_holidays": "holidays", "scenarios": "options"}
    contents = describe_contents(tables(["2025-03-04"]), holidays, 3, labels)
    assert contents == [
        ("referrals.csv", 1, pd.Timestamp("2025-03-04"), pd.Timestamp("2025-03-04")),
        ("holidays", 2, pd.Timestamp("2025-04-07"), pd.Timestamp("2025-09-01")),
        ("options", 3, None, None),
    ]
    # Unlabelled lines and absent holidays or options are left out.
    assert describe_contents(tables([]), None, None, {"waiting": "waiting"}) == [
        ("waiting", 0, None, None)
    ]
