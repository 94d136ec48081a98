"""What the daily backlog model needs to know, as plain arrays: staff, referrals, minutes.

An IDVA service on one day: referrals arrive (a Poisson or negative-binomial number per case type),
each referral brings steps of work that fall due at a resource some days later, the advocates who
turn up work through the waiting minutes, most urgent first and oldest first, and people who wait
too long for first contact may give up. :class:`DailySpec` holds all of that for ``H`` calendar
days; the engines (:mod:`.reference`, :mod:`.numpy`) turn it into :class:`DailyResult`.

Only NumPy and the standard library are imported here, so the engine runs where only NumPy is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

PATIENCE_DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "fixed")
PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class DailySpec:
    """Daily Monte Carlo model of every critical resource over ``H`` days (plain data, validated).

    Parameters (shapes use ``R_n`` resources, ``P_n`` priorities, ``T_n`` case types, ``S`` steps)
    ----------
    resources : tuple of str, length R_n
    priorities : tuple of int, length P_n — distinct, ascending (1 = most urgent)
    staff : ndarray of int, shape (R_n, H) — people rostered each day (0 on non-working days)
    minutes_per_staff : ndarray of float, shape (R_n, H) — productive minutes a person gives a day
    absence_rate : ndarray of float, shape (R_n,) — each rostered person is absent independently
    case_types : tuple of str, length T_n
    case_priority : ndarray of int, shape (T_n,) — one of ``priorities``
    mean_cases_per_day : ndarray of float, shape (T_n, H) — expected new cases each day
    dispersion : ndarray of float, shape (T_n,) — negative-binomial size r (variance
        ``mu + mu**2 / r``); ``np.inf`` means Poisson
    steps : ndarray, shape (S, 4) or structured with fields ``type, resource, offset_days,
        minutes`` — one row per step: a case of that type referred on day ``a`` brings
        ``minutes`` of work at ``resource`` due on day ``a + offset_days``. A type's first step
        (smallest offset, first row on ties) is the first contact that ``patience_days`` applies to.
    opening_backlog_minutes : ndarray, shape (R_n, P_n) — already waiting before day 0 (default 0)
    due_ahead_minutes : ndarray, shape (R_n, P_n, H) — existing cases' work falling due (default 0)
    patience_days : tuple, length T_n — per type ``(dist, mean, sd)`` with dist one of
        ``exponential``, ``lognormal``, ``gamma``, ``fixed`` (sd unused for exponential and
        fixed), or ``None``: nobody gives up (the default for every type)
    step_number : ndarray of int, shape (S,) — which of its case type's steps each row is an
        occurrence of (0 = the type's first step; the rows of a repeated step share it).
        Default: each row its own step, numbered in row order within its type
    step_target_working_days : ndarray of float, shape (S,) — each occurrence of the row is to
        be done within this many working days of its resource after the day it falls due
        (:func:`flowcap.targets.past_contact_target`; working days: ``minutes_per_staff > 0``);
        NaN where the step has no target (the default). The rows of one step share one target
    """

    resources: tuple[str, ...]
    priorities: tuple[int, ...]
    staff: np.ndarray
    minutes_per_staff: np.ndarray
    absence_rate: np.ndarray
    case_types: tuple[str, ...]
    case_priority: np.ndarray
    mean_cases_per_day: np.ndarray
    dispersion: np.ndarray
    steps: np.ndarray
    opening_backlog_minutes: np.ndarray | None = None
    due_ahead_minutes: np.ndarray | None = None
    patience_days: tuple[tuple[str, float, float] | None, ...] | None = None
    step_number: np.ndarray | None = None
    step_target_working_days: np.ndarray | None = None

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        put("resources", tuple(str(r) for r in self.resources))
        put("case_types", tuple(str(t) for t in self.case_types))
        put("priorities", tuple(int(p) for p in self.priorities))
        n_r, n_t, n_p = len(self.resources), len(self.case_types), len(self.priorities)
        if n_r == 0 or n_t == 0 or n_p == 0:
            raise ValueError("DailySpec needs at least one resource, case type and priority")
        if list(self.priorities) != sorted(set(self.priorities)):
            raise ValueError(f"priorities must be distinct and ascending, got {self.priorities}")
        staff = np.asarray(self.staff)
        if staff.ndim != 2 or staff.shape[0] != n_r:
            raise ValueError(f"staff must have shape (R_n={n_r}, H), got {staff.shape}")
        h = staff.shape[1]
        if h < 1 or np.any(staff < 0) or np.any(staff != np.round(staff)):
            raise ValueError("staff must be whole numbers >= 0 over at least one day")
        put("staff", staff.astype(np.int64))
        for name, shape in [
            ("minutes_per_staff", (n_r, h)),
            ("absence_rate", (n_r,)),
            ("mean_cases_per_day", (n_t, h)),
            ("dispersion", (n_t,)),
            ("opening_backlog_minutes", (n_r, n_p)),
            ("due_ahead_minutes", (n_r, n_p, h)),
        ]:
            value = getattr(self, name)
            value = np.zeros(shape) if value is None else np.asarray(value, dtype=np.float64)
            if value.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
            if np.any(np.isnan(value)) or np.any(value < 0):
                raise ValueError(f"{name} must be >= 0 (no NaN)")
            put(name, value)
        if np.any(self.absence_rate > 1):
            raise ValueError("absence_rate must be a probability")
        if np.any(self.dispersion == 0) or np.any(np.isinf(self.mean_cases_per_day)):
            raise ValueError("dispersion must be > 0 (np.inf for Poisson); means finite")
        prio = np.asarray(self.case_priority, dtype=np.int64)
        if prio.shape != (n_t,) or not set(prio.tolist()) <= set(self.priorities):
            raise ValueError(f"case_priority must be (T_n,) values from {self.priorities}")
        put("case_priority", prio)
        put("steps", _steps_array(self.steps, n_t, n_r))
        put("step_number", _step_numbers(self.step_number, self.steps[:, 0]))
        put("step_target_working_days", _step_targets(self))
        patience = self.patience_days if self.patience_days is not None else (None,) * n_t
        if len(patience) != n_t:
            raise ValueError(f"patience_days needs one entry per case type ({n_t})")
        for entry in patience:
            if entry is None:
                continue
            dist, mean, sd = entry
            if dist not in PATIENCE_DISTRIBUTIONS or not mean > 0:
                raise ValueError(f"patience {entry!r}: dist in {PATIENCE_DISTRIBUTIONS}, mean > 0")
            if dist in ("lognormal", "gamma") and not sd > 0:
                raise ValueError(f"patience {entry!r}: {dist} needs sd > 0")
        put(
            "patience_days",
            tuple(None if e is None else (e[0], float(e[1]), float(e[2])) for e in patience),
        )

    # --- derived views -------------------------------------------------------------------
    @property
    def horizon_days(self) -> int:
        return int(self.staff.shape[1])

    @property
    def step_type(self) -> np.ndarray:
        return self.steps[:, 0].astype(np.int64)

    @property
    def step_resource(self) -> np.ndarray:
        return self.steps[:, 1].astype(np.int64)

    @property
    def step_offset_days(self) -> np.ndarray:
        return self.steps[:, 2].astype(np.int64)

    @property
    def step_minutes(self) -> np.ndarray:
        return self.steps[:, 3]

    @property
    def target_steps(self) -> tuple[tuple[int, int, int, float], ...]:
        """The steps with a target, ``(case type, step number, resource, target working
        days)`` each, in the order of their first row: the ``G`` step targets of a result."""
        found: dict[tuple[int, int], tuple[int, int, int, float]] = {}
        for s in np.flatnonzero(~np.isnan(self.step_target_working_days)):
            key = (int(self.step_type[s]), int(self.step_number[s]))
            if key not in found:
                target = float(self.step_target_working_days[s])
                found[key] = (*key, int(self.step_resource[s]), target)
        return tuple(found.values())

    @property
    def step_target_index(self) -> np.ndarray:
        """For each row of ``steps``, its step's index in :attr:`target_steps`, or -1 (no
        target), shape (S,)."""
        index = np.full(len(self.steps), -1, dtype=np.int64)
        for g, (k, number, _, _) in enumerate(self.target_steps):
            index[(self.step_type == k) & (self.step_number == number)] = g
        return index

    def first_step(self, case_type: int) -> int | None:
        """Row of ``steps`` that is the type's first contact (smallest offset, first on ties)."""
        rows = np.flatnonzero(self.step_type == case_type)
        if rows.size == 0:
            return None
        return int(rows[np.argmin(self.step_offset_days[rows])])

    def priority_index(self, case_type: int) -> int:
        return self.priorities.index(int(self.case_priority[case_type]))

    def renege_hazard(self, case_type: int) -> np.ndarray:
        """Chance a case still waiting for first contact gives up on its ``d``-th day of waiting.

        Returns ``h``, shape (H + 1,): ``h[d] = 1 - S(d) / S(d - 1)`` with ``S`` the survival
        function of the patience (days) and ``h[0] = 0`` (nobody gives up on the day work falls
        due). All zeros when the type has no patience.
        """
        h = np.zeros(self.horizon_days + 1)
        entry = self.patience_days[case_type]
        if entry is None:
            return h
        surv = np.array([patience_survival(entry, d) for d in range(self.horizon_days + 1)])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(surv[:-1] > 0, surv[1:] / surv[:-1], 0.0)
        h[1:] = np.clip(1.0 - ratio, 0.0, 1.0)
        return h

    @classmethod
    def one_resource(
        cls,
        *,
        days: int,
        mean_cases_per_day: float,
        minutes_per_case: float,
        staff: int,
        minutes_per_staff: float,
        absence_rate: float = 0.0,
        dispersion: float = np.inf,
        offset_days: int = 0,
        opening_backlog_minutes: float = 0.0,
        patience_days: tuple[str, float, float] | None = None,
    ) -> DailySpec:
        """One resource, one case type with one step, one priority (the benchmark model's shape)."""
        return cls(
            resources=("resource",),
            priorities=(1,),
            staff=np.full((1, days), staff),
            minutes_per_staff=np.full((1, days), float(minutes_per_staff)),
            absence_rate=np.array([absence_rate]),
            case_types=("case",),
            case_priority=np.array([1]),
            mean_cases_per_day=np.full((1, days), float(mean_cases_per_day)),
            dispersion=np.array([dispersion]),
            steps=np.array([[0, 0, offset_days, minutes_per_case]], dtype=np.float64),
            opening_backlog_minutes=np.array([[opening_backlog_minutes]]),
            patience_days=(patience_days,),
        )


