"""The daily model on PyTorch (flowcap.simulate.daily.torch). Choosing a device is in
test_simulate_daily_backends.py.

The PyTorch engine is meant for a CUDA GPU; here it runs on PyTorch's CPU device, which executes
the same code. Tests that need torch skip without it (``pytest.importorskip`` in the
``engine`` fixture).

Statistical checks compare two independent Monte Carlo samples (NumPy's and PyTorch's
generators): the difference of the two means has standard error
``sqrt(s_a**2 / n_a + s_b**2 / n_b)``, estimated from the samples, and the tolerance is 4 of
those (a false alarm about 6 times in 100,000 per check). Tail probabilities use the binomial
standard error of the difference of two proportions at the pooled proportion. Seeds are fixed,
so the tests are deterministic; the tolerances say how far apart two correct engines may be.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import anchor_spec
from flowcap.cli.main import app
from flowcap.simulate.daily import DailySpec, backends, draw_inputs
from flowcap.simulate.daily import numpy as numpy_engine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: ../shared/bench/gpu_lindley_anchor.py's many-replication values (mean final backlog, P(>2400))
ANCHOR_MEAN, ANCHOR_P = 429.0, 0.0107
runner = CliRunner()


def service_spec(days: int = 40, patience=None, staff_idva: int = 2) -> DailySpec:
    """Two resources, two priorities, three case types with later steps, existing work and an
    opening backlog, negative-binomial demand; ``patience``: the case types' patience."""
    due_ahead = np.zeros((2, 2, days))
    due_ahead[1, 0, [0, 3, 9]] = [120.0, 60.0, 90.0]
    due_ahead[0, 1, 2] = 45.0
    return DailySpec(
        resources=("triage", "idva"),
        priorities=(1, 2),
        staff=np.array([[1] * days, [staff_idva] * days]),
        minutes_per_staff=np.array([[150.0] * days, [180.0] * days]),
        absence_rate=np.array([0.0, 0.15]),
        case_types=("high", "standard", "self_referral"),
        case_priority=np.array([1, 2, 2]),
        mean_cases_per_day=np.array([[2.0] * days, [3.0] * days, [1.5] * days]),
        dispersion=np.array([np.inf, 3.0, np.inf]),
        steps=np.array(
            [
                [0, 0, 0, 30],
                [0, 1, 1, 90],
                [1, 0, 0, 20],
                [1, 1, 2, 60],
                [1, 1, 5, 30],
                [2, 1, 1, 60],
                [2, 1, 4, 30],
            ],
            dtype=float,
        ),
        opening_backlog_minutes=np.array([[100.0, 200.0], [300.0, 600.0]]),
        due_ahead_minutes=due_ahead,
        patience_days=patience,
        # step targets: an IDVA step, a later one, and a first contact that may give up
        step_target_working_days=np.array([np.nan, 1, np.nan, np.nan, 2, 0, np.nan]),
    )


def se_of_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of mean(a) - mean(b) for independent samples."""
    return math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)


def assert_same_mean(a: np.ndarray, b: np.ndarray, what: str) -> None:
    se = se_of_difference(a, b)
    assert abs(a.mean() - b.mean()) <= 4 * se + 1e-9, f"{what}: {a.mean()} vs {b.mean()} ± {se}"


def assert_same_share(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Shares of True in two boolean samples, within 4 standard errors of their difference
    (binomial, at the pooled share; at least one count's worth when both shares are 0)."""
    pooled = (a.sum() + b.sum()) / (a.size + b.size)
    se = math.sqrt(max(pooled * (1 - pooled), 1 / (a.size + b.size)) * (1 / a.size + 1 / b.size))
    assert abs(a.mean() - b.mean()) <= 4 * se, f"{what}: {a.mean()} vs {b.mean()} ± {se}"


@pytest.fixture
def engine():
    """The PyTorch engine module (skips where torch is not installed)."""
    pytest.importorskip("torch")
    from flowcap.simulate.daily import torch as torch_engine

    return torch_engine


def folder(tmp_path: Path) -> Path:
    path = tmp_path / "anchor"
    shutil.copytree(EXAMPLES / "anchor-lindley", path)
    return path


# --- the PyTorch engine on PyTorch's CPU device ---------------------------------------------


