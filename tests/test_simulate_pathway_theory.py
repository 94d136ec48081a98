"""The pathway engine against queueing theory and against Ciw.

Closed forms: Erlang C (M/M/c), Jackson networks (each node an M/M/c, time in the pathway
Σ visits × (Wq + 1/μ)), Cobham's non-preemptive priority formula for M/M/c, and
Pollaczek–Khinchine for M/G/1 (which sees the service time's sd, not only its mean). Little's
law L = λW is checked on every run. Seeds are fixed; each tolerance is at least three standard
errors, estimated from the spread between independent replications, and the comment at each
check says why the bound is what it is. Times in minutes unless a name says hours.
"""

from __future__ import annotations

import math
from dataclasses import replace

import ciw
import numpy as np
import pytest

from flowcap.simulate.pathway import Duration, PathwaySpec, simulate_pathway

#: A validation suite against queueing theory and Ciw: long statistical runs.
pytestmark = pytest.mark.slow


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """(P(wait), Wq) for M/M/c with arrival rate ``lam`` and service rate ``mu`` per server
    (Wq in the reciprocal unit of the rates)."""
    a = lam / mu
    rho = a / c
    assert rho < 1
    tail = a**c / math.factorial(c) / (1 - rho)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return p_wait, p_wait / (c * mu - lam)


def rep_mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean of per-replication values and its standard error."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def assert_little(result, rel: float = 0.01) -> None:
    """L (time-average number waiting) = λ·W at every step.

    L and λW come from the same sample path, so they differ only by the waits of cases that
    straddle the window's start or end: of order (number waiting) × (a wait) / (window), a
    few 1e-4 of L in these runs; 1% is a loose bound that still catches bookkeeping errors
    (a lost or double-counted case at a busy step moves λW by far more)."""
    for step, (queue, lam_w) in result.little_law().items():
        assert math.isclose(queue, lam_w, rel_tol=rel, abs_tol=1e-3), (step, queue, lam_w)


def test_mmc_waits_and_p_wait_match_erlang_c():
    # M/M/3 at ρ = 0.7: about 1.7 million customers in 20 replications of 40,000 hours.
    # At this load the replications' spread puts the standard error of Wq near 0.8% and of
    # P(wait) near 0.2%, so a 3% tolerance is at least 3 standard errors (asserted below).
    lam, mu, c = 2.1, 1.0, 3
    spec = PathwaySpec.network(lam, [c], [60 / mu])
    result = simulate_pathway(spec, hours=40_000, warmup_hours=100, replications=20, seed=11)
    p_wait, wq_hours = erlang_c(lam, mu, c)
    wq, wq_se = rep_mean_se(result.mean_wait_minutes()[:, 0] / 60)
    pw, pw_se = rep_mean_se(result.waited[:, 0, 0] / result.served[:, 0, 0])
    assert 3 * wq_se <= 0.03 * wq_hours and 3 * pw_se <= 0.03 * p_wait
    assert abs(wq / wq_hours - 1) <= 0.03, (wq, wq_hours, wq_se)
    assert abs(pw / p_wait - 1) <= 0.03, (pw, p_wait, pw_se)
    # Utilisation ρ: its standard error is far below 1% of ρ at this run length.
    assert math.isclose(result.utilisation()[0], lam / (c * mu), rel_tol=0.01)
    assert_little(result)


def test_jackson_network_nodes_and_time_in_pathway_match_closed_forms():
    # The pathway: triage (c=2, μ=3/h) → advocacy (c=3, μ=1/h) → follow-up (c=1,
    # μ=4/h), 30% of advocacy cases leave without follow-up, Poisson arrivals 2.5/h. By
    # Jackson's theorem each node is an M/M/c fed at λ × visits.
    lam, visits = 2.5, [1.0, 1.0, 0.7]
    nodes = [(2, 3.0), (3, 1.0), (1, 4.0)]
    routing = np.array([[0, 1, 0], [0, 0, 0.7], [0, 0, 0]], dtype=float)
    spec = PathwaySpec.network(lam, [c for c, _ in nodes], [60 / mu for _, mu in nodes], routing)
    result = simulate_pathway(spec, hours=20_000, warmup_hours=100, replications=20, seed=12)
    waits = result.mean_wait_minutes() / 60
    closed_form = 0.0
    for i, ((c, mu), v) in enumerate(zip(nodes, visits, strict=True)):
        _, wq_hours = erlang_c(lam * v, mu, c)
        closed_form += v * (wq_hours + 1 / mu)
        wq, se = rep_mean_se(waits[:, i])
        # 4 standard errors: a correct engine fails one of these four checks with
        # probability about 4 × 6e-5 (normal tails); the spread of 20 replications estimates
        # the standard error to within about 16%.
        assert abs(wq - wq_hours) <= 4 * se, (i, wq, wq_hours, se)
        assert se <= 0.05 * wq_hours  # the check has teeth: a 20% error would show
    time_hours, se = rep_mean_se(result.end_to_end_minutes() / 60)
    assert abs(time_hours - closed_form) <= 4 * se, (time_hours, closed_form, se)
    assert se <= 0.01 * closed_form
    assert_little(result)


