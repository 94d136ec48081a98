"""The JSON documents flowcap hands out, typed once for the command line and the web API.

A service manager's script may read ``flowcap measures --json`` today and
``GET /api/services/{name}/measures`` tomorrow: both give the same objects, and the pydantic
models here say what those are. The CLI writes its documents from the library's ``as_json``
methods (byte for byte as before; the golden files hold them); the API routes declare these
models as their ``response_model``, so ``/openapi.json`` and ``/docs`` describe the very
documents the CLI prints. ``tests/test_documents.py`` checks the CLI's real output and the
API's real answers against them, so a key added on one side and not here fails a test.

Every model forbids keys it does not name (``extra="forbid"``). Numbers a simulation
estimates are ``float | None``: ``None`` is what ``--json`` writes for a figure that cannot
be computed (NaN, say a wait with nothing done).

- :class:`MeasuresDay`: one object of ``flowcap measures --json`` (a list of them).
- :class:`Problem`, :class:`Problems`: what ``flowcap validate`` reports, by file, row and
  column (:class:`flowcap.errors.Problem`); the uploads API's 422 body, and
  :class:`UploadSummary` its answer.
- :class:`SimulationDocument`: ``flowcap simulate --json``; :class:`PlanRecord`: one object
  of ``flowcap plan --json``. A job's ``result`` (``GET /api/jobs/{id}``) is one of them.
- :class:`ServicesDocument`: ``flowcap services --json``; :class:`ServiceSummary`: one
  service of ``GET /api/services`` (the user's role in it rather than the row counts).
- :class:`DailyFigures`, :class:`DailyDay`, :class:`DailyProblems`: the daily figures API.
- :class:`Detail`, :class:`Invalid` (:data:`Refused`, either): the API's refusals, in one
  sentence, or by field for a request that does not parse (FastAPI's own 422).
- :class:`ReportDocument`: a ``report`` job's result (the commissioner's report: its period,
  summary sentences and the files kept to download).
- :class:`AlertRecord`: one alert of ``flowcap monitor --json`` (its ``new`` list), as
  ``GET /api/services/{name}/alerts`` lists them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowcap.errors import InputError

#: A figure a simulation estimates: ``None`` where ``--json`` writes null (not computable).
Figure = float | None


class Document(BaseModel):
    """A JSON document: only the keys it names."""

    model_config = ConfigDict(extra="forbid")


# --- measures ---------------------------------------------------------------------------------


class MeasuresDay(Document):
    """One resource on one day (``flowcap measures --json``): minutes (3 decimals) and cases
    of demand, capacity, activity and backlog, and the cases waiting at the end of the day by
    age in working days. A service with a step that has ``target_working_days`` also gets the
    ``step_targets_*`` counts, and one with a ``caseload_per_staff`` the caseload keys (null
    on the rows of a resource that has none)."""

    date: dt.date
    resource: str
    demand_minutes: float
    capacity_minutes: float
    activity_minutes: float
    opening_backlog_minutes: float
    backlog_minutes: float
    demand_cases: int
    activity_cases: int
    backlog_cases: int
    waiting_0_2_working_days: int
    waiting_3_5_working_days: int
    waiting_6_10_working_days: int
    waiting_11_20_working_days: int
    waiting_over_20_working_days: int
    step_targets_met: int | None = None
    step_targets_missed: int | None = None
    step_targets_pending: int | None = None
    open_cases: int | None = None
    open_cases_per_fte: float | None = None
    caseload_share: float | None = None


# --- problems ---------------------------------------------------------------------------------


class Problem(Document):
    """One thing wrong with one input file, as ``flowcap validate`` numbers it: in a CSV the
    header is row 1 and the first record row 2; in YAML the line of the key at fault."""

    file: str
    row: int | None
    column: str | None
    message: str


class Problems(Document):
    """Every problem found (an upload stores nothing until there are none)."""

    problems: list[Problem]


def problems_document(error: InputError) -> dict:
    """``{"problems": [{file, row, column, message}]}`` of an :class:`InputError`."""
    return {
        "problems": [
            {"file": p.file, "row": p.row, "column": p.column, "message": p.message}
            for p in error.problems
        ]
    }


class TableChange(Document):
    """What an upload does to one table: rows now and after, added, replaced, removed and
    unchanged."""

    table: str
    file: str
    rows_now: int
    rows_after: int
    added: int
    replaced: int
    removed: int
    unchanged: int


class UploadSummary(Document):
    """What an upload changes (``dry_run``) or changed (:meth:`flowcap.manage.UploadPreview.
    as_json`): per table it replaces, the rows; the settings kinds given a new version."""

    service: str
    files: list[str]
    imported: bool
    changed: bool
    tables: list[TableChange]
    settings: list[str]
    notes: list[str]


class Detail(Document):
    """An error the API explains in one sentence."""

    detail: str


class FieldIssue(BaseModel):
    """One field of a request that does not parse: where (``loc``, e.g. ``["query", "to"]``),
    what is wrong (``msg``) and its kind (``type``); FastAPI may add ``input`` and ``ctx``."""

    loc: list[str | int]
    msg: str
    type: str


class Invalid(Document):
    """A request refused before its route runs (422): a field that does not parse or is
    missing (a date that is no date, a body that is not JSON), each field's problem."""

    detail: list[FieldIssue]


