"""The process map of an event log: its directly-follows graph, with times and bottlenecks.

Each case's events are put in time order (case, then timestamp, then position in the file, so
events with equal timestamps keep their file order, as pm4py does); every two consecutive
events of a case make one *hand-off* (an edge ``from`` → ``to``). The artificial activities
``"__start__"`` and ``"__end__"`` are joined to each case's first and last event, so the edge
counts out of ``__start__`` are pm4py's start activities and those into ``__end__`` its end
activities.

**Complete events only.** When the events have a ``lifecycle`` column (an XES log's
``lifecycle:transition``, or the column named by ``lifecycle`` for a CSV/XLSX log), only the
events whose transition is ``complete`` or blank (case-insensitive) are mapped, as
``flowcap calibrate`` and the demand measures do: a step recorded as a start and a completion
is one visit to it, not a hand-off to itself. The events left out are counted by transition
(:attr:`ProcessMap.left_out`). On a complete-only log nothing is left out, so the counts are
pm4py's.

**The time on an edge** is the time from the ``from`` event to the ``to`` event: between two
completions, that is the waiting for the ``to`` step *plus* doing it, since service time
cannot be told apart (:attr:`ProcessMap.times_note` says which case applies). The edges out
of ``__start__`` and into ``__end__`` carry no time: their wait columns are NaN (``null`` in
JSON) and their ``total_wait_hours`` is 0.

Everything is computed with numpy on integer codes (no Python loop over events), so the
561,470-event road-fines log takes well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from flowcap.checks import check_at_least_one
from flowcap.errors import FlowcapError

START = "__start__"
END = "__end__"
#: Columns of :attr:`ProcessMap.edges`, in this order.
EDGE_COLUMNS = (
    "from",
    "to",
    "count",
    "cases",
    "median_wait_hours",
    "p90_wait_hours",
    "mean_wait_hours",
    "total_wait_hours",
)
_HOUR = np.timedelta64(1, "h")
#: Lifecycle transitions that are mapped (compared lower-cased and stripped; blank = none given).
COMPLETE = ("", "complete")


@dataclass(frozen=True)
class ProcessMap:
    """A directly-follows graph with counts, times between steps and a bottleneck ranking.

    Attributes
    ----------
    activities : DataFrame
        ``name``, ``cases`` (distinct cases with the activity), ``events`` (times it happens),
        ``total_wait_hours`` (summed time on the edges into it: the waiting for it plus doing
        it), most events first.
    edges : DataFrame
        ``from``, ``to``, ``count`` (times the hand-off happens), ``cases`` (distinct cases in
        which it happens), ``median_wait_hours``, ``p90_wait_hours``, ``mean_wait_hours``,
        ``total_wait_hours``; most frequent first. Edges from ``__start__`` and to ``__end__``
        have NaN waits and a total of 0.
    bottlenecks : DataFrame
        The hand-offs ranked by total waiting: ``rank`` (1 = most), ``from``, ``to``,
        ``total_wait_hours``, ``share`` (of all the waiting in the log; the shares sum to 1
        unless there is no waiting at all, when they are all 0), ``count``,
        ``median_wait_hours``, ``p90_wait_hours``. Start and end edges are left out.
    longest_delays : DataFrame
        The hand-offs ranked by their 90th-percentile time (longest first), same columns as
        ``edges`` less the start and end edges.
    rework : DataFrame
        Rework loops, most frequent first: ``kind`` is ``"self-loop"`` (A → A: ``from`` =
        ``to`` = A) or ``"ping-pong"`` (A → B → A within a case: ``from`` = A, ``to`` = B);
        ``count`` (times it happens), ``cases`` (distinct cases).
    variants : DataFrame
        ``variant`` (tuple of activity names in order), ``length``, ``cases``, ``share`` (of
        all cases); most common first.
    n_cases, n_events : int
        Size of the log (the events mapped: complete events where the log has lifecycles).
    left_out : Mapping[str, int]
        Events left out because their lifecycle transition is not ``complete``, by transition
        as written in the log (e.g. ``{"start": 126}``); empty when nothing was left out.
    selection : str
        For a map cut by :meth:`filtered`, which hand-offs it keeps, in words; else ``""``.
    """

    activities: pd.DataFrame
    edges: pd.DataFrame
    bottlenecks: pd.DataFrame
    variants: pd.DataFrame
    longest_delays: pd.DataFrame
    rework: pd.DataFrame
    n_cases: int
    n_events: int
    #: The unfiltered map this one was cut from by :meth:`filtered` (None: this is the full map).
    full: ProcessMap | None = field(default=None, repr=False, compare=False)
    left_out: Mapping[str, int] = field(default_factory=dict)
    selection: str = field(default="", compare=False)

    @property
    def is_filtered(self) -> bool:
        return self.full is not None

    def share_of_top_variants(self, n: int) -> float:
        """Share of cases that follow one of the ``n`` most common variants (0 to 1)."""
        return float(self.variants["share"].head(n).sum())

    @property
    def times_note(self) -> str:
        """What the times on the edges are, in one sentence (the map, console and JSON say it).

        Between two completions a time is the waiting for the next step plus doing it. When
        the log had start (or other non-complete) events, they were left out, and the note
        says how many.
        """
        if not self.left_out:
            return (
                "Times run from one event to the next: waiting plus service "
                "(the log has no start events)."
            )
        detail = ", ".join(f"{n:,} {kind}" for kind, n in self.left_out.items())
        return (
            f"Complete events only ({detail} events left out): times run from one completion "
            "to the next, waiting plus service."
        )

    def as_json(self) -> dict:
        """The full graph (never the filtered picture) as JSON-safe lists; NaN becomes null.

        The keys ``activities``, ``edges`` and ``bottlenecks`` are the documented graph;
        ``longest_delays`` (hand-offs by 90th-percentile time, longest first) and ``rework``
        (self-loops and ping-pongs, most frequent first) complete the ranking; ``times`` is
        :attr:`times_note` and ``left_out_events`` is :attr:`left_out`.
        """
        source = self.full if self.full is not None else self
        delays = source.longest_delays
        return {
            "activities": [
                {"name": str(r.name), "cases": int(r.cases), "events": int(r.events)}
                for r in source.activities.itertuples(index=False)
            ],
            "edges": [
                {
                    "from": str(f),
                    "to": str(t),
                    "count": int(n),
                    "cases": int(c),
                    "median_wait_hours": _json_float(m),
                    "p90_wait_hours": _json_float(p),
                }
                for f, t, n, c, m, p in zip(
                    source.edges["from"],
                    source.edges["to"],
                    source.edges["count"],
                    source.edges["cases"],
                    source.edges["median_wait_hours"],
                    source.edges["p90_wait_hours"],
                    strict=True,
                )
            ],
            "bottlenecks": [
                {
                    "from": str(f),
                    "to": str(t),
                    "total_wait_hours": _json_float(w),
                    "share": _json_float(s),
                }
                for f, t, w, s in zip(
                    source.bottlenecks["from"],
                    source.bottlenecks["to"],
                    source.bottlenecks["total_wait_hours"],
                    source.bottlenecks["share"],
                    strict=True,
                )
            ],
            "longest_delays": [
                {
                    "from": str(f),
                    "to": str(t),
                    "p90_wait_hours": _json_float(p),
                    "median_wait_hours": _json_float(m),
                    "count": int(n),
                    "cases": int(c),
                }
                for f, t, p, m, n, c in zip(
                    delays["from"],
                    delays["to"],
                    delays["p90_wait_hours"],
                    delays["median_wait_hours"],
                    delays["count"],
                    delays["cases"],
                    strict=True,
                )
            ],
            "rework": [
                {
                    "kind": str(r.kind),
                    "from": str(r[1]),
                    "to": str(r.to),
                    "count": int(r.count),
                    "cases": int(r.cases),
                }
                for r in source.rework.itertuples(index=False)
            ],
            "times": source.times_note,
            "left_out_events": {str(k): int(n) for k, n in source.left_out.items()},
        }

    def filtered(
        self,
        *,
        top_edges: int | None = None,
        top_variants: int | None = None,
        min_count: int = 1,
        keep_bottlenecks: int = 3,
    ) -> ProcessMap:
        """A smaller map for a readable picture; :meth:`as_json` of it still gives the full graph.

        Parameters
        ----------
        top_edges : int, optional
            Keep the this many most frequent edges (start and end edges included), of those
            the other filters keep.
        top_variants : int, optional
            Keep only the edges that the most common this many variants walk along.
        min_count : int
            Keep only edges that happen at least this often.
        keep_bottlenecks : int
            The top this many bottleneck edges are kept whatever the other filters say, so
            the picture always shows where the waiting is.

        The numbers on the kept edges and activities are those of the whole log. Activities
        left with no kept edge are dropped; the other tables keep only rows on kept edges.
        :attr:`selection` says in words what was kept.

        Raises
        ------
        FlowcapError
            When ``top_edges`` or ``top_variants`` is below 1.
        """
        check_at_least_one(top_edges, "top_edges")
        check_at_least_one(top_variants, "top_variants")
        full = self.full if self.full is not None else self
        edges = full.edges
        keep = edges["count"].to_numpy() >= min_count
        said = []
        if top_variants is not None:
            common = full.variants.head(top_variants)
            walked: set[tuple[str, str]] = set()
            for variant in common["variant"]:
                path = (START, *variant, END)
                walked.update(zip(path[:-1], path[1:], strict=False))
            pairs = zip(edges["from"], edges["to"], strict=True)
            keep &= np.fromiter((p in walked for p in pairs), dtype=bool, count=len(edges))
            said.append(
                f"those on the {len(common):,} most common variant{_s(len(common))}, "
                f"{float(common['share'].sum()):.0%} of cases"
            )
        if min_count > 1:
            said.append(f"those happening at least {min_count:,} times")
        if top_edges is not None and int(keep.sum()) > top_edges:
            # edges are sorted by count already: keep the first top_edges still standing
            rank = np.cumsum(keep)
            keep &= rank <= top_edges
            said.append(f"the {top_edges:,} most frequent" + (" of these" if said else ""))
        if keep_bottlenecks > 0:
            top = full.bottlenecks.head(keep_bottlenecks)
            top = top[top["total_wait_hours"] > 0]
            wanted = set(zip(top["from"], top["to"], strict=True))
            pairs = zip(edges["from"], edges["to"], strict=True)
            is_top = np.fromiter((p in wanted for p in pairs), dtype=bool, count=len(edges))
            if (is_top & ~keep).any():
                said.append(f"plus the top {len(top)} bottleneck{_s(len(top))}")
            keep |= is_top
        kept = edges[keep].reset_index(drop=True)
        pairs = set(zip(kept["from"], kept["to"], strict=True))
        names = set(kept["from"]) | set(kept["to"])

        def on_kept(table: pd.DataFrame) -> pd.DataFrame:
            mask = [p in pairs for p in zip(table["from"], table["to"], strict=True)]
            return table[np.asarray(mask, dtype=bool)].reset_index(drop=True)

        variants = full.variants
        if top_variants is not None:
            variants = variants.head(top_variants).reset_index(drop=True)
        return ProcessMap(
            activities=full.activities[full.activities["name"].isin(names)].reset_index(drop=True),
            edges=kept,
            bottlenecks=on_kept(full.bottlenecks),
            variants=variants,
            longest_delays=on_kept(full.longest_delays),
            rework=on_kept(full.rework),
            n_cases=full.n_cases,
            n_events=full.n_events,
            full=full,
            left_out=full.left_out,
            selection="; ".join(said) if said else "all",
        )


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _json_float(value) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else value


def _timestamps(column: pd.Series) -> np.ndarray:
    """The timestamps as naive datetime64 (UTC for tz-aware input) in their own unit."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(column.dtype):
        raise FlowcapError(
            f"the event log's timestamp column must hold dates and times, not {column.dtype}"
        )
    values = column.to_numpy()
    if np.isnat(values).any():
        raise FlowcapError(
            f"{int(np.isnat(values).sum())} events have no timestamp; a process map needs one "
            "on every event"
        )
    return values