@pytest.mark.parametrize("patience", [None, (None, ("fixed", 3, 0), ("fixed", 2, 0))])
@pytest.mark.parametrize("waits", [False, True], ids=["totals", "waits"])
def test_same_draws_give_the_numpy_engines_numbers(engine, patience, waits):
    """Given the same arrivals and staff present (Draws), the model is deterministic (fixed
    patience: everyone still waiting on the day gives up), so both engines must agree to
    float rounding (float32 totals without buckets), replication by replication."""
    spec = service_spec(patience=patience)
    n = 40
    draws = draw_inputs(spec, n, 11, chunk_size=16)
    options = dict(
        draws=draws,
        record="paths",
        waits=waits,
        threshold_minutes=500,
        target_working_days=2 if waits else None,
        chunk_size=16,
    )
    cpu = numpy_engine.run(spec, n, 11, **options)
    gpu_model = engine.run(spec, n, 11, device="cpu", **options)
    for path in dataclasses.fields(cpu.paths):
        a, b = getattr(cpu.paths, path.name), getattr(gpu_model.paths, path.name)
        if a is None:
            assert b is None, path.name
            continue
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-3, err_msg=path.name)
    for name in ("final_backlog", "backlog_mean", "backlog_mean_by_priority", "activity_mean"):
        np.testing.assert_allclose(getattr(gpu_model, name), getattr(cpu, name), rtol=1e-5)
    np.testing.assert_array_equal(gpu_model.days_over_threshold, cpu.days_over_threshold)
    np.testing.assert_array_equal(gpu_model.reneged_cases, cpu.reneged_cases)
    if waits:
        np.testing.assert_array_equal(gpu_model.days_over_target, cpu.days_over_target)
        for name in (
            "served_minutes_by_wait",
            "waiting_minutes_by_age",
            "first_contacts_waiting_by_age",
        ):
            np.testing.assert_allclose(getattr(gpu_model, name), getattr(cpu, name), err_msg=name)
        assert cpu.waiting_minutes_by_age.sum() > 0  # the IDVAs fall behind: work is left
        np.testing.assert_array_equal(gpu_model.days_over_step_target, cpu.days_over_step_target)
        for name in ("contacts_waiting_by_working_age", "step_target_outcomes"):
            np.testing.assert_allclose(getattr(gpu_model, name), getattr(cpu, name), err_msg=name)
        assert gpu_model.target_steps == cpu.target_steps and len(cpu.target_steps) == 3
        outcomes = cpu.step_target_outcomes
        assert outcomes[0, 0] > 0 and (outcomes[:, 1:].sum(axis=1) > 0).all()  # met, missed
        assert cpu.days_over_step_target.sum() > 0
    assert (cpu.reneged_cases.sum() > 0) == (patience is not None)


def test_anchor_model_agrees_with_numpy_and_the_anchor_in_distribution(engine):
    # 20,000 futures each: the final backlog's sd is about 600 minutes, so 4 standard errors
    # of the difference of the two means are about 4 × 600 × sqrt(2 / 20,000) ≈ 24 minutes;
    # P(> 2400) ≈ 0.011, 4 SE of the difference ≈ 0.004.
    spec, n = anchor_spec(), 20_000
    cpu = numpy_engine.run(spec, n, 1, threshold_minutes=2400).final_backlog[0]
    gpu_model = engine.run(spec, n, 1, threshold_minutes=2400, device="cpu")
    final = gpu_model.final_backlog[0]
    assert_same_mean(final, cpu, "mean final backlog")
    assert_same_share(final > 2400, cpu > 2400, "P(final > 2400)")
    # against the anchor script's many-replication values (their own error is negligible)
    assert abs(final.mean() - ANCHOR_MEAN) <= 4 * final.std() / math.sqrt(n)
    assert abs((final > 2400).mean() - ANCHOR_P) <= 4 * math.sqrt(ANCHOR_P * (1 - ANCHOR_P) / n)
    # the day-by-day summaries are means of the same quantities
    cpu_result = numpy_engine.run(spec, n, 2, threshold_minutes=2400)
    for name in ("demand_mean", "capacity_mean", "activity_mean"):
        # daily means over 20,000 futures: demand sd 190, capacity sd 125 minutes a day, so
        # 4 SE of a difference ≈ 8 minutes; compared as the horizon's average (tighter)
        a, b = getattr(gpu_model, name)[0], getattr(cpu_result, name)[0]
        assert abs(a.mean() - b.mean()) < 8, name


