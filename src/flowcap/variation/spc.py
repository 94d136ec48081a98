"""Was today's IDVA demand a signal, or an ordinary day? XmR charts answer the NHS way.

An XmR chart (individuals and moving range) draws the mean of a daily series and *process
limits* at mean ± 2.66 × the average moving range. A point or pattern the ordinary day-to-day
variation cannot explain is a *special cause*. Four rules find them, as NHS England's Making
Data Count (MDC) programme defines them (research/methods.md §3):

- ``outside_limits``: a point above the upper or below the lower process limit;
- ``shift``: ``shift_run`` (6) or more points in a row all above or all below the mean. A point
  exactly on the mean breaks the run; every point of a long enough run is flagged;
- ``trend``: ``trend_run`` (6) or more points in a row each higher (or each lower) than the one
  before, endpoints included (6 points = 5 rises). Equal values break the run; every point of
  the run is flagged;
- ``two_of_three``: in some 3 consecutive points, 2 or more are beyond the same 2-sigma line
  and all 3 are on that side of the mean. Only the points beyond the 2-sigma line are flagged.

Limits (Wheeler; MDC; NHSRplotthedots): mean x̄ and moving ranges MR_i = |x_i − x_{i−1}| of
the points of one segment, MR̄ their mean; limits x̄ ± 2.66·MR̄; 2-sigma lines x̄ ± (2/3)·2.66·MR̄.
With outlier screening (NHSRplotthedots' default) MR̄ is recomputed from the moving ranges
below 3.267·MR̄; the mean is not changed.

A measure that cannot go below zero (minutes of demand, activity or backlog; cases;
referrals) gets ``floor=0``: its lower process limit and lower 2-sigma line are shown no lower
than 0, as Making Data Count does for counts and times (a limit of −40 minutes tells a manager
nothing, and no day can fall below it). Only what is shown changes: the rules are judged on
the limits as computed (x̄ ± 2.66·MR̄, the 2-of-3 rule on its 2-sigma distance from the mean),
so no point is flagged, or left unflagged, because of the floor. For a measure that never goes
below the floor this is the same thing: no point can be below a limit under zero, and the
2-of-3 rule's distance from the mean is unchanged. The limit as computed stays in the points'
``unfloored_lower_limit`` (the assurance icon reads it, so a target is judged against the
process as it is).

Defaults follow the MDC SQL v2.6 (Jan 2024): runs of 6, no screening, 13 points before limits
are drawn, points beyond the limits count towards 2-of-3. A *step change* (``recalculate_from``)
starts a new segment with its own limits; a moving range never spans a segment boundary.
As in SQL v2.6 only trends cross a recalculation (a trend is about the values, not the limits);
shift and 2-of-3 runs start afresh in each segment. ``runs_cross_recalculations=True`` lets
them cross too, each point judged against its own segment's lines (the MDC Single Chart Tool).
No run ever includes a point of a segment with too few points for limits: such a segment is a
run chart, with a mean but no limits and no flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from flowcap.checks import check_day, check_run_length

#: 3 / d2 for moving ranges of two points (d2 = 1.128).
LIMIT_FACTOR = 2.66
#: Upper limit of the moving range chart, as a multiple of MR̄ (D4 for n = 2).
MR_SCREEN_FACTOR = 3.267
#: Rules in order of precedence for a point's single ``direction`` (NHSRplotthedots' order).
RULES = ("outside_limits", "trend", "two_of_three", "shift")
#: What one point of a chart is: a working day, or an ISO week (Monday to Sunday).
PERIODS = ("day", "week")


@dataclass(frozen=True)
class SPCSettings:
    """How the XmR chart is drawn and read; defaults are MDC SQL v2.6's.

    Attributes
    ----------
    shift_run : int
        Points in a row on one side of the mean that make a shift (NHSRplotthedots: 7).
    trend_run : int
        Points in a row, endpoints included, all rising or all falling that make a trend.
    min_points : int
        Fewer points in a segment draw no limits and flag nothing (a run chart).
    screen_outliers : bool
        Drop moving ranges of 3.267·MR̄ or more and recompute MR̄ (NHSRplotthedots' default).
    beyond_limits_count_in_two_of_three : bool
        Whether points beyond the process limits count as beyond 2 sigma (SQL v2.6: yes;
        Single Chart Tool and NHSRplotthedots: no).
    recalculate_from : tuple of date
        Step changes: a new segment, with its own limits, starts on the first point on or
        after each date. Dates at or before the first point, or after the last, do nothing.
    runs_cross_recalculations : bool
        Let shift and 2-of-3 runs cross a recalculation (Single Chart Tool); trends always do.
    """

    shift_run: int = 6
    trend_run: int = 6
    min_points: int = 13
    screen_outliers: bool = False
    beyond_limits_count_in_two_of_three: bool = True
    recalculate_from: tuple[date, ...] = field(default=())
    runs_cross_recalculations: bool = False

    def __post_init__(self) -> None:
        for name in ("shift_run", "trend_run", "min_points"):
            check_run_length(getattr(self, name), name)
        days = []
        for day in self.recalculate_from:
            day = day.date() if isinstance(day, datetime) else day
            check_day(day, "recalculate_from")
            days.append(day)
        object.__setattr__(self, "recalculate_from", tuple(sorted(set(days))))


@dataclass(frozen=True)
class Segment:
    """One recalculation period: its first and last point and its lines (NaN limits if none)."""

    start: date
    end: date
    mean: float
    lower_limit: float  # no lower than ``floor`` when xmr was given one
    upper_limit: float
    n_points: int
    has_limits: bool


@dataclass(frozen=True)
class Alert:
    """One special cause: a flagged point, the rule that flagged it, and a sentence saying so."""

    date: date
    rule: str  # "outside_limits" | "shift" | "trend" | "two_of_three"
    direction: str  # "high" | "low"
    message: str


@dataclass
class SPCResult:
    """The result of :func:`xmr`.

    Attributes
    ----------
    segments : list of Segment
        One per recalculation period, in date order.
    points : DataFrame
        One row per point: ``date`` (datetime64), ``value``, ``mean``, ``lower_limit``,
        ``upper_limit``, ``lower_2sigma``, ``upper_2sigma`` (NaN where the segment has no
        limits; the lower two no lower than ``floor``), the rule flags ``outside_limits``,
        ``shift``, ``trend``, ``two_of_three`` and ``special_cause`` (bool), ``direction``
        ("high", "low" or "" for common cause; where rules disagree the first of :data:`RULES`
        decides), and ``unfloored_lower_limit`` (x̄ − 2.66·MR̄ as computed: ``lower_limit``
        without a floor).
    alerts : list of Alert
        One per flagged point per rule, by date, then in the order of the rules above.
    """

    segments: list[Segment]
    points: pd.DataFrame
    alerts: list[Alert]


def _run_bounds(new_run: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First index and length of the run holding each element; ``new_run[i]`` starts a run."""
    n = len(new_run)
    if n == 0:
        return np.zeros(0, int), np.zeros(0, int)
    new_run = new_run.copy()
    new_run[0] = True
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, n))
    run = np.cumsum(new_run) - 1
    return starts[run], lengths[run]