# numpy 2's hash-based ``np.unique`` is slow on large integer arrays; these sort instead.
def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stable sort order, distinct values, where each starts in the sorted order, group sizes."""
    order = _small_stable_argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else order
    sizes = np.diff(np.r_[starts, len(ordered)])
    return order, ordered[starts], starts, sizes


def _inverse(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids 0..n-1 of the values, in sorted order of value, and n."""
    order, distinct, _, sizes = _groups(values)
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.repeat(np.arange(len(distinct)), sizes)
    return inverse, len(distinct)


def _small_stable_argsort(values: np.ndarray) -> np.ndarray:
    """A stable argsort, on a narrower integer type when the values allow (radix sort)."""
    if len(values) and values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < 2**15:
            return np.argsort(values.astype(np.int16), kind="stable")
        if low >= -(2**31) and high < 2**31:
            return np.argsort(values.astype(np.int32), kind="stable")
    return np.argsort(values, kind="stable")


def _codes(column: pd.Series, *, uniques: bool = False):
    """Integer codes of a column (-1 where missing), in order of first appearance.

    Hashing hundreds of thousands of Python strings is the slowest step of the whole map;
    categorical columns skip it.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, found = pd.factorize(column, sort=False)
        return (codes, found) if uniques else codes
    values = column.to_numpy()
    codes, found = pd.factorize(values, sort=False)
    return (codes, found) if uniques else codes


def _cases_per_group(group: np.ndarray, case: np.ndarray, n_groups: int, n_cases: int):
    """How many distinct cases each group (edge, activity) occurs in."""
    if n_groups * n_cases <= 4 * len(group):  # a bitmap beats a sort only when small
        seen = np.zeros((n_groups, n_cases), dtype=bool)
        seen[group, case] = True
        return np.count_nonzero(seen, axis=1)
    distinct = _distinct(group.astype(np.int64) * n_cases + case)
    return np.bincount(distinct // n_cases, minlength=n_groups)


def _group_quantile(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray, q: float):
    """Per-group ``q`` quantiles (linear interpolation, as numpy and pandas) of sorted groups."""
    position = (sizes - 1) * q
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    below = values[starts + low]
    above = values[starts + high]
    return below + (above - below) * (position - low)


def _variants(boundary: np.ndarray, code_of: np.ndarray, n_cases: int, names: np.ndarray):
    """Exact variant ids without a loop over cases: refine prefix ids a chunk at a time.

    Case ``c``'s events are ``code_of[boundary[c]:boundary[c + 1]]``. Each round packs the
    next few positions of every case still running into one integer (0 past its end) and
    numbers the distinct (prefix id, chunk) pairs; ids from different rounds never collide,
    so two cases end with the same id exactly when their whole sequences agree.
    """
    lengths = np.diff(np.r_[boundary, len(code_of)])
    base = len(names) + 1
    prefix = np.zeros(n_cases, dtype=np.int64)
    alive = np.arange(n_cases)
    next_id, k, longest = 0, 0, int(lengths.max())
    while k < longest:
        alive = alive[lengths[alive] > k]
        room = 62 - max(next_id, 1).bit_length()
        m = max(1, min(int(room / math.log2(base)), longest - k))
        chunk = np.zeros(len(alive), dtype=np.int64)
        alive_lengths, alive_start = lengths[alive], boundary[alive]
        for j in range(m):  # positions within the chunk, not events
            chunk *= base
            has = alive_lengths > k + j
            chunk[has] += code_of[alive_start[has] + k + j] + 1
        inverse, n_new = _inverse(prefix[alive] * base**m + chunk)
        prefix[alive] = inverse + next_id
        next_id += n_new
        k += m
    by_variant, _, starts, counts = _groups(prefix)
    first_case = by_variant[starts]  # the stable sort keeps cases in order within a variant
    order = np.lexsort((first_case, -counts))
    variants = []
    for case in first_case[order]:
        start = boundary[case]
        variants.append(tuple(names[code_of[start : start + lengths[case]]].tolist()))
    counts = counts[order]
    return pd.DataFrame(
        {
            "variant": pd.Series(variants, dtype=object),
            "length": lengths[first_case[order]].astype(np.int64),
            "cases": counts.astype(np.int64),
            "share": counts / n_cases,
        }
    )


def _empty_map() -> ProcessMap:
    edges = pd.DataFrame({c: pd.Series(dtype=float) for c in EDGE_COLUMNS})
    edges = edges.astype({"from": object, "to": object, "count": np.int64, "cases": np.int64})
    return ProcessMap(
        activities=pd.DataFrame(
            {
                "name": pd.Series(dtype=object),
                "cases": pd.Series(dtype=np.int64),
                "events": pd.Series(dtype=np.int64),
                "total_wait_hours": pd.Series(dtype=float),
            }
        ),
        edges=edges,
        bottlenecks=_bottlenecks(edges),
        variants=pd.DataFrame({"variant": [], "length": [], "cases": [], "share": []}).astype(
            {"length": np.int64, "cases": np.int64, "share": float}
        ),
        longest_delays=edges.copy(),
        rework=pd.DataFrame(
            {"kind": [], "from": [], "to": [], "count": [], "cases": []}, dtype=object
        ).astype({"count": np.int64, "cases": np.int64}),
        n_cases=0,
        n_events=0,
    )


def _bottlenecks(edges: pd.DataFrame) -> pd.DataFrame:
    inner = edges[(edges["from"] != START) & (edges["to"] != END)]
    inner = inner.sort_values(
        ["total_wait_hours", "count", "from", "to"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    total = float(inner["total_wait_hours"].sum())
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(inner) + 1, dtype=np.int64),
            "from": inner["from"].to_numpy(),
            "to": inner["to"].to_numpy(),
            "total_wait_hours": inner["total_wait_hours"].to_numpy(),
            "share": (inner["total_wait_hours"] / total).to_numpy()
            if total > 0
            else np.zeros(len(inner)),
            "count": inner["count"].to_numpy(),
            "median_wait_hours": inner["median_wait_hours"].to_numpy(),
            "p90_wait_hours": inner["p90_wait_hours"].to_numpy(),
        }
    )
    return table


def complete_events(events: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The events to map, and how many were left out by lifecycle transition.

    Without a ``lifecycle`` column every event is kept. With one, only events whose
    transition is ``complete`` or blank (ignoring case and surrounding spaces; missing counts
    as blank) are kept; the others are counted under their transition as written, most first.
    The kept rows keep their ``order`` (added from the row position when absent), so ties
    still break by position in the file.
    """
    if "lifecycle" not in events.columns or len(events) == 0:
        return events, {}
    column = events["lifecycle"]
    if isinstance(column.dtype, pd.CategoricalDtype):  # classify the categories, not the rows
        keep = np.zeros(len(column), dtype=bool)
        rest = np.arange(len(column))
        codes = column.cat.codes.to_numpy().astype(np.int64)
        kinds = column.cat.categories.to_numpy(dtype=object)
    else:
        values = column.to_numpy(dtype=object)
        keep = values == "complete"  # the usual case, without hashing half a million strings
        if keep.all():
            return events, {}
        rest = np.flatnonzero(~keep)
        codes, kinds = pd.factorize(pd.Series(values[rest], dtype=object), sort=False)
    mapped = np.array(
        [str(kind).strip().lower() in COMPLETE for kind in kinds] + [True], dtype=bool
    )  # the last entry is code -1: a missing transition, which counts as blank
    keep[rest] = mapped[codes]
    if keep.all():
        return events, {}
    dropped = codes[~mapped[codes]]
    counts = np.bincount(dropped, minlength=len(kinds))
    order = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], str(kinds[i])))
    left_out = {str(kinds[i]): int(counts[i]) for i in order}
    if "order" not in events.columns:
        events = events.assign(order=np.arange(len(events), dtype=np.int64))
    return events[keep], left_out


