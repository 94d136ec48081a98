"""Today's waiting list placed on the pathway's steps (flowcap.simulate.pathway.today): which
step each waiting case goes to, since when, and which of a case's pieces goes on."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from conftest import write_folder
from flowcap.history import open_folder
from flowcap.measures.daily import _cases
from flowcap.simulate.pathway.build import build_pathway_spec
from flowcap.simulate.pathway.report import simulate_service_pathway
from flowcap.simulate.pathway.today import case_days, waiting_start

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"

#: Triage on the referral day, then an IDVA visit the next day; one case a day at each, half
#: what falls due, so both lists are long at the end and risky cases wait at both.
TWO_STEPS = {
    "name": "Two steps",
    "region": "GB-ENG",
    "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "work_bank_holidays": True,
    "resources": {
        "triage": {"staff": 1, "minutes_per_day": 30},
        "idva": {"staff": 1, "minutes_per_day": 60},
    },
    "case_types": {
        "risky": {
            "priority": 1,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "idva", "minutes": 60, "after_days": 1},
            ],
        },
        "plain": {"priority": 2, "resource": "triage", "minutes": 30},
    },
}
REFERRALS = "case_id,referral_date,case_type\n" + "".join(
    f"R{i:02d},2025-03-0{1 + i // 4},{'risky' if i % 2 else 'plain'}\n" for i in range(24)
)


def start_of(folder: Path, service: dict | None = None):
    history = open_folder(folder)
    measures = history.require_measures()
    spec = build_pathway_spec(
        history.service, start=date(2025, 3, 7), days=2, referrals=history.tables.referrals
    )
    return history, measures, spec, waiting_start(history.service, measures, history.tables, spec)


def test_case_days_number_the_cases_as_the_measures_do(tmp_path):
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    history = open_folder(folder)
    first = history.tables.referrals["referral_date"].min()
    cases, _ = _cases(history.tables, first)
    assert len(history.tables.waiting) > 0  # the example has cases already waiting
    expected = ((cases["case_date"] - first) // np.timedelta64(1, "D")).to_numpy()
    np.testing.assert_array_equal(case_days(history.tables, first), expected)


def test_each_waiting_case_goes_to_the_visit_it_is_and_waits_since_its_due_day(tmp_path):
    folder = write_folder(tmp_path / "svc", service=TWO_STEPS, referrals=REFERRALS)
    history, measures, spec, start = start_of(folder)
    cases = start.cases
    on = measures.waiting.ages_on(len(measures.waiting.dates) - 1)
    assert len(cases) == len(on) > 0
    assert set(cases["step"]) == {"triage day 0", "idva day 1"}
    assert (cases.loc[cases["resource"] == "idva", "step"] == "idva day 1").all()
    # Waiting since midnight of the due day; the data end on 6 March (the last referrals).
    assert start.data_end == date(2025, 3, 6)
    due = cases["due_date"].map(lambda d: (date(2025, 3, 7) - d).days)
    np.testing.assert_array_equal(cases["waiting_since_minutes"], -1440.0 * due)
    assert cases["waiting_since_minutes"].is_monotonic_increasing  # oldest first
    # A risky case waiting for both its triage and its IDVA visit goes on from the visit
    # only: its triage piece leaves after being served.
    both = cases[cases["case"].duplicated(keep=False)]
    assert len(both) > 0
    for _, pieces in both.groupby("case"):
        goes_on = pieces.loc[~pieces["leaves"], "step"].tolist()
        assert goes_on == ["idva day 1"] and len(pieces) == 2
    assert not cases.loc[~cases["case"].duplicated(keep=False), "leaves"].any()
    carried = start.carried()
    assert len(carried) == len(cases)
    assert [spec.steps[s] for s in carried.step] == cases["step"].tolist()


def test_with_a_pathway_section_a_case_goes_to_its_first_step_at_the_resource(tmp_path):
    service = {
        **TWO_STEPS,
        "pathway": {
            "steps": {
                "call": {
                    "resource": "triage",
                    "service_minutes": {"mean": 30},
                    "next": {"risky": {"visit": 1.0}, "default": {}},
                },
                "visit": {"resource": "idva", "service_minutes": {"mean": 60}},
            }
        },
    }
    # A plain case with work waiting at the IDVAs: its pathway never goes there.
    case_types = {**TWO_STEPS["case_types"]}
    case_types["plain"] = {
        "priority": 2,
        "steps": [
            {"resource": "triage", "minutes": 30},
            {"resource": "idva", "minutes": 60, "after_days": 1},
        ],
    }
    service["case_types"] = case_types
    folder = write_folder(tmp_path / "svc", service=service, referrals=REFERRALS)
    history, measures, spec, start = start_of(folder)
    cases = start.cases
    assert set(cases["step"]) == {"call", "visit"}
    assert (cases.loc[cases["resource"] == "idva", "case_type"] == "risky").all()
    missing = start.not_loaded
    assert missing[["resource", "case_type"]].values.tolist() == [["idva", "plain"]]
    on = measures.waiting.ages_on(len(measures.waiting.dates) - 1)
    assert len(cases) + missing["cases"].sum() == len(on)
    report = simulate_service_pathway(history, hours=24, replications=1, from_today=True)
    assert any("left out: their case type's pathway never visits" in w for w in report.warnings())
    assert report.as_json()["from_today"]["not_loaded"] == {
        "idva": {"plain": int(missing["cases"].sum())}
    }


@pytest.mark.parametrize("changes", [{"warmup_hours": 24.0}, {"start": date(2025, 4, 1)}])
def test_from_today_refuses_a_warm_up_or_a_start(tmp_path, changes):
    folder = write_folder(tmp_path / "svc", service=TWO_STEPS, referrals=REFERRALS)
    with pytest.raises(Exception, match="leave out --"):
        simulate_service_pathway(open_folder(folder), hours=24, from_today=True, **changes)
