"""Runs sized before anything is allocated (flowcap.checks, issue #14): the daily simulation's
arrays and the pathway simulation's against the memory free, the pathway's referrals drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowcap.checks import (
    BYTES_PER_REPLICATION_DAY,
    BYTES_PER_REPLICATION_HOUR,
    MAX_SIMULATED_CASES,
    MEMORY_SHARE,
    ArgumentError,
    available_memory_bytes,
    check_pathway_cases,
    check_pathway_size,
    check_simulation_size,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_daily_simulation_past_the_free_memory_says_what_it_would_need():
    # 10,000 replications × 365 days × 3 resources × 16 bytes = 175.2 MB
    need = 10_000 * 365 * 3 * BYTES_PER_REPLICATION_DAY
    assert need == 175_200_000
    check_simulation_size(10_000, 365, 3, available=int(need / MEMORY_SHARE) + 1)
    with pytest.raises(ArgumentError) as caught:
        check_simulation_size(10_000, 365, 3, available=100_000_000)
    assert caught.value.parameter == "replications"
    # 80% of 100 MB holds 80,000,000 // 17,520 = 4,566 replications of 17,520 bytes
    assert caught.value.rule == (
        "(10,000) × 365 days × 3 resources would need about 175 MB of memory, and 100 MB is "
        "free: ask for at most 4,566 replications, or a shorter horizon"
    )


def test_the_fixed_ceiling_holds_whatever_the_memory():
    with pytest.raises(ArgumentError, match="must be at most 60,000,000"):
        check_simulation_size(100_000, 3653, 1, available=10**15)


def test_a_pathway_simulation_past_the_free_memory_says_what_it_would_need():
    need = 200 * 50_000 * BYTES_PER_REPLICATION_HOUR  # 0.8 GB
    with pytest.raises(ArgumentError) as caught:
        check_pathway_size(200, 50_000, available=500_000_000)
    assert "(200) × 50,000 hours would need about 800 MB of memory, and 500 MB" in str(caught.value)
    assert need == 800_000_000
    check_pathway_size(200, 50_000, available=2 * need)


def test_the_referrals_a_pathway_simulation_draws_are_bounded():
    # the example's des: 20 replications × 10,632 hours (warm-up included) × 0.36 referrals
    # an hour (its spec's mean rate): about 77,000 referrals
    check_pathway_cases(20, 10_632, 0.3626)
    check_pathway_cases(1_000, 10_632, 0.3626)  # 3.9 million: within the limit
    with pytest.raises(ArgumentError) as caught:
        check_pathway_cases(1_000, 10_000, 7.5)
    assert "about 75,000,000 referrals" in caught.value.rule
    assert "ask for at most 66 replications" in caught.value.rule  # 5e6 // 75,000
    with pytest.raises(ArgumentError):
        check_pathway_cases(1, 10, 1e9)  # per_hour: 1e9, the pathway
    with pytest.raises(ArgumentError):
        check_pathway_cases(1, 10, float("inf"))
    assert MAX_SIMULATED_CASES == 5_000_000


def test_free_memory_is_measured():
    free = available_memory_bytes()
    assert free is None or free > 0


def test_des_refuses_more_referrals_than_it_may_simulate_before_drawing_any(tmp_path):
    """The pathway simulation's referrals (replications × hours × the referrals an hour, known
    only once the arrival rates are) are bounded before any is drawn (issue #14: a pathway
    with per_hour: 1e9 ran on)."""
    import flowcap
    from flowcap.simulate.pathway.report import simulate_service_pathway

    history = flowcap.open(EXAMPLES / "victim-support")  # about 12 referrals a day
    with pytest.raises(ArgumentError, match="referrals simulated"):
        simulate_service_pathway(history, hours=20_000, warmup_hours=0, replications=1_000)
