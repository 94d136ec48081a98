"""Waiting-list formulas from queueing theory: the quick check a manager can follow.

An IDVA service takes 30 referrals a week and its advocates can start 27 cases a week: the
waiting list grows without limit (load 1.11), and to keep 98% of victims waiting under 4 weeks
the list should hold about 30 × 4 / 4 = 30 cases. These functions give those numbers — load,
target mean wait, target list size, the capacity that holds the list steady at its target, the
capacity that brings an over-long list back down, and the pressure on the list — beside the
Monte Carlo simulation, which stays the reference.

Units: any consistent unit of time. Demand and capacity per week go with waits in weeks
(``target_wait=4`` means 4 weeks); per day with days. Demand and capacity are counts of cases
(or minutes of work) per unit of time; list sizes are counts of cases (or minutes).

Every function is vectorised with NumPy broadcasting: scalars in give a ``float`` out, arrays
(or lists) in give an ``ndarray`` out. Impossible inputs (a non-positive capacity, target wait,
factor or time to target; a share outside (0, 1)) raise :class:`ValueError`; NaN passes through.

Sources
-------
Fong K, Mushtaq S, House T, et al. "Understanding Waiting Lists Pressures", medRxiv 2022,
doi:10.1101/2022.08.23.22279117; as coded in the NHS-R Community package NHSRwaitinglist
(``nhs-r-community/NHSRwaitinglist@0d85b69``, ``R/calc_*.R``, MIT licence), whose test vectors
the tests reproduce. :func:`target_capacity` is Kingman's heavy-traffic approximation for the
G/G/1 queue (Kingman 1961, Proc. Camb. Phil. Soc. 57(4):902–904). The exponential-waits link
between the divisor and the share seen within target is in ``methods.md`` §1.4.

Caveats (differences from NHSRwaitinglist, on purpose):

- ``calc_relief_capacity`` in the R package inflates demand by ``1 / (1 - 2·demand·cv/√n)``
  when given ``num_referrals`` and ``cv_demand``; that step is undocumented and ad hoc, and is
  **not** copied here — :func:`relief_capacity` is demand plus the excess list over the time.
- ``wl_stats`` in the R package measures the mean wait in days but compares it with a target in
  weeks; here :func:`pressure` needs both in the same unit, and the caller owns that.
- The package's walkthrough passes the paper's variability ``F`` (1, 6.58) into ``factor``, the
  target divisor; here ``factor`` is only the divisor (target wait / target mean wait).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from flowcap._json import json_number

if TYPE_CHECKING:
    from flowcap.simulate.daily import DailyResult, DailySpec

__all__ = [
    "waiting_list_check",
    "clearance_capacity",
    "factor_for_share_within_target",
    "pressure",
    "queue_load",
    "relief_capacity",
    "target_capacity",
    "target_mean_wait",
    "target_queue_size",
    "target_queue_size_for_share",
]


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _out(x: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, anything else as an array."""
    return float(x) if np.ndim(x) == 0 else x


def _positive(name: str, x: ArrayLike) -> np.ndarray:
    """``x`` as floats, refusing any value ≤ 0 (NaN passes)."""
    arr = _as_float(x)
    bad = arr <= 0
    if np.any(bad):
        raise ValueError(f"{name} must be greater than 0, got {arr[bad].flat[0]:g}")
    return arr


def _non_negative(name: str, x: ArrayLike) -> np.ndarray:
    """``x`` as floats, refusing any value < 0 (NaN passes)."""
    arr = _as_float(x)
    bad = arr < 0
    if np.any(bad):
        raise ValueError(f"{name} must be 0 or more, got {arr[bad].flat[0]:g}")
    return arr


def _share(name: str, x: ArrayLike) -> np.ndarray:
    """``x`` as floats, refusing any value outside the open interval (0, 1) (NaN passes)."""
    arr = _as_float(x)
    bad = (arr <= 0) | (arr >= 1)
    if np.any(bad):
        raise ValueError(
            f"{name} must be a share strictly between 0 and 1, got {arr[bad].flat[0]:g}"
        )
    return arr


