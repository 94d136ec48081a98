"""The store verbs (flowcap.manage): settings saved without a folder, erasure by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import flowcap
from conftest import LOG_SERVICE, WORKED_SERVICE, log_folder, worked_example
from flowcap.errors import InputError, StoreError
from flowcap.history import open_stored
from flowcap.manage import save_settings
from flowcap.plan import simulate_ahead
from flowcap.store import Store

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = (ROOT / "examples" / "anchor-lindley" / "service.yaml").read_bytes()
ANCHOR_NAME = yaml.safe_load(ANCHOR)["name"]


@pytest.fixture
def url(tmp_path, backend):
    """The store under test: PostgreSQL's (FLOWCAP_DATABASE_URL), else an SQLite file."""
    import os

    return os.environ.get("FLOWCAP_DATABASE_URL") or f"sqlite:///{tmp_path / 'flowcap.db'}"


def test_a_service_can_be_made_in_the_store_alone(url):
    assert save_settings(ANCHOR_NAME, "service", ANCHOR, database_url=url) == 1
    assert save_settings(ANCHOR_NAME, "service", ANCHOR, database_url=url) is None  # same
    history = open_stored(ANCHOR_NAME, url)
    assert not history.has_history and history.measures is None
    # Its case types carry demand models, so it can be simulated with no data at all.
    report = simulate_ahead(history, horizon=30, replications=200, start=None)
    assert report.spec.horizon_days >= 30 and report.result.final_backlog.shape[-1] == 200


def test_options_are_checked_against_the_stored_service_before_saving(url):
    save_settings(ANCHOR_NAME, "service", ANCHOR, database_url=url)
    resource = next(iter(yaml.safe_load(ANCHOR)["resources"]))
    good = (
        f"overtime:\n  - overtime: {{resource: {resource}, minutes_per_day: 30, "
        "start: 2026-01-05, end: 2026-01-09}\n"
    ).encode()
    assert save_settings(ANCHOR_NAME, "scenarios", good, database_url=url) == 1
    with pytest.raises(InputError, match="unknown resource 'nobody'"):
        save_settings(
            ANCHOR_NAME, "scenarios", good.replace(resource.encode(), b"nobody"), database_url=url
        )
    assert [o.name for o in open_stored(ANCHOR_NAME, url).scenarios] == ["overtime"]
    # Removing the file is a version of its own: the service then has no options.
    assert save_settings(ANCHOR_NAME, "scenarios", None, database_url=url) == 2
    assert open_stored(ANCHOR_NAME, url).scenarios == ()


def test_a_service_yaml_must_keep_its_name_and_be_valid(url):
    save_settings(ANCHOR_NAME, "service", ANCHOR, database_url=url)
    with pytest.raises(StoreError, match="a new name is a new service"):
        save_settings("Another name", "service", ANCHOR, database_url=url)
    with pytest.raises(InputError, match="service.yaml"):
        save_settings(ANCHOR_NAME, "service", b"name: [unclosed\n", database_url=url)
    with pytest.raises(StoreError):  # settings of a service the store does not hold
        save_settings("Nobody", "scenarios", b"", database_url=url)
    store = Store(url)
    assert store.settings(ANCHOR_NAME)["service"]["version"] == 1  # nothing else was saved
    store.close()