def _shift_runs(values, mean, run: int, breaks=None):
    """Shift direction (+1 above, −1 below, 0 none), run start and run length for each point."""
    side = np.sign(np.asarray(values, float) - mean).astype(np.int8)
    new_run = np.ones(len(side), bool)
    new_run[1:] = side[1:] != side[:-1]
    if breaks is not None:
        new_run |= breaks
    start, length = _run_bounds(new_run)
    direction = np.where((side != 0) & (length >= run), side, 0).astype(np.int8)
    return direction, start, length


def _shift_flags(values, mean, run: int, breaks=None) -> np.ndarray:
    """+1/−1 for points in a run of ``run`` or more strictly above/below ``mean``, else 0."""
    return _shift_runs(values, mean, run, breaks)[0]


def _trend_runs(values, run: int, breaks=None):
    """Trend direction (+1 rising, −1 falling, 0 none), run start and length for each point.

    A point at the join of a rising and a falling run takes the run it ends (the earlier one).
    """
    y = np.asarray(values, float)
    n = len(y)
    direction, start, length = np.zeros(n, np.int8), np.zeros(n, int), np.zeros(n, int)
    if n < 2:
        return direction, start, length
    step = np.sign(np.diff(y)).astype(np.int8)  # step i goes from point i to point i + 1
    if breaks is not None:
        step[breaks[1:]] = 0
    new_run = np.ones(n - 1, bool)
    new_run[1:] = step[1:] != step[:-1]
    step_start, steps = _run_bounds(new_run)
    qualifying = np.flatnonzero((step != 0) & (steps + 1 >= run))
    for points in (qualifying, qualifying + 1):  # as first point of a step, then as last
        direction[points] = step[qualifying]
        start[points] = step_start[qualifying]
        length[points] = steps[qualifying] + 1
    return direction, start, length


def _trend_flags(values, run: int, breaks=None) -> np.ndarray:
    """+1/−1 for points in a run of ``run`` or more strictly rising/falling points, else 0."""
    return _trend_runs(values, run, breaks)[0]