def queue_load(demand: ArrayLike, capacity: ArrayLike) -> float | np.ndarray:
    """Load on the waiting list: demand over capacity.

    ``load = demand / capacity``. At 1 or more the list grows without limit; below 1 it is
    the share of time the list is not empty (Fong et al. 2022, facts 1–2).

    Parameters
    ----------
    demand : float or array_like
        Referrals added to the list per unit of time (e.g. per week).
    capacity : float or array_like
        Cases taken off the list per unit of time, same unit; must be > 0.

    Returns
    -------
    float or ndarray
        Load, dimensionless; broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If any capacity is ≤ 0.

    Notes
    -----
    NHSRwaitinglist ``calc_queue_load``. ``queue_load(30, 27)`` → 1.1111.
    """
    d = _as_float(demand)
    c = _positive("capacity", capacity)
    return _out(d / c)


def target_mean_wait(target_wait: ArrayLike, factor: ArrayLike = 4) -> float | np.ndarray:
    """Mean wait to aim for so that few cases wait past the target.

    ``target mean wait = target_wait / factor``. With exponential waits, ``factor`` 4 keeps
    98.2% within target and 6 keeps 99.75% (:func:`factor_for_share_within_target`).

    Parameters
    ----------
    target_wait : float or array_like
        The waiting-time target (e.g. weeks); must be > 0.
    factor : float or array_like, default 4
        Divisor, dimensionless; must be > 0.

    Returns
    -------
    float or ndarray
        Target mean wait, in the unit of ``target_wait``.

    Raises
    ------
    ValueError
        If any ``target_wait`` or ``factor`` is ≤ 0.

    Notes
    -----
    NHSRwaitinglist ``calc_target_mean_wait``. ``target_mean_wait(52)`` → 13 weeks.
    """
    t = _positive("target_wait", target_wait)
    f = _positive("factor", factor)
    return _out(t / f)


def target_queue_size(
    demand: ArrayLike, target_wait: ArrayLike, factor: ArrayLike = 4
) -> float | np.ndarray:
    """Waiting-list size that goes with the target mean wait (Little's law).

    ``target list = demand × target_wait / factor``.

    Parameters
    ----------
    demand : float or array_like
        Referrals per unit of time (e.g. per week).
    target_wait : float or array_like
        The waiting-time target, same unit of time; must be > 0.
    factor : float or array_like, default 4
        Divisor from target wait to target mean wait; must be > 0.

    Returns
    -------
    float or ndarray
        Target list size, in cases (or in demand's unit × time).

    Raises
    ------
    ValueError
        If any ``target_wait`` or ``factor`` is ≤ 0.

    Notes
    -----
    NHSRwaitinglist ``calc_target_queue_size``. ``target_queue_size(30, 52)`` → 390 cases.
    """
    d = _as_float(demand)
    return _out(d * _positive("target_wait", target_wait) / _positive("factor", factor))


def factor_for_share_within_target(p: ArrayLike) -> float | np.ndarray:
    """Divisor ``factor`` that keeps a share ``p`` of cases within target, for exponential waits.

    If waits are exponential with mean ``W``, ``P(wait ≤ T) = 1 − exp(−T/W)``; setting that to
    ``p`` gives ``T / W = −ln(1 − p)``.

    Parameters
    ----------
    p : float or array_like
        Share of cases to be seen within the target, strictly between 0 and 1.

    Returns
    -------
    float or ndarray
        The factor, dimensionless: 0.92 → 2.5257, 0.95 → 2.9957; ``1 − e⁻⁴`` (98.17%) → 4.

    Raises
    ------
    ValueError
        If any ``p`` is ≤ 0 or ≥ 1.

    Notes
    -----
    ``methods.md`` §1.4; NHSRwaitinglist ``R/rtt_improvement.R`` (``lambda = -log(1-p)/18``).
    """
    q = _share("p", p)
    return _out(-np.log1p(-q))


def target_queue_size_for_share(
    demand: ArrayLike, target_wait: ArrayLike, p: ArrayLike
) -> float | np.ndarray:
    """Waiting-list size at which a share ``p`` of cases is seen within the target.

    ``target list = demand × target_wait / (−ln(1 − p))``: :func:`target_queue_size` with the
    factor from :func:`factor_for_share_within_target`.

    Parameters
    ----------
    demand : float or array_like
        Referrals per unit of time (e.g. per week).
    target_wait : float or array_like
        The waiting-time target, same unit of time; must be > 0.
    p : float or array_like
        Share to be seen within target, strictly between 0 and 1.

    Returns
    -------
    float or ndarray
        Target list size, in cases. 100 referrals a week, 18 weeks, 92% → 712.67.

    Raises
    ------
    ValueError
        If any ``target_wait`` is ≤ 0 or ``p`` is outside (0, 1).

    Notes
    -----
    ``methods.md`` §1.4 (NHSRwaitinglist ``plot_rtt_journey``: ``population = rate / lambda``).
    """
    d = _as_float(demand)
    t = _positive("target_wait", target_wait)
    return _out(d * t / _as_float(factor_for_share_within_target(p)))


