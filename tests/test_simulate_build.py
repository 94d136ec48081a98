"""From a service and its history to the days ahead: hand-worked small services and the example.

The small service has a triage team and two IDVAs; a high-risk case needs a 30-minute triage
call on the day and three weekly hour-long IDVA sessions from two days later; a standard case
needs a 20-minute call. Statistical checks use fixed seeds and at least three standard errors.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flowcap import open as open_service
from flowcap.errors import FlowcapError
from flowcap.measures import daily_measures
from flowcap.measures.work import step_table
from flowcap.model import Service, working_calendar
from flowcap.model.roster import Roster
from flowcap.model.tables import ServiceTables
from flowcap.simulate import run
from flowcap.simulate.build import MIN_DAYS_PER_MEAN, build_spec, fit_daily_demand

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"


def small_service() -> Service:
    return Service.model_validate(
        {
            "name": "Small",
            "resources": {
                "triage": {"staff": 1, "minutes_per_day": 60},
                "idva": {"staff": 2, "minutes_per_day": 100, "absence_rate": 0.1},
            },
            "case_types": {
                "high": {
                    "priority": 1,
                    "steps": [
                        {"resource": "triage", "minutes": 30},
                        {
                            "resource": "idva",
                            "minutes": 60,
                            "after_days": 2,
                            "repeat": 3,
                            "every_days": 7,
                        },
                    ],
                },
                "standard": {"priority": 2, "resource": "triage", "minutes": 20},
            },
        }
    )


def frame(columns: dict) -> pd.DataFrame:
    return pd.DataFrame(columns)


def referrals(*rows) -> pd.DataFrame:
    return frame(
        {
            "case_key": [r[0] for r in rows],
            "referral_date": pd.to_datetime([r[1] for r in rows]),
            "case_type": [r[2] for r in rows],
            "source": "",
        }
    )


def waiting(*rows) -> pd.DataFrame:
    return frame(
        {
            "case_key": pd.Series([r[0] for r in rows], dtype=object),
            "case_type": pd.Series([r[1] for r in rows], dtype=object),
            "waiting_since": pd.to_datetime(pd.Series([r[2] for r in rows], dtype=object)),
        }
    )


def roster(*rows) -> pd.DataFrame:
    return frame(
        {
            "date": pd.to_datetime(pd.Series([r[0] for r in rows], dtype=object)),
            "resource": pd.Series([r[1] for r in rows], dtype=object),
            "staff": pd.Series([float(r[2]) for r in rows], dtype=float),
            "minutes_per_staff": pd.Series(
                [r[3] if len(r) > 3 else np.nan for r in rows], dtype=float
            ),
        }
    )


def sessions(*rows) -> pd.DataFrame:
    return frame(
        {
            "date": pd.to_datetime([r[0] for r in rows]),
            "case_key": [r[1] for r in rows],
            "resource": [r[2] for r in rows],
            "minutes": [float(r[3]) for r in rows],
        }
    )


def two_day_history(recorded: bool) -> ServiceTables:
    """Mon 3 and Tue 4 March 2025, with two cases already waiting before the period.

    Mon: H1 (high), S1, S2 (standard). Tue: H2, H3, H4 (high). Waiting: W1 (standard, since
    20 Feb), W2 (high, since 28 Feb: its triage call and first IDVA session are overdue, its
    other sessions fall due on 9 and 16 March). Recorded sessions: H1's call on Monday; S1's
    call and, early, H1's first IDVA session on Tuesday.
    """
    refs = referrals(
        ("H1", "2025-03-03", "high"),
        ("S1", "2025-03-03", "standard"),
        ("S2", "2025-03-03", "standard"),
        ("H2", "2025-03-04", "high"),
        ("H3", "2025-03-04", "high"),
        ("H4", "2025-03-04", "high"),
    )
    wait = waiting(("W1", "standard", "2025-02-20"), ("W2", "high", "2025-02-28"))
    done = None
    if recorded:
        done = sessions(
            ("2025-03-03", "H1", "triage", 30),
            ("2025-03-04", "S1", "triage", 20),
            ("2025-03-04", "H1", "idva", 60),
        )
    return ServiceTables(refs, wait, roster(), done)


# --- start, staff ----------------------------------------------------------------------------


def test_no_history_starts_on_the_given_day_from_an_empty_backlog():
    overrides = {
        "high": {"dist": "poisson", "per_day": 2.0},
        "standard": {"dist": "negative_binomial", "per_day": 5.0, "dispersion": 3.0},
    }
    spec, start = build_spec(
        small_service(),
        None,
        None,
        horizon_days=30,
        start=date(2025, 6, 2),
        demand_overrides=overrides,
    )
    assert start == date(2025, 6, 2)
    assert spec.horizon_days == 30
    assert np.all(spec.opening_backlog_minutes == 0) and np.all(spec.due_ahead_minutes == 0)
    assert np.all(spec.mean_cases_per_day[0] == 2.0) and np.all(spec.mean_cases_per_day[1] == 5.0)
    assert spec.dispersion[0] == np.inf and spec.dispersion[1] == 3.0
    assert all(p is None for p in spec.patience_days)  # no case type has a patience
    _, today = build_spec(small_service(), None, None, horizon_days=3, demand_overrides=overrides)
    assert today == date.today()


def test_no_history_and_no_demand_model_is_an_error_naming_the_case_type():
    with pytest.raises(FlowcapError, match="standard"):
        build_spec(
            small_service(),
            None,
            None,
            horizon_days=10,
            demand_overrides={"high": {"dist": "poisson", "per_day": 1}},
        )
    with pytest.raises(FlowcapError, match="dispersion"):
        build_spec(
            small_service(),
            None,
            None,
            horizon_days=10,
            demand_overrides={
                "high": {"dist": "negative_binomial", "per_day": 1},
                "standard": {"dist": "poisson", "per_day": 1},
            },
        )


def test_with_history_the_start_is_the_day_after_the_data():
    data = two_day_history(recorded=False)
    measures = daily_measures(small_service(), data)
    spec, start = build_spec(small_service(), data, measures, horizon_days=20)
    assert start == date(2025, 3, 5)
    again, _ = build_spec(small_service(), data, measures, horizon_days=20, start=start)
    np.testing.assert_array_equal(again.staff, spec.staff)
    with pytest.raises(FlowcapError, match="2025-03-05"):
        build_spec(small_service(), data, measures, horizon_days=20, start=date(2025, 4, 1))


def test_roster_rows_ahead_set_staff_and_other_days_follow_the_calendar():
    # Start Wed 5 March 2025; Good Friday (18 April) and Easter Monday (21 April) are bank
    # holidays in England. Thursday: one IDVA off; Friday: 1.5 IDVAs (no minutes given);
    # Saturday: a triage officer works 90 minutes.
    service = small_service()
    rota = roster(
        ("2025-03-06", "idva", 1),
        ("2025-03-07", "idva", 1.5),
        ("2025-03-08", "triage", 1, 90.0),
        ("2025-03-01", "idva", 7),  # in the past: ignored
    )
    data = ServiceTables(referrals(), waiting(), rota, None)
    overrides = {t: {"dist": "poisson", "per_day": 1.0} for t in service.case_types}
    start = date(2025, 3, 5)
    spec, _ = build_spec(
        service, data, None, horizon_days=50, start=start, demand_overrides=overrides
    )
    triage, idva = 0, 1
    assert spec.staff[idva, :4].tolist() == [2, 1, 2, 0]
    assert spec.minutes_per_staff[idva, 2] == pytest.approx(1.5 * 100 / 2)
    assert spec.staff[triage, 3] == 1 and spec.minutes_per_staff[triage, 3] == 90
    assert spec.staff[:, 4].tolist() == [0, 0]  # Sunday
    for holiday in (date(2025, 4, 18), date(2025, 4, 21)):
        assert spec.staff[:, (holiday - start).days].tolist() == [0, 0]
    assert spec.staff[idva, (date(2025, 4, 17) - start).days] == 2
    calendar = working_calendar(service, start, start + timedelta(days=49))
    expected = Roster(rota).capacity_minutes(service, calendar)
    for r, name in enumerate(service.resources):
        np.testing.assert_allclose(spec.staff[r] * spec.minutes_per_staff[r], expected[name])
    np.testing.assert_array_equal(spec.absence_rate, [0.0, 0.1])


def test_patience_from_service_yaml_reaches_the_spec():
    described = small_service().model_dump(exclude_none=True)
    described["case_types"]["standard"]["patience_days"] = {"dist": "gamma", "mean": 4, "sd": 2}
    service = Service.model_validate(described)
    spec, _ = build_spec(
        service,
        None,
        None,
        horizon_days=10,
        start=date(2025, 6, 2),
        demand_overrides={t: {"per_day": 1.0} for t in service.case_types},
    )
    assert spec.patience_days == (None, ("gamma", 4.0, 2.0))
    assert spec.renege_hazard(1)[1:].min() > 0 and not spec.renege_hazard(0).any()


# --- demand ---------------------------------------------------------------------------------


def test_weekday_and_month_means_of_the_history_become_the_days_ahead():
    """Two years in which a day's high-risk referrals are (weekday + month) mod 3 and its
    standard ones 2 on Mondays, 1 otherwise: the means ahead are exactly those, the counts
    vary less than Poisson counts, so the dispersion is Poisson's (inf)."""
    days = pd.date_range("2024-01-01", "2025-12-31", freq="D")
    rows = []
    for day in days:
        high = (day.dayofweek + day.month) % 3
        standard = 2 if day.dayofweek == 0 else 1
        rows += [("high", day)] * high + [("standard", day)] * standard
    refs = frame(
        {
            "case_key": [f"C{i:05d}" for i in range(len(rows))],
            "referral_date": [r[1] for r in rows],
            "case_type": [r[0] for r in rows],
            "source": "",
        }
    )
    data = ServiceTables(refs, waiting(), roster(), None)
    service = small_service()
    spec, start = build_spec(service, data, daily_measures(service, data), horizon_days=400)
    assert start == date(2026, 1, 1)
    ahead = pd.date_range(start, periods=400, freq="D")
    np.testing.assert_array_equal(spec.mean_cases_per_day[0], (ahead.dayofweek + ahead.month) % 3)
    np.testing.assert_array_equal(spec.mean_cases_per_day[1], np.where(ahead.dayofweek == 0, 2, 1))
    assert np.all(np.isinf(spec.dispersion))


