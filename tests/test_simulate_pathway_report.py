"""The pathway simulation of a service (flowcap.simulate.pathway.report): arrivals from
its history."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from flowcap import open as open_service
from flowcap.simulate.pathway.report import simulate_service_pathway

ROOT = Path(__file__).resolve().parents[1]


def test_des_on_a_log_folder_takes_arrival_hours_from_the_log(tmp_path):
    folder = tmp_path / "log"
    shutil.copytree(
        ROOT / "examples" / "victim-support-log", folder, ignore=shutil.ignore_patterns(".flowcap")
    )
    service = yaml.safe_load((folder / "service.yaml").read_text())
    service["pathway"] = {
        "steps": {"call": {"resource": "triage", "service_minutes": {"mean": 30}}}
    }
    (folder / "service.yaml").write_text(yaml.safe_dump(service, sort_keys=False))
    report = simulate_service_pathway(
        open_service(folder), hours=24 * 7, warmup_hours=0, replications=2
    )
    rates = report.spec.arrival_rate_per_hour.sum(axis=0).reshape(7, 24)
    # Arrivals fall only in the weekdays and hours in which the log's cases began.
    log = pd.read_csv(folder / "events.csv", dtype=str)
    began = pd.to_datetime(log["Date/Time"], dayfirst=True).groupby(log["Case Ref"]).min()
    seen = np.zeros((7, 24), dtype=bool)
    seen[began.dt.dayofweek, began.dt.hour] = True
    assert rates.sum() > 0 and not seen.all()
    assert np.all(rates[~seen] == 0) and np.all(rates[seen] > 0)
    assert report.result.served.sum() > 0