def _excess_over_time(
    demand: ArrayLike,
    queue_size: ArrayLike,
    target_queue_size: ArrayLike,
    time: ArrayLike,
    time_name: str,
) -> float | np.ndarray:
    d = _as_float(demand)
    excess = _as_float(queue_size) - _as_float(target_queue_size)
    return _out(d + excess / _positive(time_name, time))


def relief_capacity(
    demand: ArrayLike,
    queue_size: ArrayLike,
    target_queue_size: ArrayLike,
    time_to_target: ArrayLike = 26,
) -> float | np.ndarray:
    """Capacity that brings the list down to its target size in a given time.

    ``relief capacity = demand + (queue_size − target_queue_size) / time_to_target``: keep up
    with new referrals and clear the excess evenly. Fong et al. suggest it once the list is
    more than twice its target size; otherwise see :func:`target_capacity`.

    Parameters
    ----------
    demand : float or array_like
        Referrals per unit of time (e.g. per week).
    queue_size : float or array_like
        Cases on the list now.
    target_queue_size : float or array_like
        Cases on the list to reach (e.g. from :func:`target_queue_size`).
    time_to_target : float or array_like, default 26
        Time to get there, in demand's unit of time (26 weeks); must be > 0.

    Returns
    -------
    float or ndarray
        Capacity, cases per unit of time. Below demand when the list is under target.

    Raises
    ------
    ValueError
        If any ``time_to_target`` is ≤ 0.

    Notes
    -----
    NHSRwaitinglist ``calc_relief_capacity`` without its undocumented demand inflation
    (``num_referrals``, ``cv_demand``; see the module notes). ``relief_capacity(30, 1200, 390)``
    → 61.15 cases a week.
    """
    return _excess_over_time(
        demand, queue_size, target_queue_size, time_to_target, "time_to_target"
    )


def clearance_capacity(
    demand_mean: ArrayLike, backlog: ArrayLike, target_backlog: ArrayLike, days: ArrayLike
) -> float | np.ndarray:
    """Daily capacity that clears a backlog down to a target in ``days`` days.

    ``C = D̄ + (B0 − B*) / T`` (``methods.md`` §4.1): :func:`relief_capacity` in the daily
    minutes of the backlog model.

    Parameters
    ----------
    demand_mean : float or array_like
        Mean demand, minutes of work per day.
    backlog : float or array_like
        Backlog now (B0), minutes.
    target_backlog : float or array_like
        Backlog to reach (B*), minutes.
    days : float or array_like
        Days to get there (T); must be > 0.

    Returns
    -------
    float or ndarray
        Capacity, minutes per day.

    Raises
    ------
    ValueError
        If any ``days`` is ≤ 0.
    """
    return _excess_over_time(demand_mean, backlog, target_backlog, days, "days")


def target_capacity(
    demand: ArrayLike,
    target_wait: ArrayLike,
    factor: ArrayLike = 4,
    cv_demand: ArrayLike = 1,
    cv_capacity: ArrayLike = 1,
) -> float | np.ndarray:
    """Capacity that holds the mean wait at its target, allowing for variability.

    ``target capacity = demand + (cv_demand² + cv_capacity²) / 2 × factor / target_wait``,
    i.e. ``demand + (c_a² + c_s²) / (2 W)`` with ``W = target_wait / factor`` the target mean
    wait: Kingman's heavy-traffic approximation for the G/G/1 queue solved for the service rate.
    With Poisson referrals and exponential removals both CVs are 1.

    Parameters
    ----------
    demand : float or array_like
        Referrals per unit of time (e.g. per week).
    target_wait : float or array_like
        The waiting-time target, same unit of time; must be > 0.
    factor : float or array_like, default 4
        Divisor from target wait to target mean wait; must be > 0.
    cv_demand : float or array_like, default 1
        Coefficient of variation of the times between referrals; must be ≥ 0.
    cv_capacity : float or array_like, default 1
        Coefficient of variation of the times between removals; must be ≥ 0.

    Returns
    -------
    float or ndarray
        Capacity, cases per unit of time.

    Raises
    ------
    ValueError
        If any ``target_wait`` or ``factor`` is ≤ 0, or a CV is < 0.

    Notes
    -----
    NHSRwaitinglist ``calc_target_capacity`` (its roxygen omits the ``/ 2`` its code has; the
    code is followed). Kingman JFC (1961), "The single server queue in heavy traffic".
    ``target_capacity(30, 52)`` → 30.077 cases a week.
    """
    d = _as_float(demand)
    t = _positive("target_wait", target_wait)
    f = _positive("factor", factor)
    ca = _non_negative("cv_demand", cv_demand)
    cs = _non_negative("cv_capacity", cv_capacity)
    return _out(d + (ca**2 + cs**2) / 2 * f / t)