def test_thin_cells_fall_back_to_the_weekday_then_the_overall_mean():
    # January 2025 only (Wed 1 - Fri 31: 4 or 5 of each weekday, so every cell has >= 4 days).
    days = pd.date_range("2025-01-01", "2025-01-31", freq="D")
    counts = np.array([[d.dayofweek + 0.0] for d in days])
    future = pd.date_range("2025-01-27", "2025-02-09", freq="D")  # into February: no cell
    means, _ = fit_daily_demand(days, counts, future)
    np.testing.assert_array_equal(means[0], future.dayofweek)  # cell, then weekday fallback
    # Ten days: under MIN_DAYS_PER_MEAN of any weekday, so the overall mean everywhere.
    short = days[:10]
    means, _ = fit_daily_demand(short, counts[:10], future)
    assert MIN_DAYS_PER_MEAN > 2
    np.testing.assert_allclose(means[0], counts[:10, 0].mean())
    # A thin cell with a full weekday behind it: 1 January Monday, 5 December Mondays.
    days = pd.DatetimeIndex(
        list(pd.date_range("2024-12-01", "2024-12-31"))
        + list(pd.date_range("2025-01-01", "2025-01-12"))
    )
    counts = np.where(days.month == 12, 4.0, 1.0)[:, None]
    means, _ = fit_daily_demand(days, counts, pd.DatetimeIndex(["2026-01-05"]))  # a Monday
    mondays = days.dayofweek == 0
    assert means[0, 0] == pytest.approx(counts[mondays, 0].mean())


