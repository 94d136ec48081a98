"""A service loaded once (flowcap.history): from a folder or from the store by name, its
settings kept as versions, stores made before settings were kept upgraded."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner

import flowcap
from conftest import WORKED_SERVICE, log_folder, worked_example
from flowcap.cli.main import app
from flowcap.errors import InputError, StoreError
from flowcap.history import open_folder, open_stored
from flowcap.processmap import process_map
from flowcap.store import Store, database_url
from flowcap.store.repository import MIGRATIONS

runner = CliRunner()

OPTIONS = """overtime in March:
  - overtime: {resource: idva, minutes_per_day: 60, start: 2025-03-05, end: 2025-03-20}
"""


def store_url(folder: Path) -> str:
    return database_url(folder)


def test_a_folder_and_its_stored_copy_are_the_same_history(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    (folder / "scenarios.yaml").write_text(OPTIONS)
    (folder / "school_holidays.csv").write_text("start,end\n2025-04-05,2025-04-21\n")
    from_folder = flowcap.open(folder)
    from_store = open_stored("Worked example", store_url(folder))
    assert from_store.folder is None and from_folder.folder == folder
    assert from_store.service == from_folder.service
    assert from_store.scenarios == from_folder.scenarios
    assert [scenario.name for scenario in from_store.scenarios] == ["overtime in March"]
    pd.testing.assert_frame_equal(from_store.school_holidays, from_folder.school_holidays)
    for table in ("referrals", "waiting"):
        pd.testing.assert_frame_equal(
            getattr(from_store.tables, table), getattr(from_folder.tables, table)
        )
    pd.testing.assert_frame_equal(from_store.tables.roster.rows, from_folder.tables.roster.rows)
    pd.testing.assert_frame_equal(from_store.measures.table, from_folder.measures.table)
    assert from_store.settings_version == {"service": 1, "scenarios": 1, "school_holidays": 1}


def test_measures_are_computed_once_per_history(tmp_path, monkeypatch):
    import flowcap.measures

    history = flowcap.open(worked_example(tmp_path / "svc"))
    calls = []
    real = flowcap.measures.daily_measures
    monkeypatch.setattr(
        flowcap.measures, "daily_measures", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    assert history.measures is history.measures
    assert len(calls) == 1


def test_each_changed_settings_file_is_a_new_version(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    (folder / "scenarios.yaml").write_text(OPTIONS)
    flowcap.open(folder)
    flowcap.open(folder)  # nothing changed: no new version
    store = Store(store_url(folder))
    assert {k: v["version"] for k, v in store.settings("Worked example").items()} == {
        "service": 1,
        "scenarios": 1,
    }
    (folder / "scenarios.yaml").write_text(OPTIONS.replace("60", "90"))
    history = flowcap.open(folder)
    (option,) = history.scenarios
    assert option.name == "overtime in March" and option.changes[0].minutes_per_day == 90
    settings = store.settings("Worked example")
    assert settings["scenarios"]["version"] == 2
    assert b"minutes_per_day: 90" in settings["scenarios"]["content"]
    assert settings["scenarios"]["saved_by"]  # who: the system user
    # A removed file is a version with no content: the service then has no options.
    (folder / "scenarios.yaml").unlink()
    assert flowcap.open(folder).scenarios == ()
    assert "scenarios" not in store.settings("Worked example")
    assert open_stored("Worked example", store_url(folder)).scenarios == ()
    store.close()


def test_the_stored_service_yaml_is_the_one_a_name_opens(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    flowcap.open(folder)
    service = (
        (folder / "service.yaml")
        .read_text()
        .replace("minutes_per_day: 240", "minutes_per_day: 300")
    )
    (folder / "service.yaml").write_text(service)
    flowcap.open(folder)
    stored = open_stored("Worked example", store_url(folder))
    assert stored.service.resources["idva"].minutes_per_day == 300
    assert stored.settings_version["service"] == 2


def test_a_name_the_store_does_not_hold_lists_the_ones_it_does(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    flowcap.open(folder)
    with pytest.raises(StoreError, match=r"no service 'Nope' \(it holds: 'Worked example'\)"):
        open_stored("Nope", store_url(folder))


def test_a_store_made_before_settings_were_kept_is_upgraded(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    flowcap.open(folder)
    url = store_url(folder)
    store = Store(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")  # as the last release left it: data, no settings
    store.close()
    with pytest.raises(
        StoreError, match=r"imported by an older flowcap\): import its folder again"
    ):
        open_stored("Worked example", url)  # upgrades the schema; the settings are not there yet
    result = runner.invoke(app, ["import", str(folder)])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.stdout  # the data were there already
    stored = open_stored("Worked example", url)
    assert stored.measures.table["demand_minutes"].sum() == 12 * 60  # the worked example


def test_a_file_given_as_a_folder_is_an_input_error(tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text("name: x\n")
    with pytest.raises(InputError, match="is a file, not a service folder"):
        flowcap.open(path)
    with pytest.raises(InputError, match="is a file, not a service folder"):
        open_folder(path)


def test_an_upgraded_event_log_store_gets_its_events_on_the_next_import(tmp_path, backend):
    folder = log_folder(tmp_path / "log")
    flowcap.open(folder)
    url = store_url(folder)
    store = Store(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")  # no events table, no record of the events' import
    store.close()
    # The referrals have not changed, but the events were never stored: they are now.
    history = flowcap.open(folder)
    assert history.event_log.n_events == 9
    assert process_map(history.event_log.sorted_events()).n_events == 8  # one start left out


def test_a_stored_log_is_the_log_read_from_its_file(tmp_path, backend):
    folder = log_folder(tmp_path / "log")
    stored = flowcap.open(folder).event_log
    read = flowcap.open_event_log(folder, timezone="Europe/London")  # the file, read again
    columns = ["case", "activity", "timestamp", "local_date", "case_type", "lifecycle", "order"]
    pd.testing.assert_frame_equal(
        stored.events[columns].astype({"case": str, "activity": str}),
        read.events[columns].astype({"case": str, "activity": str}),
    )
    assert list(stored.events["case"].cat.categories) == list(read.events["case"].cat.categories)
    assert (stored.source, stored.timezone) == (read.source, read.timezone)
    # Who did each event is not kept in the store.
    assert set(stored.events["resource"]) == {""}
    store = Store(store_url(folder))
    assert "resource" not in store.events("Log service").columns
    store.close()


def test_a_history_pickles_without_its_store_address_in_sight(tmp_path):
    import pickle

    folder = log_folder(tmp_path / "log")
    history = flowcap.open(folder)
    copy = pickle.loads(pickle.dumps(history))
    assert copy.event_log.n_events == 9  # it reads the store when asked
    assert "sqlite" not in repr(history._events)


def test_a_path_that_is_not_there_is_not_taken_for_a_name(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for source in (tmp_path / "typo", "examples/typo", "./typo"):
        with pytest.raises(InputError, match=r"no such folder \(a service in the store is"):
            flowcap.open(source)
    with pytest.raises(StoreError, match="there is no store at .* yet"):
        flowcap.open("Some service")  # a name: looked up in the default store...
    assert not (tmp_path / "data" / "flowcap" / "flowcap.db").exists()  # ...not made by it


def test_a_name_that_looks_like_a_path_opens_by_name(tmp_path, backend):
    from flowcap.manage import save_settings

    url = os.environ.get("FLOWCAP_DATABASE_URL") or f"sqlite:///{tmp_path / 'flowcap.db'}"
    name = "Leeds / Bradford IDVA"
    service = yaml.safe_dump(dict(WORKED_SERVICE, name=name)).encode()
    assert save_settings(name, "service", service, database_url=url) == 1
    with pytest.raises(InputError, match="no such folder"):
        flowcap.open(name, database_url=url)  # a "/": taken for a path
    assert flowcap.open(name, database_url=url, by_name=True).name == name