def pressure(mean_wait: ArrayLike, target_wait: ArrayLike) -> float | np.ndarray:
    """Pressure on the waiting list: twice the mean wait over the target.

    ``pressure = 2 × mean_wait / target_wait``; below 1 the list is on course for its target
    (Fong et al. 2022, fact 9).

    Parameters
    ----------
    mean_wait : float or array_like
        Mean wait of the cases on the list, in the unit of ``target_wait``.
    target_wait : float or array_like
        The waiting-time target; must be > 0.

    Returns
    -------
    float or ndarray
        Pressure, dimensionless.

    Raises
    ------
    ValueError
        If any ``target_wait`` is ≤ 0.

    Notes
    -----
    NHSRwaitinglist ``calc_waiting_list_pressure``. ``pressure(63, 52)`` → 2.42. Both waits must
    be in one unit (the package's ``wl_stats`` mixes days and weeks; not copied).
    """
    w = _as_float(mean_wait)
    return _out(2 * w / _positive("target_wait", target_wait))


def waiting_list_check(
    spec: DailySpec,
    result: DailyResult,
    target_working_days: int | None,
    working_days: tuple[str, ...],
) -> dict:
    """The waiting-list formulas beside the simulation, per resource, in minutes of work
    (the simulation is the reference; these are the quick check a manager can follow).

    ``queue_load`` = mean work falling due a day / mean capacity a day over the horizon
    (above 1 the list grows); ``target_queue_size_minutes`` = demand a calendar day × target
    wait / 4, the list that keeps most first contacts within the target (target wait: the
    service's first-contact target in working days, as calendar days);
    ``queue_size_minutes`` the backlog at the start; ``relief_capacity_minutes_per_working_day``
    the capacity a working day of the resource (a day its people give minutes,
    ``minutes_per_staff > 0``) that brings the list to its target size by the horizon: the
    work falling due over the horizon plus the excess list, over its working days (``None``
    with none); ``pressure`` = 2 × the simulated mean wait for first contact / target wait
    (below 1: on course). Fong et al. 2022, :mod:`flowcap.plan.waitinglist`.

    Capacity is per working day, as everywhere else in flowcap (rosters, ``flowcap plan``,
    ``measures``): referrals arrive on every calendar day, but only working days clear them,
    so a capacity a calendar day would understate what a team must give by about 7/5."""
    target_days = None
    if target_working_days:
        target_days = target_working_days * 7 / max(len(working_days), 1)
    opening = spec.opening_backlog_minutes
    document = {}
    for r, resource in enumerate(spec.resources):
        demand = float(result.demand_mean[r].mean())
        capacity = float(result.capacity_mean[r].mean())
        queue = 0.0 if opening is None else float(np.asarray(opening)[r].sum())
        working_days_ahead = int(np.count_nonzero(spec.minutes_per_staff[r] > 0))
        entry = {
            "queue_load": json_number(queue_load(demand, capacity)) if capacity > 0 else None,
            "queue_size_minutes": json_number(queue),
            "target_queue_size_minutes": None,
            "relief_capacity_minutes_per_working_day": None,
            "pressure": None,
        }
        if target_days:
            target_size = float(target_queue_size(demand, target_days))
            entry["target_queue_size_minutes"] = json_number(target_size)
            if working_days_ahead:
                # All the work falling due over the horizon (weekends' too) must be done on
                # the working days, so demand is spread over those, as is the excess list.
                demand_per_working_day = float(result.demand_mean[r].sum()) / working_days_ahead
                entry["relief_capacity_minutes_per_working_day"] = json_number(
                    relief_capacity(
                        demand_per_working_day,
                        queue,
                        target_size,
                        time_to_target=working_days_ahead,
                    )
                )
            wait = result.summary(resource).get("mean_first_contact_wait_days")
            if wait is not None and math.isfinite(wait):
                entry["pressure"] = json_number(pressure(wait, target_days))
        document[resource] = entry
    return document
