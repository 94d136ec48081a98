"""Daily measures (flowcap.measures.daily): exact small cases, the summary of the worked
example, and the vectorised engine against a plain per-day loop."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

import flowcap
from conftest import worked_example
from flowcap.measures import MEASURE_COLUMNS, daily_measures, due_work
from flowcap.measures.daily import measure_period
from flowcap.model import Service, working_calendar
from flowcap.model.tables import ServiceTables
from flowcap.targets import past_contact_target

EMPTY_ROSTER = pd.DataFrame(
    {
        "date": pd.Series(dtype="datetime64[ns]"),
        "resource": pd.Series(dtype=str),
        "staff": pd.Series(dtype=float),
        "minutes_per_staff": pd.Series(dtype=float),
    }
)
EMPTY_WAITING = pd.DataFrame(
    {
        "case_key": pd.Series(dtype=str),
        "case_type": pd.Series(dtype=str),
        "waiting_since": pd.Series(dtype="datetime64[ns]"),
    }
)


def service(**overrides) -> Service:
    spec = {
        "name": "Test",
        "resources": {
            "triage": {"staff": 1, "minutes_per_day": 120},
            "idva": {"staff": 2, "minutes_per_day": 240},
        },
        "case_types": {
            "hrda": {
                "priority": 1,
                "steps": [
                    {"resource": "triage", "minutes": 30},
                    {"resource": "idva", "minutes": 120, "after_days": 1},
                    {
                        "resource": "idva",
                        "minutes": 60,
                        "after_days": 7,
                        "repeat": 3,
                        "every_days": 7,
                    },
                ],
            },
            "burglary": {"priority": 3, "resource": "triage", "minutes": 20},
        },
    }
    spec.update(overrides)
    return Service.model_validate(spec)


def referrals(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_key": [r[0] for r in rows],
            "referral_date": pd.to_datetime([r[1] for r in rows]),
            "case_type": [r[2] for r in rows],
            "source": "",
        }
    )


def roster(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime([r[0] for r in rows]),
            "resource": [r[1] for r in rows],
            "staff": [float(r[2]) for r in rows],
            "minutes_per_staff": [r[3] if len(r) > 3 else np.nan for r in rows],
        }
    )


def sessions(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime([r[0] for r in rows]),
            "case_key": [r[1] for r in rows],
            "resource": [r[2] for r in rows],
            "minutes": [float(r[3]) for r in rows],
        }
    )


def measure(svc, refs, waiting=EMPTY_WAITING, rost=EMPTY_ROSTER, sess=None, until=None):
    return daily_measures(svc, ServiceTables(refs, waiting, rost, sess), until=until)


def rows_for(result, resource):
    return result.table[result.table["resource"] == resource].set_index("date")


def test_steps_spread_a_case_over_the_weeks_it_takes():
    result = measure(service(), referrals(("A", "2025-03-03", "hrda")), until=date(2025, 3, 31))
    idva = rows_for(result, "idva")["demand_minutes"]
    assert idva[idva > 0].to_dict() == {
        pd.Timestamp("2025-03-04"): 120.0,
        pd.Timestamp("2025-03-10"): 60.0,
        pd.Timestamp("2025-03-17"): 60.0,
        pd.Timestamp("2025-03-24"): 60.0,
    }
    assert rows_for(result, "triage").loc["2025-03-03", "demand_minutes"] == 30


def test_weekends_and_bank_holidays_have_no_capacity_unless_rostered():
    # 5 May 2025 is England's Early May bank holiday; Saturday 10 May gets a rostered IDVA.
    result = measure(
        service(),
        referrals(("A", "2025-05-02", "burglary")),
        rost=roster(("2025-05-10", "idva", 1), ("2025-05-07", "idva", 1, 100)),
        until=date(2025, 5, 12),
    )
    capacity = rows_for(result, "idva")["capacity_minutes"]
    assert capacity["2025-05-03"] == 0 and capacity["2025-05-04"] == 0
    assert capacity["2025-05-05"] == 0
    assert capacity["2025-05-06"] == 480
    assert capacity["2025-05-07"] == 100  # one person for 100 minutes
    assert capacity["2025-05-10"] == 240  # roster on a Saturday creates capacity
    assert rows_for(result, "idva").loc["2025-05-05", "bank_holiday"] == "May Day"


def test_urgent_work_goes_first_even_when_younger():
    # Old burglaries wait while a new high-risk case's triage call is done first.
    refs = referrals(
        *[(f"B{i}", "2025-03-03", "burglary") for i in range(6)], ("H", "2025-03-04", "hrda")
    )
    result = measure(svc := service(), refs, until=date(2025, 3, 4))
    triage = rows_for(result, "triage")
    assert triage.loc["2025-03-03", "activity_minutes"] == 120
    assert triage.loc["2025-03-03", "backlog_minutes"] == 0
    first = result.first_contacts.set_index("case_key")["first_contact_date"]
    assert first["H"] == pd.Timestamp("2025-03-04")
    assert svc.case_types["hrda"].priority < svc.case_types["burglary"].priority


def test_first_contact_target_counts_working_days():
    refs = referrals(
        ("MON", "2025-03-03", "burglary"),
        ("FRI", "2025-03-07", "burglary"),
        ("LATE", "2025-03-03", "burglary"),
    )
    sess = sessions(
        ("2025-03-05", "MON", "triage", 20),
        ("2025-03-11", "FRI", "triage", 20),
        ("2025-03-06", "LATE", "triage", 20),
    )
    result = measure(service(), refs, sess=sess, until=date(2025, 3, 14))
    contacts = result.first_contacts.set_index("case_key")
    assert (
        contacts.loc["MON", "working_days_to_contact"] == 2
        and contacts.loc["MON", "status"] == "met"
    )
    assert contacts.loc["FRI", "working_days_to_contact"] == 2  # over the weekend
    assert contacts.loc["LATE", "status"] == "missed"
    assert result.first_contact_share() == pytest.approx(2 / 3)


def test_uncontacted_referral_is_pending_until_its_deadline_passes():
    refs = referrals(("A", "2025-03-03", "burglary"), ("B", "2025-03-06", "burglary"))
    sess = sessions(("2025-03-03", "A", "triage", 20))
    result = measure(service(), refs, sess=sess, until=date(2025, 3, 7))
    status = result.first_contacts.set_index("case_key")["status"]
    assert status["B"] == "pending"
    later = measure(service(), refs, sess=sess, until=date(2025, 3, 11))
    assert later.first_contacts.set_index("case_key")["status"]["B"] == "missed"


def test_a_case_not_contacted_by_the_end_of_its_last_allowed_day_has_missed():
    # Thursday's referral has Friday and Monday (2 working days): not contacted by the end of
    # Monday it is past the target, as the simulation counts it (days_over_target).
    refs = referrals(("A", "2025-03-03", "burglary"), ("B", "2025-03-06", "burglary"))
    sess = sessions(("2025-03-03", "A", "triage", 20))
    assert service().first_contact_target_working_days == 2
    result = measure(service(), refs, sess=sess, until=date(2025, 3, 10))
    assert result.first_contacts.set_index("case_key")["status"]["B"] == "missed"
    assert past_contact_target(2, 2) and not past_contact_target(1, 2)


def test_recorded_activity_above_capacity_is_flagged():
    refs = referrals(*[(f"B{i}", "2025-03-03", "burglary") for i in range(8)])
    sess = sessions(*[("2025-03-03", f"B{i}", "triage", 20) for i in range(8)])
    result = measure(service(), refs, sess=sess)
    triage = rows_for(result, "triage").loc["2025-03-03"]
    assert triage["activity_minutes"] == 160 and triage["capacity_minutes"] == 120
    assert bool(triage["activity_exceeds_capacity"])
    assert triage["backlog_minutes"] == 0


def test_recorded_backlog_keeps_the_identity_and_a_session_completes_a_piece_of_work():
    refs = referrals(
        ("A", "2025-03-03", "burglary"),
        ("B", "2025-03-03", "burglary"),
        ("C", "2025-03-03", "burglary"),
    )
    # A's call took 15 minutes, not 20; B's took 35; C had none yet.
    sess = sessions(("2025-03-03", "A", "triage", 15), ("2025-03-03", "B", "triage", 35))
    triage = rows_for(measure(service(), refs, sess=sess), "triage").loc["2025-03-03"]
    assert triage["demand_minutes"] == 60 and triage["activity_minutes"] == 50
    assert triage["activity_planned_minutes"] == 40  # A's and B's calls, 20 planned each
    assert triage["backlog_minutes"] == 20  # opening 0 + 60 − 40: C's call
    assert triage["backlog_cases"] == 1  # only C still waits


def test_a_long_session_does_not_pay_off_another_cases_work():
    refs = referrals(("A", "2025-03-03", "burglary"), ("B", "2025-03-04", "burglary"))
    sess = sessions(("2025-03-03", "A", "triage", 50))
    triage = rows_for(measure(service(), refs, sess=sess), "triage")
    assert triage.loc["2025-03-03", "backlog_minutes"] == 0
    assert triage.loc["2025-03-04", "backlog_minutes"] == 20
    assert triage.loc["2025-03-04", "backlog_cases"] == 1


def test_summary_of_the_worked_example_over_its_first_week(tmp_path):
    # Tue 4 March 2025: 12 referrals × 60 minutes fall due, 20 cases × 60 are waiting, and
    # 2 IDVAs × 240 give 480 minutes each weekday: the backlog ends Tuesday at 1,200 + 720 −
    # 480 = 1,440, then falls by 480 a day to 0 on Friday. To Mon 10 March: 5 working days.
    history = flowcap.open(worked_example(tmp_path / "svc"))
    result = daily_measures(history.service, history.tables, until=date(2025, 3, 10))
    assert rows_for(result, "idva")["backlog_minutes"].tolist() == [1440, 960, 480, 0, 0, 0, 0]
    [summary] = result.summary().to_dict("records")
    assert summary == {
        "resource": "idva",
        "demand": 720 / 5,  # per working day
        "capacity": 480.0,
        "activity": 4 * 480 / 5,
        "utilisation": 0.8,
        "backlog_minutes": 0.0,
        "backlog_cases": 0,
        "peak_backlog_minutes": 1440.0,
        "peak_date": pd.Timestamp("2025-03-04"),
    }


# --- the vectorised engine against a plain loop -------------------------------------------


def reference_measures(svc: Service, data: ServiceTables, until: date) -> pd.DataFrame:
    """A deliberately naive per-day, per-item loop defining the expected measures."""
    start, end = measure_period(data, until)
    n_days = (end - start).days + 1
    calendar = working_calendar(svc, start.date(), end.date())
    items = due_work(svc, data.referrals, data.waiting)
    rows = []
    for resource, spec in svc.resources.items():
        capacity = [spec.capacity_minutes_per_day if w else 0.0 for w in calendar["is_working_day"]]
        for _, r in data.roster.of(resource).iterrows():
            day = (r["date"] - start).days
            if 0 <= day < n_days:
                each = (
                    spec.minutes_per_day
                    if np.isnan(r["minutes_per_staff"])
                    else r["minutes_per_staff"]
                )
                capacity[day] = r["staff"] * each
        work = [
            dict(r, day=(r["due_date"] - start).days, left=r["minutes"])
            for _, r in items[items["resource"] == resource].iterrows()
        ]
        work.sort(key=lambda w: (w["priority"], w["due_date"], w["case_date"], w["case_key"]))
        backlog = sum(w["minutes"] for w in work if w["day"] < 0)
        if data.sessions is not None:
            mine = data.sessions[data.sessions["resource"] == resource]
            mine = mine.assign(day=(mine["date"] - start).dt.days)
            # Each session completes its case's oldest piece of due work (in due order).
            open_items: dict[str, list] = {}
            for w in sorted(work, key=lambda w: (w["day"], w["case_key"])):
                open_items.setdefault(w["case_key"], []).append(w)
            for _, s in mine.sort_values("day", kind="stable").iterrows():
                pending = open_items.get(s["case_key"], [])
                if pending:
                    w = pending.pop(0)
                    w["done_day"] = max(s["day"], w["day"])
            # Work due and done before the first day is history.
            work = [w for w in work if not (w["day"] < 0 and w.get("done_day", 0) < 0)]
            backlog = sum(w["minutes"] for w in work if w["day"] < 0)
        for day in range(n_days):
            opening = backlog
            due_today = [w for w in work if w["day"] == day]
            demand = sum(w["minutes"] for w in due_today)
            if data.sessions is None:
                left, served_cases = capacity[day], set()
                for w in work:
                    if w["day"] <= day and w["left"] > 0 and left > 0:
                        take = min(w["left"], left)
                        w["left"] -= take
                        left -= take
                        served_cases.add(w["case_key"])
                activity = capacity[day] - left
                waiting = {w["case_key"] for w in work if w["day"] <= day and w["left"] > 1e-9}
                backlog = sum(w["left"] for w in work if w["day"] <= day)
            else:
                today = mine[mine["day"] == day]
                activity = today["minutes"].sum()
                served_cases = set(today["case_key"])
                still_open = [
                    w for w in work if w["day"] <= day and w.get("done_day", n_days) > day
                ]
                waiting = {w["case_key"] for w in still_open}
                backlog = sum(w["minutes"] for w in still_open)
            rows.append(
                {
                    "date": start + pd.Timedelta(days=day),
                    "resource": resource,
                    "demand_minutes": demand,
                    "capacity_minutes": capacity[day],
                    "activity_minutes": activity,
                    "opening_backlog_minutes": opening,
                    "backlog_minutes": backlog,
                    "demand_cases": len({w["case_key"] for w in due_today}),
                    "activity_cases": len(served_cases),
                    "backlog_cases": len(waiting),
                }
            )
    return pd.DataFrame(rows)


def random_data(seed: int, with_sessions: bool) -> tuple[Service, ServiceTables, date]:
    rng = np.random.default_rng(seed)
    svc = service(
        case_types={
            "hrda": {
                "priority": 1,
                "steps": [
                    {"resource": "triage", "minutes": 30},
                    {"resource": "idva", "minutes": 120, "after_days": 1},
                    {
                        "resource": "idva",
                        "minutes": 60,
                        "after_days": 7,
                        "repeat": 4,
                        "every_days": 7,
                    },
                ],
            },
            "sv": {
                "priority": 2,
                "steps": [
                    {"resource": "idva", "minutes": 90, "after_days": 2},
                    {"resource": "triage", "minutes": 15, "repeat": 2, "every_days": 3},
                ],
            },
            "burglary": {"priority": 3, "resource": "triage", "minutes": 20},
            "fraud": {"priority": 3, "resource": "triage", "minutes": 25},
        }
    )
    start = pd.Timestamp("2025-02-03")
    n = 160
    refs = pd.DataFrame(
        {
            "case_key": [f"c{i:04d}" for i in range(n)],
            "referral_date": start + pd.to_timedelta(np.sort(rng.integers(0, 45, n)), unit="D"),
            "case_type": rng.choice(list(svc.case_types), n, p=[0.25, 0.15, 0.3, 0.3]),
            "source": "",
        }
    )
    refs.loc[0, "referral_date"] = start
    waiting = pd.DataFrame(
        {
            "case_key": [f"w{i}" for i in range(12)],
            "case_type": rng.choice(list(svc.case_types), 12),
            "waiting_since": start - pd.to_timedelta(rng.integers(1, 20, 12), unit="D"),
        }
    )
    rost = roster(
        ("2025-02-08", "idva", 1),
        ("2025-02-12", "idva", 0),
        ("2025-02-13", "triage", 2, 60),
        ("2025-01-01", "idva", 5),
    )
    sess = None
    if with_sessions:
        keys = np.concatenate([refs["case_key"], waiting["case_key"]])
        dates = np.concatenate([refs["referral_date"], waiting["waiting_since"]])
        pick = rng.integers(0, len(keys), 300)
        sess = pd.DataFrame(
            {
                "date": pd.to_datetime(dates[pick])
                + pd.to_timedelta(rng.integers(0, 30, 300), unit="D"),
                "case_key": keys[pick],
                "resource": rng.choice(["triage", "idva"], 300),
                "minutes": rng.choice([15.0, 30.0, 60.0, 90.0], 300),
            }
        )
    return svc, ServiceTables(refs, waiting, rost, sess), date(2025, 4, 10)


@pytest.mark.parametrize("with_sessions", [False, True], ids=["modelled", "recorded"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_matches_the_plain_loop(seed, with_sessions):
    svc, data, until = random_data(seed, with_sessions)
    expected = reference_measures(svc, data, until)
    actual = daily_measures(svc, data, until=until).table
    actual = actual.sort_values(["resource", "date"]).reset_index(drop=True)[MEASURE_COLUMNS]
    expected = expected.sort_values(["resource", "date"]).reset_index(drop=True)[MEASURE_COLUMNS]
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, atol=1e-6)


@pytest.mark.parametrize("with_sessions", [False, True], ids=["modelled", "recorded"])
def test_backlog_is_never_negative_and_balances(with_sessions):
    svc, data, until = random_data(7, with_sessions)
    table = daily_measures(svc, data, until=until).table
    assert (table["backlog_minutes"] >= 0).all()
    assert (table["backlog_cases"] >= 0).all()
    balance = (
        table["opening_backlog_minutes"]
        + table["demand_minutes"]
        - table["activity_planned_minutes"]
    )
    np.testing.assert_allclose(table["backlog_minutes"], balance, atol=1e-6)
    if not with_sessions:
        assert (table["activity_minutes"] == table["activity_planned_minutes"]).all()
        assert (table["activity_minutes"] <= table["capacity_minutes"] + 1e-9).all()
    for _, rows in table.groupby("resource"):
        np.testing.assert_allclose(
            rows["opening_backlog_minutes"].to_numpy()[1:], rows["backlog_minutes"].to_numpy()[:-1]
        )