def test_several_types_and_priorities_agree_with_numpy_in_distribution(engine):
    """Lindley totals by priority (no reneging, no waits): per resource and priority."""
    spec, n = service_spec(days=40, staff_idva=4), 6_000
    cpu = numpy_engine.run(spec, n, 3, threshold_minutes=1500, record="paths")
    gpu_model = engine.run(spec, n, 3, threshold_minutes=1500, record="paths", device="cpu")
    for r, resource in enumerate(spec.resources):
        assert_same_mean(gpu_model.final_backlog[r], cpu.final_backlog[r], f"{resource} final")
        assert_same_share(
            gpu_model.final_backlog[r] > 1500, cpu.final_backlog[r] > 1500, f"{resource} tail"
        )
        for p in range(len(spec.priorities)):
            a = gpu_model.paths.backlog_minutes_by_priority[r, p, :, -1]
            b = cpu.paths.backlog_minutes_by_priority[r, p, :, -1]
            assert_same_mean(a, b, f"{resource} priority {p + 1} final")
        # demand over the horizon per replication: negative-binomial and Poisson referrals
        a = gpu_model.paths.demand_minutes[r].sum(axis=1)
        b = cpu.paths.demand_minutes[r].sum(axis=1)
        assert_same_mean(a, b, f"{resource} demand")
        assert 0.9 < a.var() / b.var() < 1.1  # variance ratio: F(5999, 5999) is within ±7%
    # priority 1 waits less than priority 2 at the overloaded IDVAs, in both engines
    for result in (cpu, gpu_model):
        assert result.backlog_mean_by_priority[1, 0, -1] < result.backlog_mean_by_priority[1, 1, -1]


def test_reneging_and_waits_agree_with_numpy_in_distribution(engine):
    """Buckets: exponential and gamma patience, waits measured, days past a target."""
    patience = (None, ("exponential", 4.0, 0.0), ("gamma", 3.0, 2.0))
    spec, n = service_spec(days=30, patience=patience, staff_idva=4), 3_000
    options = dict(waits=True, target_working_days=2, threshold_minutes=1000)
    cpu = numpy_engine.run(spec, n, 5, **options)
    gpu_model = engine.run(spec, n, 5, device="cpu", **options)
    for r, resource in enumerate(spec.resources):
        assert_same_mean(gpu_model.final_backlog[r], cpu.final_backlog[r], f"{resource} final")
        assert_same_mean(gpu_model.reneged_cases[r], cpu.reneged_cases[r], f"{resource} gone")
        assert_same_mean(
            gpu_model.days_over_target[r].astype(float),
            cpu.days_over_target[r].astype(float),
            f"{resource} days over target",
        )
    assert cpu.reneged_cases[1].mean() > 2  # about 4.6 cases per future give up
    # the mean wait of a minute of work: ratio of sums over replications; its error is small
    # next to 0.1 day at these sizes (the per-replication means have sd < 1 day)
    np.testing.assert_allclose(gpu_model.mean_wait_days, cpu.mean_wait_days, atol=0.1)


def test_negative_binomial_fallback_draws_the_right_moments(engine, monkeypatch):
    """Beyond a table's reach, counts come from torch.poisson (NB: gamma-Poisson)."""
    monkeypatch.setattr(numpy_engine, "_MAX_TABLE", 4)  # every table here is wider
    days, n = 20, 5_000
    spec = DailySpec(
        resources=("r",),
        priorities=(1,),
        staff=np.full((1, days), 1),
        minutes_per_staff=np.full((1, days), 1000.0),
        absence_rate=np.array([0.0]),
        case_types=("poisson", "negative_binomial"),
        case_priority=np.array([1, 1]),
        mean_cases_per_day=np.array([[6.0] * days, [4.0] * days]),
        dispersion=np.array([np.inf, 0.5]),
        steps=np.array([[0, 0, 0, 1.0], [1, 0, 0, 1000.0]]),
    )
    paths = engine.run(spec, n, 9, record="paths", device="cpu").paths
    cases = paths.demand_minutes[0].ravel()  # 1000 × NB + Poisson: both read off exactly
    poisson, negative_binomial = cases % 1000, cases // 1000
    # 100,000 daily draws each: SE of the mean 0.008 and 0.013, of the variance ≈ 1-2%
    assert abs(poisson.mean() - 6.0) < 4 * math.sqrt(6 / cases.size)
    assert abs(poisson.var() / 6.0 - 1) < 0.04
    nb_var = 4.0 + 4.0**2 / 0.5
    assert abs(negative_binomial.mean() - 4.0) < 4 * math.sqrt(nb_var / cases.size)
    assert abs(negative_binomial.var() / nb_var - 1) < 0.1  # heavy tail: SE ≈ 2.3%


def test_a_seed_repeats_exactly_and_another_seed_differs(engine):
    spec = service_spec(days=20, patience=(None, ("exponential", 4.0, 0.0), None))
    one = engine.run(spec, 500, 7, device="cpu", waits=True, chunk_size=200)
    again = engine.run(spec, 500, 7, device="cpu", waits=True, chunk_size=200)
    other = engine.run(spec, 500, 8, device="cpu", waits=True, chunk_size=200)
    for name in ("final_backlog", "reneged_cases", "backlog_mean", "served_minutes_by_wait"):
        np.testing.assert_array_equal(getattr(one, name), getattr(again, name), name)
    assert not np.array_equal(one.final_backlog, other.final_backlog)
    # measuring waits moves work into buckets but draws the same numbers (one chunk)
    plain = engine.run(spec, 500, 7, device="cpu", chunk_size=200)
    np.testing.assert_array_equal(plain.reneged_cases, one.reneged_cases)
    np.testing.assert_allclose(plain.final_backlog, one.final_backlog)


