"""Background jobs (flowcap.jobs): options checked before anything is queued, one worker per
job however many ask, progress and the result (the CLI's --json document) kept in the store,
a failure's message kept, and a job left running by a dead process queued again. On SQLite
and, with a server, PostgreSQL."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from conftest import worked_example
from flowcap import jobs
from flowcap.checks import ArgumentError
from flowcap.errors import StoreError
from flowcap.history import open_stored
from flowcap.manage import import_folder
from flowcap.plan import plan_capacity, simulate_ahead
from flowcap.store import Store, schema

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
EXAMPLE = "Northshire Victim Support Hub"
WORKED = "Worked example"
SMALL = {"replications": 40, "horizon": 21, "seed": 7}


@pytest.fixture
def store(backend, tmp_path, monkeypatch):
    """A store holding the worked example and the bundled example."""
    url = os.environ.get("FLOWCAP_DATABASE_URL") or f"sqlite:///{tmp_path / 'flowcap.db'}"
    monkeypatch.setenv("FLOWCAP_KEY", "00" * 32)
    import_folder(worked_example(tmp_path / "worked"), database_url=url)
    import_folder(EXAMPLE_DIR, database_url=url)
    opened = Store.open(url)
    yield opened
    opened.close()


def _set(store, job_id, **values):
    with store.engine.begin() as connection:
        connection.execute(update(schema.jobs).where(schema.jobs.c.id == job_id).values(**values))


# --- options ------------------------------------------------------------------------------------


def test_options_are_checked_before_anything_is_queued(store):
    with pytest.raises(ArgumentError) as caught:
        jobs.submit(store, WORKED, "simulate", {"replications": 50_000}, "e@x.test")
    assert caught.value.parameter == "replications"
    assert "at most 10,000" in str(caught.value)
    for options, parameter in (
        ({"horizon": 0}, "horizon"),
        ({"horizon": 800}, "horizon"),
        ({"risk": 1.5}, "risk"),
        ({"replications": "many"}, "replications"),
        ({"replications": True}, "replications"),
        ({"speed": 3}, "speed"),
        ({"seed": -1}, "seed"),
    ):
        with pytest.raises(ArgumentError) as caught:
            jobs.submit(store, WORKED, "simulate", options, "e@x.test")
        assert caught.value.parameter == parameter, options
    with pytest.raises(ArgumentError) as caught:
        jobs.submit(
            store,
            WORKED,
            "plan",
            {"target_backlog_minutes": 100, "target_wait_weeks": 2},
            "e@x.test",
        )
    assert caught.value.parameter == "target_wait_weeks"
    with pytest.raises(ArgumentError) as caught:
        jobs.submit(store, WORKED, "forecast", {}, "e@x.test")
    assert caught.value.parameter == "kind"
    with pytest.raises(StoreError):
        jobs.submit(store, "No such service", "simulate", {}, "e@x.test")
    assert jobs.jobs_of(store, WORKED) == []


def test_a_job_is_queued_with_its_defaults_filled_in(store):
    job = jobs.submit(store, WORKED, "simulate", {"horizon": 30}, "editor@x.test")
    assert job.status == "queued" and job.service == WORKED and job.kind == "simulate"
    assert job.options == {
        "horizon": 30,
        "replications": 1000,
        "risk": 0.05,
        "threshold_minutes": 2400.0,
        "seed": 0,
        "optimise": False,
    }
    assert job.created_by == "editor@x.test" and job.started_at is None
    assert [j.id for j in jobs.jobs_of(store, WORKED)] == [job.id]
    assert jobs.jobs_of(store, EXAMPLE) == []


# --- claiming -----------------------------------------------------------------------------------


def test_each_job_is_claimed_once_however_many_workers_ask(store):
    queued = [jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test").id for _ in range(6)]
    taken: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker():
        start.wait()
        while (held := jobs.claim(store)) is not None:
            with lock:
                taken.append(held.job_id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == queued  # every job once, none twice
    assert {jobs.get_job(store, i).status for i in queued} == {"running"}
    assert jobs.claim(store) is None


def test_two_workers_never_run_one_job_twice(store):
    job = jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    results: list = []
    start = threading.Barrier(2)

    def worker():
        start.wait()
        results.append(jobs.work_once(store))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and ran[0].id == job.id
    assert jobs.get_job(store, job.id).attempts == 1


def test_the_oldest_queued_job_is_claimed_first(store):
    first = jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    jobs.submit(store, WORKED, "plan", SMALL, "e@x.test")
    assert jobs.claim(store).job_id == first.id


# --- running --------------------------------------------------------------------------------


def test_a_simulation_keeps_the_result_of_simulate_json(store):
    job = jobs.submit(store, EXAMPLE, "simulate", SMALL, "e@x.test")
    done = jobs.work_once(store)
    assert done.id == job.id and done.status == "done", done.error
    assert done.progress == 1.0 and done.finished_at >= done.started_at >= done.created_at
    report = simulate_ahead(
        open_stored(EXAMPLE, store.url), horizon=21, replications=40, seed=7, risk_target=0.05
    )
    expected = json.loads(json.dumps(report.as_json(), allow_nan=False))
    assert done.result == expected  # what `flowcap simulate --json` prints
    assert done.result["ranking"], "the example's options are ranked"
    figure = json.loads(done.chart)
    assert figure["data"] and "<" not in done.chart
    assert any("changes nothing in this run" in note for note in done.notes)
    again = jobs.get_job(store, job.id)  # read back from the store: it survives a reload
    assert again.result == expected and again.status == "done"


def test_a_plan_keeps_the_records_of_plan_json(store):
    options = {"target_backlog_cases": 10, "replications": 30, "horizon": 21, "seed": 3}
    jobs.submit(store, WORKED, "plan", options, "e@x.test")
    done = jobs.work_once(store)
    assert done.status == "done", done.error
    plans = plan_capacity(
        open_stored(WORKED, store.url),
        risk=0.05,
        horizon=21,
        replications=30,
        seed=3,
        target_backlog_cases=10,
    )
    assert done.result == json.loads(json.dumps([p.as_json() for p in plans]))


def test_progress_is_written_as_the_run_goes(store, monkeypatch):
    seen: list[tuple] = []
    original = jobs._Reporter.__call__

    def watch(self, step, done=None, total=None):
        original(self, step, done, total)
        with store.engine.connect() as connection:
            seen.append(
                connection.execute(
                    select(schema.jobs.c.status, schema.jobs.c.message, schema.jobs.c.progress)
                ).one()
            )

    monkeypatch.setattr(jobs, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(jobs._Reporter, "__call__", watch)
    jobs.submit(store, WORKED, "plan", {"replications": 20, "horizon": 14}, "e@x.test")
    assert jobs.work_once(store).status == "done"
    assert seen[0][:2] == ("running", "Reading the store")
    assert any(p is not None and 0 <= p < 1 for _, _, p in seen), seen  # plan knows how far
    assert all(status == "running" for status, _, _ in seen)


def test_progress_is_written_at_most_once_a_second(store):
    jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    held = jobs.claim(store)
    now = [0.0]
    reporter = jobs._Reporter(store, held, lambda: now[0])
    for t, step in ((0.0, "one"), (0.3, "two"), (0.9, "three")):
        now[0] = t
        reporter(step)
        assert jobs.get_job(store, held.job_id).message == "one", step
    now[0] = 1.2
    reporter("four", 1, 4)
    job = jobs.get_job(store, held.job_id)
    assert (job.message, job.progress) == ("four", 0.25)


def test_a_failed_job_keeps_the_message_and_no_traceback(store, monkeypatch):
    job = jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    _set(store, job.id, options=json.dumps({**job.options, "threshold_minutes": -5.0}))
    failed = jobs.work_once(store)
    assert failed.status == "failed" and failed.result is None
    assert failed.error == "threshold_minutes must be a number of minutes, 0 or more"

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals at line 42")

    monkeypatch.setattr(jobs, "_execute", boom)
    jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    failed = jobs.work_once(store)
    assert failed.status == "failed"
    assert "unexpected error" in failed.error
    assert "secret" not in failed.error and "Traceback" not in failed.error


# --- a dead process's job ---------------------------------------------------------------------


def test_a_stale_running_job_is_queued_again_and_runs(store):
    job = jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    held = jobs.claim(store)
    assert held.job_id == job.id
    assert jobs.requeue_stale(store) == 0  # its heartbeat is fresh
    stale = jobs._now() - jobs.STALE_AFTER - timedelta(seconds=5)
    _set(store, job.id, heartbeat_at=stale)
    assert jobs.requeue_stale(store) == 1
    assert jobs.get_job(store, job.id).status == "queued"
    done = jobs.work_once(store)
    assert done.id == job.id and done.status == "done" and done.attempts == 2
    jobs._finish(store, held, status="failed", error="the dead claim's late word")
    assert jobs.get_job(store, job.id).status == "done"  # the old claim writes nothing


def test_a_job_that_keeps_dying_is_failed(store):
    job = jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
    stale = jobs._now() - jobs.STALE_AFTER - timedelta(seconds=5)
    for _ in range(jobs.MAX_ATTEMPTS):
        assert jobs.claim(store).job_id == job.id
        _set(store, job.id, heartbeat_at=stale)
        jobs.requeue_stale(store)
    failed = jobs.get_job(store, job.id)
    assert failed.status == "failed" and "stopped 3 times" in failed.error


def test_the_worker_pool_runs_what_is_queued(store):
    pool = jobs.WorkerPool(store, workers=2, poll=0.1)
    pool.start()
    try:
        job = jobs.submit(store, WORKED, "simulate", SMALL, "e@x.test")
        pool.wake()
        for _ in range(600):
            if jobs.get_job(store, job.id).finished:
                break
            threading.Event().wait(0.1)
    finally:
        pool.stop()
    assert jobs.get_job(store, job.id).status == "done"


def test_the_scenario_options_as_stored(store):
    settings = jobs.scenario_settings(store, EXAMPLE)
    assert settings.version == 1 and "agency IDVA" in settings.content
    first = settings.options[0]
    assert first["name"] == "agency IDVA for six weeks over summer"
    assert first["changes"][0]["kind"] == "agency"
    assert first["changes"][0]["fields"]["day_rate"] == 185.0
    assert jobs.scenario_settings(store, WORKED).options == []