def _steps_array(steps, n_types: int, n_resources: int) -> np.ndarray:
    steps = np.asarray(steps)
    if steps.dtype.names:
        steps = np.column_stack(
            [steps[f].astype(np.float64) for f in ("type", "resource", "offset_days", "minutes")]
        )
    steps = np.asarray(steps, dtype=np.float64).reshape(-1, 4)
    whole = steps[:, :3]
    if np.any(whole != np.round(whole)) or np.any(whole < 0) or np.any(steps[:, 3] < 0):
        raise ValueError("steps: type, resource, offset_days must be whole >= 0; minutes >= 0")
    if np.any(steps[:, 0] >= n_types) or np.any(steps[:, 1] >= n_resources):
        raise ValueError("steps: type or resource index out of range")
    return steps


def _step_numbers(numbers, types: np.ndarray) -> np.ndarray:
    if numbers is None:  # each row its own step, in row order within its type
        numbers = np.zeros(len(types), dtype=np.int64)
        for k in np.unique(types):
            rows = np.flatnonzero(types == k)
            numbers[rows] = np.arange(rows.size)
        return numbers
    numbers = np.asarray(numbers)
    if numbers.shape != types.shape:
        raise ValueError(
            f"step_number needs one entry per row of steps ({types.size}), got {numbers.shape} "
            "(with new steps, give step_number and step_target_working_days anew, or None)"
        )
    if np.any(numbers < 0) or np.any(numbers != np.round(numbers)):
        raise ValueError("step_number must be whole numbers >= 0")
    return numbers.astype(np.int64)


