"""The settings form (flowcap.settings_form): service.yaml's mapping to fields named by their
dotted paths and back, the YAML it writes, the buttons that change its shape, and the
library's problems put beside the fields their paths name."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from flowcap import settings_form as sf
from flowcap.errors import InputError, Problem
from flowcap.io.safe_yaml import load_yaml
from flowcap.io.service_yaml import read_service_yaml

ROOT = Path(__file__).resolve().parents[1]
#: Every service.yaml that ships: the examples and the template ``flowcap init`` writes.
SHIPPED = sorted(ROOT.glob("examples/*/service.yaml")) + [
    ROOT / "src" / "flowcap" / "io" / "template" / "service.yaml"
]
EXAMPLE = ROOT / "examples" / "victim-support" / "service.yaml"


def loaded(path: Path) -> dict:
    data, _, problems = load_yaml(path.read_text(), path.name)
    assert not problems
    return data


def sent_back(mapping: dict) -> sf.Submitted:
    """The form of ``mapping`` sent back as it is."""
    return sf.read_submission(sf.submission(sf.form_of(mapping)))


def fields_of(mapping: dict) -> dict[str, sf.Field]:
    return {field.name: field for field in sf.form_of(mapping).fields()}


def library_problems(mapping: dict) -> list[Problem]:
    with pytest.raises(InputError) as caught:
        read_service_yaml(Path("service.yaml"), sf.dump_yaml(mapping).encode())
    return caught.value.problems


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_form_sent_back_unchanged_is_the_mapping_it_was_made_from(path):
    mapping = loaded(path)
    submitted = sent_back(mapping)
    assert submitted.problems == []
    assert submitted.mapping == mapping
    text = sf.dump_yaml(submitted.mapping)
    again, _, problems = load_yaml(text, "service.yaml")
    assert problems == [] and again == mapping
    # the service it describes is the same one
    assert read_service_yaml(Path("a.yaml"), text.encode()) == read_service_yaml(path)


def test_each_setting_is_a_field_named_by_its_path():
    fields = fields_of(loaded(EXAMPLE))
    step = fields["case_types.da_high_risk.steps.1.minutes"]
    assert (step.kind, step.value, step.label) == ("number", "120", "Minutes, step 2")
    assert step.id == "f-case_types.da_high_risk.steps.1.minutes"
    assert fields["resources.idva.staff"].value == "4"
    assert fields["case_types.da_high_risk.steps.1.after_days"].kind == "integer"
    assert fields["case_types.da_high_risk.steps.0.after_days"].value == ""  # not in the file
    region = fields["region"]
    assert region.kind == "choice" and region.choices == ("GB-ENG", "GB-WLS", "GB-SCT", "GB-NIR")
    resource = fields["case_types.fraud.resource"]
    assert resource.kind == "resource" and resource.choices == ("triage", "idva", "caseworker")
    assert fields["working_days"].kind == "multi"
    assert fields["work_bank_holidays"].kind == "bool"
    assert fields["pathway"].kind == "yaml" and "first_call:" in fields["pathway"].value
    form = sf.form_of(loaded(EXAMPLE))
    assert [s.name for s in form.sections] == ["resources", "case_types", "spc_targets"]
    steps = form.sections[1].entries[0].items
    assert any(isinstance(item, sf.Rows) and len(item.rows) == 3 for item in steps)


def test_numbers_are_read_as_numbers_and_anything_else_is_kept_as_typed():
    mapping = loaded(EXAMPLE)
    sent = sf.submission(sf.form_of(mapping))
    changes = {
        "resources.idva.staff": "5",
        "resources.idva.absence_rate": " 0.05 ",
        "resources.triage.staff": "lots",
        "resources.caseworker.cost_per_hour": "",
        "case_types.fraud.description": "  Fraud  ",
    }
    sent = [(name, changes.get(name, value)) for name, value in sent]
    got = sf.read_submission(sent).mapping
    assert got["resources"]["idva"]["staff"] == 5 and isinstance(
        got["resources"]["idva"]["staff"], int
    )
    assert got["resources"]["idva"]["absence_rate"] == 0.05
    assert got["resources"]["triage"]["staff"] == "lots"
    assert "cost_per_hour" not in got["resources"]["caseworker"]  # empty: left out
    assert got["case_types"]["fraud"]["description"] == "Fraud"


def test_a_checkbox_says_no_only_when_its_setting_was_in_the_file():
    mapping = loaded(EXAMPLE)
    assert mapping["work_bank_holidays"] is False
    unticked = [("work_bank_holidays.__was", "present")]
    assert sf.read_submission(unticked).mapping == {"work_bank_holidays": False}
    assert sf.read_submission([("work_bank_holidays.__was", "absent")]).mapping == {}
    ticked = [("work_bank_holidays.__was", "absent"), ("work_bank_holidays", "true")]
    assert sf.read_submission(ticked).mapping == {"work_bank_holidays": True}
    days = [("working_days.__was", "absent")] + [("working_days", d) for d in ("mon", "tue")]
    assert sf.read_submission(days).mapping == {"working_days": ["mon", "tue"]}
    default = [("working_days.__was", "absent")] + [
        ("working_days", d) for d in ("mon", "tue", "wed", "thu", "fri")
    ]
    assert sf.read_submission(default).mapping == {}  # the default, as the file had it


def test_bad_yaml_in_an_advanced_part_is_a_problem_of_that_field():
    got = sf.read_submission([("pathway", "steps: [unclosed")])
    assert got.mapping == {} and got.texts == {"pathway": "steps: [unclosed"}
    assert len(got.problems) == 1 and got.problems[0].column == "pathway"
    assert got.problems[0].message.startswith("Pathway: not valid YAML")


def test_rows_and_entries_are_added_removed_and_given_steps():
    mapping = copy.deepcopy(loaded(EXAMPLE))
    assert sf.add_row(mapping, ("case_types", "burglary", "steps")) == (
        "case_types",
        "burglary",
        "steps",
        2,
    )
    assert mapping["case_types"]["burglary"]["steps"][2] == {}
    sf.remove(mapping, ("case_types", "burglary", "steps", 0))
    assert mapping["case_types"]["burglary"]["steps"] == [
        {"resource": "caseworker", "minutes": 45, "after_days": 5},
        {},
    ]
    assert sf.add_entry(mapping, "resources", " outreach ") == ("resources", "outreach")
    assert mapping["resources"]["outreach"] == {}
    with pytest.raises(sf.ShapeError, match="already a resource called outreach"):
        sf.add_entry(mapping, "resources", "outreach")
    with pytest.raises(sf.ShapeError, match="Enter a name for the new case type"):
        sf.add_entry(mapping, "case_types", " ")
    with pytest.raises(sf.ShapeError, match="not a section"):
        sf.add_entry(mapping, "region", "x")
    sf.remove(mapping, ("resources", "outreach"))
    assert "outreach" not in mapping["resources"]
    with pytest.raises(sf.ShapeError):
        sf.remove(mapping, ("region",))
    assert sf.use_steps(mapping, ("case_types", "fraud")) == ("case_types", "fraud", "steps")
    assert mapping["case_types"]["fraud"] == {
        "priority": 4,
        "description": "Fraud and scams (one call)",
        "steps": [{"resource": "triage", "minutes": 25}],
    }
    # what the form then shows reads back to the changed mapping
    assert sent_back(mapping).mapping == mapping


def test_the_librarys_problems_go_beside_the_fields_their_paths_name():
    mapping = copy.deepcopy(loaded(EXAMPLE))
    mapping["resources"]["idva"]["staff"] = "lots"
    mapping["case_types"]["da_high_risk"]["steps"][1]["target_working_days"] = -1
    mapping["case_types"]["burglary"]["resource"] = "triage"  # and steps: not both
    problems = library_problems(mapping)
    form = sf.form_of(mapping)
    placed = sf.place_problems(problems, form, "top")
    by_field = {p.field_id: p for p in placed}
    assert set(by_field) == {
        "f-resources.idva.staff",
        "f-case_types.da_high_risk.steps.1.target_working_days",
        "f-case_types.burglary",
    }
    for problem in problems:  # the library's own words, beside its field
        assert any(problem.message.endswith(p.message) for p in placed)
    assert by_field["f-resources.idva.staff"].summary.startswith("Resource idva, staff: ")
    step = by_field["f-case_types.da_high_risk.steps.1.target_working_days"]
    assert step.where == "Case type da_high_risk, step 2, target working days"
    unplaced = sf.place_problems([Problem("service.yaml", "file is empty")], form, "top")
    assert unplaced == [sf.Placed("top", "", "file is empty")]
    # a path below a YAML part goes to that part's box
    deep = Problem("service.yaml", "no", 3, "pathway.steps.first_call.resource")
    assert sf.place_problems([deep], form, "top")[0].field_id == "f-pathway"


def test_names_with_dots_and_spaces_survive_the_round_trip():
    mapping = copy.deepcopy(loaded(EXAMPLE))
    mapping["resources"]["team.a 50%"] = {"staff": 1, "minutes_per_day": 60}
    mapping["spc_targets"] = {"idva backlog": {"better": "lower", "day": 900}}
    fields = fields_of(mapping)
    name = "resources.team%2Ea 50%25.staff"
    assert fields[name].path == ("resources", "team.a 50%", "staff")
    assert " " not in fields[name].id and " " not in fields["spc_targets.idva backlog.day"].id
    assert sf.parse_path(name) == ("resources", "team.a 50%", "staff")
    assert sent_back(mapping).mapping == mapping