def test_staffing_changes_keep_the_referrals_common_random_numbers(engine):
    short, full = anchor_spec(days=60, staff=2), anchor_spec(days=60, staff=4)
    a = engine.run(short, 2_000, 3, record="paths", device="cpu").paths
    b = engine.run(full, 2_000, 3, record="paths", device="cpu").paths
    np.testing.assert_array_equal(a.demand_minutes, b.demand_minutes)
    assert (b.capacity_minutes >= a.capacity_minutes).all()  # inversion: monotone in staff
    assert (b.backlog_minutes <= a.backlog_minutes).all()


@pytest.mark.parametrize("record", ["summary", "paths"])
@pytest.mark.parametrize("waits", [False, True], ids=["totals", "waits"])
def test_result_has_the_numpy_engines_shapes_and_dtypes(engine, record, waits):
    spec = service_spec(days=12, patience=(None, ("fixed", 3, 0), None))
    options = dict(record=record, waits=waits, threshold_minutes=300, fan_replications=20)
    if waits:
        options["target_working_days"] = 1
    cpu = numpy_engine.run(spec, 50, 1, **options)
    gpu_model = engine.run(spec, 50, 1, device="cpu", **options)

    def check(a, b, where):
        for item in dataclasses.fields(a):
            x, y = getattr(a, item.name), getattr(b, item.name)
            if isinstance(x, np.ndarray):
                assert isinstance(y, np.ndarray), f"{where}.{item.name}"
                assert (y.shape, y.dtype) == (x.shape, x.dtype), f"{where}.{item.name}"
            elif dataclasses.is_dataclass(x):
                check(x, y, item.name)
            else:
                assert type(x) is type(y), f"{where}.{item.name}"

    check(cpu, gpu_model, "result")
    assert gpu_model.summary("idva").keys() == cpu.summary("idva").keys()


def test_chunks_cover_every_replication(engine):
    spec = anchor_spec(days=30)
    result = engine.run(spec, 1_000, 2, device="cpu", chunk_size=300, fan_replications=500)
    assert result.final_backlog.shape == (1, 1_000) and (result.final_backlog[0, 900:] >= 0).all()
    assert result.replications == 1_000
    # the fan (first 500 replications) spans two chunks: its median is a real median
    assert result.backlog_percentiles[0, 2, -1] == np.percentile(result.final_backlog[0, :500], 50)


# --- through plan and simulate, with "cuda" served by PyTorch on the CPU -------------------


@pytest.fixture
def cuda_on_cpu(engine, monkeypatch):
    """``device="cuda"`` runs the PyTorch engine on the CPU: the plumbing, not the GPU."""

    class OnCpu:
        @staticmethod
        def run(*args, device, **kwargs):
            assert device == "cuda"
            return engine.run(*args, device="cpu", **kwargs)

    monkeypatch.setattr(backends, "_torch_engine", lambda device: OnCpu)
    monkeypatch.setattr(backends, "check_device", lambda device: None)
    monkeypatch.setattr("flowcap.plan.outlook.check_device", lambda device: None)


def test_plan_on_the_gpu_engine_finds_the_three_staff_theory_implies(tmp_path, cuda_on_cpu):
    # 2 × 240 × 0.9 = 432 minutes a day against 600: spirals; 3: 648 > 600, P(> 2400) ≈ 0.011
    args = ["plan", str(folder(tmp_path)), "--start", "2026-01-01", "--horizon", "365"]
    result = runner.invoke(app, [*args, "--device", "cuda", "--json"])
    assert result.exit_code == 0, result.output
    assert '"min_staff": 3' in result.stdout


def test_simulate_on_the_gpu_engine_agrees_with_the_anchor(tmp_path, cuda_on_cpu):
    import json

    n = 10_000
    args = ["simulate", str(folder(tmp_path)), "--start", "2026-01-01", "--horizon", "365"]
    args += ["--replications", str(n), "--seed", "3", "--device", "cuda", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    baseline = json.loads(result.stdout)["scenarios"]["baseline"]["advocate"]
    # sd of the final backlog ≈ 650 minutes: 4 SE over 10,000 futures ≈ 26 minutes
    assert abs(baseline["final_backlog_mean"] - ANCHOR_MEAN) <= 4 * 650 / math.sqrt(n)
    se = math.sqrt(ANCHOR_P * (1 - ANCHOR_P) / n)
    assert abs(baseline["p_final_backlog_over_threshold"] - ANCHOR_P) <= 4 * se
    assert baseline["mean_wait_days"] > 0  # waits are measured on the GPU engine too