def test_priority_waits_match_cobham_formula():
    # Non-preemptive priorities in M/M/c with one service rate for all (Cobham 1954):
    # Wq_k = C(c, a) / (cμ) / ((1 - σ_{k-1})(1 - σ_k)), σ_k = Σ_{i <= k} λ_i / (cμ).
    lams, mu, c = [0.6, 0.9, 0.6], 1.0, 3  # urgent, standard, routine; ρ = 0.7
    spec = PathwaySpec(
        steps=("triage",),
        step_resource=np.array([0]),
        resources=("team",),
        case_types=("urgent", "standard", "routine"),
        case_priority=np.array([1, 2, 3]),
        arrival_rate_per_hour=np.repeat(np.array(lams)[:, None], 168, axis=1),
        service=(tuple(Duration("exponential", 60 / mu) for _ in lams),),
        routing=np.zeros((1, 1)),
        schedule=((np.array([0.0]), np.array([c])),),
    )
    result = simulate_pathway(spec, hours=20_000, warmup_hours=100, replications=20, seed=13)
    p_wait, _ = erlang_c(sum(lams), mu, c)
    sigma = np.cumsum(lams) / (c * mu)
    before = np.concatenate([[0.0], sigma[:-1]])
    for k, case_type in enumerate(spec.case_types):
        expected = p_wait / (c * mu) / ((1 - before[k]) * (1 - sigma[k]))
        wq, se = rep_mean_se(result.mean_wait_minutes(case_type)[:, 0] / 60)
        # 4 standard errors (see the Jackson test); the classes differ by 2 to 4 times, so
        # an engine ignoring priorities fails by dozens of standard errors.
        assert abs(wq - expected) <= 4 * se, (case_type, wq, expected, se)
    assert_little(result)


def test_mg1_waits_see_the_service_time_sd():
    # M/G/1, Pollaczek–Khinchine: Wq = λ E[S²] / (2 (1 - ρ)), E[S²] = sd² + mean². A wrong
    # lognormal or gamma parameterisation keeps the mean right but moves the sd, and Wq
    # with it: lognormal sd 40 against, say, 30 changes Wq by 30%.
    lam_per_hour = 1.0
    durations = [
        Duration("lognormal", 30.0, 40.0),
        Duration("gamma", 30.0, 12.0),
        Duration("fixed", 30.0),
        Duration("empirical", values=np.array([5.0, 10.0, 15.0, 90.0])),
    ]
    for duration in durations:
        spec = replace(PathwaySpec.network(lam_per_hour, [1], [1.0]), service=((duration,),))
        result = simulate_pathway(spec, hours=20_000, warmup_hours=100, replications=10, seed=14)
        lam = lam_per_hour / 60
        rho = lam * duration.mean
        expected = lam * (duration.sd**2 + duration.mean**2) / (2 * (1 - rho))
        wq, se = rep_mean_se(result.mean_wait_minutes()[:, 0])
        # 4 standard errors from 10 replications; the standard error is about 1-2% of Wq.
        assert abs(wq - expected) <= 4 * se, (duration.dist, wq, expected, se)
        assert se <= 0.04 * expected
        assert_little(result)


