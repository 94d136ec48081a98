"""One description of the service: the pathway built from the case types' steps (no
``pathway:`` section), delay steps for ``after_days``, and the utilisation cross-check.

Checked by hand (steps, routing, times) and against theory: a fixed delay adds exactly its
length to the time end to end; utilisation = arrivals × minutes / capacity; Little's law.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from flowcap.model.service import Service
from flowcap.simulate.pathway import Duration, PathwaySpec, simulate_pathway
from flowcap.simulate.pathway.build import build_pathway_spec, case_type_pathway
from flowcap.simulate.pathway.report import PathwayReport

DAY = 1440.0


def small_service(**changes) -> Service:
    """Triage and IDVAs around the clock; high risk: a call, a risk assessment the next day
    and two weekly sessions; standard: one call; late: one IDVA visit three days on."""
    document = {
        "name": "Case types only",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "work_bank_holidays": True,
        "resources": {
            "triage": {"staff": 1, "minutes_per_day": 1440, "day_starts": "00:00"},
            "idva": {"staff": 2, "minutes_per_day": 1440, "day_starts": "00:00"},
        },
        "case_types": {
            "high": {
                "priority": 1,
                "demand": {"per_day": 4},
                "steps": [
                    {"resource": "triage", "minutes": 30},
                    {"resource": "idva", "minutes": 120, "after_days": 1},
                    {"resource": "idva", "minutes": 60, "after_days": 7, "repeat": 2,
                     "every_days": 7},
                ],
            },
            "standard": {
                "priority": 2,
                "demand": {"per_day": 10},
                "resource": "triage",
                "minutes": 20,
            },
            "late": {
                "priority": 3,
                "demand": {"per_day": 1},
                "steps": [{"resource": "idva", "minutes": 45, "after_days": 3}],
                "patience_days": {"dist": "fixed", "mean": 0.5},
            },
        },
    }  # fmt: skip
    return Service.model_validate({**document, **changes})


def test_pathway_from_case_types_checked_by_hand():
    built = case_type_pathway(small_service())
    assert built.steps == (
        "triage day 0",
        "wait: idva day 1",
        "idva day 1",
        "wait: idva day 3",
        "idva day 3",
        "wait: idva day 7",
        "idva day 7",
        "wait: idva day 14",
        "idva day 14",
    )
    assert built.step_resource == (
        "triage", None, "idva", None, "idva", None, "idva", None, "idva",
    )  # fmt: skip
    step = {name: s for s, name in enumerate(built.steps)}
    high, standard, late = 0, 1, 2
    # Each type's one path, with probability 1; the last step leaves.
    path = ["triage day 0", "wait: idva day 1", "idva day 1", "wait: idva day 7", "idva day 7",
            "wait: idva day 14", "idva day 14"]  # fmt: skip
    expected = np.zeros((3, 9, 9))
    for here, there in zip(path, path[1:], strict=False):
        expected[high, step[here], step[there]] = 1.0
    expected[late, step["wait: idva day 3"], step["idva day 3"]] = 1.0
    assert np.array_equal(built.routing, expected)  # standard leaves after triage
    assert built.entry == (0, 0, step["wait: idva day 3"])

    def minutes(name, t):
        d = built.service[step[name]][t]
        assert d is None or d.dist == "fixed"
        return None if d is None else d.mean

    assert minutes("triage day 0", high) == 30 and minutes("triage day 0", standard) == 20
    assert minutes("triage day 0", late) is None
    assert minutes("wait: idva day 1", high) == DAY  # day 0 -> 1
    assert minutes("idva day 1", high) == 120
    assert minutes("wait: idva day 7", high) == 6 * DAY  # day 1 -> 7
    assert minutes("wait: idva day 14", high) == 7 * DAY  # every_days
    assert minutes("idva day 14", high) == 60
    assert minutes("wait: idva day 3", late) == 3 * DAY  # counted from the referral
    assert minutes("idva day 3", late) == 45
    assert built.longest_days == 14


def test_spec_from_case_types_marks_delays_and_entry_steps():
    spec = build_pathway_spec(small_service(), start=date(2026, 1, 5), days=30)
    assert list(spec.is_delay) == [False, True, False, True, False, True, False, True, False]
    assert [spec.resources[r] if r >= 0 else None for r in spec.step_resource][:3] == [
        "triage", None, "idva",
    ]  # fmt: skip
    assert list(spec.entry_step) == [0, 0, 3]
    assert spec.routing.shape == (3, 9, 9)  # per case type
    assert spec.patience[2].mean == 0.5 * DAY
    assert spec.arrival_rate_per_hour.sum(axis=1) == pytest.approx([4 * 7, 10 * 7, 7])


def test_a_fixed_delay_adds_exactly_its_length_end_to_end():
    # Plenty of people (nobody waits) and fixed times: every case takes 10 + D + 20 minutes.
    delay = 2.5 * DAY
    spec = PathwaySpec(
        steps=("call", "wait", "visit"),
        step_resource=np.array([0, -1, 1]),
        resources=("a", "b"),
        case_types=("case",),
        case_priority=np.array([1]),
        arrival_rate_per_hour=np.full((1, 168), 0.5),
        service=((Duration("fixed", 10),), (Duration("fixed", delay),), (Duration("fixed", 20),)),
        routing=np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]),
        schedule=((np.array([0.0]), np.array([50])), (np.array([0.0]), np.array([50]))),
    )
    result = simulate_pathway(spec, hours=24 * 60, warmup_hours=0, replications=2, seed=3)
    assert result.completed.sum() > 1000
    assert result.end_to_end_minutes() == pytest.approx(10 + delay + 20, abs=1e-6)
    assert result.served[:, 1].sum() == result.joined[:, 1].sum()  # nobody queues at a delay
    assert result.summary()["steps"]["wait"]["utilisation"] is None


def test_delay_adds_its_length_to_mm1_theory_and_little_holds():
    # M/M/1 (λ = 1/h, 1/μ = 36 min, ρ = 0.6), then a fixed 1-day delay, then a visit with
    # plenty of people: time end to end = Wq + 1/μ + delay + 15 min, Wq = ρ/(μ - λ) = 54 min.
    # 8 replications of 4,000 hours: about 32,000 cases; the spread between replications
    # puts the standard error of the mean near 3 min (asserted below 4, so the check keeps its
    # power: 4 standard errors are at most 1% of the time end to end).
    spec = PathwaySpec(
        steps=("call", "wait", "visit"),
        step_resource=np.array([0, -1, 1]),
        resources=("a", "b"),
        case_types=("case",),
        case_priority=np.array([1]),
        arrival_rate_per_hour=np.full((1, 168), 1.0),
        service=(
            (Duration("exponential", 36),),
            (Duration("fixed", DAY),),
            (Duration("fixed", 15),),
        ),  # fmt: skip
        routing=np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]),
        schedule=((np.array([0.0]), np.array([1])), (np.array([0.0]), np.array([40]))),
    )
    result = simulate_pathway(spec, hours=4000, warmup_hours=100, replications=8, seed=7)
    per_rep = result.end_to_end_minutes()
    se = per_rep.std(ddof=1) / math.sqrt(per_rep.size)
    assert se < 4.0
    assert abs(per_rep.mean() - (54 + 36 + DAY + 15)) < 4 * se
    for step, (queue, lam_w) in result.little_law().items():
        assert math.isclose(queue, lam_w, rel_tol=0.01, abs_tol=1e-3), (step, queue, lam_w)


def test_patience_applies_at_the_first_contact_after_an_entry_delay():
    # Arrive, wait a day, then queue for one person who is never on duty: all give up there
    # after their fixed patience of 60 minutes, counted at that step.
    spec = PathwaySpec(
        steps=("first", "wait", "visit"),
        step_resource=np.array([0, -1, 0]),
        resources=("a",),
        case_types=("case",),
        case_priority=np.array([1]),
        arrival_rate_per_hour=np.full((1, 168), 1.0),
        service=((Duration("fixed", 5),), (Duration("fixed", DAY),), (Duration("fixed", 5),)),
        routing=np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]]),
        schedule=((np.array([0.0]), np.array([0])),),
        patience=(Duration("fixed", 60),),
        entry_step=np.array([1]),
    )
    result = simulate_pathway(spec, hours=500, warmup_hours=48, replications=2, seed=1)
    summary = result.summary()
    assert summary["steps"]["visit"]["reneged"] == result.reneged.sum() > 500
    assert summary["steps"]["first"]["reneged"] == 0
    assert result.joined[:, 0].sum() == 0  # nobody arrives at step 0
    queue, lam_w = result.little_law()["visit"]
    assert queue == pytest.approx(lam_w, rel=0.01)
    assert result.reneged_wait_minutes.sum() == pytest.approx(60 * result.reneged.sum())


@pytest.mark.slow
def test_utilisation_from_case_types_matches_arrivals_times_minutes():
    # Around the clock, so no overtime: utilisation = λ × minutes / (people × 1440).
    # triage: (4 × 30 + 10 × 20) / 1440 = 0.2222; idva: (4 × (120 + 2 × 60) + 45 × 1 × P(not
    # given up)) / 2880. "late" cases wait for the IDVAs (high first) up to 12 hours, and the
    # IDVAs are rarely both busy, so nearly all are seen: 45/2880 bounds that term.
    # 10 replications of 26 weeks: each resource serves ~2,000-36,000 cases; the spread
    # between replications gives a standard error under 1% of the mean (asserted), and each
    # bound is 4 standard errors.
    service = small_service()
    spec = build_pathway_spec(service, start=date(2026, 1, 5), days=220)
    warm = 24 * (14 + 14)
    result = simulate_pathway(spec, hours=24 * 182, warmup_hours=warm, replications=10, seed=2)
    per_rep = result.busy_minutes / result.on_duty_minutes
    se = per_rep.std(axis=0, ddof=1) / math.sqrt(per_rep.shape[0])
    assert np.all(se / per_rep.mean(axis=0) < 0.01)
    triage, idva = result.utilisation()
    assert abs(triage - (4 * 30 + 10 * 20) / 1440) < 4 * se[0]
    low, high = 4 * 240 / 2880, (4 * 240 + 45) / 2880
    assert low - 4 * se[1] < idva < high + 4 * se[1]
    for step, (queue, lam_w) in result.little_law().items():
        assert math.isclose(queue, lam_w, rel_tol=0.02, abs_tol=2e-3), (step, queue, lam_w)


def test_the_cross_check_notes_a_gap_over_ten_points():
    spec = build_pathway_spec(small_service(), start=date(2026, 1, 5), days=12)
    result = simulate_pathway(spec, hours=24 * 10, warmup_hours=24, replications=2, seed=4)
    simulated = dict(zip(spec.resources, result.utilisation(), strict=True))

    def report(measured):
        return PathwayReport("x", date(2026, 1, 5), spec, result, "case_types", measured)

    close = report({"triage": simulated["triage"] + 0.09, "idva": simulated["idva"] - 0.09})
    assert not any("measured" in w for w in close.warnings())
    check = close.as_json()["utilisation_check"]
    assert check["triage"]["gap_points"] == pytest.approx(-9)
    assert check["idva"]["simulated"] == pytest.approx(simulated["idva"])
    far = report({"triage": simulated["triage"], "idva": simulated["idva"] + 0.15})
    notes = [w for w in far.warnings() if "measured" in w]
    assert len(notes) == 1 and notes[0].startswith("idva is busy")
    assert far.as_json()["pathway_from"] == "case_types"
    none = report(None)
    assert none.as_json()["utilisation_check"]["idva"]["measured"] is None
