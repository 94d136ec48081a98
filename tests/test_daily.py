"""Daily figures (flowcap.daily): a day's referrals, staff and sessions stored as the rows an
import stores, read by the measures as any imported rows; re-entering replaces; only the
last 14 days; every problem names its field."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import write_folder
from flowcap import daily
from flowcap.errors import InputError
from flowcap.history import open_stored
from flowcap.manage import import_folder
from flowcap.measures import measure
from flowcap.store import Store

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
NAME = "Daily example"
SERVICE = {
    "name": NAME,
    "region": "GB-ENG",
    "timezone": "Europe/London",
    "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "resources": {"idva": {"staff": 2, "minutes_per_day": 240, "cost_per_hour": 24}},
    "case_types": {
        "advocacy": {"priority": 1, "resource": "idva", "minutes": 60},
        "outreach": {"priority": 2, "resource": "idva", "minutes": 30},
    },
}
TODAY = date.today()


def recent_service(folder, database_url: str, days: int = 20) -> str:
    """A service whose referrals run from ``days`` ago to three days ago, with sessions."""
    referrals = ["case_id,referral_date,case_type"]
    sessions = ["date,case_id,resource,minutes"]
    for n in range(days, 2, -1):
        day = TODAY - timedelta(days=n)
        referrals.append(f"C{n:03d},{day},advocacy")
        sessions.append(f"{day},C{n:03d},idva,60")
    write_folder(
        folder,
        SERVICE,
        "\n".join(referrals) + "\n",
        sessions="\n".join(sessions) + "\n",
    )
    import_folder(folder, database_url=database_url)
    return NAME


@pytest.fixture
def url(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    url = f"sqlite:///{tmp_path / 'flowcap.db'}"
    recent_service(tmp_path / "folder", url)
    return url


def rows_on(url: str, day: date) -> dict[str, dict]:
    """``flowcap measures --json``'s objects of ``day``, by resource."""
    found = measure(open_stored(NAME, url)).as_json()
    return {row["resource"]: row for row in found if row["date"] == day.isoformat()}


def figures(day: date, referrals=None, staff=None, sessions=None) -> dict:
    return {
        "date": day.isoformat(),
        "referrals": referrals or {},
        "staff": staff or {},
        "sessions": sessions or {},
    }


def test_a_day_entered_is_measured_as_demand_capacity_and_activity(url):
    day = TODAY - timedelta(days=1)
    saved = daily.save_day(
        NAME,
        figures(
            day,
            {"advocacy": 3, "outreach": 2},
            {"idva": 3},
            {"idva": {"count": 4, "minutes": 200}},
        ),
        database_url=url,
    )
    assert saved.figures.referrals == {"advocacy": 3, "outreach": 2}
    assert saved.figures.staff == {"idva": 3}
    assert saved.figures.sessions["idva"] == daily.Sessions(4, 200.0)
    row = rows_on(url, day)["idva"]
    assert row["demand_minutes"] == 3 * 60 + 2 * 30
    assert row["demand_cases"] == 5
    assert row["capacity_minutes"] == 3 * 240  # staff entered x the resource's default
    assert row["activity_minutes"] == 200
    assert row["activity_cases"] == 4  # advocacy first (priority 1), then one outreach
    # Four of the five pieces of work done: one outreach case (30 minutes) waits.
    assert row["backlog_cases"] == 1 and row["backlog_minutes"] == 30
    assert daily.read_day(NAME, day, database_url=url) == saved.figures
    assert day in daily.entered_days(NAME, database_url=url)


def test_re_entering_a_day_replaces_it(url):
    day = TODAY - timedelta(days=2)
    daily.save_day(
        NAME,
        figures(day, {"advocacy": 5}, {"idva": 1}, {"idva": {"count": 2}}),
        database_url=url,
    )
    store = Store.open(url)
    before = store.counts(NAME)
    store.close()
    saved = daily.save_day(
        NAME,
        figures(day, {"advocacy": 2}, {}, {"idva": {"count": 1, "minutes": 45}}),
        database_url=url,
    )
    store = Store.open(url)
    after = store.counts(NAME)
    store.close()
    assert after["referrals"] == before["referrals"] - 3
    assert after["sessions"] == before["sessions"] - 1
    assert after["roster"] == before["roster"] - 1  # no staff given: the default applies
    assert saved.figures.staff == {"idva": None}
    assert saved.changes == (
        "referrals advocacy 5 -> 2",
        "staff idva 1 -> default",
        "sessions idva 2 (120 min) -> 1 (45 min)",
    )
    row = rows_on(url, day)["idva"]
    assert row["demand_cases"] == 2 and row["activity_minutes"] == 45
    assert row["capacity_minutes"] == 2 * 240
    # The same figures again change nothing.
    again = daily.save_day(
        NAME,
        figures(day, {"advocacy": 2}, {}, {"idva": {"count": 1, "minutes": 45}}),
        database_url=url,
    )
    assert again.changes == () and again.audit_detail().endswith("no change")


