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
