"""The service definition (flowcap.model.service): its steps and demand models."""

from __future__ import annotations

import pytest

from flowcap.model.service import DemandModel, Step


def test_a_poisson_demand_model_refuses_a_dispersion():
    with pytest.raises(ValueError, match="dispersion is not used by a poisson"):
        DemandModel.model_validate({"dist": "poisson", "per_day": 10, "dispersion": 3})


def test_a_repeated_step_falls_due_every_interval_and_needs_one():
    step = Step(resource="idva", minutes=60, after_days=1, repeat=3, every_days=7)
    assert step.due_offsets() == [1, 8, 15]
    assert Step(resource="idva", minutes=30).due_offsets() == [0]
    with pytest.raises(ValueError, match="repeat > 1 needs every_days"):
        Step(resource="idva", minutes=60, repeat=2)


def test_staff_may_be_part_time_and_a_caseload_belongs_to_the_case_holder():
    from flowcap.model.service import CaseType, Resource

    idva = Resource(staff=2.6, minutes_per_day=240)
    assert idva.capacity_minutes_per_day == pytest.approx(624)
    case_type = CaseType.model_validate(
        {
            "priority": 1,
            "caseload_per_staff": 22,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "idva", "minutes": 120, "after_days": 1, "target_working_days": 1},
                {"resource": "idva", "minutes": 60, "after_days": 8, "repeat": 8, "every_days": 7},
            ],
        }
    )
    assert case_type.caseload_resource == "idva"  # 600 minutes against triage's 30
    assert case_type.caseload_per_staff == 22
    assert [step.target_working_days for step in case_type.work] == [None, 1, None]
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Step(resource="idva", minutes=60, target_working_days=-1)
    with pytest.raises(ValueError, match="greater than 0"):
        CaseType(priority=1, resource="idva", minutes=30, caseload_per_staff=0)