def test_sessions_complete_the_oldest_due_work_of_figure_cases(url):
    first, second = TODAY - timedelta(days=3), TODAY - timedelta(days=2)
    daily.save_day(NAME, figures(first, {"advocacy": 2}), database_url=url)
    daily.save_day(
        NAME, figures(second, {"advocacy": 1}, sessions={"idva": {"count": 2}}), database_url=url
    )
    row = rows_on(url, second)["idva"]
    # The two cases of the day before are older: they are the ones done.
    assert row["activity_minutes"] == 120
    assert row["backlog_cases"] == 1 and row["backlog_minutes"] == 60


def test_minutes_alone_give_sessions_of_the_planned_length(url):
    day = TODAY
    saved = daily.save_day(
        NAME,
        figures(day, {"advocacy": 3}, sessions={"idva": {"minutes": 180}}),
        database_url=url,
    )
    assert saved.figures.sessions["idva"] == daily.Sessions(3, 180.0)


def test_sessions_without_figure_cases_are_refused(url):
    with pytest.raises(InputError) as caught:
        daily.save_day(NAME, figures(TODAY, sessions={"idva": {"count": 1}}), database_url=url)
    [problem] = caught.value.problems
    assert problem.column == "sessions.idva.count" and "enter the referrals" in problem.message


@pytest.mark.parametrize(
    "day, message",
    [
        (TODAY + timedelta(days=1), "future"),
        (TODAY - timedelta(days=daily.WINDOW_DAYS), "only the last 14 days"),
    ],
)
def test_a_day_outside_the_window_is_refused(url, day, message):
    with pytest.raises(InputError) as caught:
        daily.save_day(NAME, figures(day, {"advocacy": 1}), database_url=url)
    [problem] = caught.value.problems
    assert problem.column == "date" and message in problem.message
    oldest = TODAY - timedelta(days=daily.WINDOW_DAYS - 1)
    assert daily.save_day(NAME, figures(oldest, {"advocacy": 1}), database_url=url)


def test_every_problem_names_its_field(url):
    raw = {
        "date": "03/12/2026",
        "referrals": {"advocacy": -1, "outreach": 1.5, "burglary": 2},
        "staff": {"idva": "two", "triage": 1},
        "sessions": {"idva": {"count": 2, "minutes": 0}},
    }
    with pytest.raises(InputError) as caught:
        daily.save_day(NAME, raw, database_url=url)
    fields = {p.column: p.message for p in caught.value.problems}
    assert set(fields) == {
        "date",
        "referrals.advocacy",
        "referrals.outreach",
        "referrals.burglary",
        "staff.idva",
        "staff.triage",
        "sessions.idva.minutes",
    }
    assert "unknown case type" in fields["referrals.burglary"]
    assert fields["referrals.advocacy"] == "must be a whole number, 0 or more"
    too_many = figures(TODAY, {"advocacy": daily.MAX_REFERRALS + 1})
    with pytest.raises(InputError, match="at most 1,000"):
        daily.save_day(NAME, too_many, database_url=url)


def test_a_save_counts_as_an_import(url):
    from flowcap.web.cache import service_revision

    store = Store.open(url)
    try:
        before = service_revision(store, NAME).key
        daily.save_day(NAME, figures(TODAY, {"advocacy": 1}), database_url=url)
        assert service_revision(store, NAME).key != before
    finally:
        store.close()


def test_a_service_without_sessions_stays_modelled_without_them(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    url = f"sqlite:///{tmp_path / 'modelled.db'}"
    referrals = "case_id,referral_date,case_type\n" + "".join(
        f"M{n},{TODAY - timedelta(days=n)},advocacy\n" for n in range(3, 10)
    )
    import_folder(write_folder(tmp_path / "m", SERVICE, referrals), database_url=url)
    daily.save_day(NAME, figures(TODAY, {"advocacy": 2}, {"idva": 1}), database_url=url)
    history = open_stored(NAME, url)
    assert history.tables.sessions is None
    assert not measure(history).recorded