#: A 422 of the API: the route's own one-sentence refusal, or the fields that do not parse.
Refused = Detail | Invalid


# --- simulate ---------------------------------------------------------------------------------


class ResourceOutcome(Document):
    """One resource under one option, over the horizon: the final backlog (minutes; mean,
    median, 90th percentile, the chance over the threshold), waits in days (all work, the work
    done alone, first contacts), cases that left waiting, working days past the first-contact
    target, and the rostered cost (£; ``None`` with no cost per hour)."""

    final_backlog_mean: Figure
    final_backlog_p50: Figure
    final_backlog_p90: Figure
    p_final_backlog_over_threshold: Figure
    mean_wait_days: Figure
    cases_reneged: Figure
    p90_wait_days: Figure
    mean_first_contact_wait_days: Figure
    p90_first_contact_wait_days: Figure
    days_over_target: Figure
    mean_wait_days_done: Figure
    p90_wait_days_done: Figure
    mean_first_contact_wait_days_done: Figure
    p90_first_contact_wait_days_done: Figure
    cost: float | None


class StepTarget(Document):
    """A step with ``target_working_days``, simulated: the chance an occurrence falling due in
    the horizon meets the target (``p_met``), working days ending with one past it, and the
    occurrences met, done late and still waiting past it (means over the futures)."""

    label: str
    case_type: str
    step: int
    resource: str
    target_working_days: int
    p_met: Figure
    days_over_target: Figure
    met: Figure
    late: Figure
    waiting_past_target: Figure


class RankedStepTarget(Document):
    label: str
    p_met: Figure
    days_over_target: Figure


class RankedOption(Document):
    """One contingency option against the baseline: its extra cost (£), the case-days of
    waiting it avoids, £ per day avoided (``None`` when it avoids none), the chance every
    backlog ends at or under the threshold, and each step target's chance of being met."""

    scenario: str
    extra_cost: float
    wait_days_avoided: Figure
    cost_per_wait_day_avoided: float | None
    p_meet_target: Figure
    step_targets: list[RankedStepTarget]


class WaitingTotal(Document):
    contacts_waiting: Figure
    over_20_working_days: Figure


class WaitingByCaseType(Document):
    """Contacts (pieces of work) waiting at the horizon for one resource and case type: the
    mean count, by band of working days waited, and the oldest, median and p90 age."""

    resource: str
    case_type: str
    contacts_waiting: Figure
    bands: dict[str, Figure]
    oldest_working_days: Figure
    median_working_days: Figure
    p90_working_days: Figure


