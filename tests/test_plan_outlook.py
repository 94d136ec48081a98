"""The days ahead of a service, simulated (flowcap.plan.outlook): a long run says how far
along it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example_folder(tmp_path) -> Path:
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


@pytest.mark.slow
def test_long_runs_report_how_far_along_they_are(tmp_path):
    from flowcap import open as open_service
    from flowcap.cli import app as cli_app
    from flowcap.plan import plan_capacity, simulate_ahead

    calls = []

    def record(step, done=None, total=None):
        calls.append((step, done, total))

    folder = example_folder(tmp_path)
    simulate_ahead(open_service(folder), replications=50, progress=record)
    counted = [(done, total) for _, done, total in calls if total is not None]
    assert counted == [(k, 6) for k in range(6)]  # the baseline, then the five options
    calls.clear()
    plan_capacity(
        open_service(folder),
        target_backlog_minutes=2400,
        risk=0.05,
        replications=50,
        progress=record,
    )
    assert [(d, t) for _, d, t in calls if t is not None] == [(k, 6) for k in range(6)]
    # The CLI's bar takes both forms of the call.
    with cli_app._progress() as progress:
        progress("a step")
        progress("counted", 2, 6)