def _two_of_three_runs(values, mean, limit_width, beyond_limits_count=True, breaks=None):
    """2-of-3 direction (+1/−1/0) and how many of the 3 points were beyond 2 sigma (2 or 3).

    ``limit_width`` is 2.66·MR̄: the limits are ``mean ± limit_width`` and the 2-sigma lines
    ``mean ± 2/3·limit_width``. ``breaks[i]`` true: no window may hold points i − 1 and i.
    """
    y, mean, width = np.broadcast_arrays(np.asarray(values, float), mean, limit_width)
    n = len(y)
    direction, count = np.zeros(n, np.int8), np.zeros(n, int)
    if n < 3:
        return direction, count
    windows = [slice(k, n - 2 + k) for k in range(3)]  # window j holds points j, j + 1, j + 2
    crosses = np.zeros(n - 2, bool) if breaks is None else breaks[1:-1] | breaks[2:]
    for sign in (1, -1):
        distance = sign * (y - mean)  # positive on this side of the mean
        beyond = distance > 2 * width / 3
        if not beyond_limits_count:
            beyond &= distance <= width
        n_beyond = sum(beyond[w].astype(int) for w in windows)
        ok = (n_beyond >= 2) & ~crosses
        for w in windows:
            ok &= distance[w] > 0
        for w in windows:
            hit = ok & beyond[w]
            direction[w][hit] = sign
            count[w] = np.maximum(count[w], np.where(hit, n_beyond, 0))
    return direction, count


def _two_of_three_flags(values, mean, limit_width, beyond_limits_count=True, breaks=None):
    """+1/−1 for points beyond a 2-sigma line in a qualifying window of 3, else 0."""
    return _two_of_three_runs(values, mean, limit_width, beyond_limits_count, breaks)[0]


def _limits(values: np.ndarray, screen_outliers: bool) -> tuple[float, float]:
    """Mean and average moving range (NaN for a single point) of one segment's values."""
    mean = float(values.mean()) if values.size else float("nan")
    moving_ranges = np.abs(np.diff(values))
    if moving_ranges.size == 0:
        return mean, float("nan")
    mr_bar = float(moving_ranges.mean())
    if screen_outliers and mr_bar > 0:
        mr_bar = float(moving_ranges[moving_ranges < MR_SCREEN_FACTOR * mr_bar].mean())
    return mean, mr_bar


