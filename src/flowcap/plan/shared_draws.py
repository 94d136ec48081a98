"""The random numbers of a capacity search, drawn once and replayed for every candidate.

"Are three advocates enough? Four? 234 minutes each?" A plan search (:mod:`.capacity`) asks
that of one resource many times, every candidate on the same seed, so every candidate sees the
same referrals and the same absence uniforms (common random numbers). Drawing those numbers is
most of a run's time: of one 100,000-replication, 365-day run of the anchor model, about
0.7 s of 0.9 s on two cores. :class:`SharedDraws` draws them once, exactly as the NumPy engine
(:mod:`flowcap.simulate.daily.numpy`) draws them for that seed (same streams, same chunks of
:data:`~flowcap.simulate.daily.numpy.CPU_CHUNK` replications), keeps them as small integers,
and replays only the backlog recursion for each candidate (methods.md §4.1):

    B_t = max(0, B_{t-1} + D_t - present_t × minutes_per_staff_t),   B_{-1} = opening backlog

with the work falling due ``D_t`` added in the engine's order (existing cases' work due ahead,
then the steps in row order) and the same floating-point operations, so a candidate's backlog
at the horizon is the engine's, number for number (the engine's ``B - min(C, B)`` is
``max(0, B - C)`` exactly: both are 0 when ``C >= B``, and the same subtraction otherwise).

**Replications already decided.** The recursion is monotone: more capacity on every day never
leaves a longer backlog, in every replication, in floating point too (each operation rounds
monotonically). So once a candidate has been judged, a candidate with at least its capacity
on every day is below the target wherever it was, and one with at most its capacity is above
it wherever it was; only the other replications are replayed (:meth:`SharedDraws.exceeds`).
A bisection's late steps, between two candidates a minute apart, replay a few percent of them.
Capacities are compared only where they are certain: the same head count each day (the staff
present are then the same), or nobody absent (present = rostered).

Which models: one resource, one priority, nobody gives up: the resource on its own that the
search simulates when no case type has a patience (:func:`.capacity.resource_submodel`).
Which candidates: those that differ from the drawn model only in the resource's ``staff`` and
``minutes_per_staff`` rows. Staff present are the engine's own inversion of the stored
uniforms through the candidate's head-count table, so more people rostered never means
fewer present, as in the engine. For anything else :meth:`SharedDraws.exceeds` returns
``None`` and the caller runs the engine as before.

Memory, per replication-day: the arrivals (1 byte per case type, 2 when a day brings more
than 255 of a type) and the absence uniforms (4 bytes; when head counts vary between
candidates) and the staff present at one head count (1 or 2 bytes); nothing for absence when
nobody is ever absent. :meth:`SharedDraws.of` declines (``None``) above
:data:`~flowcap.checks.BYTES_PER_REPLICATION_DAY`, the budget the caller has checked the
replications and horizon against.

The engine's samplers are reused, not copied: its ``_Randomness`` draws the numbers, and a
stand-in generator hands it the stored uniforms again (it draws each day's uniforms with one
``integers`` call, then inverts them). Those are the engine's private pieces; the tests
compare every path here with :func:`flowcap.simulate.daily.run`, number for number, so a
change there that this module does not follow fails them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flowcap.checks import BYTES_PER_REPLICATION_DAY
from flowcap.simulate.daily import DailySpec
from flowcap.simulate.daily.numpy import CPU_CHUNK, _Randomness

#: The fields a candidate may change: the resource's head count and minutes each, by day.
STAFFING_FIELDS = ("staff", "minutes_per_staff")
#: Replay every replication, not a gathered subset, when more than this share is undecided
#: (gathering the stored draws of most replications costs more than it saves).
GATHER_BELOW = 0.7
_TABLE_DTYPE = np.int16  # the counts the engine's inversion tables give (≤ 32,767 values)


class _NotReplayable(Exception):
    """The engine would draw this absence another way (a head count beyond its tables:
    ``Generator.binomial``), so stored uniforms cannot stand in."""


class _Recorder:
    """Stands in for the absence generator while drawing: passes the draw through, keeps it."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.drawn = rng, None

    def integers(self, *args, **keywords) -> np.ndarray:
        self.drawn = self.rng.integers(*args, **keywords)
        return self.drawn

    def binomial(self, *args, **keywords):
        raise _NotReplayable


class _Replay:
    """Stands in for the absence generator while replaying: hands back stored uniforms."""

    def __init__(self):
        self.uniforms: np.ndarray | None = None

    def integers(self, *args, **keywords) -> np.ndarray:
        return self.uniforms

    def binomial(self, *args, **keywords):
        raise _NotReplayable


class _Counts:
    """Whole numbers by (day, replication), one byte each until one needs two."""

    def __init__(self, n_days: int, replications: int):
        self.array = np.empty((n_days, replications), dtype=np.uint8)

    def put(self, t: int, start: int, values: np.ndarray) -> bool:
        """Store a day's counts for replications ``start ..``; False if not 16-bit counts."""
        if values.dtype != _TABLE_DTYPE:
            return False
        if self.array.dtype == np.uint8 and values.max(initial=0) > 255:
            self.array = self.array.astype(_TABLE_DTYPE)
        self.array[t, start : start + values.size] = values
        return True


