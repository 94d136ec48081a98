"""Long runs in the background: a simulation or a plan asked for in the web app is queued in
the store's ``jobs`` table, claimed by one worker, and its progress and result written back
there, so that the result survives a reload and a restart.

- :func:`submit` checks the options with the library's own rules (:mod:`flowcap.checks`)
  and the per-request caps below before anything is queued; a bad option is an
  :class:`~flowcap.checks.ArgumentError` naming it.
- :func:`claim` gives the oldest queued job to exactly one worker: on PostgreSQL with ``SELECT
  ... FOR UPDATE SKIP LOCKED`` (several app processes share the queue), everywhere with an
  ``UPDATE ... WHERE status = 'queued'`` in the same write transaction whose row count says
  whether this worker won (SQLite takes one writer at a time).
- :func:`run` runs a claimed job: ``simulate`` is :func:`flowcap.plan.simulate_ahead` and keeps
  what ``flowcap simulate --json`` prints (and the backlog fan as a Plotly figure), ``plan``
  is :func:`flowcap.plan.plan_capacity` and keeps what ``flowcap plan --json`` prints;
  ``report`` is :func:`flowcap.report.commissioner.build_report`, written as HTML, PDF and
  Excel (see :func:`report_files` for where the files are kept). Progress
  is written at most once a second; a failure keeps the error's message (a
  :class:`~flowcap.errors.FlowcapError`'s text; anything else a plain sentence, never a
  traceback).
- A running job's heartbeat is touched while it runs; one whose heartbeat is older than
  :data:`STALE_AFTER` (its process died) is queued again by :func:`requeue_stale`, at most
  :data:`MAX_ATTEMPTS` times in all.
- :class:`WorkerPool` is the few threads the web app runs in its own process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, insert, literal, select, update

from flowcap.checks import (
    MAX_HORIZON_DAYS,
    ArgumentError,
    check_backlog_target,
    check_horizon,
    check_minutes,
    check_replications,
    check_risk,
    check_seed,
    check_simulation_size,
)
from flowcap.errors import FlowcapError
from flowcap.store import Store, schema

__all__ = [
    "KINDS",
    "MAX_JOB_HORIZON_DAYS",
    "MAX_JOB_REPLICATIONS",
    "MAX_REPORT_FILE_BYTES",
    "REPORT_FILES_DAYS",
    "REPORT_FILES_KEPT",
    "Job",
    "ScenarioSettings",
    "WorkerPool",
    "check_options",
    "claim",
    "get_job",
    "jobs_of",
    "report_files",
    "report_jobs",
    "requeue_stale",
    "run",
    "scenario_settings",
    "submit",
    "work_once",
]

log = logging.getLogger(__name__)

#: What a job may run.
KINDS = ("simulate", "plan", "report")
#: A job's statuses, in the order a job goes through them (``failed`` instead of ``done``).
STATUSES = ("queued", "running", "done", "failed")
#: The most simulated futures one job may ask for: a web request shares the app's process
#: with everyone else's, so it gets a tenth of what the command line allows.
MAX_JOB_REPLICATIONS = 10_000
#: The longest horizon one job may ask for (days): two years.
MAX_JOB_HORIZON_DAYS = 730
#: Progress is written to the store at most this often (seconds).
PROGRESS_EVERY = 1.0
#: A running job's heartbeat is touched this often (seconds) ...
HEARTBEAT_EVERY = 15.0
#: ... and a running job whose heartbeat is older than this is taken to be dead.
STALE_AFTER = timedelta(minutes=2)
#: Runs a job may start before it is failed (a job that kills its process each time).
MAX_ATTEMPTS = 3

#: Each kind's options: name -> (type, default). ``None`` defaults are "not given".
OPTIONS: dict[str, dict[str, tuple[type, Any]]] = {
    "simulate": {
        "horizon": (int, 90),
        "replications": (int, 1000),
        "risk": (float, 0.05),
        "threshold_minutes": (float, 2400.0),
        "seed": (int, 0),
        "optimise": (bool, False),
    },
    "plan": {
        "target_backlog_minutes": (float, None),
        "target_backlog_cases": (float, None),
        "target_wait_weeks": (float, None),
        "risk": (float, 0.05),
        "horizon": (int, 90),
        "replications": (int, 1000),
        "seed": (int, 0),
    },
    # from and to: days as YYYY-MM-DD (None: the CLI's default period), checked apart
    "report": {
        "from": (str, None),
        "to": (str, None),
        "replications": (int, 1000),
        "seed": (int, 0),
    },
}
#: The largest report file a job keeps (bytes); a format past it is left out, with a note.
MAX_REPORT_FILE_BYTES = 25_000_000
#: The report jobs of a service whose files are kept (the newest), and for how long (days):
#: older ones keep their summary, and their files are dropped from the store.
REPORT_FILES_KEPT = 5
REPORT_FILES_DAYS = 30
_TYPE_RULE = {
    int: "must be a whole number",
    float: "must be a number",
    bool: "must be true or false",
}


@dataclass(frozen=True)
class Job:
    """A job as the store keeps it. ``options``, ``result`` (the CLI's ``--json`` document),
    ``chart`` (a Plotly figure as JSON text, or ``None``) and ``notes`` (the run's warnings)
    are decoded; times are naive UTC, as the store keeps them."""

    id: int
    service: str
    kind: str
    options: dict
    status: str
    progress: float | None
    message: str
    notes: list[str]
    result: Any
    chart: str | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def as_json(self) -> dict:
        """The job as ``GET /api/jobs/{id}`` gives it (times ISO 8601, UTC)."""
        return {
            "id": self.id,
            "service": self.service,
            "kind": self.kind,
            "options": self.options,
            "status": self.status,
            "progress": self.progress,
            "message": self.message,
            "notes": self.notes,
            "result": self.result,
            "error": self.error,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


# --- submitting ----------------------------------------------------------------------------------


def check_options(kind: str, options: Mapping[str, Any] | None, resources: int = 1) -> dict:
    """The options of a ``kind`` job with their defaults filled in, each checked by the
    library's rule (:mod:`flowcap.checks`) and the per-request caps
    (:data:`MAX_JOB_REPLICATIONS`, :data:`MAX_JOB_HORIZON_DAYS`); ``resources``: the service's,
    for the memory rule. Raises :class:`ArgumentError` naming the option."""
    if kind not in OPTIONS:
        raise ArgumentError("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    if options is not None and not isinstance(options, Mapping):
        raise ArgumentError("options", "must be an object of option names and values")
    known = OPTIONS[kind]
    given = dict(options or {})
    for name in given:
        if name not in known:
            raise ArgumentError(
                str(name)[:60],
                f"is not an option of a {kind} job; its options: {', '.join(known)}",
            )
    if kind == "report":
        return _report_options(given, resources)
    checked = {}
    for name, (kind_of, default) in known.items():
        value = given.get(name, default)
        if value is not None:
            value = _typed(name, value, kind_of)
        checked[name] = value
    check_horizon(checked["horizon"])
    if checked["horizon"] > MAX_JOB_HORIZON_DAYS:
        raise ArgumentError(
            "horizon",
            f"must be at most {MAX_JOB_HORIZON_DAYS:,} days in the web app (the command line "
            f"takes up to {MAX_HORIZON_DAYS:,}), not {checked['horizon']:,}",
        )
    check_replications(checked["replications"])
    if checked["replications"] > MAX_JOB_REPLICATIONS:
        raise ArgumentError(
            "replications",
            f"must be at most {MAX_JOB_REPLICATIONS:,} in the web app (the command line takes "
            f"more), not {checked['replications']:,}",
        )
    check_risk(checked["risk"], "risk")
    check_seed(checked["seed"])
    check_simulation_size(checked["replications"], checked["horizon"], resources)
    if kind == "simulate":
        check_minutes(checked["threshold_minutes"], "threshold_minutes")
    else:
        check_backlog_target(
            checked["target_backlog_minutes"],
            checked["target_backlog_cases"],
            checked["target_wait_weeks"],
        )
    return checked


def _report_options(given: dict, resources: int) -> dict:
    """A report job's options checked: ``from`` and ``to`` days (YYYY-MM-DD, or ``None``
    for the CLI's default period), ``from`` not after ``to``; the simulation's size and
    seed as a simulate job's."""
    from flowcap.checks import check_period

    checked = {}
    for name in ("from", "to"):
        value = given.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise ArgumentError(name, f"must be a day as YYYY-MM-DD, not {str(value)[:40]!r}")
            try:
                value = date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                raise ArgumentError(
                    name, f"must be a day as YYYY-MM-DD, not {value[:40]!r}"
                ) from None
        checked[name] = value
    known = OPTIONS["report"]
    for name in ("replications", "seed"):
        kind_of, default = known[name]
        checked[name] = _typed(name, given.get(name, default), kind_of)
    start, end = (_day(checked["from"]), _day(checked["to"]))
    try:
        check_period(start, end)
    except ArgumentError as error:
        raise ArgumentError("from", error.rule) from None
    check_replications(checked["replications"])
    if checked["replications"] > MAX_JOB_REPLICATIONS:
        raise ArgumentError(
            "replications",
            f"must be at most {MAX_JOB_REPLICATIONS:,} in the web app (the command line takes "
            f"more), not {checked['replications']:,}",
        )
    check_seed(checked["seed"])
    from flowcap.report.commissioner.document import HORIZON_DAYS

    check_simulation_size(checked["replications"], HORIZON_DAYS, resources)
    return checked


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _typed(name: str, value: Any, kind_of: type) -> Any:
    if kind_of is bool:
        ok = isinstance(value, bool)
    elif kind_of is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise ArgumentError(name, f"{_TYPE_RULE[kind_of]}, not {str(value)[:40]!r}")
    return float(value) if kind_of is float else value


def submit(
    store: Store, service: str, kind: str, options: Mapping[str, Any] | None, user: Any
) -> Job:
    """Queue a ``kind`` job on ``service`` with ``options`` (checked first:
    :func:`check_options`), asked for by ``user`` (a user with an ``email``, or an email).

    Raises
    ------
    ArgumentError
        An option (or the kind) outside its rule, naming it; nothing is queued.
    StoreError
        For a service the store does not hold.
    """
    from flowcap.io.service_yaml import read_service_yaml

    stored = store.settings(service)["service"]
    definition = read_service_yaml(Path(stored["file_name"]), stored["content"])
    checked = check_options(kind, options, len(definition.resources))
    email = str(getattr(user, "email", user) or "")[:254]
    now = _now()
    with store.engine.begin() as connection:
        service_id = store.service_id(connection, service)
        job_id = connection.execute(
            insert(schema.jobs).values(
                service_id=service_id,
                kind=kind,
                options=json.dumps(checked),
                status="queued",
                progress=None,
                message="Waiting for a worker",
                created_by=email,
                created_at=now,
                attempts=0,
            )
        ).inserted_primary_key[0]
    return get_job(store, job_id)


# --- reading ----------------------------------------------------------------------------------


def get_job(store: Store, job_id: int) -> Job | None:
    """The job with id ``job_id``, or ``None``."""
    with store.engine.connect() as connection:
        row = connection.execute(_select().where(schema.jobs.c.id == job_id)).mappings().first()
    return None if row is None else _job(row)


def jobs_of(
    store: Store, service: str, limit: int = 10, kinds: tuple[str, ...] | None = None
) -> list[Job]:
    """The newest ``limit`` jobs of ``service`` (of ``kinds`` only, when given), newest
    first (results left out: ``None``)."""
    query = _select(full=False).where(schema.services.c.name == service)
    if kinds is not None:
        query = query.where(schema.jobs.c.kind.in_(kinds))
    query = query.order_by(schema.jobs.c.id.desc()).limit(limit)
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [_job(row) for row in rows]


def report_jobs(store: Store, service: str, limit: int = 10) -> list[Job]:
    """The newest ``limit`` report jobs of ``service``, newest first, with their results
    (:class:`~flowcap.documents.ReportDocument`, small) but not their files: ``chart`` is
    ``"kept"`` while the job's files are kept, else ``None`` (:func:`report_files` reads
    them)."""
    jobs = schema.jobs
    kept = case((jobs.c.chart.is_(None), None), else_=literal("kept")).label("chart")
    query = (
        _select(full=False)
        .add_columns(jobs.c.result, kept)
        .where(schema.services.c.name == service, jobs.c.kind == "report")
        .order_by(jobs.c.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [_job(row) for row in rows]


def report_files(store: Store, job_id: int) -> dict[str, bytes]:
    """The files of report job ``job_id`` by format (``html``, ``pdf``, ``xlsx``): empty
    when the job is not a finished report, or its files were dropped (see
    :data:`REPORT_FILES_KEPT`, :data:`REPORT_FILES_DAYS`).

    The files are kept in the job's own row (its ``chart`` column, as JSON of base64 text,
    never part of ``GET /api/jobs/{id}``): the store is the one place every app process and
    worker shares, so a report built by one is downloaded from any other, it survives a
    restart, and it is removed with nothing left on disk."""
    jobs = schema.jobs
    query = select(jobs.c.kind, jobs.c.status, jobs.c.chart, jobs.c.finished_at).where(
        jobs.c.id == job_id
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None or row.kind != "report" or row.status != "done" or not row.chart:
        return {}
    if row.finished_at is None or _now() - row.finished_at > timedelta(days=REPORT_FILES_DAYS):
        return {}
    kept = json.loads(row.chart).get("files", {})
    return {fmt: base64.b64decode(text) for fmt, text in kept.items()}


def _select(full: bool = True):
    jobs, services = schema.jobs, schema.services
    columns = [c for c in jobs.c if full or c.name not in ("result", "chart")]
    return select(*columns, services.c.name.label("service")).join(
        services, services.c.id == jobs.c.service_id
    )


def _job(row) -> Job:
    def decoded(name):
        text = row.get(name)
        return None if text is None else json.loads(text)

    return Job(
        id=row["id"],
        service=row["service"],
        kind=row["kind"],
        options=decoded("options") or {},
        status=row["status"],
        progress=row["progress"],
        message=row["message"],
        notes=decoded("notes") or [],
        result=decoded("result"),
        chart=row.get("chart"),
        error=row["error"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempts=row["attempts"],
    )


# --- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A job a worker holds: its id and the token its writes must carry."""

    job_id: int
    token: str


def claim(store: Store) -> Claim | None:
    """Take the oldest queued job for this worker (see the module: exactly one worker gets
    it); ``None`` when none is queued."""
    jobs = schema.jobs
    while True:
        token = secrets.token_hex(16)
        now = _now()
        with store.engine.begin() as connection:
            oldest = (
                select(jobs.c.id)
                .where(jobs.c.status == "queued")
                .order_by(jobs.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite leaves it out
            )
            job_id = connection.scalar(oldest)
            if job_id is None:
                return None
            taken = connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(
                    status="running",
                    worker=token,
                    started_at=now,
                    heartbeat_at=now,
                    attempts=jobs.c.attempts + 1,
                    message="Starting",
                )
            ).rowcount
        if taken == 1:
            return Claim(job_id, token)
        # another worker took it between the two statements (SQLite): try the next one


def requeue_stale(store: Store, older_than: timedelta = STALE_AFTER) -> int:
    """Queue again the running jobs whose heartbeat is older than ``older_than`` (their
    process died), or fail those that have started :data:`MAX_ATTEMPTS` times; the number of
    jobs changed."""
    jobs = schema.jobs
    cutoff = _now() - older_than
    stale = (jobs.c.status == "running", jobs.c.heartbeat_at < cutoff)
    with store.engine.begin() as connection:
        failed = connection.execute(
            update(jobs)
            .where(*stale, jobs.c.attempts >= MAX_ATTEMPTS)
            .values(
                status="failed",
                worker=None,
                finished_at=_now(),
                error=f"The run stopped {MAX_ATTEMPTS} times without finishing (the app was "
                "restarted, or the run needed more memory than it had). Try fewer "
                "replications or a shorter horizon.",
                message="Stopped",
            )
        ).rowcount
        queued = connection.execute(
            update(jobs)
            .where(*stale)
            .values(
                status="queued",
                worker=None,
                progress=None,
                message="Waiting for a worker (the last run stopped without finishing)",
            )
        ).rowcount
    return failed + queued


def run(store: Store, held: Claim, clock: Callable[[], float] = time.monotonic) -> Job:
    """Run the claimed job to its end, writing its progress, then its result or its error."""
    job = get_job(store, held.job_id)
    notes: list[str] = []
    reporter = _Reporter(store, held, clock)
    beat = threading.Event()
    heart = threading.Thread(
        target=_heartbeat,
        args=(store, held, beat),
        name=f"job-{held.job_id}-heartbeat",
        daemon=True,
    )
    heart.start()
    try:
        result, chart = _execute(store, job, reporter, notes.append)
    except FlowcapError as error:
        _finish(store, held, status="failed", error=str(error), notes=notes)
    except MemoryError:
        _finish(
            store,
            held,
            status="failed",
            error="The run needed more memory than the app has: ask for fewer replications "
            "or a shorter horizon.",
            notes=notes,
        )
    except Exception:  # a bug: logged with its traceback, the user told plainly
        log.exception("job %s (%s of %r) failed", job.id, job.kind, job.service)
        _finish(
            store,
            held,
            status="failed",
            error="The run failed on an unexpected error; it has been logged for the app's "
            "administrator.",
            notes=notes,
        )
    else:
        _finish(store, held, status="done", result=result, chart=chart, notes=notes)
    finally:
        beat.set()
        heart.join(5)
    return get_job(store, held.job_id)


def work_once(store: Store) -> Job | None:
    """Claim the oldest queued job and run it; ``None`` when none is queued."""
    held = claim(store)
    return None if held is None else run(store, held)


def _execute(store: Store, job: Job, progress, warn) -> tuple[Any, str | None]:
    from flowcap.history import open_stored
    from flowcap.plan import plan_capacity, simulate_ahead

    options = job.options
    progress("Reading the store")
    history = open_stored(job.service, store.url)
    if job.kind == "report":
        return _report(store, job, history, progress, warn)
    if job.kind == "simulate":
        report = simulate_ahead(
            history,
            horizon=options["horizon"],
            replications=options["replications"],
            seed=options["seed"],
            threshold_minutes=options["threshold_minutes"],
            risk_target=options["risk"],
            optimise=options["optimise"],
            progress=progress,
            warn=warn,
        )
        progress("Drawing the chart")
        return report.as_json(), _fan_json(report)
    plans = plan_capacity(
        history,
        risk=options["risk"],
        horizon=options["horizon"],
        replications=options["replications"],
        seed=options["seed"],
        target_backlog_minutes=options["target_backlog_minutes"],
        target_backlog_cases=options["target_backlog_cases"],
        target_wait_weeks=options["target_wait_weeks"],
        progress=progress,
        warn=warn,
    )
    return [p.as_json() for p in plans], None


def _report(store: Store, job: Job, history, progress, warn) -> tuple[dict, str]:
    """Build the report once, write it as HTML, PDF and Excel; its
    :class:`~flowcap.documents.ReportDocument` and its files (JSON of base64 text)."""
    from flowcap.report.commissioner import FORMATS, build_report, default_name, write_report

    options = job.options
    document = build_report(
        history,
        _day(options["from"]),
        _day(options["to"]),
        replications=options["replications"],
        seed=options["seed"],
        progress=progress,
        warn=warn,
    )
    files: dict[str, str] = {}
    listed = []
    with tempfile.TemporaryDirectory(prefix="flowcap-report-") as folder:
        for fmt in FORMATS:
            progress(f"Writing the {fmt.upper()} file")
            try:
                data = write_report(document, Path(folder) / f"report.{fmt}", fmt).read_bytes()
            except FlowcapError as error:  # the PDF without WeasyPrint: the others still go
                warn(f"No {fmt.upper()} file: {error}")
                continue
            if len(data) > MAX_REPORT_FILE_BYTES:
                warn(
                    f"No {fmt.upper()} file: it came to {len(data):,} bytes, more than the "
                    f"{MAX_REPORT_FILE_BYTES:,} the app keeps; use `flowcap report` instead"
                )
                continue
            files[fmt] = base64.b64encode(data).decode("ascii")
            listed.append(
                {
                    "format": fmt,
                    "file_name": default_name(document.service_name, document.end, fmt),
                    "size_bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    previous = document.previous
    result = {
        "service": job.service,
        "period": {"start": document.start.isoformat(), "end": document.end.isoformat()},
        "previous": None
        if previous is None
        else {"start": previous[0].isoformat(), "end": previous[1].isoformat()},
        "data_end": document.data_end.isoformat(),
        "generated": _iso(_now().replace(microsecond=0)),
        "replications": options["replications"],
        "seed": options["seed"],
        "summary": list(document.summary),
        "notes": list(document.notes),
        "files": listed,
    }
    _drop_old_report_files(store, job.service, keep=REPORT_FILES_KEPT - 1)
    return result, json.dumps({"files": files})


def _drop_old_report_files(store: Store, service: str, keep: int) -> None:
    """Drop the files of the service's report jobs but the newest ``keep`` that have them,
    and of any finished more than :data:`REPORT_FILES_DAYS` ago."""
    jobs = schema.jobs
    with store.engine.begin() as connection:
        service_id = store.service_id(connection, service)
        mine = (jobs.c.service_id == service_id, jobs.c.kind == "report")
        kept = connection.scalars(
            select(jobs.c.id)
            .where(*mine, jobs.c.chart.is_not(None))
            .order_by(jobs.c.id.desc())
            .limit(keep)
        ).all()
        cutoff = _now() - timedelta(days=REPORT_FILES_DAYS)
        connection.execute(
            update(jobs)
            .where(*mine, jobs.c.chart.is_not(None), jobs.c.id.not_in(kept))
            .values(chart=None)
        )
        connection.execute(
            update(jobs)
            .where(*mine, jobs.c.chart.is_not(None), jobs.c.finished_at < cutoff)
            .values(chart=None)
        )


def _fan_json(report) -> str:
    """The backlog fan of :mod:`flowcap.report.fan_chart` as Plotly JSON, safe inside a
    ``<script type="application/json">`` element."""
    from flowcap.report.fan_chart import fan_figure

    title = f"{report.service_name}: backlog ahead"
    text = fan_figure(report.fan(), title, report.threshold_minutes).to_json()
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class _Reporter:
    """The job's :data:`~flowcap.progress.Progress`: each step's text and, when the run
    says how far along it is, the fraction done, written at most every
    :data:`PROGRESS_EVERY` seconds."""

    def __init__(self, store: Store, held: Claim, clock: Callable[[], float]):
        self.store, self.held, self.clock = store, held, clock
        self.last: float | None = None

    def __call__(self, step: object, done: float | None = None, total: float | None = None):
        now = self.clock()
        if self.last is not None and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        fraction = None
        if done is not None and total:
            fraction = min(max(float(done) / float(total), 0.0), 1.0)
        jobs = schema.jobs
        with self.store.engine.begin() as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.id == self.held.job_id, jobs.c.worker == self.held.token)
                .values(message=str(step)[:500], progress=fraction, heartbeat_at=_now())
            )


def _heartbeat(store: Store, held: Claim, stop: threading.Event) -> None:
    jobs = schema.jobs
    while not stop.wait(HEARTBEAT_EVERY):
        try:
            with store.engine.begin() as connection:
                connection.execute(
                    update(jobs)
                    .where(jobs.c.id == held.job_id, jobs.c.worker == held.token)
                    .values(heartbeat_at=_now())
                )
        except Exception:  # a busy store: the next beat tries again
            log.warning("job %s: heartbeat not written", held.job_id, exc_info=True)


def _finish(store: Store, held: Claim, *, status, result=None, chart=None, error=None, notes=()):
    """Write the job's end, unless it is no longer this claim's (it was requeued)."""
    jobs = schema.jobs
    with store.engine.begin() as connection:
        connection.execute(
            update(jobs)
            .where(jobs.c.id == held.job_id, jobs.c.worker == held.token)
            .values(
                status=status,
                progress=1.0 if status == "done" else None,
                message="Finished" if status == "done" else "Failed",
                result=None if result is None else json.dumps(result, allow_nan=False),
                chart=chart,
                error=error,
                notes=json.dumps(list(notes)) if notes else None,
                finished_at=_now(),
            )
        )


# --- the worker pool --------------------------------------------------------------------------


class WorkerPool:
    """``workers`` threads that run queued jobs, each polling every ``poll`` seconds (at
    once after :meth:`wake`), and requeue stale ones now and then."""

    def __init__(self, store: Store, workers: int = 2, poll: float = 1.0):
        self.store = store
        self.workers = workers
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        for k in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"flowcap-job-{k}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; a job running goes on in its daemon thread until the process
        ends (then it is requeued as stale by the next app to start)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _loop(self) -> None:
        last_sweep = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_sweep > HEARTBEAT_EVERY:
                    requeue_stale(self.store)
                    last_sweep = time.monotonic()
                held = claim(self.store)
                if held is not None:
                    run(self.store, held)
                    continue
            except Exception:  # the store was busy or away: try again at the next poll
                log.warning("job worker: the store could not be read", exc_info=True)
            self._wake.wait(self.poll)
            self._wake.clear()


# --- a service's scenario options, as the planner shows them ----------------------------------


@dataclass(frozen=True)
class ScenarioSettings:
    """A service's stored scenarios.yaml: its text (empty when it has none), version, when
    and by whom it was saved, and its options as rows ``{"name", "changes": [{"kind",
    "fields": {name: value}}]}``."""

    content: str
    version: int | None
    saved_at: datetime | None
    saved_by: str | None
    options: list[dict]


def scenario_settings(store: Store, service: str) -> ScenarioSettings:
    """The service's scenario options as stored (:class:`ScenarioSettings`); a
    :class:`~flowcap.errors.StoreError` for a service the store does not hold."""
    from flowcap.io.folder import parse_settings
    from flowcap.io.service_yaml import read_service_yaml

    settings = store.settings(service)
    row = settings.get("scenarios")
    if row is None:
        return ScenarioSettings("", None, None, None, [])
    definition = read_service_yaml(
        Path(settings["service"]["file_name"]), settings["service"]["content"]
    )
    options = [
        {
            "name": option.name,
            "changes": [
                {
                    "kind": change.kind,
                    "fields": change.model_dump(mode="json", by_alias=True),
                }
                for change in option.changes
            ],
        }
        for option in parse_settings("scenarios", row["file_name"], row["content"], definition)
    ]
    return ScenarioSettings(
        row["content"].decode("utf-8", errors="replace"),
        row["version"],
        row["saved_at"],
        row["saved_by"],
        options,
    )


# --- helpers ----------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(stamp: datetime | None) -> str | None:
    return None if stamp is None else stamp.replace(tzinfo=UTC).isoformat()
