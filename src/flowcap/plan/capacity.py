"""The fewest advocates (or minutes each) that keep a team's backlog from spiralling.

"How many IDVAs do we need so that, a year from now, there is at most a 5% chance that more
than 40 hours of work is waiting, and the backlog is not still growing?" :func:`minimum_staff`
answers that by simulating the year ahead (:mod:`flowcap.simulate.daily`) for a range of head
counts; :func:`minimum_minutes_per_day` answers the same question for the minutes each person
gives a day at today's head count.

The rule for a candidate capacity (``n`` people, or ``m`` minutes each) to be enough:

1. **Tail.** P(backlog at the end of the horizon > ``target_backlog_minutes``) <= ``risk``,
   estimated as the share of replications above the target (a point estimate; with the default
   2,000 replications its standard error at a 5% risk is 0.5 percentage points).
2. **Stable.** The expected work falling due is less than the expected capacity
   ``staff × minutes × (1 − absence_rate)`` (load < 1, the reflected random walk's condition,
   methods.md §4.1), both (a) over the whole horizon and (b) over its final window — the last
   quarter, but at least the last 28 days (or the whole horizon if shorter) — so a backlog
   that would be growing at the end (a trend, a late seasonal peak) is not called stable.
   Expected work = new referrals' steps from their mean daily counts plus existing cases' work
   due ahead; the opening backlog is a one-off and left out (rule 1 sees it).

   Why not a simulated check, such as "the mean backlog over the last quarter is not
   significantly above that over the third"? On the bundled example it calls a team of 200
   IDVAs "growing": Christmas bank holidays put a few days of waiting work in the last quarter
   whatever the head count, and with 2,000 replications a seasonal rise of 11 minutes is
   "significant" (even counting working days only). Such a test confuses the calendar and the
   seasons with instability; the expected loads do not, and they fall exactly as ``n`` or ``m``
   rises, so the search below is exact. A capacity just above the load limit is stable but
   slow to settle; rule 1 then decides whether the horizon's tail is acceptable.

How the candidates change the model: ``n`` people replace the resource's roster on the days
it works (the days it had anyone rostered; if it had nobody all horizon, the days with
``minutes_per_staff > 0``), so planned leave in the roster is overridden on those days;
``minutes_per_staff`` is kept. Days ahead without roster rows get the weekday's usual
capacity from history spread over the resource's head count
(:meth:`flowcap.model.roster.Roster.staffing_ahead`), so there ``n`` is a head count whose people
take leave as the team did over the last year. For the minutes search, ``m`` replaces
``minutes_per_staff`` on those same days and the roster's head count is kept.

The search reuses the random numbers: every candidate is run with the same ``seed``, and the
engine's streams (one per case type for referrals, one per resource for absence) do not depend
on staffing, so every candidate sees the same referrals, and the same uniforms decide absence.
Absence is drawn by inversion, so more people rostered never means fewer present, and (without
reneging) in every replication the backlog can only fall as ``n`` or ``m`` rises: the estimated
tail probability is monotone, and so are the loads (with reneging, monotone in expectation).
So the search starts at the fewest that rule 2 allows (in closed form), gallops up (+1, +2, +4,
...) until rule 1 holds, then bisects. On a GPU (``device="cuda"``) the same holds: PyTorch's
streams are fixed by the seed and the model's shapes, not by the staffing
(:mod:`flowcap.simulate.daily.torch`).

On the CPU those random numbers are drawn once per search, not once per candidate
(:mod:`flowcap.plan.shared_draws`, where the resource is simulated on its own, below): each
candidate replays only the backlog recursion on them, and only in the replications that the
candidates already judged leave undecided, with the engine's arithmetic, so every candidate's
P and the answer are the engine's, number for number. The fewest-minutes search that follows
the fewest-staff one on the same spec (``plan_capacity``) replays the same draws.

:func:`minimum_added` asks the recruitment question with the same search: the fewest people
added (however they come: recruits joining after a lead time, at reduced output in induction)
for rule 1 alone, from 0 up — the list on one date is what is judged, so a backlog still
falling then is fine (:func:`flowcap.plan.outlook.plan_recruitment`).

Without reneging (no case type in service.yaml has a ``patience_days``) resources do not
interact and the total backlog of a resource is the same whatever order work is taken in, so
each resource is simulated on its own (:func:`resource_submodel`): one resource, one
priority, only the case types that bring it work — several times faster. Its random numbers
are then not those of a full :func:`~flowcap.simulate.daily.run` with the same seed
(the same in distribution). With patience the full model is run.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from flowcap._json import json_number
from flowcap.errors import FlowcapError
from flowcap.plan.shared_draws import SharedDraws
from flowcap.simulate.daily import DailySpec, run

#: Most minutes a person can give a day (``Resource.minutes_per_day`` is at most a day).
MAX_MINUTES_PER_DAY = 1440
#: Most people :func:`minimum_added` will add to one resource.
MAX_RECRUITS = 50
#: The final window of rule 2(b) is the last quarter of the horizon but at least this many days.
FINAL_WINDOW_MIN_DAYS = 28


class _Plan:
    """What :class:`StaffPlan` and :class:`MinutesPlan` share: the JSON record, which names
    the field that was minimised (``minimised``) second."""

    minimised: ClassVar[str]

    def as_json(self) -> dict:
        """The ``flowcap plan --json`` record."""
        return {
            "resource": self.resource,
            self.minimised: getattr(self, self.minimised),
            "min_capacity_minutes": json_number(self.min_capacity_minutes),
            "p_exceed_at_min": json_number(self.p_exceed_at_min),
            "stable": bool(self.stable),
        }


@dataclass(frozen=True)
class StaffPlan(_Plan):
    """The fewest staff for one resource, and how the search got there.

    Attributes
    ----------
    resource : the resource's name.
    min_staff : fewest people rostered on each working day; ``None`` when even ``max_staff``
        is not enough.
    min_capacity_minutes : rostered minutes on an average working day at ``min_staff``
        (``min_staff × mean minutes_per_staff`` over the days the resource works; before
        absence); ``None`` with ``min_staff``.
    p_exceed_at_min : P(backlog at the horizon > target) at ``min_staff`` (at ``max_staff``
        when none is enough).
    stable : whether the backlog is stable there (the module's rule 2).
    candidates : ``(n, p)`` for every head count simulated, ``n`` ascending.
    """

    minimised: ClassVar[str] = "min_staff"

    resource: str
    min_staff: int | None
    min_capacity_minutes: float | None
    p_exceed_at_min: float
    stable: bool
    candidates: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class MinutesPlan(_Plan):
    """The fewest minutes per person per working day, at the roster's head count.

    Attributes
    ----------
    resource : the resource's name.
    min_minutes_per_staff : fewest whole minutes each person gives a working day (the minute
        below fails); ``None`` when even ``max_minutes`` is not enough.
    min_capacity_minutes : rostered minutes on an average working day at that value (mean
        head count over the days the resource works × minutes; before absence), or ``None``.
    p_exceed_at_min : P(backlog at the horizon > target) there (at ``max_minutes`` when none).
    stable : whether the backlog is stable there.
    candidates : ``(minutes, p)`` for every value simulated, ascending.
    usual_capacity_minutes : rostered minutes on an average working day as planned now (the
        same mean, at today's minutes each): ``min_capacity_minutes / usual_capacity_minutes``
        is the share of today's capacity that is enough.
    """

    minimised: ClassVar[str] = "min_minutes_per_staff"

    resource: str
    min_minutes_per_staff: float | None
    min_capacity_minutes: float | None
    p_exceed_at_min: float
    stable: bool
    candidates: tuple[tuple[float, float], ...]
    usual_capacity_minutes: float = math.nan


def minimum_staff(
    spec: DailySpec,
    resource: str,
    *,
    target_backlog_minutes: float,
    risk: float,
    replications: int = 2000,
    seed: int = 0,
    max_staff: int = 200,
    device: str = "cpu",
) -> StaffPlan:
    """Fewest people rostered a working day so the backlog stays under the target, stably.

    Parameters
    ----------
    spec : the daily model of the days ahead (e.g. from :func:`flowcap.simulate.build.build_spec`).
    resource : which resource to size; the others keep their staffing.
    target_backlog_minutes : B, minutes of work waiting at the end of the horizon.
    risk : largest acceptable P(backlog at the horizon > B), between 0 and 1 (the arguments
        are checked by the caller with :mod:`flowcap.checks`, as ``plan_capacity`` does).
    replications, seed : Monte Carlo replications per candidate, and their seed (shared by all).
    max_staff : largest head count tried.
    device : ``"cpu"`` (NumPy) or ``"cuda"`` (PyTorch on a GPU; :func:`flowcap.simulate.run`).
    """
    model, r, days = _prepare(spec, resource, target_backlog_minutes, risk, replications)
    per_person = model.minutes_per_staff[r] * days * (1 - model.absence_rate[r])
    found, p, stable, candidates = _search(
        lambda n: _with_row(model, r, "staff", days, n),
        _tail(spec, resource, model, r, replications, seed, device),
        model,
        r,
        per_person,
        max_staff,
        target_backlog_minutes,
        risk,
    )
    capacity = None
    if found is not None:
        capacity = float(found * model.minutes_per_staff[r, days].mean())
    return StaffPlan(resource, found, capacity, p, stable, candidates)


def minimum_minutes_per_day(
    spec: DailySpec,
    resource: str,
    *,
    target_backlog_minutes: float,
    risk: float,
    replications: int = 2000,
    seed: int = 0,
    max_minutes: int = MAX_MINUTES_PER_DAY,
    device: str = "cpu",
) -> MinutesPlan:
    """Fewest whole minutes per person per working day at the roster's head count.

    Same rule and parameters as :func:`minimum_staff`; the search is over whole minutes (so to
    1-minute precision) from the fewest that rule 2 allows up to ``max_minutes``.
    """
    model, r, days = _prepare(spec, resource, target_backlog_minutes, risk, replications)
    per_minute = model.staff[r] * days * (1 - model.absence_rate[r])
    found, p, stable, candidates = _search(
        lambda m: _with_row(model, r, "minutes_per_staff", days, float(m)),
        _tail(spec, resource, model, r, replications, seed, device),
        model,
        r,
        per_minute,
        max_minutes,
        target_backlog_minutes,
        risk,
    )
    capacity = None if found is None else float(found * model.staff[r, days].mean())
    return MinutesPlan(
        resource,
        None if found is None else float(found),
        capacity,
        p,
        stable,
        tuple((float(m), q) for m, q in candidates),
        float((model.staff[r, days] * model.minutes_per_staff[r, days]).mean()),
    )


def minimum_added(
    spec: DailySpec,
    resource: str,
    with_added: Callable[[DailySpec, int], DailySpec],
    *,
    target_backlog_minutes: float,
    risk: float,
    replications: int = 2000,
    seed: int = 0,
    most: int = MAX_RECRUITS,
    device: str = "cpu",
) -> tuple[int | None, float, tuple[tuple[int, float], ...]]:
    """Fewest people added to ``resource`` so P(backlog at the horizon > B) <= ``risk`` (rule 1
    alone: the question is the list on one date, so a backlog still falling is fine).

    ``with_added(model, n)`` is the model with ``n`` more people (for ``n`` = 0 the model
    itself), in whatever way they come (recruits joining after a lead time, at reduced
    output in induction: :func:`flowcap.plan.outlook.plan_recruitment` adds them as a
    scenario ``recruit`` change). The search is this module's, from 0 up to ``most``, on the
    resource alone where it can be (:func:`resource_submodel`). Returns (the fewest, or
    ``None`` when even ``most`` is not enough; P(exceed) there, or at ``most``; ``(n, p)``
    for every ``n`` simulated, ``0`` among them).
    """
    model, r, _ = _prepare(spec, resource, target_backlog_minutes, risk, replications)
    found, p, _, candidates = _search(
        lambda n: with_added(model, n),
        _tail(spec, resource, model, r, replications, seed, device),
        model,
        r,
        None,
        most,
        target_backlog_minutes,
        risk,
        start_at=0,
    )
    return found, p, candidates


def latest_delay(
    spec: DailySpec,
    resource: str,
    delayed: Callable[[DailySpec, int], DailySpec],
    *,
    most: int,
    target_backlog_minutes: float,
    risk: float,
    replications: int = 2000,
    seed: int = 0,
    device: str = "cpu",
) -> tuple[int | None, tuple[tuple[int, float], ...]]:
    """The longest delay (whole days, 0 to ``most``) that still meets rule 1:
    P(backlog at the horizon > B) <= ``risk``.

    ``delayed(model, d)`` is the model with a change made ``d`` days later (recruits who start
    to be recruited ``d`` days later, so join ``d`` days later). Later help is never more
    help, so the chance of exceeding rises with ``d`` (in every replication without reneging,
    as the module's search relies on for head counts: every delay sees the same random
    numbers), and the delays that work are ``0 .. d``: found by bisection, about
    ``log2(most)`` runs. Returns (``d``, or ``None`` when even no delay fails; ``(d, p)`` for
    every delay simulated).
    """
    model, r, _ = _prepare(spec, resource, target_backlog_minutes, risk, replications)
    p_of: dict[int, float] = {}
    p_exceed = _tail(spec, resource, model, r, replications, seed, device)

    def tail_ok(d: int) -> bool:
        p_of[d] = p_exceed(delayed(model, d), target_backlog_minutes)
        return p_of[d] <= risk

    if not tail_ok(0):
        return None, tuple(sorted(p_of.items()))
    good, bad = 0, most + 1
    if tail_ok(most):
        good = most
    else:
        bad = most
    while bad - good > 1:
        mid = (good + bad) // 2
        if tail_ok(mid):
            good = mid
        else:
            bad = mid
    return good, tuple(sorted(p_of.items()))


# --- theory: expected work and capacity ----------------------------------------------------


def expected_demand_minutes(spec: DailySpec, resource: str) -> np.ndarray:
    """Expected minutes of work falling due at ``resource`` each day, shape (H,).

    New referrals' steps (mean cases a day × minutes, ``offset_days`` later, inside the
    horizon) plus existing cases' ``due_ahead_minutes``; the opening backlog is not included.
    """
    r = spec.resources.index(resource)
    n_days = spec.horizon_days
    demand = spec.due_ahead_minutes[r].sum(axis=0).copy()
    for k, res, offset, minutes in zip(
        spec.step_type, spec.step_resource, spec.step_offset_days, spec.step_minutes, strict=True
    ):
        if res == r and offset < n_days:
            demand[offset:] += spec.mean_cases_per_day[k, : n_days - offset] * minutes
    return demand


def final_window_days(horizon_days: int) -> int:
    """Days in rule 2(b)'s window: the last quarter, at least 28 days, at most the horizon."""
    return min(horizon_days, max(math.ceil(horizon_days / 4), FINAL_WINDOW_MIN_DAYS))


def expected_load(spec: DailySpec, resource: str, *, last_days: int | None = None) -> float:
    """Expected work falling due / expected capacity after absence, over the horizon's last days.

    ``sum_t E[demand_t] / sum_t staff_t × minutes_per_staff_t × (1 − absence_rate)`` over the
    last ``last_days`` days (default: the whole horizon). ``0`` with no demand, ``inf`` with
    demand and no capacity.
    """
    r = spec.resources.index(resource)
    window = slice(spec.horizon_days - (last_days or spec.horizon_days), None)
    demand = float(expected_demand_minutes(spec, resource)[window].sum())
    capacity = float(
        (spec.staff[r, window] * spec.minutes_per_staff[r, window]).sum()
        * (1 - spec.absence_rate[r])
    )
    if demand <= 0:
        return 0.0
    return demand / capacity if capacity > 0 else math.inf


def is_stable(spec: DailySpec, resource: str) -> bool:
    """The module's rule 2: load below 1 over the horizon and over its final window."""
    final = final_window_days(spec.horizon_days)
    return expected_load(spec, resource) < 1 and expected_load(spec, resource, last_days=final) < 1


def resource_submodel(spec: DailySpec, resource: str) -> DailySpec:
    """``resource`` on its own: one resource, one priority, the case types that bring it work.

    Valid for the resource's total backlog when no case type has a patience (then resources do
    not interact, and the total is the same whatever order the work is taken in). The opening
    backlog and work due ahead are summed over priorities; case types keep their order.
    """
    if any(p is not None for p in spec.patience_days):
        raise ValueError("with reneging, resources interact: simulate the full model")
    r = spec.resources.index(resource)
    mine = spec.step_resource == r
    kept = sorted(set(spec.step_type[mine].tolist()))
    means = spec.mean_cases_per_day[kept] if kept else np.zeros((1, spec.horizon_days))
    kept = kept or [0]
    new_index = {k: i for i, k in enumerate(kept)}
    steps = spec.steps[mine].copy()
    steps[:, 0] = [new_index[int(k)] for k in steps[:, 0]]
    steps[:, 1] = 0
    return DailySpec(
        resources=(resource,),
        priorities=(1,),
        staff=spec.staff[r : r + 1],
        minutes_per_staff=spec.minutes_per_staff[r : r + 1],
        absence_rate=spec.absence_rate[r : r + 1],
        case_types=tuple(spec.case_types[k] for k in kept),
        case_priority=np.ones(len(kept), dtype=np.int64),
        mean_cases_per_day=means,
        dispersion=spec.dispersion[kept],
        steps=steps,
        opening_backlog_minutes=spec.opening_backlog_minutes[r].sum().reshape(1, 1),
        due_ahead_minutes=spec.due_ahead_minutes[r].sum(axis=0).reshape(1, 1, -1),
    )


# --- the search ---------------------------------------------------------------------------


def _prepare(spec, resource, target, risk, replications):
    if resource not in spec.resources:
        raise FlowcapError(f"unknown resource {resource!r}; resources are: {spec.resources}")
    if all(p is None for p in spec.patience_days):
        model, r = resource_submodel(spec, resource), 0
    else:
        model, r = spec, spec.resources.index(resource)
    days = model.staff[r] > 0
    if not days.any():
        days = model.minutes_per_staff[r] > 0
    if not days.any():
        raise FlowcapError(f"{resource} has no working days in the horizon to staff")
    return model, r, days


def _fewest_stable(model: DailySpec, r: int, capacity_per_unit: np.ndarray) -> int | None:
    """Fewest whole units with load < 1 over the horizon and its final window (rule 2).

    ``capacity_per_unit``, shape (H,): expected capacity each day per person (or per minute).
    ``None`` when no number of units is enough.
    """
    demand = expected_demand_minutes(model, model.resources[r])
    fewest = 0
    for days in (model.horizon_days, final_window_days(model.horizon_days)):
        need, unit = float(demand[-days:].sum()), float(capacity_per_unit[-days:].sum())
        if need <= 0:
            continue
        if unit <= 0:
            return None
        fewest = max(fewest, math.floor(need / unit) + 1)
    return fewest


#: The draws of the latest search on the CPU, kept while the spec it searched lives, so the
#: fewest-minutes search that follows the fewest-staff one on the same spec, seed and
#: replications (``plan_capacity``) draws nothing. One entry: memory for one set of draws.
#: Per thread: the web app's job workers search in threads, and a set of draws holds the
#: buffers its replays write to.
_LATEST = threading.local()


def _latest_draws() -> dict[tuple[int, str, int, int], SharedDraws]:
    """This thread's latest draws, by (id of the spec, resource, replications, seed)."""
    if not hasattr(_LATEST, "draws"):
        _LATEST.draws = {}
    return _LATEST.draws


def _shared_draws(spec, resource, model, replications, seed):
    """The draws of ``model`` (``spec``'s ``resource`` alone) for this seed: the latest
    search's when they are those, else drawn now; ``None`` where they cannot be shared."""
    key = (id(spec), resource, replications, seed)
    latest = _latest_draws()
    draws = latest.get(key)
    if draws is not None:
        return draws
    latest.clear()
    draws = SharedDraws.of(model, replications, seed)
    if draws is not None:
        latest[key] = draws
        weakref.finalize(spec, latest.pop, key, None)  # the id is free again
    return draws


def _tail(spec, resource, model, r, replications, seed, device):
    """A function of a candidate (``model`` with other staffing) and a target B (minutes):
    P(backlog at ``r`` at the horizon > B), the share of the seed's replications above it.

    On the CPU, from :class:`~flowcap.plan.shared_draws.SharedDraws` where the draws can be
    shared (drawn at the first candidate, or kept from the latest search on ``spec``; then
    only the backlog recursion is replayed, where earlier candidates leave it undecided: the
    same numbers as the engine's); else, or on a GPU, the engine runs each candidate.
    """
    shared: list[SharedDraws | None] = []

    def p_exceed(candidate: DailySpec, target: float) -> float:
        if not shared:
            draws = None
            if device == "cpu":
                draws = _shared_draws(spec, resource, model, replications, seed)
            shared.append(draws)
        exceeds = None if shared[0] is None else shared[0].exceeds(candidate, target)
        if exceeds is None:
            result = run(candidate, replications, seed, fan_replications=1, device=device)
            exceeds = result.final_backlog[r] > target
        return float(np.mean(exceeds))

    return p_exceed


def _search(trial, p_exceed, model, r, capacity_per_unit, highest, target, risk, *, start_at=None):
    """Smallest whole value in [fewest stable, highest] meeting rule 1: gallop up, then bisect.

    ``p_exceed(candidate, target)`` is P(backlog at the horizon > target) (:func:`_tail`).
    ``start_at``: search from there instead of the fewest stable (``capacity_per_unit`` is
    then not used). Returns (value or None, p there, stable there, ((value, p), ...));
    "there" is the value found, else ``highest``.
    """
    p_of: dict[int, float] = {}

    def tail_ok(x: int) -> bool:
        p_of[x] = p_exceed(trial(x), target)
        return p_of[x] <= risk

    if start_at is None:
        fewest = _fewest_stable(model, r, capacity_per_unit)
    else:
        fewest = start_at
    found = None
    if fewest is not None and fewest <= highest:
        bad, step, x = None, 1, fewest
        while not tail_ok(x):
            bad = x
            if x >= highest:
                break
            x, step = min(x + step, highest), step * 2
        else:
            found = x
        while found is not None and bad is not None and found - bad > 1:
            mid = (bad + found) // 2
            if tail_ok(mid):
                found = mid
            else:
                bad = mid
    at = found if found is not None else highest
    if at not in p_of:
        tail_ok(at)
    stable = is_stable(trial(at), model.resources[r])
    return found, p_of[at], stable, tuple(sorted(p_of.items()))


def _with_row(model: DailySpec, r: int, name: str, days: np.ndarray, value) -> DailySpec:
    row = getattr(model, name).copy()
    row[r, days] = value
    return dataclasses.replace(model, **{name: row})