class WaitingAtHorizon(Document):
    totals: dict[str, WaitingTotal]
    by_case_type: list[WaitingByCaseType]


class BacklogByDay(Document):
    """The baseline's backlog day by day: median and 95th percentile (minutes), and the
    chance it is over the threshold at the end of the day."""

    dates: list[dt.date]
    backlog_p50: list[Figure]
    backlog_p95: list[Figure]
    p_over_threshold: list[Figure]


class WaitingListCheck(Document):
    """The waiting-list formulas (Fong et al. 2022) beside the simulation, minutes of work."""

    queue_load: Figure
    queue_size_minutes: Figure
    target_queue_size_minutes: Figure
    relief_capacity_minutes_per_working_day: Figure
    pressure: Figure


class Combination(Document):
    """``--optimise``: the cheapest set of options meeting the risk target (or the closest)."""

    scenarios: list[str]
    extra_cost: float
    p_meet_target: Figure
    p_exceed: dict[str, Figure]
    meets_target: bool


class SimulationDocument(Document):
    """``flowcap simulate --json``: per option (``baseline`` first) and resource the
    outcomes; the options ranked, best value first; the recommendation in words; per option
    the step targets and the waiting list at the horizon; the baseline day by day; the
    waiting-list check; with ``--optimise`` the cheapest combination."""

    scenarios: dict[str, dict[str, ResourceOutcome]]
    ranking: list[RankedOption]
    recommendation: str
    step_targets: dict[str, list[StepTarget]]
    waiting_at_horizon: dict[str, WaitingAtHorizon]
    cheapest_combination: Combination | None = None
    baseline_by_day: dict[str, BacklogByDay]
    waiting_list_check: dict[str, WaitingListCheck]


# --- plan -------------------------------------------------------------------------------------


class PlanRecord(Document):
    """One resource of ``flowcap plan --json``: the fewest staff (``None``: not found) and the
    capacity then, the chance over the target there, whether the backlog is stable; or the
    usual head count at the fewest minutes each; the target (minutes); FTE now and needed."""

    resource: str
    min_staff: int | None
    min_capacity_minutes: Figure
    p_exceed_at_min: Figure
    stable: bool
    min_minutes_per_staff: Figure
    fewest_capacity_minutes: Figure
    target_backlog_minutes: Figure
    fte_now: Figure
    fte_needed: Figure


# --- reports ----------------------------------------------------------------------------------


class ReportPeriod(Document):
    """A span of days, both ends included."""

    start: dt.date
    end: dt.date


class ReportFile(Document):
    """One file of a built report: its format (``html``, ``pdf``, ``xlsx``), the name
    ``flowcap report`` would give it, its size and its SHA-256 (hex)."""

    format: Literal["html", "pdf", "xlsx"]
    file_name: str
    size_bytes: int
    sha256: str


class ReportDocument(Document):
    """A ``report`` job's result: the period reported and the one before it (``None`` when
    the data do not cover it), the last day of data, when it was built (UTC), the summary's
    sentences, the analyses' notes, and the files kept (a format left out could not be
    written: the job's notes say why). The files themselves are downloaded from
    ``/services/{name}/reports/download``."""

    service: str
    period: ReportPeriod
    previous: ReportPeriod | None
    data_end: dt.date
    generated: dt.datetime
    replications: int
    seed: int
    summary: list[str]
    notes: list[str]
    files: list[ReportFile]


# --- jobs -------------------------------------------------------------------------------------


JobKind = Literal["simulate", "plan", "report"]
JobState = Literal["queued", "running", "done", "failed"]


class JobRequest(Document):
    """A run to queue: ``simulate`` (options ``horizon``, ``replications``, ``risk``,
    ``threshold_minutes``, ``seed``, ``optimise``) or ``plan`` (``target_backlog_minutes``,
    ``target_backlog_cases`` or ``target_wait_weeks``, ``risk``, ``horizon``,
    ``replications``, ``seed``) or ``report`` (``from``, ``to`` as YYYY-MM-DD,
    ``replications``, ``seed``: the commissioner's report of ``flowcap report``, its files kept
    to download from the reports page); options left out take the command line's defaults
    (but 1,000 replications)."""

    kind: JobKind
    options: dict[str, Any] = Field(default_factory=dict)


