"""What the case-level pathway simulation needs to know, as plain arrays (minutes throughout).

A referral of case type ``t`` arrives at step 0 (triage; or at step ``entry_step[t]``) at
random, at the hour-of-week rate in ``arrival_rate_per_hour[t]``; it waits for one of the
people on duty at the step's resource, most urgent case type first (smaller ``case_priority``)
and first come first served within a priority, across every step that shares the resource; it
is served for a time drawn from ``service[step][t]``; then it goes to step ``j`` with
probability ``routing[step, j]`` or leaves (the rest of the row). While it waits for its first
contact (its first step with a resource) it may give up after a patience drawn from
``patience[t]``, as in the daily model.

A step whose resource is ``-1`` (:data:`NO_RESOURCE`) is a **delay**: the case spends the
step's time there (``service[step][t]``, e.g. a fixed number of days before the next
appointment falls due) occupying nobody and waiting for nobody, however many are there.

People on duty follow ``schedule``: for resource ``r``, ``schedule[r] = (times, servers)`` says
``servers[i]`` people are on duty from minute ``times[i]`` until ``times[i + 1]`` (the last
count holds to the end; ``times[0] == 0``). When the count falls, people who are serving finish
their case first (no pre-emption); when it rises, the newcomers take waiting cases at once.

The simulation starts empty, or with the cases already waiting (:class:`CarriedCases`: the
waiting list at minute 0, each case at its step since a minute at or before 0).

Built from a service folder by :mod:`flowcap.simulate.pathway.build`; run by
:func:`flowcap.simulate.pathway.simulate_pathway`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "fixed", "empirical")
HOURS_PER_WEEK = 168
#: ``step_resource`` of a delay step: a wait that occupies nobody (an infinite-server step).
NO_RESOURCE = -1


@dataclass(frozen=True)
class Duration:
    """A random duration in minutes: ``dist`` with ``mean`` and ``sd`` (``sd`` unused for
    exponential and fixed), or ``empirical``: drawn uniformly from ``values``."""

    dist: str
    mean: float = 0.0
    sd: float = 0.0
    values: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"dist must be one of {DISTRIBUTIONS}, not {self.dist!r}")
        if self.dist == "empirical":
            values = np.asarray(self.values, dtype=np.float64).ravel()
            if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError("an empirical duration needs finite values >= 0")
            object.__setattr__(self, "values", values)
            object.__setattr__(self, "mean", float(values.mean()))
            object.__setattr__(self, "sd", float(values.std()))
            return
        if not (self.mean > 0 and np.isfinite(self.mean)):
            raise ValueError(f"{self.dist}: mean must be > 0, not {self.mean}")
        if self.dist in ("lognormal", "gamma") and not (self.sd > 0 and np.isfinite(self.sd)):
            raise ValueError(f"{self.dist}: sd must be > 0, not {self.sd}")


@dataclass(frozen=True)
class PathwaySpec:
    """A pathway model (validated on construction). Shapes: ``S`` steps, ``R`` resources,
    ``T`` case types.

    Parameters
    ----------
    steps : tuple of str, length S — step 0 is where cases arrive
    step_resource : int array (S,) — index into ``resources``, or -1 (:data:`NO_RESOURCE`)
        for a delay: the case is held for the step's time and occupies nobody
    resources : tuple of str, length R
    case_types : tuple of str, length T
    case_priority : int array (T,) — smaller is served first
    arrival_rate_per_hour : float array (T, 168) — arrivals per hour in each hour of the week,
        index 0 = Monday 00:00–01:00
    start_hour_of_week : int — the hour of the week at simulated minute 0
    service : S-tuple of T-tuples of :class:`Duration` (minutes)
    routing : float array (S, S) — ``routing[i, j]`` = P(next step j | finished step i);
        rows add up to at most 1, the rest leave the pathway; or (T, S, S), one such matrix
        per case type
    schedule : R-tuple of ``(times, servers)`` arrays (minutes, people on duty)
    patience : T-tuple of :class:`Duration` (minutes) or None — giving up while waiting for
        the first step with a resource; None: nobody gives up
    entry_step : int array (T,) or None — the step where each case type arrives; None: 0
    """

    steps: tuple[str, ...]
    step_resource: np.ndarray
    resources: tuple[str, ...]
    case_types: tuple[str, ...]
    case_priority: np.ndarray
    arrival_rate_per_hour: np.ndarray
    service: tuple[tuple[Duration, ...], ...]
    routing: np.ndarray
    schedule: tuple[tuple[np.ndarray, np.ndarray], ...]
    start_hour_of_week: int = 0
    patience: tuple[Duration | None, ...] | None = None
    entry_step: np.ndarray | None = None

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        put("steps", tuple(str(s) for s in self.steps))
        put("resources", tuple(str(r) for r in self.resources))
        put("case_types", tuple(str(t) for t in self.case_types))
        n_s, n_r, n_t = len(self.steps), len(self.resources), len(self.case_types)
        if n_s == 0 or n_r == 0 or n_t == 0:
            raise ValueError("a pathway needs at least one step, resource and case type")
        step_resource = np.asarray(self.step_resource, dtype=np.int64)
        if (
            step_resource.shape != (n_s,)
            or np.any(step_resource < NO_RESOURCE)
            or np.any(step_resource >= n_r)
        ):
            raise ValueError(
                f"step_resource must be {n_s} indices into {n_r} resources (-1: a delay)"
            )
        put("step_resource", step_resource)
        priority = np.asarray(self.case_priority, dtype=np.int64)
        if priority.shape != (n_t,):
            raise ValueError(f"case_priority must have shape ({n_t},)")
        put("case_priority", priority)
        rates = np.asarray(self.arrival_rate_per_hour, dtype=np.float64)
        if rates.shape != (n_t, HOURS_PER_WEEK) or not np.all(np.isfinite(rates)):
            raise ValueError(f"arrival_rate_per_hour must be finite with shape ({n_t}, 168)")
        if np.any(rates < 0):
            raise ValueError("arrival rates must be >= 0")
        put("arrival_rate_per_hour", rates)
        if not 0 <= int(self.start_hour_of_week) < HOURS_PER_WEEK:
            raise ValueError("start_hour_of_week must be in 0..167")
        put("start_hour_of_week", int(self.start_hour_of_week))
        if len(self.service) != n_s or any(len(row) != n_t for row in self.service):
            raise ValueError(f"service must be {n_s} rows of {n_t} durations")
        if not all(isinstance(d, Duration) for row in self.service for d in row):
            raise ValueError("service entries must be Duration objects")
        put("service", tuple(tuple(row) for row in self.service))
        routing = np.asarray(self.routing, dtype=np.float64)
        if routing.shape not in ((n_s, n_s), (n_t, n_s, n_s)) or np.any(routing < 0):
            raise ValueError(
                f"routing must be non-negative with shape ({n_s}, {n_s}) or ({n_t}, {n_s}, {n_s})"
            )
        if np.any(routing.sum(axis=-1) > 1 + 1e-9):
            raise ValueError("a routing row adds up to more than 1")
        put("routing", routing)
        if len(self.schedule) != n_r:
            raise ValueError(f"schedule needs one (times, servers) pair per resource ({n_r})")
        schedule = []
        for name, (times, servers) in zip(self.resources, self.schedule, strict=True):
            times = np.asarray(times, dtype=np.float64).ravel()
            servers = np.asarray(servers, dtype=np.int64).ravel()
            if times.size == 0 or times.shape != servers.shape or times[0] != 0:
                raise ValueError(f"schedule for {name!r}: equal-length arrays starting at 0")
            if np.any(np.diff(times) <= 0) or np.any(servers < 0):
                raise ValueError(f"schedule for {name!r}: times must increase, servers >= 0")
            schedule.append((times, servers))
        put("schedule", tuple(schedule))
        patience = self.patience if self.patience is not None else (None,) * n_t
        if len(patience) != n_t:
            raise ValueError(f"patience needs one entry per case type ({n_t})")
        if not all(d is None or isinstance(d, Duration) for d in patience):
            raise ValueError("patience entries must be Duration objects or None")
        put("patience", tuple(patience))
        entry = np.zeros(n_t, np.int64) if self.entry_step is None else self.entry_step
        entry = np.asarray(entry, dtype=np.int64)
        if entry.shape != (n_t,) or np.any(entry < 0) or np.any(entry >= n_s):
            raise ValueError(f"entry_step must be {n_t} indices into {n_s} steps")
        put("entry_step", entry)

    @property
    def is_delay(self) -> np.ndarray:
        """(S,) bool: the steps that are delays (no resource)."""
        return self.step_resource == NO_RESOURCE

    @property
    def routing_by_case_type(self) -> np.ndarray:
        """Routing as one (S, S) matrix per case type: shape (T, S, S)."""
        n_t, n_s = len(self.case_types), len(self.steps)
        return np.broadcast_to(self.routing, (n_t, n_s, n_s))

    @classmethod
    def network(
        cls,
        arrivals_per_hour: float,
        servers: list[int],
        mean_service_minutes: list[float],
        routing: np.ndarray | None = None,
        dist: str = "exponential",
    ) -> PathwaySpec:
        """A Jackson-style network: one case type, Poisson arrivals at step 0, one resource per
        step with a fixed number of people on duty around the clock (M/M/c when one step)."""
        n = len(servers)
        return cls(
            steps=tuple(f"step{i}" for i in range(n)),
            step_resource=np.arange(n),
            resources=tuple(f"resource{i}" for i in range(n)),
            case_types=("case",),
            case_priority=np.array([1]),
            arrival_rate_per_hour=np.full((1, HOURS_PER_WEEK), float(arrivals_per_hour)),
            service=tuple((Duration(dist, float(m)),) for m in mean_service_minutes),
            routing=np.zeros((n, n)) if routing is None else routing,
            schedule=tuple((np.array([0.0]), np.array([c])) for c in servers),
        )


@dataclass(frozen=True)
class CarriedCases:
    """Cases already waiting when the simulation starts (the waiting list at minute 0), ``N``
    of them; validated against a spec by :meth:`check`.

    Each joins the queue of ``step[i]`` at minute 0, oldest first (in the order given on a
    tie), as if it had joined at minute ``waiting_since_minutes[i]`` (<= 0): first come first
    served counts from then,
    and so does its wait, which is counted whatever the window (its time before minute 0
    included). Then it goes on as the routing says, or leaves when ``leaves[i]`` (a case
    waiting at several steps at once, as the daily measures allow, is carried in at each and
    goes on from one of them only). A case at its first contact may still give up: its
    patience is drawn given that it exceeds the wait so far. Carried cases are not
    arrivals: times end to end leave them out.

    Parameters
    ----------
    case_type : int array (N,) — index into the spec's case types
    step : int array (N,) — index into its steps; a step with a resource
    waiting_since_minutes : float array (N,) — when each began waiting, minutes <= 0
    leaves : bool array (N,) or None — leave after this step's service; None: none do
    """

    case_type: np.ndarray
    step: np.ndarray
    waiting_since_minutes: np.ndarray
    leaves: np.ndarray | None = None

    def __post_init__(self) -> None:
        case_type = np.asarray(self.case_type, dtype=np.int64).ravel()
        step = np.asarray(self.step, dtype=np.int64).ravel()
        since = np.asarray(self.waiting_since_minutes, dtype=np.float64).ravel()
        n = case_type.size
        leaves = np.zeros(n, bool) if self.leaves is None else np.asarray(self.leaves, bool)
        if step.shape != (n,) or since.shape != (n,) or leaves.shape != (n,):
            raise ValueError("carried cases: case_type, step, waiting_since_minutes and leaves "
                             "must have one length")  # fmt: skip
        if not np.all(np.isfinite(since)) or np.any(since > 0):
            raise ValueError("carried cases: waiting_since_minutes must be finite and <= 0")
        object.__setattr__(self, "case_type", case_type)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "waiting_since_minutes", since)
        object.__setattr__(self, "leaves", leaves.ravel())

    def __len__(self) -> int:
        return int(self.case_type.size)

    @classmethod
    def none(cls) -> CarriedCases:
        """No case waiting: the simulation starts empty."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def check(self, spec: PathwaySpec) -> None:
        """Raise ValueError unless every case type and step is one of ``spec``'s, and every
        step has a resource (a delay has no queue to wait in)."""
        if np.any((self.case_type < 0) | (self.case_type >= len(spec.case_types))):
            raise ValueError("carried cases: case_type must index the spec's case types")
        if np.any((self.step < 0) | (self.step >= len(spec.steps))):
            raise ValueError("carried cases: step must index the spec's steps")
        if np.any(spec.is_delay[self.step]):
            raise ValueError("carried cases: a delay step has no queue to wait in")


def first_contact_steps(spec: PathwaySpec) -> np.ndarray:
    """(T, S) bool: the steps with a resource where each case type may make its first
    contact (the engine's patience applies there): its entry step, or those reached from it
    through delays only."""
    n_t, n_s = len(spec.case_types), len(spec.steps)
    found = np.zeros((n_t, n_s), bool)
    routing = spec.routing_by_case_type
    for t in range(n_t):
        seen, todo = set(), [int(spec.entry_step[t])]
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            if spec.is_delay[s]:
                todo.extend(int(j) for j in np.flatnonzero(routing[t, s] > 0))
            else:
                found[t, s] = True
    return found