def _step_targets(spec: DailySpec) -> np.ndarray:
    n_steps = len(spec.steps)
    if spec.step_target_working_days is None:
        return np.full(n_steps, np.nan)
    targets = np.asarray(spec.step_target_working_days, dtype=np.float64)
    if targets.shape != (n_steps,) or np.any(targets < 0) or np.any(np.isinf(targets)):
        raise ValueError(f"step_target_working_days must be >= 0 or NaN, shape ({n_steps},)")
    for s in range(n_steps):
        same = (spec.steps[:, 0] == spec.steps[s, 0]) & (spec.step_number == spec.step_number[s])
        shared = targets[same]
        if not (np.all(np.isnan(shared)) or np.all(shared == targets[s])) or np.any(
            spec.steps[same, 1::2] != spec.steps[s, 1::2]
        ):
            raise ValueError("the rows of one step must share its resource, minutes and target")
    return targets


def patience_survival(entry: tuple[str, float, float], days: float) -> float:
    """P(patience > days) for ``(dist, mean, sd)``; moments matched for lognormal and gamma."""
    dist, mean, sd = entry
    if days <= 0:
        return 1.0
    if dist == "fixed":
        return 1.0 if days < mean else 0.0
    if dist == "exponential":
        return math.exp(-days / mean)
    if dist == "lognormal":
        sigma2 = math.log1p((sd / mean) ** 2)
        mu = math.log(mean) - sigma2 / 2
        return 0.5 * math.erfc((math.log(days) - mu) / math.sqrt(2 * sigma2))
    if dist == "gamma":
        shape, scale = (mean / sd) ** 2, sd**2 / mean
        return _gamma_q(shape, days / scale)
    raise ValueError(f"unknown patience distribution {dist!r}")


