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