@pytest.mark.parametrize("size", [2.0, np.inf], ids=["negative_binomial", "poisson"])
def test_dispersion_is_recovered_from_counts_around_weekday_means(size):
    """1 / r by the method of moments, within 4 standard errors (delta method from the
    per-day terms the estimator averages)."""
    rng = np.random.default_rng(42)
    days = pd.date_range("2019-01-01", periods=3000, freq="D")
    mean = np.where(days.dayofweek < 5, 6.0, 2.0)
    if np.isinf(size):
        counts = rng.poisson(mean)
    else:
        counts = rng.negative_binomial(size, size / (size + mean))
    _, dispersion = fit_daily_demand(days, counts[:, None].astype(float), days[:7])
    inverse = 0.0 if np.isinf(dispersion[0]) else 1 / dispersion[0]
    terms = (counts - mean) ** 2 - mean
    se = terms.std() * math.sqrt(len(days)) / (mean**2).sum()
    truth = 0.0 if np.isinf(size) else 1 / size
    assert abs(inverse - truth) < 4 * se, (inverse, truth, se)


def test_demand_overrides_win_over_the_history():
    data = two_day_history(recorded=False)
    service = small_service()
    measures = daily_measures(service, data)
    spec, _ = build_spec(
        service,
        data,
        measures,
        horizon_days=20,
        demand_overrides={"standard": {"dist": "negative_binomial", "per_day": 7, "dispersion": 2}},
    )
    assert np.all(spec.mean_cases_per_day[1] == 7) and spec.dispersion[1] == 2
    # high keeps the history's mean: 1 on Monday, 3 on Tuesday, too few days for any cell
    np.testing.assert_allclose(spec.mean_cases_per_day[0], 2.0)
    with pytest.raises(FlowcapError, match="unknown case types: nope"):
        build_spec(service, data, measures, horizon_days=5, demand_overrides={"nope": {}})