def _gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) (series / Lentz continued fraction;
    Press et al., Numerical Recipes 3rd ed., section 6.2)."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return math.exp(log_front) * h


@dataclass(frozen=True)
class Draws:
    """Pre-drawn random inputs, for running engines off identical numbers (contract tests).

    arrivals : ndarray of int, shape (n_reps, T_n, H) — new cases of each type each day
    present_staff : ndarray of int, shape (n_reps, R_n, H) — people who turned up each day
    """

    arrivals: np.ndarray
    present_staff: np.ndarray

    def replication(self, i: int) -> Draws:
        return Draws(self.arrivals[i : i + 1], self.present_staff[i : i + 1])


@dataclass(frozen=True)
class DailyPaths:
    """Every replication's day-by-day record (minutes; ``reneged_cases`` in cases).

    backlog_minutes, demand_minutes, capacity_minutes, activity_minutes, reneged_cases :
        shape (R_n, n_reps, H) — end-of-day backlog; work falling due; minutes available;
        minutes worked; cases that gave up waiting for first contact at this resource
    backlog_minutes_by_priority : shape (R_n, P_n, n_reps, H)
    served_minutes_by_wait : shape (R_n, n_reps, H) — minutes of work that fell due in the
        horizon and were done ``w`` days after falling due (see *Waits* below)
    first_contacts_by_wait : shape (R_n, n_reps, H) — first contacts (cases) made ``w``
        days after falling due
    oldest_first_contact_referral : int, shape (R_n, n_reps, H) — referral day of the case
        that has waited longest among those still waiting for first contact here at the end of
        the day; -1 when none is
    waiting_minutes_by_age, first_contacts_waiting_by_age : shape (R_n, n_reps, H + 1) —
        minutes (cases) that fell due in the horizon and still wait at the end of its last
        day, by the age they have reached: ``H - a`` for work due on day ``a`` (censored
        waits: each will wait at least that long)

    contacts_waiting_by_working_age : shape (R_n, T_n, n_reps, H + 1) — pieces of work (one
        occurrence of a step: a contact or session) of cases referred in the horizon still
        waiting at the resource at the end of the last day, by case type and by the working
        days of the resource since it fell due (``w[H - 1] - w[a]`` for work due on day ``a``,
        ``w[t]`` the resource's working days in days 0..t), as the measures age a waiting
        list; existing cases' work (``due_ahead_minutes``, the opening backlog) has no case
        type and is not in it
    step_target_outcomes : shape (G, 3, n_reps) — for each step with a target
        (:attr:`DailySpec.target_steps`), occurrences falling due in the horizon that were
        done within it (met), done past it (late), and still waiting past it at the end of
        the last day; those still waiting within it (outcome unknown) and those given up are
        in none
    days_over_step_target : shape (G, n_reps) — working days of the step's resource that
        ended with an occurrence of the step waiting past its target

    The wait fields are ``None`` from :func:`.numpy.run` without ``waits=True``.

    **Waits.** A piece of work that falls due on day ``a`` and is done on day ``s`` waited
    ``s - a`` days: the number of nights it spent in the end-of-day backlog (0 = done the day it
    fell due). A piece done over several days counts each day's minutes at that day's wait. A
    *first contact* is a case type's first step (:meth:`DailySpec.first_step`) for a case
    referred in the horizon; its minutes are counted as cases (minutes / step minutes), so a
    first contact made half one day and half the next counts half at each wait. Work waiting
    before day 0 (the opening backlog) is not counted (its wait began before the horizon),
    nor are cases that gave up. Work still waiting at the end is not in ``..._by_wait`` (its
    wait is not over) but in ``..._by_age``, at the age it has reached: leaving it out would
    make a backlog that spirals look like short waits (only the quick work gets done).
    """

    backlog_minutes: np.ndarray
    backlog_minutes_by_priority: np.ndarray
    demand_minutes: np.ndarray
    capacity_minutes: np.ndarray
    activity_minutes: np.ndarray
    reneged_cases: np.ndarray
    served_minutes_by_wait: np.ndarray | None = None
    first_contacts_by_wait: np.ndarray | None = None
    oldest_first_contact_referral: np.ndarray | None = None
    waiting_minutes_by_age: np.ndarray | None = None
    first_contacts_waiting_by_age: np.ndarray | None = None
    contacts_waiting_by_working_age: np.ndarray | None = None
    step_target_outcomes: np.ndarray | None = None
    days_over_step_target: np.ndarray | None = None