class JobAccepted(Document):
    id: int
    status: JobState


class JobStatus(Document):
    """A job: its status, its progress (``progress`` 0 to 1 when the run knows it, and
    ``message``), and once ``done`` its ``result``: what ``flowcap simulate --json``
    (:class:`SimulationDocument`) or ``flowcap plan --json`` (a list of
    :class:`PlanRecord`) prints for the same options, or a report's
    :class:`ReportDocument`; once ``failed``, its ``error``."""

    id: int
    service: str
    kind: JobKind
    options: dict[str, Any]
    status: JobState
    progress: float | None
    message: str
    notes: list[str]
    result: SimulationDocument | list[PlanRecord] | ReportDocument | None
    error: str | None
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None


# --- services ---------------------------------------------------------------------------------


class Token(Document):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class ServiceSummary(Document):
    """A service the user may see (``GET /api/services``): their ``role`` in it, and when
    its data or settings last changed (UTC; ``None`` when nothing is stored yet)."""

    name: str
    role: Literal["viewer", "editor", "admin"]
    last_updated: dt.datetime | None


class StoredService(Document):
    """One service of ``flowcap services --json``: when it last changed (UTC, ISO), the rows
    of each table, and each kind of settings with its version."""

    name: str
    last_change: dt.datetime | None
    referrals: int
    waiting: int
    roster: int
    sessions: int
    events: int
    settings: dict[str, int]


class ServicesDocument(Document):
    """``flowcap services --json``: where the store is, and the services it holds."""

    store: str
    services: list[StoredService]


# --- daily figures ----------------------------------------------------------------------------


class SessionsFigure(Document):
    count: int | None = Field(default=None, ge=0)
    minutes: int | None = Field(default=None, ge=0)


class DailyFigures(Document):
    """A day's figures to enter (``POST /api/services/{name}/daily``): referrals per case
    type (left out: 0), staff on duty per resource (left out or null: no roster row, the
    resource's default staffing), sessions delivered per resource (count and minutes in all,
    or either alone)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "date": "2026-01-05",
                "referrals": {"advocacy": 3},
                "staff": {"idva": 2},
                "sessions": {"idva": {"count": 4, "minutes": 240}},
            }
        },
    )

    date: dt.date
    referrals: dict[str, int] = Field(default_factory=dict)
    staff: dict[str, int | None] = Field(default_factory=dict)
    sessions: dict[str, SessionsFigure] = Field(default_factory=dict)


class SessionsOut(Document):
    count: int
    minutes: float


class DailyDay(Document):
    """A day's figures as stored after the save, and what the save changed (counts only)."""

    service: str
    date: dt.date
    entered: bool
    referrals: dict[str, int]
    staff: dict[str, float | None]
    sessions: dict[str, SessionsOut]
    changes: list[str]
    removed_later_sessions: int


class DailyProblem(Document):
    field: str
    message: str


class DailyProblems(Document):
    problems: list[DailyProblem]


# --- alerts -----------------------------------------------------------------------------------


class AlertRecord(Document):
    """One alert as the store keeps it (``flowcap monitor --json``'s ``new`` list,
    :meth:`flowcap.monitor.records.Alert.as_json`): its kind (``spc``, ``risk``, ``backlog``,
    ``first_contact``), the day it is about and the last day of data it was seen on, its
    title and message, when it was raised and sent (UTC; ``None``: not yet), the channels it
    reached, and who acknowledged it when. No case ids: an alert names a chart, a resource
    or a day."""

    id: int
    service: str
    kind: str
    key: str
    day: dt.date
    last_seen: dt.date
    title: str
    message: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    delivered: list[str]
    send_attempts: int
    send_error: str | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
