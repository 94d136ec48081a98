"""Fuzzing the settings files (service.yaml, scenarios.yaml and the sweep file): every
generated document ends in valid settings or a clear error, within the deadline.

Each input is one of the examples' files with values at any depth replaced by odd values of
any type (numbers past 64 bits, ``.inf``/``.nan``, dates at pandas' bounds, markup, control
characters, lists and mappings where a number goes), keys removed or added, and sometimes
its text changed (anchors, tags, tabs, nesting 100,000 deep, keys given twice, other
encodings). Valid settings must hold only finite numbers.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from pydantic import BaseModel

from flowcap.io import read_service_folder
from flowcap.io.scenarios_yaml import parse_scenarios_bytes
from flowcap.io.service_yaml import check_service_yaml, read_service_yaml
from flowcap.sweep import read_sweep
from fuzz_inputs import mutated_yaml_text, outcome
from fuzz_profiles import fuzz_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SERVICE = yaml.safe_load((EXAMPLES / "victim-support" / "service.yaml").read_text())
LOG_SERVICE = yaml.safe_load((EXAMPLES / "victim-support-log" / "service.yaml").read_text())
LOG_SERVICE["spc_targets"] = {
    "idva demand": {"better": "lower", "day": 300, "week": 1500},
    "referrals": {"better": "lower"},
}
SCENARIOS = yaml.safe_load((EXAMPLES / "victim-support" / "scenarios.yaml").read_text())
EXAMPLE_SERVICE = read_service_yaml(EXAMPLES / "victim-support" / "service.yaml")
SWEEP = {
    "seed": 1,
    "replications": 100,
    "horizon_days": 30,
    "start": "2026-04-01",
    "services": ["examples/victim-support", "Northshire Victim Support Hub"],
    "options": ["baseline", "agency IDVA for six weeks over summer"],
    "grid": {"staff.idva": [2, 3, 4], "demand_factor": [1.0, 1.1]},
    "threshold_minutes": 2400,
    "retries": 2,
    "common_random_numbers": True,
}

fuzz = fuzz_settings()


def _finite(value) -> bool:
    """Whether every number in a settings object is finite."""
    if isinstance(value, BaseModel):
        return all(_finite(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, dict):
        return all(_finite(k) and _finite(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _folder_for(root: Path, raw: bytes, service) -> Path:
    """A folder with ``raw`` as its service.yaml and one referral of each case type (and a
    roster row per resource) of the service it defines."""
    (root / "service.yaml").write_bytes(raw)
    referrals, roster = io.StringIO(), io.StringIO()
    csv.writer(referrals).writerows(
        [["case_id", "referral_date", "case_type"]]
        + [[f"R{i}", "2025-03-03", name] for i, name in enumerate(service.case_types)]
    )
    csv.writer(roster).writerows(
        [["date", "resource", "staff"]] + [["2025-03-03", name, "1"] for name in service.resources]
    )
    if service.event_log is None:
        (root / "referrals.csv").write_text(referrals.getvalue())
    (root / "roster.csv").write_text(roster.getvalue())
    return root


def _check_service(raw: bytes) -> None:
    checked, _ = outcome(lambda: read_service_yaml(Path("service.yaml"), raw))
    service, problems = check_service_yaml(Path("service.yaml"), raw)
    assert (service is None) == (checked is None) and (service is None) == bool(problems)
    if service is None:
        return
    assert _finite(service), "a setting is not a finite number"
    with tempfile.TemporaryDirectory() as root:
        outcome(lambda: read_service_folder(_folder_for(Path(root), raw, service)))


@fuzz
@given(raw=mutated_yaml_text(SERVICE))
def test_a_fuzzed_service_yaml_reads_cleanly_or_fails_clearly(raw):
    _check_service(raw)


@fuzz
@given(raw=mutated_yaml_text(LOG_SERVICE))
def test_a_fuzzed_event_log_service_yaml_reads_cleanly_or_fails_clearly(raw):
    _check_service(raw)


@fuzz
@given(raw=mutated_yaml_text(SCENARIOS))
def test_a_fuzzed_scenarios_yaml_reads_cleanly_or_fails_clearly(raw):
    options, _ = outcome(lambda: parse_scenarios_bytes(raw, EXAMPLE_SERVICE))
    if options is not None:
        assert all(_finite(option.changes) for option in options)


@fuzz
@given(raw=mutated_yaml_text(SWEEP))
def test_a_fuzzed_sweep_file_reads_cleanly_or_fails_clearly(raw):
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "sweep.yaml"
        path.write_bytes(raw)
        sweep, _ = outcome(lambda: read_sweep(path))
    if sweep is not None:
        assert _finite(sweep)
        assert 1 <= sweep.n_cells <= 1_000_000