@dataclasses.dataclass(frozen=True)
class _Step:
    case_type: int
    offset_days: int
    minutes: float


@dataclasses.dataclass(frozen=True)
class _Staffing:
    """The resource's head count and minutes each by day, shape (H,) each."""

    staff: np.ndarray
    minutes_per_staff: np.ndarray

    @classmethod
    def of(cls, spec: DailySpec) -> _Staffing:
        return cls(spec.staff[0], spec.minutes_per_staff[0])


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """One candidate judged: its staffing, the target, and which replications exceeded it."""

    staffing: _Staffing
    target_minutes: float
    exceeds: np.ndarray


class SharedDraws:
    """The referrals and absences of ``replications`` runs of ``model``, drawn once.

    Build with :meth:`of`. The staff present are kept at one head count by day (the model's
    at first); the absence uniforms they come from are drawn again, and kept, the first time
    a candidate has other head counts.
    """

    def __init__(self, model: DailySpec, replications: int, seed: int):
        self.model, self.replications, self.seed = model, replications, seed
        n_days = model.horizon_days
        self.absent = bool(model.absence_rate[0] > 0)
        self.arrivals = [_Counts(n_days, replications) for _ in model.case_types]
        # staff present each day at one head count row (the model's, or the last replayed)
        self.present: _Counts | None = _Counts(n_days, replications) if self.absent else None
        self.present_staff = model.staff[0].copy()
        # absence uniforms by (day, replication), uint32: drawn when head counts first vary
        self.uniforms: np.ndarray | None = None
        self.steps = tuple(
            _Step(int(k), int(offset), float(minutes))
            for k, offset, minutes in zip(
                model.step_type, model.step_offset_days, model.step_minutes, strict=True
            )
        )
        self.outcomes: list[_Outcome] = []
        self.complete = self._draw()

    @classmethod
    def of(cls, model: DailySpec, replications: int, seed: int) -> SharedDraws | None:
        """The draws for ``model``, or ``None`` where they cannot be shared (more than one
        resource or priority, reneging, over the memory budget, counts beyond the engine's
        16-bit tables): then run the engine for each candidate."""
        if len(model.resources) != 1 or len(model.priorities) != 1:
            return None
        if any(p is not None for p in model.patience_days):
            return None
        if cls._bytes_per_day(model, uniforms=False) > BYTES_PER_REPLICATION_DAY:
            return None
        draws = cls(model, replications, seed)
        return draws if draws.complete else None

    @staticmethod
    def _bytes_per_day(model: DailySpec, *, uniforms: bool) -> int:
        """Most bytes kept per replication-day (16-bit counts; uint32 uniforms)."""
        count = np.dtype(_TABLE_DTYPE).itemsize
        per_day = len(model.case_types) * count
        if model.absence_rate[0] > 0:
            per_day += count + (4 if uniforms else 0)
        return per_day

    def _draw(self, *, uniforms_only: bool = False) -> bool:
        """Draw every chunk as :func:`flowcap.simulate.daily.run` does (with
        ``uniforms_only``, the absence uniforms alone, again); False where a count is not a
        16-bit table's or the absence is not drawn by inversion."""
        model, n_types = self.model, len(self.model.case_types)
        for chunk, start in enumerate(range(0, self.replications, CPU_CHUNK)):
            n = min(CPU_CHUNK, self.replications - start)
            rand = _Randomness(model, self.seed, chunk, start, n, None)
            recorder = _Recorder(rand.absence_rng[0])
            rand.absence_rng[0] = recorder
            for t in range(model.horizon_days):
                for k in range(0 if uniforms_only else n_types):
                    if not self.arrivals[k].put(t, start, rand.arrivals(k, t)):
                        return False
                if not self.absent:
                    continue
                try:
                    present = rand.present(0, t)
                except _NotReplayable:
                    return False
                if uniforms_only:
                    self.uniforms[t, start : start + n] = recorder.drawn
                elif not self.present.put(t, start, present):
                    return False
        return True

    def _draw_uniforms(self) -> bool:
        """The absence uniforms of every (day, replication), drawn again from the same
        streams; False where they do not fit the memory budget or are not all uniforms."""
        if self._bytes_per_day(self.model, uniforms=True) > BYTES_PER_REPLICATION_DAY:
            return False
        self.uniforms = np.empty((self.model.horizon_days, self.replications), dtype=np.uint32)
        if not self._draw(uniforms_only=True):
            self.uniforms = None
            return False
        return True

    # --- judging a candidate ----------------------------------------------------------------

    def exceeds(self, candidate: DailySpec, target_minutes: float) -> np.ndarray | None:
        """Whether the backlog at the end of the horizon is above ``target_minutes`` in each
        replication, shape (replications,) of bool: ``final_backlog[0] > target_minutes`` of
        :func:`flowcap.simulate.daily.run` on the same seed. ``None`` when ``candidate``
        differs from the drawn model in more than its staffing (or its head count, when only
        the staff present were kept)."""
        present = self._present_for(candidate)
        if present is False:
            return None
        staffing = _Staffing.of(candidate)
        over = np.zeros(self.replications, dtype=bool)
        under = np.zeros(self.replications, dtype=bool)
        for outcome in self.outcomes:
            if outcome.target_minutes != target_minutes:
                continue
            if self._at_least(staffing, outcome.staffing):  # below wherever that one was
                under |= ~outcome.exceeds
            if self._at_least(outcome.staffing, staffing):  # above wherever that one was
                over |= outcome.exceeds
        undecided = np.flatnonzero(~(over | under))
        if undecided.size > GATHER_BELOW * self.replications:
            exceeds = self._replay(candidate, present) > target_minutes
        else:
            exceeds = over
            exceeds[undecided] = self._replay(candidate, present, undecided) > target_minutes
        self.outcomes.append(_Outcome(staffing, target_minutes, exceeds))
        return exceeds

    def final_backlog(self, candidate: DailySpec) -> np.ndarray | None:
        """Backlog minutes at the end of the horizon in each replication, shape
        (replications,): ``final_backlog[0]`` of :func:`flowcap.simulate.daily.run` on the
        same seed, or ``None`` as for :meth:`exceeds`."""
        present = self._present_for(candidate)
        return None if present is False else self._replay(candidate, present)

    def _replay(self, candidate: DailySpec, present, which: np.ndarray | None = None):
        """The recursion over every replication, or over those numbered in ``which``."""
        model = self.model
        arrivals = [counts.array for counts in self.arrivals]
        if which is not None:
            arrivals = [days.take(which, axis=1) for days in arrivals]
            if present is not None:
                present = present.take(which, axis=1)
        staff, minutes = candidate.staff[0], candidate.minutes_per_staff[0]
        due_ahead = model.due_ahead_minutes[0, 0]
        n = self.replications if which is None else which.size
        backlog = np.full(n, model.opening_backlog_minutes[0, 0])
        work, capacity = np.empty(n), np.empty(n)
        for t in range(model.horizon_days):
            if due_ahead[t] > 0:
                backlog += due_ahead[t]
            for step in self.steps:
                if step.offset_days <= t:
                    np.multiply(
                        arrivals[step.case_type][t - step.offset_days], step.minutes, out=work
                    )
                    backlog += work
            # everyone rostered turns up when nobody is ever absent, as in the engine
            np.multiply(staff[t] if present is None else present[t], minutes[t], out=capacity)
            backlog -= capacity
            np.maximum(backlog, 0.0, out=backlog)
        return backlog

    def _present_for(self, candidate: DailySpec):
        """Staff present by (day, replication) at the candidate's head counts; ``None`` when
        nobody is absent (present = rostered); False when it cannot be replayed here."""
        if not self._only_staffing_differs(candidate):
            return False
        if not self.absent:
            return None
        staff = candidate.staff[0]
        if self.present_staff is not None and np.array_equal(staff, self.present_staff):
            return self.present.array
        if self.uniforms is None and not self._draw_uniforms():
            return False
        replay = _Replay()
        rand = _Randomness(candidate, self.seed, 0, 0, self.replications, None)
        rand.absence_rng[0] = replay
        self.present_staff = None  # the buffer is being overwritten
        try:
            for t in range(self.model.horizon_days):
                replay.uniforms = self.uniforms[t]
                if not self.present.put(t, 0, rand.present(0, t)):
                    return False
        except _NotReplayable:
            return False
        self.present_staff = staff.copy()
        return self.present.array

    def _at_least(self, more: _Staffing, fewer: _Staffing) -> bool:
        """Whether ``more`` has at least ``fewer``'s capacity on every day in every
        replication: certain with the same head counts (the same staff present) and minutes
        each at least as many, or, with nobody absent, at least as many rostered minutes
        (head count × minutes each, as the engine multiplies them)."""
        if np.array_equal(more.staff, fewer.staff):
            return bool(np.all(more.minutes_per_staff >= fewer.minutes_per_staff))
        if self.absent:
            return False
        return bool(
            np.all(more.staff * more.minutes_per_staff >= fewer.staff * fewer.minutes_per_staff)
        )

    def _only_staffing_differs(self, candidate: DailySpec) -> bool:
        if candidate is self.model:
            return True
        for field in dataclasses.fields(DailySpec):
            if field.name in STAFFING_FIELDS:
                continue
            mine, theirs = getattr(self.model, field.name), getattr(candidate, field.name)
            if mine is theirs:
                continue
            if isinstance(mine, np.ndarray):
                if mine.shape != np.shape(theirs) or not np.array_equal(
                    mine, theirs, equal_nan=mine.dtype.kind == "f"
                ):
                    return False
            elif mine != theirs:
                return False
        return candidate.staff.shape == self.model.staff.shape