@dataclass(frozen=True)
class DailyResult:
    """What the Monte Carlo found, per resource (arrays lead with the resource axis R_n).

    backlog_percentiles : (R_n, 5, H) — p5, p25, p50, p75, p95 of end-of-day backlog minutes
        (from the first ``fan_replications`` replications; see :func:`.numpy.run`)
    backlog_mean, backlog_mean_by_priority : (R_n, H), (R_n, P_n, H) — minutes
    p_backlog_over_threshold : (R_n, H) — NaN when no threshold was given
    final_backlog : (R_n, n_reps) — backlog minutes at the end of the last day
    activity_mean, capacity_mean, demand_mean : (R_n, H) — minutes per day
    days_over_threshold : (R_n, n_reps) — days each replication ended above the threshold
    reneged_cases : (R_n, n_reps) — cases that gave up waiting for first contact here
    mean_wait_days : (R_n,) — measured mean wait of a minute of work done in the horizon
        (``served_minutes_by_wait``'s mean); NaN unless run with ``waits=True``
    paths : :class:`DailyPaths` or None — with ``record="paths"``
    little_wait_days : (R_n,) — Little's law, ``L / λ``: mean end-of-day backlog minutes over
        mean minutes falling due a day (always computed; checks ``mean_wait_days``, which it
        equals when nothing waits at the start or the end of the horizon and nobody gives up)
    served_minutes_by_wait, first_contacts_by_wait : (R_n, H) — :class:`DailyPaths`'
        fields summed over replications (see *waits* there); ``None`` without ``waits=True``
    waiting_minutes_by_age, first_contacts_waiting_by_age : (R_n, H + 1) — the same for
        work still waiting at the end, by the age it has reached (censored waits)
    days_over_target : (R_n, n_reps) — working days of the resource (``minutes_per_staff >
        0``) that ended with a case still waiting here for first contact ``target_working_days``
        or more working days after its referral, so already past the target (a case referred
        on Monday and not contacted by the end of Wednesday is past a 2-working-day target);
        ``None`` without a target
    target_working_days : the first-contact target those were counted against, or ``None``
    case_types : the spec's case types (T_n), naming the axis below
    contacts_waiting_by_working_age : (R_n, T_n, H + 1) — :class:`DailyPaths`' field summed
        over replications: pieces of work (contacts, sessions) still waiting at the end by
        case type and age in working days (:meth:`waiting_list`)
    target_steps : the steps with a target, ``(case type, step number, resource, target
        working days)`` with names (the step number counts from 0), G of them
    step_target_outcomes : (G, 3) — occurrences met, late, and still waiting past the target
        at the end, summed over replications (see :class:`DailyPaths`; :meth:`step_targets`)
    days_over_step_target : (G, n_reps) — working days of the step's resource that ended
        with an occurrence of the step waiting past its target
    The last four are empty or ``None`` without ``waits=True``.
    """

    resources: tuple[str, ...]
    replications: int
    threshold_minutes: float | None
    backlog_percentiles: np.ndarray
    backlog_mean: np.ndarray
    backlog_mean_by_priority: np.ndarray
    p_backlog_over_threshold: np.ndarray
    final_backlog: np.ndarray
    activity_mean: np.ndarray
    capacity_mean: np.ndarray
    demand_mean: np.ndarray
    days_over_threshold: np.ndarray
    reneged_cases: np.ndarray
    mean_wait_days: np.ndarray
    paths: DailyPaths | None = field(default=None, repr=False)
    percentile_levels: tuple[int, ...] = PERCENTILES
    little_wait_days: np.ndarray | None = None
    served_minutes_by_wait: np.ndarray | None = field(default=None, repr=False)
    first_contacts_by_wait: np.ndarray | None = field(default=None, repr=False)
    days_over_target: np.ndarray | None = None
    target_working_days: float | None = None
    waiting_minutes_by_age: np.ndarray | None = field(default=None, repr=False)
    first_contacts_waiting_by_age: np.ndarray | None = field(default=None, repr=False)
    case_types: tuple[str, ...] = ()
    contacts_waiting_by_working_age: np.ndarray | None = field(default=None, repr=False)
    target_steps: tuple[tuple[str, int, str, float], ...] = ()
    step_target_outcomes: np.ndarray | None = field(default=None, repr=False)
    days_over_step_target: np.ndarray | None = field(default=None, repr=False)

    def waiting_list(self, resource: str | int, case_type: str | int) -> np.ndarray | None:
        """Pieces of work of ``case_type`` still waiting at ``resource`` at the end of the
        last day, by age in working days, shape (H + 1,), mean over replications (``None``
        without waits)."""
        if self.contacts_waiting_by_working_age is None:
            return None
        k = case_type if isinstance(case_type, int) else self.case_types.index(case_type)
        return self.contacts_waiting_by_working_age[self._index(resource), k] / self.replications

    def step_targets(self) -> list[dict]:
        """Each step target's outcome: ``case_type``, ``step`` (its number, from 0),
        ``resource``, ``target_working_days``, ``p_met`` = met / (met + late + still waiting
        past the target at the end), NaN with none of those (occurrences still waiting
        within the target are left out: their outcome is unknown), ``days_over_target``
        (mean over replications), and ``met``, ``late``, ``waiting_past_target`` (mean
        occurrences a replication)."""
        found = []
        for g, (case_type, number, resource, target) in enumerate(self.target_steps):
            met, late, waiting = (
                (np.nan,) * 3
                if self.step_target_outcomes is None
                else (float(v) for v in self.step_target_outcomes[g])
            )
            decided = met + late + waiting
            over = np.nan
            if self.days_over_step_target is not None:
                over = float(self.days_over_step_target[g].mean())
            n = self.replications
            found.append(
                {
                    "case_type": case_type,
                    "step": number,
                    "resource": resource,
                    "target_working_days": target,
                    "p_met": met / decided if decided > 0 else math.nan,
                    "days_over_target": over,
                    "met": met / n,
                    "late": late / n,
                    "waiting_past_target": waiting / n,
                }
            )
        return found

    def _index(self, resource: str | int) -> int:
        return resource if isinstance(resource, int) else self.resources.index(resource)

    def wait_days(
        self, resource: str | int, *, first_contact: bool = False, done_only: bool = False
    ) -> dict[str, float]:
        """Mean and 90th percentile of the wait in days (NaN when there is none).

        Over every minute of work that fell due at the resource in the horizon, or with
        ``first_contact`` over the first contacts there (cases): what was done, at the wait it
        had, and what still waits at the end, at the age it has reached (a censored wait, so
        the figures are lower bounds when much is left waiting); with ``done_only``, what was
        done alone. The percentile is the smallest whole number of days that at least 90%
        waited no longer than.
        """
        done = self.first_contacts_by_wait if first_contact else self.served_minutes_by_wait
        if done is None:
            return {"mean": math.nan, "p90": math.nan}
        i = self._index(resource)
        row = np.append(done[i], 0.0)  # ages run to H, waits to H - 1
        left = self.first_contacts_waiting_by_age if first_contact else self.waiting_minutes_by_age
        if not done_only and left is not None:
            row = row + left[i]
        return {"mean": histogram_mean(row), "p90": histogram_quantile(row, 0.9)}

    def summary(self, resource: str | int) -> dict[str, float]:
        """Headline numbers for one resource (minutes, probabilities, days, cases).

        ``mean_wait_days`` and ``p90_wait_days`` are over every minute of work that fell due
        there in the horizon: done, at its wait, or still waiting at the end, at the age it
        has reached (:meth:`wait_days`); ``..._done`` over the work done alone (short when a
        backlog spirals: only the quick work gets done). ``..._first_contact_...`` the same
        over first contacts (NaN where no case type's first step is at this resource, or
        without ``waits=True``); ``days_over_target`` is the mean over replications (NaN
        without a target or where no first contact is made here).
        """
        i = self._index(resource)
        final = self.final_backlog[i]
        over = np.nan
        if self.threshold_minutes is not None:
            over = float(np.mean(final > self.threshold_minutes))
        overall = self.wait_days(i)
        done = self.wait_days(i, done_only=True)
        contact = self.wait_days(i, first_contact=True)
        contact_done = self.wait_days(i, first_contact=True, done_only=True)
        little = np.nan if self.little_wait_days is None else float(self.little_wait_days[i])
        late = np.nan
        if self.days_over_target is not None and not math.isnan(contact["mean"]):
            late = float(self.days_over_target[i].mean())
        return {
            "final_backlog_mean": float(final.mean()),
            "final_backlog_p50": float(np.percentile(final, 50)),
            "final_backlog_p90": float(np.percentile(final, 90)),
            "p_final_backlog_over_threshold": over,
            "mean_wait_days": overall["mean"],
            "cases_reneged": float(self.reneged_cases[i].mean()),
            "little_wait_days": little,
            "p90_wait_days": overall["p90"],
            "mean_wait_days_done": done["mean"],
            "p90_wait_days_done": done["p90"],
            "mean_first_contact_wait_days": contact["mean"],
            "p90_first_contact_wait_days": contact["p90"],
            "mean_first_contact_wait_days_done": contact_done["mean"],
            "p90_first_contact_wait_days_done": contact_done["p90"],
            "days_over_target": late,
        }


def histogram_mean(counts: np.ndarray) -> float:
    """Mean of ``w`` weighted by ``counts[..., w]`` over the last axis (NaN when all zero)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (counts * np.arange(counts.shape[-1])).sum(axis=-1) / total
    return float(mean) if np.ndim(mean) == 0 else mean


def histogram_quantile(counts: np.ndarray, q: float) -> float:
    """Smallest ``w`` with ``sum(counts[:w + 1]) >= q × sum(counts)`` (NaN when all zero)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if not total > 0:
        return math.nan
    cumulative = np.cumsum(counts)
    return float(np.searchsorted(cumulative, q * total * (1 - 1e-12), side="left"))
