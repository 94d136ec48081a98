"""The plan searches on draws shared by every candidate (flowcap.plan.shared_draws).

Everything here is exact, not statistical: the draws are the engine's for the seed, and the
replayed recursion does the engine's floating-point operations, so a candidate's backlogs,
and each search's answer and every (candidate, P) it reports, must equal those of the search
that runs the engine for every candidate (``engine_only``: the code before the draws were
shared), number for number.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from flowcap import open as open_service
from flowcap.plan import capacity
from flowcap.plan.capacity import (
    latest_delay,
    minimum_added,
    minimum_minutes_per_day,
    minimum_staff,
    resource_submodel,
)
from flowcap.plan.outlook import plan_capacity
from flowcap.plan.shared_draws import SharedDraws
from flowcap.simulate import DailySpec, run
from flowcap.simulate.daily.numpy import CPU_CHUNK

ANCHOR = Path(__file__).resolve().parents[1] / "examples" / "anchor-lindley"


def anchor(days: int = 365, staff: int = 3) -> DailySpec:
    """../shared/bench/gpu_lindley_anchor.py: 60 x Poisson(10) against 240 x Binomial(3, 0.9)."""
    return DailySpec.one_resource(
        days=days,
        mean_cases_per_day=10,
        minutes_per_case=60,
        staff=staff,
        minutes_per_staff=240,
        absence_rate=0.1,
    )


def rostered(days: int = 91, absence: float = 0.15) -> DailySpec:
    """A weekday rota (4, 4, 4, 3, 3 people; nobody at weekends; Friday's minutes shorter; a
    load of about 0.9), two case types (one negative binomial) with steps days apart and
    minutes that are not whole (so the order of additions matters in floating point),
    existing work due ahead, an opening backlog, and a second resource and priority that the
    search leaves out."""
    weekday = np.arange(days) % 7
    staff = np.choose(weekday, [4, 4, 4, 3, 3, 0, 0])
    minutes = np.where(weekday == 4, 187.5, 221.3)
    due_ahead = np.zeros((2, 2, days))
    due_ahead[0, 0, [0, 2, 9]] = [120.0, 60.5, 90.25]
    due_ahead[0, 1, 3] = 45.0
    return DailySpec(
        resources=("idva", "triage"),
        priorities=(1, 2),
        staff=np.stack([staff, np.ones(days, dtype=int)]),
        minutes_per_staff=np.stack([minutes, np.full(days, 150.0)]),
        absence_rate=np.array([absence, 0.0]),
        case_types=("high", "standard", "triage_only"),
        case_priority=np.array([1, 2, 2]),
        mean_cases_per_day=np.array([[2.5] * days, [4.0] * days, [1.5] * days]),
        dispersion=np.array([np.inf, 3.0, np.inf]),
        steps=np.array(
            [[0, 0, 0, 37.3], [0, 0, 3, 61.7], [1, 0, 0, 44.1], [1, 1, 0, 20], [2, 1, 0, 25]],
            dtype=float,
        ),
        opening_backlog_minutes=np.array([[310.7, 600.0], [100.0, 0.0]]),
        due_ahead_minutes=due_ahead,
    )


def with_row(spec: DailySpec, name: str, row) -> DailySpec:
    return dataclasses.replace(spec, **{name: np.asarray(row, dtype=float)[None, :]})


def engine_only(monkeypatch) -> None:
    """From here on every candidate is run by the engine, as before the draws were shared."""
    monkeypatch.setattr(SharedDraws, "of", classmethod(lambda cls, *args: None))
    capacity._latest_draws().clear()


def engine_backlog(spec: DailySpec, replications: int, seed: int) -> np.ndarray:
    return run(spec, replications, seed, fan_replications=1).final_backlog[0]


# --- the draws: the engine's numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        resource_submodel(anchor(days=120), "resource"),
        resource_submodel(rostered(), "idva"),
        resource_submodel(rostered(absence=0.0), "idva"),  # nobody absent: nothing drawn for it
    ],
    ids=["anchor", "rota", "no-absence"],
)
def test_every_candidates_backlog_is_the_engines_number_for_number(model):
    draws = SharedDraws.of(model, 1500, seed=11)
    assert draws is not None
    staff, minutes = model.staff[0], model.minutes_per_staff[0]
    candidates = [
        model,
        with_row(model, "minutes_per_staff", minutes * 0.9),
        with_row(model, "minutes_per_staff", np.where(minutes > 0, 251.0, 0.0)),
        with_row(model, "staff", staff + 1),  # other head counts: the uniforms are replayed
        with_row(model, "staff", np.maximum(staff - 1, 0)),
        model,  # back to the first head counts after others
    ]
    for candidate in candidates:
        expected = engine_backlog(candidate, 1500, 11)
        np.testing.assert_array_equal(draws.final_backlog(candidate), expected)


@pytest.mark.parametrize("name", ["anchor", "rota"])
def test_replications_decided_by_earlier_candidates_are_decided_rightly(name, monkeypatch):
    """Each answer uses the earlier ones (more capacity every day is never a longer backlog);
    in any order, and for two targets, it is the engine's own."""
    replayed = []
    replay = SharedDraws._replay

    def spy(self, candidate, present, which=None):
        replayed.append(None if which is None else which.size)
        return replay(self, candidate, present, which)

    monkeypatch.setattr(SharedDraws, "_replay", spy)
    model = resource_submodel(anchor(days=120), "resource") if name == "anchor" else None
    if model is None:
        model = resource_submodel(rostered(), "idva")
    base = model.minutes_per_staff[0]
    draws = SharedDraws.of(model, 1500, seed=5)
    order = [1.0, 0.9, 1.1, 0.95, 0.97, 0.96, 1.05, 0.93, 1.0]
    for target in (600.0, 2400.0):
        for scale in order:
            candidate = with_row(model, "minutes_per_staff", base * scale)
            expected = engine_backlog(candidate, 1500, 5) > target
            np.testing.assert_array_equal(draws.exceeds(candidate, target), expected)
        for staff in (4, 2, 3):  # other head counts, absence drawn: not compared, replayed
            candidate = with_row(model, "staff", np.where(model.staff[0] > 0, staff, 0))
            expected = engine_backlog(candidate, 1500, 5) > target
            np.testing.assert_array_equal(draws.exceeds(candidate, target), expected)
    assert sum(size is not None and size < 1500 // 2 for size in replayed) >= 5  # subsets


def test_replications_across_chunks_are_drawn_as_the_engine_chunks_them():
    model = resource_submodel(anchor(days=4), "resource")
    replications = CPU_CHUNK + 3  # a second chunk of 3, on streams of its own
    draws = SharedDraws.of(model, replications, seed=2)
    for staff in (3, 5):
        candidate = with_row(model, "staff", np.full(4, staff))
        expected = engine_backlog(candidate, replications, 2)
        np.testing.assert_array_equal(draws.final_backlog(candidate), expected)


def test_counts_past_255_are_kept_in_two_bytes():
    """300 referrals a day and 300 people: counts the engine's tables give past one byte."""
    model = DailySpec.one_resource(
        days=6,
        mean_cases_per_day=300,
        minutes_per_case=1.3,
        staff=300,
        minutes_per_staff=1.25,
        absence_rate=0.1,
    )
    draws = SharedDraws.of(model, 200, seed=9)
    assert draws.arrivals[0].array.max() > 255 and draws.present.array.max() > 255
    for staff in (300, 320):
        candidate = with_row(model, "staff", np.full(6, staff))
        np.testing.assert_array_equal(
            draws.final_backlog(candidate), engine_backlog(candidate, 200, 9)
        )


def test_what_cannot_be_replayed_is_left_to_the_engine():
    patient = DailySpec.one_resource(
        days=30,
        mean_cases_per_day=5,
        minutes_per_case=60,
        staff=1,
        minutes_per_staff=240,
        patience_days=("exponential", 10.0, 0.0),
    )
    assert SharedDraws.of(patient, 100, 0) is None  # giving up: resources interact
    assert SharedDraws.of(rostered(), 100, 0) is None  # two resources: the search's sub-model
    huge = DailySpec.one_resource(  # beyond the engine's 16-bit tables: NumPy's own sampler
        days=2, mean_cases_per_day=40_000, minutes_per_case=1, staff=1, minutes_per_staff=60
    )
    assert SharedDraws.of(huge, 10, 0) is None
    model = resource_submodel(anchor(days=30), "resource")
    draws = SharedDraws.of(model, 100, 0)
    busier = dataclasses.replace(model, mean_cases_per_day=model.mean_cases_per_day * 2)
    assert draws.exceeds(busier, 100.0) is None  # other referrals: not these draws
    crowd = with_row(model, "staff", np.full(30, 40_000))  # absence by Generator.binomial
    assert draws.exceeds(crowd, 100.0) is None
    assert draws.exceeds(model, 100.0) is not None  # and it still works after


# --- the searches: the old answers -------------------------------------------------------------


def searches(spec, resource, target, risk, settings, most=None):
    """Every search of plan.capacity on one spec, with what it reports; ``most``: the
    largest head count, minutes each and people added tried (default: the functions')."""
    r = spec.resources.index(resource)
    working = spec.staff[r] > 0

    def with_added(model, n):
        return with_row(model, "staff", model.staff[0] + n * working)

    def delayed(model, d):  # one more person from day d on
        later = np.arange(model.horizon_days) >= d
        return with_row(model, "staff", model.staff[0] + (working & later))

    search = dict(target_backlog_minutes=target, risk=risk, **settings)
    limits = most or {}

    def limit(key):
        return {key: limits[key]} if key in limits else {}

    return (
        minimum_staff(spec, resource, **search, **limit("max_staff")),
        minimum_minutes_per_day(spec, resource, **search, **limit("max_minutes")),
        minimum_added(spec, resource, with_added, **search, **limit("most")),
        latest_delay(spec, resource, delayed, most=spec.horizon_days - 1, **search),
    )


CASES = {
    # the anchor: fewest staff 3 at once, then a gallop and a bisection over minutes
    "anchor": (anchor(), "resource", 2400.0, 0.05, {"replications": 2000, "seed": 0}),
    # a weekday rota with existing work: head counts differ from the rota's on some days
    "rota": (rostered(), "idva", 1200.0, 0.1, {"replications": 1500, "seed": 4}),
    # never enough: no backlog at all at the horizon, in all of 500 replications, is asked
    # for; with at most 5 people (or 300 minutes each, or 2 added) some day ends with work
    # left in some replication (5 present clear 1,200 minutes; P(more) is about 1% a day)
    "never": (anchor(days=60), "resource", 0.0, 0.0, {"replications": 500}),
    # enough already: nobody to add, and each search ends where it starts
    "enough": (anchor(staff=5, days=90), "resource", 9000.0, 0.2, {"replications": 800}),
}
MOST = {"never": {"max_staff": 5, "max_minutes": 300, "most": 2}}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_searches_give_the_old_answers_exactly(case, monkeypatch):
    spec, resource, target, risk, settings = CASES[case]
    replayed = []
    exceeds = SharedDraws.exceeds

    def spy(self, candidate, target):
        answer = exceeds(self, candidate, target)
        replayed.append(answer is not None)
        return answer

    monkeypatch.setattr(SharedDraws, "exceeds", spy)
    shared = searches(spec, resource, target, risk, settings, MOST.get(case))
    assert replayed and all(replayed)  # no candidate left to the engine
    engine_only(monkeypatch)
    old = searches(spec, resource, target, risk, settings, MOST.get(case))
    assert shared == old
    staff, minutes, added, delay = shared
    if case == "never":
        assert staff.min_staff is None and minutes.min_minutes_per_staff is None
    if case == "enough":
        assert added[0] == 0 and added[2] == ((0, added[1]),)
    if case == "anchor":
        assert staff.min_staff == 3 and len(minutes.candidates) > 5  # a real search


def test_plan_capacity_draws_once_for_both_searches_and_gives_the_old_plan(tmp_path, monkeypatch):
    folder = tmp_path / "anchor"
    shutil.copytree(ANCHOR, folder)
    history = open_service(folder)
    settings = dict(risk=0.05, horizon=200, replications=1000, seed=1, start=date(2026, 1, 1))
    made = []
    draw = SharedDraws.__init__

    def counted(self, *args):
        made.append(args)
        draw(self, *args)

    monkeypatch.setattr(SharedDraws, "__init__", counted)
    (plan,) = plan_capacity(history, **settings)
    assert len(made) == 1  # the minutes search replays the staff search's draws
    assert len(plan.minutes.candidates) > 1
    engine_only(monkeypatch)
    assert plan_capacity(history, **settings) == [plan]


def test_the_draws_kept_between_searches_go_with_their_spec():
    spec = anchor(days=30)
    minimum_staff(spec, "resource", target_backlog_minutes=100, risk=0.1, replications=300)
    assert len(capacity._latest_draws()) == 1
    other = anchor(days=30)  # equal but another spec: drawn anew, and only one kept
    minimum_staff(other, "resource", target_backlog_minutes=100, risk=0.1, replications=300)
    assert [key[0] for key in capacity._latest_draws()] == [id(other)]
    del other
    gc.collect()
    assert not capacity._latest_draws()
