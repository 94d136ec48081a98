"""Shared fixtures: an isolated key and store per test, and service folders written on the fly.

The ``backend`` fixture runs a test against SQLite and, when ``FLOWCAP_TEST_POSTGRES_URL``
points at a server (``scripts/test.sh`` starts one), against PostgreSQL too, each test in a
fresh database. Under ``CI=true`` a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("FLOWCAP_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def isolated_key(tmp_path_factory, monkeypatch):
    """Each test gets its own key file and the default (folder-local SQLite) store."""
    key_dir = tmp_path_factory.mktemp("key")
    monkeypatch.setenv("FLOWCAP_KEY_FILE", str(key_dir / "pseudonym.key"))
    monkeypatch.delenv("FLOWCAP_KEY", raising=False)
    monkeypatch.delenv("FLOWCAP_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLOWCAP_MAX_FILE_MB", raising=False)
    return key_dir / "pseudonym.key"


def _postgres_database():
    if not POSTGRES_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but FLOWCAP_TEST_POSTGRES_URL is not set: run scripts/test.sh")
        pytest.skip("no PostgreSQL server (set FLOWCAP_TEST_POSTGRES_URL or run scripts/test.sh)")
    name = f"flowcap_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    return admin, name, url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request, monkeypatch):
    """The store backend under test; sets ``FLOWCAP_DATABASE_URL`` for PostgreSQL."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    admin, name, url = _postgres_database()
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", url)
    yield "postgresql"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


WORKED_SERVICE = {
    "name": "Worked example",
    "region": "GB-ENG",
    "resources": {"idva": {"staff": 2, "minutes_per_day": 240, "cost_per_hour": 24}},
    "case_types": {"advocacy": {"priority": 1, "resource": "idva", "minutes": 60}},
}


def write_folder(
    folder: Path,
    service: dict | None = None,
    referrals: str | None = None,
    **files: str,
) -> Path:
    """Write a service folder: ``service.yaml`` from a dict, each other file from its text."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.yaml").write_text(yaml.safe_dump(service or WORKED_SERVICE, sort_keys=False))
    if referrals is not None:
        (folder / "referrals.csv").write_text(referrals)
    for name, content in files.items():
        (folder / f"{name}.csv").write_text(content)
    return folder


def worked_example(folder: Path) -> Path:
    """DESIGN.md's worked example: 20 waiting, 12 referrals on Tue 4 March 2025, 2 IDVAs × 240."""
    referrals = "case_id,referral_date,case_type\n" + "".join(
        f"R{i:02d},2025-03-04,advocacy\n" for i in range(12)
    )
    waiting = "case_id,case_type,waiting_since\n" + "".join(
        f"W{i:02d},advocacy,2025-02-{10 + i % 10:02d}\n" for i in range(20)
    )
    return write_folder(folder, referrals=referrals, waiting=waiting)
