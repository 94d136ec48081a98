"""The pathway section of service.yaml (flowcap.model.pathway): what it refuses, with the
line."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import PATHWAY_SERVICE
from flowcap.errors import InputError
from flowcap.io.service_yaml import read_service_yaml


@pytest.mark.parametrize(
    "change, message",
    [
        ({"next": {"nowhere": 0.5}}, "unknown step 'nowhere'"),
        ({"next": {"assessment": 0.7, "follow_up": 0.6}}, "over 1"),
        ({"resource": "admin"}, "unknown resource 'admin' (resources: idva, triage)"),
        ({"service_minutes": {"dist": "lognormal", "mean": 20}}, "needs sd"),
        ({"service_minutes": {"burglary": {"mean": 20}}}, "unknown case type 'burglary'"),
        ({"service_minutes": {"high": {"mean": 20}}}, "no entry for standard"),
        ({"service_minutes": {"dist": "empirical"}}, "needs values"),
    ],
)
def test_bad_pathways_are_refused_with_the_line(tmp_path, change, message):
    document = copy.deepcopy(PATHWAY_SERVICE)
    document["pathway"]["steps"]["triage"].update(change)
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(InputError) as caught:
        read_service_yaml(path)
    text = str(caught.value)
    assert message in text
    assert "row " in text


def test_a_loop_nobody_can_leave_is_refused(tmp_path):
    document = copy.deepcopy(PATHWAY_SERVICE)
    steps = document["pathway"]["steps"]
    steps["assessment"]["next"] = {"follow_up": 1.0}
    steps["follow_up"]["next"] = {"assessment": 1.0}
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(InputError, match="can never leave once they reach assessment, follow_up"):
        read_service_yaml(path)