def process_map(events: pd.DataFrame) -> ProcessMap:
    """Build the process map of an event log.

    Parameters
    ----------
    events : DataFrame
        One row per event with ``case``, ``activity``, ``timestamp`` (datetime, tz-aware or
        naive) and, optionally, ``order`` (position in the file; without it the row order is
        used) and ``lifecycle`` (the transition: only ``complete`` or blank events are
        mapped, see :func:`complete_events`). This is what
        :func:`flowcap.io.eventlog.read_event_log` returns.

    Returns
    -------
    ProcessMap

    Raises
    ------
    FlowcapError
        When a column is missing, an event has no case, activity or timestamp, or the log
        has lifecycle transitions but no complete event.
    """
    missing = [c for c in ("case", "activity", "timestamp") if c not in events.columns]
    if missing:
        raise FlowcapError(
            f"the event log has no {', '.join(missing)} column; it has: "
            f"{', '.join(map(str, events.columns))}"
        )
    events, left_out = complete_events(events)
    if len(events) == 0:
        if left_out:
            found = ", ".join(f"{kind!r} ({n:,})" for kind, n in left_out.items())
            raise FlowcapError(
                f"the event log has no complete events: its lifecycle transitions are {found}; "
                "a process map is drawn from the complete events (or events without one)"
            )
        return _empty_map()
    times = _timestamps(events["timestamp"])
    order = (
        events["order"].to_numpy(dtype=np.int64)
        if "order" in events.columns
        else np.arange(len(events), dtype=np.int64)
    )
    case_codes = _codes(events["case"])
    act_codes, act_uniques = _codes(events["activity"], uniques=True)
    for column, codes in (("case", case_codes), ("activity", act_codes)):
        if (codes < 0).any():
            raise FlowcapError(
                f"{int((codes < 0).sum())} events have no {column}; a process map needs one "
                f"on every event"
            )
    # Activities in alphabetical order of their names (ties in the tables break the same way).
    labels = np.array([str(name) for name in act_uniques], dtype=object)
    alphabetical = np.argsort(labels, kind="stable")
    act_names = labels[alphabetical]
    rank = np.empty(len(labels), dtype=np.int64)
    rank[alphabetical] = np.arange(len(labels))
    act_codes = rank[act_codes]
    n_acts = len(act_names)
    n_events = len(events)
    n_cases = int(case_codes.max()) + 1

    # np.lexsort is stable; the last key is the primary one. Logs usually come grouped by
    # case in time order already: then the sort is skipped.
    stamp = times.view(np.int64)
    step = np.diff(case_codes)  # codes number cases by first appearance
    in_order = bool((step >= 0).all())
    if in_order:
        tied = (step == 0) & (stamp[1:] == stamp[:-1])
        in_order = bool(
            ((step != 0) | (stamp[1:] >= stamp[:-1])).all()
            and (order[1:][tied] > order[:-1][tied]).all()
        )
    if in_order:
        case_of, code_of, time_of = case_codes, act_codes, times
    else:
        index = np.lexsort((order, stamp, case_codes))
        case_of, code_of, time_of = case_codes[index], act_codes[index], times[index]
    case_of = case_of.astype(np.int64, copy=False)
    code_of = code_of.astype(np.int64, copy=False)

    boundary = np.flatnonzero(np.r_[True, case_of[1:] != case_of[:-1]])
    same = np.ones(n_events - 1, dtype=bool)  # pair (i, i+1) lies within one case
    same[boundary[1:] - 1] = False
    first_code = code_of[boundary]
    last_code = code_of[np.r_[boundary[1:] - 1, n_events - 1]]

    # Hand-offs between activities, sorted by (edge, time): each edge's times are contiguous
    # and sorted, so its quantiles are read off directly.
    start_code, end_code = n_acts, n_acts + 1
    width = n_acts + 2
    key = code_of[:-1][same] * width + code_of[1:][same]
    wait = (time_of[1:][same] - time_of[:-1][same]) / _HOUR
    pair_case = case_of[:-1][same]
    by_wait = np.argsort(wait)
    by_edge = by_wait[_small_stable_argsort(key[by_wait])]
    key_sorted = key[by_edge]
    wait_sorted = wait[by_edge]
    if len(key_sorted):
        edge_start = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    else:
        edge_start = np.zeros(0, dtype=np.int64)
    inner_count = np.diff(np.r_[edge_start, len(key_sorted)])
    inner_key = key_sorted[edge_start]
    median = _group_quantile(wait_sorted, edge_start, inner_count, 0.5)
    p90 = _group_quantile(wait_sorted, edge_start, inner_count, 0.9)
    inner_total = np.add.reduceat(wait_sorted, edge_start) if len(edge_start) else np.zeros(0)
    edge_id = np.repeat(np.arange(len(inner_key)), inner_count)
    inner_cases = _cases_per_group(edge_id, pair_case[by_edge], len(inner_key), n_cases)

    # Start and end edges: one per case each, so their case and hand-off counts agree.
    starts = np.bincount(first_code, minlength=n_acts)
    ends = np.bincount(last_code, minlength=n_acts)
    start_to = np.flatnonzero(starts)
    end_from = np.flatnonzero(ends)
    n_ends = len(start_to) + len(end_from)
    edge_src = np.r_[np.full(len(start_to), start_code), inner_key // width, end_from]
    edge_dst = np.r_[start_to, inner_key % width, np.full(len(end_from), end_code)]
    count = np.r_[starts[start_to], inner_count, ends[end_from]]
    cases = np.r_[starts[start_to], inner_cases, ends[end_from]]
    nan_ends = np.full(len(start_to), np.nan), np.full(len(end_from), np.nan)
    median = np.r_[nan_ends[0], median, nan_ends[1]]
    p90 = np.r_[nan_ends[0], p90, nan_ends[1]]
    mean = np.r_[nan_ends[0], inner_total / np.maximum(inner_count, 1), nan_ends[1]]
    total = np.r_[np.zeros(len(start_to)), inner_total, np.zeros(len(end_from))]
    del n_ends

    names = np.concatenate([act_names, np.array([START, END], dtype=object)])
    edges = pd.DataFrame(
        {
            "from": names[edge_src],
            "to": names[edge_dst],
            "count": count.astype(np.int64),
            "cases": cases.astype(np.int64),
            "median_wait_hours": median,
            "p90_wait_hours": p90,
            "mean_wait_hours": mean,
            "total_wait_hours": total,
        }
    )
    edges = edges.sort_values(
        ["count", "from", "to"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)

    events_per = np.bincount(code_of, minlength=n_acts)
    cases_per = _cases_per_group(code_of, case_of, n_acts, n_cases)
    wait_in = np.bincount(inner_key % width, weights=inner_total, minlength=width)[:n_acts]
    activities = pd.DataFrame(
        {
            "name": act_names,
            "cases": cases_per.astype(np.int64),
            "events": events_per.astype(np.int64),
            "total_wait_hours": wait_in,
        }
    ).sort_values(["events", "name"], ascending=[False, True], kind="stable")

    inner = edges[(edges["from"] != START) & (edges["to"] != END)]
    longest = inner.sort_values(
        ["p90_wait_hours", "count", "from", "to"],
        ascending=[False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)

    return ProcessMap(
        activities=activities.reset_index(drop=True),
        edges=edges,
        bottlenecks=_bottlenecks(edges),
        variants=_variants(boundary, code_of, n_cases, act_names),
        longest_delays=longest,
        rework=_rework(edges, case_of, code_of, n_cases, act_names),
        n_cases=n_cases,
        n_events=n_events,
        left_out=left_out,
    )


def _rework(
    edges: pd.DataFrame,
    case_of: np.ndarray,
    code_of: np.ndarray,
    n_cases: int,
    names: np.ndarray,
) -> pd.DataFrame:
    loops = edges[edges["from"] == edges["to"]]
    self_loops = pd.DataFrame(
        {
            "kind": "self-loop",
            "from": loops["from"].to_numpy(),
            "to": loops["to"].to_numpy(),
            "count": loops["count"].to_numpy(),
            "cases": loops["cases"].to_numpy(),
        }
    )
    n_acts = len(names)
    if len(code_of) >= 3:
        a, b, c = code_of[:-2], code_of[1:-1], code_of[2:]
        within = (case_of[:-2] == case_of[2:]) & (a == c) & (a != b)
        key = a[within] * n_acts + b[within]
        pair_case = case_of[:-2][within]
    else:
        key = pair_case = np.zeros(0, dtype=np.int64)
    _, keys, _, count = _groups(key)
    cases = np.bincount(_distinct(key * n_cases + pair_case) // n_cases, minlength=n_acts**2)
    cases = cases[keys]
    ping_pong = pd.DataFrame(
        {
            "kind": "ping-pong",
            "from": names[keys // n_acts] if len(keys) else np.array([], dtype=object),
            "to": names[keys % n_acts] if len(keys) else np.array([], dtype=object),
            "count": count.astype(np.int64),
            "cases": cases.astype(np.int64),
        }
    )
    table = pd.concat([self_loops, ping_pong], ignore_index=True)
    table = table.astype({"kind": object, "from": object, "to": object})
    table = table.astype({"count": np.int64, "cases": np.int64})
    return table.sort_values(
        ["count", "kind", "from", "to"], ascending=[False, True, True, True], kind="stable"
    ).reset_index(drop=True)
