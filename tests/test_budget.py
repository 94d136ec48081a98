"""The wall-clock budget (``flowcap --time-limit SECONDS``, issue #14 item 1): a long run is
stopped with a one-line error, an import under way is rolled back, a bad budget is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import snapshot, worked_example
from flowcap import import_folder
from flowcap.budget import TimeLimitExceeded, time_limit
from flowcap.cli.main import app
from flowcap.store import repository

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
FLOWCAP = [sys.executable, "-m", "flowcap.cli.main"]


def test_a_long_simulation_is_stopped_at_its_time_limit(tmp_path):
    # 20,000 replications × 1,000 days × 3 resources: about 36 s on two cores (checks.py);
    # the limit of 2 s must stop it long before.
    env = {**os.environ, "FLOWCAP_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    started = time.monotonic()
    done = subprocess.run(
        [
            *FLOWCAP,
            "--time-limit",
            "2",
            "simulate",
            str(EXAMPLE),
            "--replications",
            "20000",
            "--horizon",
            "1000",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert "stopped: the run took longer than its time limit of 2 s" in done.stderr
    assert "Traceback" not in done.stderr
    # Start-up and the import of the example take a few seconds on a loaded machine; the
    # whole run would take ten times the budget.
    assert elapsed < 25, elapsed


def test_an_import_stopped_by_its_time_limit_is_rolled_back(tmp_path, monkeypatch):
    folder = worked_example(tmp_path)
    import_folder(folder)
    before = snapshot(folder)
    (folder / "referrals.csv").write_text(
        "case_id,referral_date,case_type\nNEW,2025-03-06,advocacy\n"
    )
    real = repository.bulk_insert

    def slow_insert(connection, table, frame, service_id):
        rows = real(connection, table, frame, service_id)
        time.sleep(5)  # the limit falls here, with the new referrals written, not committed
        return rows

    monkeypatch.setattr(repository, "bulk_insert", slow_insert)
    with pytest.raises(TimeLimitExceeded), time_limit(0.5):
        import_folder(folder)
    assert snapshot(folder) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_run_within_its_budget_leaves_no_timer_behind():
    with time_limit(30):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "1e9"])
def test_a_budget_that_is_no_positive_number_of_seconds_is_refused(value):
    result = CliRunner().invoke(app, ["--time-limit", value, "services"])
    assert result.exit_code == 1
    assert "--time-limit must be a number of seconds more than 0 and at most 604,800" in (
        result.output
    )


def test_a_budget_that_is_no_number_is_a_usage_error():
    result = CliRunner().invoke(app, ["--time-limit", "ten", "services"])
    assert result.exit_code == 2