def xmr(
    dates: Sequence,
    values: Sequence[float] | np.ndarray,
    settings: SPCSettings = SPCSettings(),
    label: str = "value",
    unit: str = "",
    period: str = "day",
    floor: float | None = None,
) -> SPCResult:
    """Draw an XmR chart of a daily series and list its special causes as alerts.

    Parameters
    ----------
    dates : sequence of date-like, shape (n,)
        Observation dates, strictly increasing. Consecutive entries are consecutive points:
        the caller leaves out days that are not observed (e.g. non-working days).
    values : array-like of float, shape (n,)
        The measure on each date, e.g. demand in minutes. NaN values are dropped with their
        dates, so the points either side become neighbours (their moving range is used).
    settings : SPCSettings
        Run lengths, minimum points, screening and recalculation dates.
    label, unit : str
        Used in the alert sentences: "IDVA demand of 1,240 minutes on Mon 3 Mar 2025 …".
    period : {"day", "week"}
        What one point is, for the sentences: a day, or the week beginning on its date
        ("… in the week of Mon 3 Mar 2025 …", "weeks in a row").
    floor : float, optional
        The lowest value the measure can take (0 for minutes, cases and referrals): the
        lower process limit and lower 2-sigma line are shown no lower than it. The rules are
        judged on the limits as computed, so the flags do not depend on it (see the module's
        docstring).

    Returns
    -------
    SPCResult
        Segments, one row per point with its lines and flags, and one alert per flag.
    """
    day = pd.DatetimeIndex(pd.to_datetime(pd.Index(dates))).normalize()
    y = np.asarray(values, dtype=float).ravel()
    if len(day) != len(y):
        raise ValueError(f"SPC needs one value per date: {len(day)} dates, {len(y)} values")
    keep = ~np.isnan(y)
    day, y = day[keep], y[keep]
    if not day.is_monotonic_increasing or day.has_duplicates:
        raise ValueError("SPC dates must be strictly increasing")
    n, s = len(y), settings
    cuts = np.searchsorted(day.values, pd.DatetimeIndex(list(s.recalculate_from)).values)
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < n}), n] if n else [0]
    lines = np.full((5, n), np.nan)  # mean, lower, upper, lower 2 sigma, upper 2 sigma
    has_limits, segment_start = np.zeros(n, bool), np.zeros(n, bool)
    segments = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        mean, mr_bar = _limits(y[a:b], s.screen_outliers)
        ok = b - a >= s.min_points
        half = LIMIT_FACTOR * mr_bar if ok else float("nan")
        lines[:, a:b] = np.array(
            [mean, mean - half, mean + half, mean - 2 * half / 3, mean + 2 * half / 3]
        )[:, None]
        has_limits[a:b], segment_start[a] = ok, True
        shown_lower = mean - half if floor is None else max(mean - half, floor)
        segments.append(
            Segment(day[a].date(), day[b - 1].date(), mean, shown_lower, mean + half, b - a, ok)
        )
    mean, lower, upper, lower_2s, upper_2s = lines
    # Runs never include points of a segment without limits; shift and 2-of-3 restart per segment.
    no_limits_edge = segment_start & ~(has_limits & np.roll(has_limits, 1))
    run_breaks = no_limits_edge if s.runs_cross_recalculations else segment_start
    shift, shift_start, shift_length = _shift_runs(y, mean, s.shift_run, run_breaks)
    trend, trend_start, trend_length = _trend_runs(y, s.trend_run, no_limits_edge)
    two, two_count = _two_of_three_runs(
        y, mean, upper - mean, s.beyond_limits_count_in_two_of_three, run_breaks
    )
    outside = np.where(y > upper, 1, np.where(y < lower, -1, 0))
    flags = {"outside_limits": outside, "trend": trend, "two_of_three": two, "shift": shift}
    flags = {rule: np.where(has_limits, flag, 0) for rule, flag in flags.items()}
    direction = np.zeros(n, int)
    for rule in reversed(RULES):
        direction = np.where(flags[rule] != 0, flags[rule], direction)
    # What is shown: the lower lines no lower than the floor (NaN stays NaN: no limits).
    shown_lower, shown_lower_2s = lower, lower_2s
    if floor is not None:
        shown_lower = np.where(lower < floor, floor, lower)
        shown_lower_2s = np.where(lower_2s < floor, floor, lower_2s)
    points = pd.DataFrame(
        {
            "date": day,
            "value": y,
            "mean": mean,
            "lower_limit": shown_lower,
            "upper_limit": upper,
            "lower_2sigma": shown_lower_2s,
            "upper_2sigma": upper_2s,
            **{
                rule: flags[rule] != 0
                for rule in ("outside_limits", "shift", "trend", "two_of_three")
            },
            "special_cause": direction != 0,
            "direction": np.choose(direction + 1, ["low", "", "high"]).astype(object),
            "unfloored_lower_limit": lower,
        }
    )

    name = label[:1].upper() + label[1:]
    order = ("outside_limits", "shift", "trend", "two_of_three")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    days, on = ("weeks", "in the week of") if period == "week" else ("days", "on")
    alerts = []
    for i in np.flatnonzero(direction != 0):
        what = f"{name} of {_fmt(y[i])}{' ' + unit if unit else ''} {on} {_day(day[i])}"
        for rule in order:
            sign = int(flags[rule][i])
            if not sign:
                continue
            high = sign > 0
            side, edge = ("above", "upper") if high else ("below", "lower")
            if rule == "outside_limits":
                limit = upper[i] if high else lower[i]
                text = f"is {side} the {edge} process limit ({_fmt(limit)})."
            elif rule == "shift":
                a, k = shift_start[i], shift_length[i]
                text = (
                    f"is the {_ordinal(i - a + 1)} of {k} {days} in a row {side} the mean of "
                    f"{_fmt(mean[i])} ({_day(day[a])} to {_day(day[a + k - 1])})."
                )
            elif rule == "trend":
                a, k = trend_start[i], trend_length[i]
                text = (
                    f"is part of a run of {k} {'rising' if high else 'falling'} {days} "
                    f"({_day(day[a])} to {_day(day[a + k - 1])})."
                )
            else:
                text = (
                    f"is one of {two_count[i]} of 3 {days} in a row beyond the {edge} 2-sigma line "
                    f"({_fmt(upper_2s[i] if high else lower_2s[i])}), all {side} the mean "
                    f"of {_fmt(mean[i])}."
                )
            alerts.append(Alert(day[i].date(), rule, "high" if high else "low", f"{what} {text}"))
    return SPCResult(segments=segments, points=points, alerts=alerts)


def _day(day: pd.Timestamp) -> str:
    """A date as an alert shows it: "Mon 3 Mar 2025"."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def _ordinal(k: int) -> str:
    """1st, 2nd, 3rd, 4th, … 11th, 12th, 13th, … 21st."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _fmt(x: float) -> str:
    """A number for a sentence: thousands separators, 0–2 decimals by size, no trailing zeros."""
    x = float(x)
    if x.is_integer():
        return f"{x:,.0f}"
    places = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    text = f"{x:,.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text
