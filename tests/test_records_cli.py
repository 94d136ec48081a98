"""The records commands (flowcap.cli.records) through Typer's runner: they parse, call
flowcap.records and print; bad input is a one-line error."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import flowcap.cli.records as records_cli  # registers the commands on the app
from conftest import worked_example
from flowcap import manage
from flowcap.cli.main import app
from flowcap.io.pseudonym import load_key

runner = CliRunner()


def test_key_rotate_prints_both_fingerprints(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    result = runner.invoke(app, ["key", "rotate", "--folder", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["rows"] == 32 and document["old_fingerprint"] != document["new_fingerprint"]
    assert len(load_key()) == 64


def test_a_readable_key_file_is_refused_with_the_chmod_and_allowed_by_the_flag(
    tmp_path, isolated_key
):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    isolated_key.chmod(0o644)
    result = runner.invoke(app, ["key", "rotate", "--folder", str(folder)])
    assert result.exit_code == 1
    assert "chmod 600" in result.stderr and "Traceback" not in result.output
    assert "Warning" not in result.output
    result = runner.invoke(app, ["key", "rotate", "--folder", str(folder), "--allow-insecure-key"])
    assert result.exit_code == 0, result.output


def test_retention_is_a_dry_run_unless_applied(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    result = runner.invoke(app, ["retention", str(folder), "--older-than", "1d", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["applied"] is False and plan["rows"]["referrals"] == 12
    bad = runner.invoke(app, ["retention", str(folder), "--older-than", "seven"])
    assert bad.exit_code == 1 and "--older-than" in bad.stderr


def test_backup_and_restore_round_trip(tmp_path):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    file = tmp_path / "store.zip"
    result = runner.invoke(app, ["backup", str(file), "--folder", str(folder)])
    assert result.exit_code == 0, result.output
    assert "which is not in the backup" in result.stdout
    target = tmp_path / "new"
    target.mkdir()
    result = runner.invoke(app, ["restore", str(file), "--folder", str(target)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["restore", str(file), "--folder", str(target)])
    assert again.exit_code == 1 and "not empty" in again.stderr


def test_erase_service_needs_yes(tmp_path, monkeypatch):
    folder = worked_example(tmp_path / "svc")
    manage.import_folder(folder)
    monkeypatch.chdir(tmp_path)
    import pytest
    import typer

    with pytest.raises(typer.Exit):
        records_cli.erase_service(str(folder), yes=False)
    records_cli.erase_service(str(folder), yes=True)
    assert manage.list_services(f"sqlite:///{folder}/.flowcap/flowcap.db")[1] == []


def test_erase_with_service_and_no_case_id_removes_the_service_only_with_yes(
    tmp_path, monkeypatch, isolated_key
):
    """``flowcap erase --service NAME --yes``; without --yes nothing changes. And the global
    ``--allow-insecure-key`` lets an import use a key file others may read."""
    folder = worked_example(tmp_path / "svc")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", url)
    manage.import_folder(folder, database_url=url)
    name = manage.list_services(url)[1][0]["name"]
    refused = runner.invoke(app, ["erase", "--service", name])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert [s["name"] for s in manage.list_services(url)[1]] == [name]
    removed = runner.invoke(app, ["erase", "--service", name, "--yes"])
    assert removed.exit_code == 0, removed.output
    assert "Removed the service" in removed.stdout
    assert manage.list_services(url)[1] == []

    isolated_key.chmod(0o644)
    refused = runner.invoke(app, ["import", str(folder)])
    assert refused.exit_code == 1 and "chmod 600" in refused.stderr
    monkeypatch.setenv("FLOWCAP_ALLOW_INSECURE_KEY", "0")  # restored (unset) after the test
    allowed = runner.invoke(app, ["--allow-insecure-key", "import", str(folder)])
    assert allowed.exit_code == 0, allowed.output
