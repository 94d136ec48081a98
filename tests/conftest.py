"""Shared fixtures: an isolated key and store per test, and service folders written on the fly.

The ``backend`` fixture runs a test against SQLite and, when ``FLOWCAP_TEST_POSTGRES_URL``
points at a server (``scripts/test.sh`` starts one), against PostgreSQL too, each test in a
fresh database. Under ``CI=true`` a missing server fails the run instead of skipping.

Below the fixtures, plain helpers and test data that several test files share; each file
keeps its own fixtures.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, select, text

# Registers the fuzz profiles before Hypothesis' plugin reads --hypothesis-profile=long.
import fuzz_profiles  # noqa: E402,F401  (tests/ is on sys.path while conftest loads)
from flowcap.errors import InputError
from flowcap.io import read_service_folder
from flowcap.io.xes import read_xes
from flowcap.model import Service
from flowcap.simulate import DailySpec
from flowcap.store import Store, schema

POSTGRES_URL = os.environ.get("FLOWCAP_TEST_POSTGRES_URL")
# The web app warms every stored service's measures when it starts; the tests open their
# services as a first visitor would (tests/test_web_insight.py turns warming on to test it).
os.environ.setdefault("FLOWCAP_WARM_CACHE", "0")


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


#: The real event logs (``../shared/data/real`` beside the repository).
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


# --- reading a service folder -----------------------------------------------------------------


def problems_of(folder: Path) -> list[str]:
    """The problems ``read_service_folder`` reports, as text (it must refuse the folder)."""
    with pytest.raises(InputError) as caught:
        read_service_folder(folder)
    return [str(p) for p in caught.value.problems]


def yaml_problems(tmp_path: Path, text: str) -> list[str]:
    """The problems of the worked example with ``text`` as its service.yaml."""
    folder = worked_example(tmp_path)
    (folder / "service.yaml").write_text(text)
    return problems_of(folder)


# --- the store --------------------------------------------------------------------------------


def snapshot(folder) -> dict[str, list]:
    """Every row of every data table, sorted, for comparing stores before and after."""
    store = Store.for_folder(folder)
    with store.engine.connect() as connection:
        tables = {
            name: sorted(tuple(map(str, row)) for row in connection.execute(select(table)))
            for name, table in {**schema.DATA_TABLES, "imports": schema.imports}.items()
        }
    store.close()
    return tables


# --- a service folder whose history is an event log -------------------------------------------


LOG_SERVICE = {
    "name": "Log service",
    "timezone": "Europe/London",
    "resources": {
        "triage": {"staff": 1, "minutes_per_day": 240},
        "idva": {"staff": 2, "minutes_per_day": 240},
    },
    "case_types": {
        "high": {
            "priority": 1,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "idva", "minutes": 120, "after_days": 1},
            ],
        },
        "standard": {"priority": 2, "resource": "triage", "minutes": 30},
    },
    "event_log": {
        "file": "events.csv",
        "case_id": "Ref",
        "activity": "Event",
        "timestamp": "When",
        "case_type": "Kind",
        "lifecycle": "Status",
        "default_case_type": "standard",
        "activities": {
            "Triage call": {"resource": "triage", "minutes": 30},
            "Risk assessment": {"resource": "idva", "minutes": 120},
        },
    },
}


# Case A's first event is its second row (the file is not in time order); B's first event is
# at 23:30 UTC on 1 June, which is 00:30 on 2 June in London; C has no Kind (the default).
LOG = """\
Ref,Event,Status,When,Kind
A,Triage call,complete,2024-06-03T10:00:00,high
A,Referral received,complete,2024-06-03T08:00:00,high
A,Risk assessment,start,2024-06-04T09:00:00,high
A,Risk assessment,complete,2024-06-04T11:00:00,high
B,Referral received,complete,2024-06-01T23:30:00Z,standard
B,Triage call,complete,2024-06-03T09:30:00,standard
C,Referral received,complete,2024-06-03T07:00:00,
C,Triage call,complete,2024-06-04T09:00:00,
C,Case closed,complete,2024-06-04T09:45:00,
"""


def log_folder(folder: Path, log: str = LOG, **changes) -> Path:
    """A service folder with ``events.csv``; ``changes`` update the event_log section."""
    service = json.loads(json.dumps(LOG_SERVICE))
    service["event_log"].update(changes)
    write_folder(folder, service)
    (folder / "events.csv").write_text(log)
    return folder


SEPSIS_WORK = {
    "ER Triage": ("nurse", 10),
    "ER Sepsis Triage": ("nurse", 10),
    "IV Antibiotics": ("nurse", 15),
    "IV Liquid": ("nurse", 15),
    "Leucocytes": ("lab", 5),
    "CRP": ("lab", 5),
    "LacticAcid": ("lab", 5),
}


def sepsis_folder_in(folder: Path) -> Path:
    """A service folder in ``folder`` whose event log is the real sepsis log (skips without it):
    nurses and the lab, seven days a week, the activities of :data:`SEPSIS_WORK` mapped."""
    log = REAL / "sepsis.csv"
    if not log.is_file():
        pytest.skip(f"real log {log} is absent (../shared/data/real is not checked out)")
    service = {
        "name": "Sepsis emergency department",
        "timezone": "Europe/Amsterdam",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "work_bank_holidays": True,
        "resources": {
            "nurse": {"staff": 4, "minutes_per_day": 420},
            "lab": {"staff": 2, "minutes_per_day": 420},
        },
        "case_types": {
            "sepsis": {
                "priority": 1,
                "steps": [{"resource": "nurse", "minutes": 40}, {"resource": "lab", "minutes": 35}],
            }
        },
        "event_log": {
            "file": log.name,  # inside the folder (issue #14): a link to the real log
            "lifecycle": "lifecycle",
            "resource": "resource",
            "activities": {
                name: {"resource": resource, "minutes": minutes}
                for name, (resource, minutes) in SEPSIS_WORK.items()
            },
        },
    }
    (folder / "service.yaml").write_text(yaml.safe_dump(service, sort_keys=False))
    (folder / log.name).symlink_to(log)
    return folder


def sepsis_log_rows() -> list[dict]:
    """The rows of the real sepsis log, as text."""
    with (REAL / "sepsis.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


# --- the real logs as events for the process map ----------------------------------------------


def require_real_log(path: Path) -> Path:
    """``path``, failing the test when the real log is missing."""
    if not path.exists():
        pytest.fail(f"real log missing: {path} (../shared/data/real must sit beside the repo)")
    return path


def read_receipt_events() -> pd.DataFrame:
    """The receipt log as process-map events: case, activity, timestamp, order."""
    raw = read_xes(require_real_log(REAL / "receipt.xes.gz")).rename(columns={"case_id": "case"})
    raw["order"] = np.arange(len(raw))
    return raw[["case", "activity", "timestamp", "order"]]


def read_sepsis_events() -> pd.DataFrame:
    """The sepsis log as process-map events: case, activity, timestamp, order."""
    path = require_real_log(REAL / "sepsis.csv")
    raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    events = pd.DataFrame(
        {
            "case": raw["case_id"],
            "activity": raw["activity"],
            "timestamp": pd.to_datetime(raw["timestamp"], utc=True),
        }
    )
    events["order"] = np.arange(len(events))
    return events


def event_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Process-map events from (case, activity, timestamp) rows, in file order."""
    events = pd.DataFrame(rows, columns=["case", "activity", "timestamp"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True, format="ISO8601")
    events["order"] = np.arange(len(events))
    return events


# --- services and specs for planning and simulation -------------------------------------------


def hub(triage_staff: int = 3, **update) -> Service:
    """The contingency test hub: a triage team, two IDVAs and four caseworkers. High-risk
    cases (7 a day) need a 30-minute triage call and an hour with an IDVA the next day; other
    cases (3 a day) need a 20-minute call and two half-hour caseworker sessions. The IDVAs
    are overloaded (420 minutes of work a calendar day against 2 × 240 minutes on weekdays,
    about 343); the caseworkers are nearly idle."""
    service = Service.model_validate(
        {
            "name": "Test hub",
            "resources": {
                "triage": {
                    "staff": triage_staff,
                    "minutes_per_day": 180,
                    "cost_per_hour": 20,
                    "absence_rate": 0.04,
                },
                "idva": {
                    "staff": 2,
                    "minutes_per_day": 240,
                    "cost_per_hour": 24,
                    "absence_rate": 0.04,
                },
                "caseworker": {
                    "staff": 4,
                    "minutes_per_day": 240,
                    "cost_per_hour": 18,
                    "absence_rate": 0.04,
                },
            },
            "case_types": {
                "high": {
                    "priority": 1,
                    "demand": {"per_day": 7},
                    "steps": [
                        {"resource": "triage", "minutes": 30},
                        {"resource": "idva", "minutes": 60, "after_days": 1},
                    ],
                },
                "low": {
                    "priority": 2,
                    "demand": {"per_day": 3},
                    "steps": [
                        {"resource": "triage", "minutes": 20},
                        {
                            "resource": "caseworker",
                            "minutes": 30,
                            "after_days": 2,
                            "repeat": 2,
                            "every_days": 7,
                        },
                    ],
                },
            },
        }
    )
    return service.model_copy(update=update) if update else service


PATHWAY_SERVICE = {
    "name": "Pathway test",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "resources": {
        "triage": {"staff": 2, "minutes_per_day": 480, "day_starts": "09:00"},
        "idva": {"staff": 3, "minutes_per_day": 420, "day_starts": "08:30"},
    },
    "case_types": {
        "high": {
            "priority": 1,
            "resource": "idva",
            "minutes": 60,
            "patience_days": {"dist": "exponential", "mean": 2},
        },
        "standard": {"priority": 2, "resource": "triage", "minutes": 30},
    },
    "pathway": {
        "steps": {
            "triage": {
                "resource": "triage",
                "service_minutes": {"dist": "lognormal", "mean": 25, "sd": 10},
                "next": {"assessment": 0.4},
            },
            "assessment": {
                "resource": "idva",
                "service_minutes": {
                    "default": {"dist": "gamma", "mean": 90, "sd": 30},
                    "high": {"dist": "fixed", "mean": 120},
                },
                "next": {"follow_up": 0.5},
            },
            "follow_up": {
                "resource": "idva",
                "service_minutes": {"dist": "empirical", "values": [30, 45, 60]},
            },
        }
    },
}


def anchor_spec(days: int = 365, **changes) -> DailySpec:
    """gpu_lindley_anchor.py: demand 60 x Poisson(10), capacity 240 x Binomial(3, 0.9)."""
    kwargs = dict(
        days=days,
        mean_cases_per_day=10,
        minutes_per_case=60,
        staff=3,
        minutes_per_staff=240,
        absence_rate=0.1,
    )
    kwargs.update(changes)
    return DailySpec.one_resource(**kwargs)


WEEKLY = np.array([120.0, 90.0, 90.0, 80.0, 70.0, 0.0, 0.0])  # Monday first


def weekly_series(
    days: pd.DatetimeIndex, noise_sd: float, seed: int, uid: str = "idva"
) -> pd.DataFrame:
    """Daily demand of the :data:`WEEKLY` pattern plus Gaussian noise on open days."""
    rng = np.random.default_rng(seed)
    level = WEEKLY[days.dayofweek]
    noise = np.where(level > 0, rng.normal(0.0, noise_sd, len(days)), 0.0)
    return pd.DataFrame({"unique_id": uid, "ds": days, "y": np.maximum(level + noise, 0.0)})


# --- charts -----------------------------------------------------------------------------------


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_offline_html(path: Path, title: str, panel_titles: list[str]) -> None:
    """A chart page that embeds plotly, fetches nothing, and shows its title and panel titles."""
    html = path.read_text(encoding="utf-8")
    assert "plotly.js v" in html  # the library is embedded
    assert "<script src=" not in html  # nothing fetched from the internet
    assert title in html
    for panel in panel_titles:
        assert json.dumps(panel)[1:-1].replace(">", "\\u003e") in html


def check_readable_png(path: Path) -> None:
    """A PNG that matplotlib reads back, of a sensible size, and not a blank canvas."""
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 20_000 < len(data) < 3_000_000
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 700
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # not a blank canvas