# ---------------------------------------------------------------------- against Ciw
class CountedShiftNode(ciw.Node):
    """A Ciw node whose shift changes follow flowcap's rule, so both simulate the same model.

    Ciw's own ``Schedule(..., preemption=False)`` sends every server off duty at each shift
    change (busy ones finish their customer first, as overtime) and brings in a full new set
    of ``c`` servers at once, so up to c + (busy at the change) people serve together. flowcap
    counts instead: on duty means ``c`` people; when ``c`` falls, busy people finish their case
    and nobody takes new work while busy > c; when it rises, free people start at once. Here:
    at a fall, free servers leave and busy ones over the count are marked off duty; at a rise,
    marked servers are kept on before new ones come; and when an unmarked server finishes while
    someone is marked, the mark moves to the finisher (a count, not named people)."""

    def change_shift(self):
        self.schedule.get_next_shift()
        self.next_shift_change = self.schedule.next_shift_change_date
        self.c = self.schedule.c
        on = [s for s in self.servers if not s.offduty]
        marked = [s for s in self.servers if s.offduty]
        if len(on) > self.c:
            excess = len(on) - self.c
            free = [s for s in on if not s.busy][:excess]
            for server in free:
                self.kill_server(server)
            for server in [s for s in on if s.busy][: excess - len(free)]:
                server.offduty = True
        else:
            needed = self.c - len(on)
            for server in marked[:needed]:
                server.offduty = False
            self.add_new_servers(max(needed - len(marked), 0))
        self.begin_service_if_possible_change_shift()

    def detatch_server(self, server, individual):
        if not server.offduty:
            other = next((s for s in self.servers if s.offduty and s is not server), None)
            if other is not None:
                other.offduty, server.offduty = False, True
        super().detatch_server(server, individual)


ROTA_LAM_PER_HOUR = {"urgent": 0.4, "standard": 1.2}
ROTA_SERVICE_MINUTES = 45.0
ROTA = ([3, 1], [480.0, 1440.0])  # 3 on duty 00:00-08:00, then 1 until midnight, every day


def ciw_mean_waits(seed: int, warmup_minutes: float, end_minutes: float) -> dict[str, float]:
    network = ciw.create_network(
        arrival_distributions={
            k: [ciw.dists.Exponential(rate=v / 60)] for k, v in ROTA_LAM_PER_HOUR.items()
        },
        service_distributions={
            k: [ciw.dists.Exponential(rate=1 / ROTA_SERVICE_MINUTES)] for k in ROTA_LAM_PER_HOUR
        },
        number_of_servers=[ciw.Schedule(*ROTA, preemption=False)],
        priority_classes={"urgent": 0, "standard": 1},
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network, node_class=CountedShiftNode)
    simulation.simulate_until_max_time(end_minutes)
    # Counted as in flowcap: joined after the warm-up, service started by the end (incomplete
    # records carry those still in service; those still waiting have no start).
    records = simulation.get_all_records(only=["service"], include_incomplete=True)
    waits: dict[str, list[float]] = {k: [] for k in ROTA_LAM_PER_HOUR}
    for r in records:
        if r.arrival_date >= warmup_minutes and r.service_start_date is not None:
            waits[r.customer_class].append(r.waiting_time)
    return {k: float(np.mean(v)) for k, v in waits.items()}


def test_priorities_under_a_rota_agree_with_ciw():
    # One team, 3 on duty for 8 hours then 1 for 16, two priority classes, exponential
    # service: no closed form, so Ciw (with the shift rule above) is the oracle.
    warmup_hours, hours = 48.0, 2400.0
    end = (warmup_hours + hours) * 60
    days = math.ceil(end / 1440)
    times = (np.arange(days)[:, None] * 1440.0 + np.array([0.0, 480.0])).ravel()
    spec = PathwaySpec(
        steps=("contact",),
        step_resource=np.array([0]),
        resources=("team",),
        case_types=tuple(ROTA_LAM_PER_HOUR),
        case_priority=np.array([0, 1]),
        arrival_rate_per_hour=np.array([[v] * 168 for v in ROTA_LAM_PER_HOUR.values()]),
        service=((Duration("exponential", ROTA_SERVICE_MINUTES),) * 2,),
        routing=np.zeros((1, 1)),
        schedule=((times, np.tile(ROTA[0], days)),),
    )
    result = simulate_pathway(spec, hours, warmup_hours, replications=40, seed=15)
    runs = [ciw_mean_waits(seed, warmup_hours * 60, end) for seed in range(12)]
    for case_type in ROTA_LAM_PER_HOUR:
        ours, ours_se = rep_mean_se(result.mean_wait_minutes(case_type)[:, 0])
        theirs, theirs_se = rep_mean_se([run[case_type] for run in runs])
        combined = math.hypot(ours_se, theirs_se)
        # 3 combined standard errors (about 0.8 and 4.7 minutes for the two classes). With
        # Ciw's own overtime rule both classes wait about 11% less, 4 combined standard errors
        # away with these seeds, so this check tells the two shift rules apart.
        assert abs(ours - theirs) <= 3 * combined, (case_type, ours, theirs, combined)
    # People finish their case after a shift ends: overtime, while utilisation stays <= 1.
    assert result.overtime_minutes.sum() > 0
    assert result.utilisation()[0] <= 1
    assert_little(result)