def test_saving_settings_is_seen_by_the_service_folder_import_too(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    report = flowcap.import_folder(folder)
    assert report.settings == {"service": 1, "scenarios": None, "school_holidays": None}
    changed = dict(WORKED_SERVICE, region="GB-WLS")
    (folder / "service.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    assert flowcap.import_folder(folder).settings["service"] == 2


def test_erasing_by_name_needs_the_name_and_a_folder_needs_a_folder(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    flowcap.import_folder(folder)
    with pytest.raises(InputError, match="no such folder"):
        flowcap.erase_case(tmp_path / "svc-typo", "R01")
    removed = flowcap.erase_case(folder, "R01")
    assert removed["referrals"] == 1


def _yaml(service: dict) -> bytes:
    return yaml.safe_dump(service, sort_keys=False).encode()


def test_a_service_yaml_may_not_strand_the_stored_rows(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    flowcap.import_folder(folder)
    url = Store.for_folder(folder).url
    name = WORKED_SERVICE["name"]
    renamed_type = dict(
        WORKED_SERVICE, case_types={"support": WORKED_SERVICE["case_types"]["advocacy"]}
    )
    with pytest.raises(InputError, match="names the case type 'advocacy'"):
        save_settings(name, "service", _yaml(renamed_type), database_url=url)
    # A resource only the stored scenarios name is refused too: they would no longer read.
    two = dict(
        WORKED_SERVICE,
        resources={**WORKED_SERVICE["resources"], "triage": {"staff": 1, "minutes_per_day": 240}},
    )
    assert save_settings(name, "service", _yaml(two), database_url=url) == 2
    overtime = (
        b"overtime:\n  - overtime: {resource: triage, minutes_per_day: 30, "
        b"start: 2025-03-10, end: 2025-03-14}\n"
    )
    assert save_settings(name, "scenarios", overtime, database_url=url) == 1
    with pytest.raises(InputError, match="no longer reads with it"):
        save_settings(name, "service", _yaml(WORKED_SERVICE), database_url=url)
    # A harmless change is saved as a new version, and the service still opens.
    assert save_settings(name, "service", _yaml(dict(two, region="GB-WLS")), database_url=url) == 3
    assert flowcap.open(name, database_url=url).service.region == "GB-WLS"


def test_a_service_yaml_may_not_change_how_a_stored_log_was_read(tmp_path, backend):
    folder = log_folder(tmp_path / "log")
    flowcap.import_folder(folder)
    url = Store.for_folder(folder).url
    name = LOG_SERVICE["name"]
    other_column = json.loads(json.dumps(LOG_SERVICE))
    other_column["event_log"]["case_type"] = "Type"
    with pytest.raises(InputError, match="changes how the event log is read"):
        save_settings(name, "service", _yaml(other_column), database_url=url)
    other_zone = dict(LOG_SERVICE, timezone="Europe/Paris")
    with pytest.raises(InputError, match="changes how the event log is read"):
        save_settings(name, "service", _yaml(other_zone), database_url=url)
    staff = json.loads(json.dumps(LOG_SERVICE))
    staff["resources"]["idva"]["staff"] = 3
    assert save_settings(name, "service", _yaml(staff), database_url=url) == 2


def test_reading_or_erasing_never_leaves_an_empty_store_behind(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWCAP_DATABASE_URL", raising=False)
    folder = worked_example(tmp_path / "never-imported")
    with pytest.raises(StoreError, match="there is no store at .*never-imported"):
        flowcap.erase_case(folder, "R01")
    assert not (folder / ".flowcap").exists()
    typo = tmp_path / "typo.db"
    for attempt in (
        lambda: flowcap.manage.list_services(f"sqlite:///{typo}"),
        lambda: open_stored("Worked example", f"sqlite:///{typo}"),
        lambda: save_settings("Worked example", "scenarios", b"", database_url=f"sqlite:///{typo}"),
    ):
        with pytest.raises(StoreError, match="there is no store at"):
            attempt()
    assert not typo.exists()
    # A service.yaml may make a service, and so its store.
    assert save_settings(ANCHOR_NAME, "service", ANCHOR, database_url=f"sqlite:///{typo}") == 1
    assert typo.is_file()


def test_an_unknown_service_names_the_store_searched(url):
    save_settings(ANCHOR_NAME, "service", ANCHOR, database_url=url)
    store = Store.open(url)
    try:
        with pytest.raises(StoreError, match="the store at .* holds no service 'Nobody'"):
            store.load("Nobody")
    finally:
        store.close()


# --- uploads: files for a stored service -------------------------------------------------------


@pytest.fixture
def worked(url, tmp_path):
    """The worked example in the store under test (12 referrals, 20 waiting)."""
    flowcap.manage.import_folder(worked_example(tmp_path / "worked"), database_url=url)
    return WORKED_SERVICE["name"]


def upload_problems(name, files, url) -> list[str]:
    from flowcap.manage import preview_upload

    with pytest.raises(InputError) as caught:
        preview_upload(name, files, database_url=url)
    return [str(p) for p in caught.value.problems]


REFERRALS = "case_id,referral_date,case_type\n" + "".join(
    f"R{i:02d},2025-03-04,advocacy\n" for i in range(12)
)


def test_an_upload_lists_every_problem_by_file_row_and_column_and_stores_nothing(url, worked):
    bad = REFERRALS.replace("R01,2025-03-04", "R01,2025-13-04").replace(
        "R05,2025-03-04,advocacy", "R05,2025-03-04,burglary"
    )
    before = Store.open(url).counts(worked)
    problems = upload_problems(worked, {"referrals.csv": bad.encode()}, url)
    assert (
        "referrals.csv, row 3, column referral_date: not a date (use YYYY-MM-DD): '2025-13-04'"
        in (problems)
    )
    assert any(
        p.startswith("referrals.csv, row 7, column case_type: unknown case type") for p in problems
    )
    assert Store.open(url).counts(worked) == before


def test_an_upload_is_previewed_against_the_stored_tables_then_imported(url, worked):
    from flowcap.manage import import_upload, preview_upload

    changed = REFERRALS.replace("R03,2025-03-04", "R03,2025-03-05") + "R12,2025-03-05,advocacy\n"
    preview = preview_upload(worked, {"referrals.csv": changed.encode()}, database_url=url)
    [table] = preview.tables
    assert (table.table, table.rows_now, table.rows_after) == ("referrals", 12, 13)
    assert (table.added, table.replaced, table.removed, table.unchanged) == (1, 1, 0, 11)
    assert Store.open(url).counts(worked)["referrals"] == 12  # a preview stores nothing
    done = import_upload(worked, {"referrals.csv": changed.encode()}, database_url=url)
    assert done.imported and Store.open(url).counts(worked) == {
        "referrals": 13,
        "waiting": 20,
        "roster": 0,
        "sessions": 0,
    }
    again = preview_upload(worked, {"referrals.csv": changed.encode()}, database_url=url)
    assert not again.changed and again.tables[0].unchanged == 13


def test_an_uploaded_table_is_checked_with_the_stored_ones(url, worked):
    sessions = (
        "date,case_id,resource,minutes\n"
        "2025-03-05,R00,idva,60\n"  # a stored referral: fine
        "2025-03-05,W03,idva,60\n"  # a stored waiting case: fine
        "2025-03-05,NOBODY,idva,60\n"
        "2025-03-01,R01,idva,60\n"  # before its referral
    )
    problems = upload_problems(worked, {"sessions.csv": sessions.encode()}, url)
    assert problems == [
        "sessions.csv, row 4, column case_id: case id is in neither referrals nor waiting",
        "sessions.csv, row 5, column date: session is dated before its case was referred",
    ]
    # A referrals file that would strand the stored waiting list's dates is refused as a whole.
    early = "case_id,referral_date,case_type\nR00,2025-01-02,advocacy\n"
    [problem] = upload_problems(worked, {"referrals.csv": early.encode()}, url)
    assert "20 stored waiting row(s) would no longer fit" in problem


def test_an_upload_refuses_names_outside_a_service_folder(url, worked):
    problems = upload_problems(
        worked,
        {"../referrals.csv": b"x", "notes.txt": b"x", "roster.csv": b"x", "roster.xlsx": b"x"},
        url,
    )
    assert problems[0] == "../referrals.csv: a file name only, with no folder in it"
    assert problems[1].startswith("notes.txt: not a file of a service folder; upload files named")
    assert problems[2] == "roster.csv: both roster.csv and roster.xlsx; upload one"


def test_an_upload_over_the_limits_is_refused_before_reading(url, worked):
    from flowcap.manage import UploadLimits, UploadTooLarge, preview_upload

    limits = UploadLimits(file_bytes=100, total_bytes=150, files=2)
    with pytest.raises(UploadTooLarge) as caught:
        preview_upload(
            worked,
            {"referrals.csv": REFERRALS.encode(), "a": b"", "b": b""},
            database_url=url,
            limits=limits,
        )
    text = str(caught.value)
    assert "3 files; an upload holds at most 2" in text
    assert "referrals.csv: file is more than 100 bytes" in text
    assert "the limit of one upload (FLOWCAP_MAX_UPLOAD_MB)" in text


def test_an_uploaded_settings_file_is_checked_and_saved_as_a_new_version(url, worked):
    from flowcap.manage import import_upload

    bad = (
        b"overtime:\n  - overtime: {resource: nobody, minutes_per_day: 30, "
        b"start: 2025-03-10, end: 2025-03-14}\n"
    )
    problems = upload_problems(worked, {"scenarios.yaml": bad}, url)
    assert any("unknown resource 'nobody'" in p for p in problems)
    done = import_upload(
        worked,
        {"scenarios.yaml": bad.replace(b"nobody", b"idva")},
        database_url=url,
        saved_by="e@x",
    )
    assert done.settings == ("scenarios",) and done.tables == ()
    assert [o.name for o in open_stored(worked, url).scenarios] == ["overtime"]
    assert Store.open(url).counts(worked)["referrals"] == 12  # the tables stay as they were