# --- work per case and existing cases ---------------------------------------------------------


def test_steps_are_the_case_types_steps_with_repeats_expanded():
    spec, _ = build_spec(
        small_service(),
        None,
        None,
        horizon_days=5,
        start=date(2025, 1, 6),
        demand_overrides={t: {"per_day": 1} for t in ("high", "standard")},
    )
    assert spec.steps.tolist() == [
        [0, 0, 0, 30],
        [0, 1, 2, 60],
        [0, 1, 9, 60],
        [0, 1, 16, 60],
        [1, 0, 0, 20],
    ]
    assert spec.priorities == (1, 2) and spec.case_priority.tolist() == [1, 2]
    assert len(spec.steps) == len(step_table(small_service()))


def test_modelled_backlog_is_split_by_priority_as_the_measures_work_it():
    """Triage: 60 minutes a day. Mon: W2's overdue call (p1, 30) and H1 (30); S1, S2 and W1
    (p2, 60) -> p1 done, p2 has 60 left. Tue: H2-H4 (p1, 90) -> 30 of p1 left, p2 untouched.
    IDVA: W2's overdue 60 minutes are done on Monday."""
    data = two_day_history(recorded=False)
    service = small_service()
    measures = daily_measures(service, data)
    spec, _ = build_spec(service, data, measures, horizon_days=20)
    np.testing.assert_allclose(spec.opening_backlog_minutes, [[30, 60], [0, 0]])
    last = measures.table[measures.table["date"] == "2025-03-04"].set_index("resource")
    np.testing.assert_allclose(
        spec.opening_backlog_minutes.sum(axis=1), last.loc[["triage", "idva"], "backlog_minutes"]
    )


def test_recorded_backlog_is_the_work_no_session_has_completed():
    """Triage: H2-H4 and W2 (p1, 120) and S2, W1 (p2, 40) are outstanding; IDVA: W2's overdue
    session (p1, 60). H1's early IDVA session completes its first one (due Wed 5 March)."""
    data = two_day_history(recorded=True)
    service = small_service()
    measures = daily_measures(service, data)
    spec, start = build_spec(service, data, measures, horizon_days=20)
    assert start == date(2025, 3, 5)
    np.testing.assert_allclose(spec.opening_backlog_minutes, [[120, 40], [60, 0]])
    last = measures.table[measures.table["date"] == "2025-03-04"].set_index("resource")
    np.testing.assert_allclose(
        spec.opening_backlog_minutes.sum(axis=1), last.loc[["triage", "idva"], "backlog_minutes"]
    )
    idva_ahead = spec.due_ahead_minutes[1, 0]
    # H1: 12 and 19 March (days 7, 14; its 5 March session is done); H2-H4: 6, 13, 20 March
    # (days 1, 8, 15, 180 each); W2: 9 and 16 March (days 4, 11).
    expected = {1: 180, 4: 60, 7: 60, 8: 180, 11: 60, 14: 60, 15: 180}
    assert {d: v for d, v in enumerate(idva_ahead) if v} == expected
    assert not spec.due_ahead_minutes[0].any() and not spec.due_ahead_minutes[1, 1].any()


def test_existing_work_beyond_the_horizon_is_left_out_and_modelled_history_completes_nothing():
    data = two_day_history(recorded=False)
    service = small_service()
    spec, _ = build_spec(service, data, daily_measures(service, data), horizon_days=10)
    # H1's 5 March session is not done without recorded sessions: day 0 now; days >= 10 cut.
    expected = {0: 60, 1: 180, 4: 60, 7: 60, 8: 180}
    assert {d: v for d, v in enumerate(spec.due_ahead_minutes[1, 0]) if v} == expected


# --- the bundled example -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("build") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    history = open_service(folder)
    return history.service, history.tables, history.measures


def test_bundled_example_starts_on_new_years_day_from_its_last_backlog(example):
    service, data, measures = example
    spec, start = build_spec(service, data, measures, horizon_days=365)
    assert start == date(2026, 1, 1)
    n_res, n_types = len(service.resources), len(service.case_types)
    assert spec.resources == tuple(service.resources) and spec.case_types == tuple(
        service.case_types
    )
    assert spec.staff.shape == spec.minutes_per_staff.shape == (n_res, 365)
    assert spec.mean_cases_per_day.shape == (n_types, 365)
    assert spec.due_ahead_minutes.shape == (n_res, len(spec.priorities), 365)
    assert len(spec.steps) == len(step_table(service))
    last = measures.table[measures.table["date"] == measures.table["date"].max()]
    backlog = last.set_index("resource").loc[list(service.resources), "backlog_minutes"]
    np.testing.assert_allclose(spec.opening_backlog_minutes.sum(axis=1), backlog, atol=1e-6)
    assert spec.staff[:, 0].tolist() == [0, 0, 0]  # New Year's Day
    assert spec.staff[:, 1].tolist() == [r.staff for r in service.resources.values()]
    # triage work falls due on the referral day, so existing cases bring none ahead; the
    # IDVAs' and caseworkers' weekly and monthly sessions do
    assert spec.due_ahead_minutes[0].sum() == 0
    assert spec.due_ahead_minutes[1].sum() > 0 and spec.due_ahead_minutes[2].sum() > 0
    # about 3,000 referrals a year, Mondays busier than Sundays
    per_day = spec.mean_cases_per_day.sum(axis=0)
    assert 2_500 < per_day.sum() < 4_500
    weekdays = pd.date_range(start, periods=365).dayofweek
    assert per_day[weekdays == 0].mean() > per_day[weekdays == 6].mean()


def test_days_ahead_without_roster_rows_get_the_weekdays_usual_capacity(example):
    """The rule ``flowcap risk`` uses: each weekday's mean capacity over the last 52 weeks of
    history (the example's roster takes leave out), not everyone in."""
    service, data, measures = example
    spec, start = build_spec(service, data, measures, horizon_days=28)
    table = measures.table
    idva = table[(table["resource"] == "idva") & table["is_working_day"]]
    idva = idva[idva["date"] > idva["date"].max() - pd.Timedelta(days=364)]
    usual = idva.groupby(idva["date"].dt.dayofweek)["capacity_minutes"].mean()
    days = pd.date_range(start, periods=28, freq="D")
    r = list(service.resources).index("idva")
    for t, day in enumerate(days):
        planned = spec.staff[r, t] * spec.minutes_per_staff[r, t]
        working = day.dayofweek < 5 and t != 0  # 1 January is a bank holiday
        assert planned == pytest.approx(usual[day.dayofweek] if working else 0.0)
    full = service.resources["idva"].capacity_minutes_per_day
    assert usual.max() < full  # leave shows: fewer minutes than everyone in


def test_simulation_and_risk_share_one_capacity_rule(example):
    """Same days, same capacity: the expected minutes the simulation draws (people × minutes ×
    (1 − absence_rate)) are ``capacity_ahead``'s, with a planned gap in the roster too; and the
    simulated mean capacity agrees within 4 standard errors."""
    service, data, measures = example
    start = date(2026, 1, 1)
    gap = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-01-06", "2026-01-07"]),
            "resource": ["idva", "caseworker"],
            "staff": [1.0, 2.5],
            "minutes_per_staff": [np.nan, 180.0],
        }
    )
    rota = pd.concat([data.roster.rows, gap])
    data = ServiceTables(data.referrals, data.waiting, rota, data.sessions)
    horizon = 21
    spec, first = build_spec(service, data, measures, horizon_days=horizon)
    assert first == start
    calendar = working_calendar(service, start, start + timedelta(days=horizon - 1))
    # What flowcap risk uses (plan.risk.assess_risk calls the roster's capacity_ahead).
    risk = data.roster.capacity_ahead(service, calendar, measures.table)
    staff, minutes = data.roster.staffing_ahead(service, calendar, measures.table)
    result = run(spec, 2_000, seed=1, record="paths")
    for r, (name, resource) in enumerate(service.resources.items()):
        expected = spec.staff[r] * spec.minutes_per_staff[r] * (1 - resource.absence_rate)
        np.testing.assert_allclose(risk[name], expected)
        np.testing.assert_allclose(spec.staff[r] * spec.minutes_per_staff[r], staff[r] * minutes[r])
        total = result.paths.capacity_minutes[r].sum(axis=1)  # per replication
        se = total.std(ddof=1) / math.sqrt(total.size)
        assert abs(total.mean() - risk[name].sum()) < 4 * se
    idva, caseworker = list(service.resources).index("idva"), 2
    assert spec.staff[idva, 5] == 1 and spec.minutes_per_staff[idva, 5] == 230  # 6 January
    assert spec.staff[caseworker, 6] == 3  # 2.5 people x 180: three giving 150 minutes each
    assert spec.minutes_per_staff[caseworker, 6] == pytest.approx(150)
