"""The case-level pathway simulation: one referral at a time, through triage, advocacy and
follow-up, with the people on duty that the rota says (compiled with Numba).

A referral arrives, joins the queue of the step's resource, waits until someone on duty is
free and no more urgent or earlier case is waiting, is served, then moves on or leaves; a
first contact not made within the referral's patience is lost (reneged). The model is
:class:`~flowcap.simulate.pathway.spec.PathwaySpec`'s; minutes throughout.

One replication is one call of :func:`_replication`, a discrete-event loop over plain arrays:

- the future event list is a binary heap ordered by (minute, sequence number), so events at
  the same minute happen in the order they were scheduled and runs repeat exactly; an event
  is (kind, slot, tag): an arrival of case type ``slot``, the end of the service of the case
  in ``slot``, a renege of the case in ``slot`` if it still has serial number ``tag``, or the
  ``tag``-th rota change of resource ``slot``;
- each case in the system has a slot in the case table (recycled through a free list); a
  waiting case is a node of a doubly linked FIFO list per (resource, priority rank), so joining,
  starting service and reneging are O(1);
- a renege event is not removed when the case's service starts: it is skipped when it comes
  off the heap (lazy deletion), which the case's serial number and state make safe;
- a step with no resource (resource index -1) is a delay: a case joining it starts its
  "service" (the delay) at once and occupies nobody, so any number can be there together
  (an infinite-server station); cases of type ``t`` arrive at step ``entry[t]``, and wait for
  their first contact (their first step with a resource) with their patience;
- arrivals of each case type are an exact non-homogeneous Poisson process: an Exp(1) draw is
  spent against the integral of the hourly rate (whole weeks skipped at once);
- cases **carried in** (the waiting list at minute 0, ``carried``) join their step's queue at
  minute 0, one event each in the order given, with the minute they began waiting (at or
  before 0) as their joining time, so first come first served and their waits count from
  then; their waits are counted whatever the window (time before it included), and a case
  flagged to leave does so after that step's service (see :class:`.spec.CarriedCases`);
- time integrals (people busy and on duty, cases waiting) are brought up to date only when
  the quantity changes, clipped to the observed window;
- tables grow by doubling: :func:`_events` stops before an event that might not fit, and
  :func:`_replication` grows the table and calls it again. So no array is replaced inside
  the loop, and helpers that take arrays draw no random numbers: either would make Numba
  count references on every use (atomic operations, which took half the run time).

:func:`~flowcap.simulate.pathway.run.simulate_pathway` (in :mod:`.run`) flattens the spec
into arrays once, runs the replications (on ``threads`` threads: the kernel releases the GIL,
and each replication seeds Numba's generator itself, so results do not depend on the thread
count) and gathers a :class:`~flowcap.simulate.pathway.result.PathwayResult`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .spec import DISTRIBUTIONS, HOURS_PER_WEEK

MINUTES_PER_HOUR = 60.0
MINUTES_PER_WEEK = HOURS_PER_WEEK * MINUTES_PER_HOUR

# Event kinds.
_ARRIVAL, _SERVICE_END, _RENEGE, _ROTA, _CARRY = 0, 1, 2, 3, 4
# Heap integer columns (the minute is in its own float array).
_H_SEQ, _H_KIND, _H_SLOT, _H_TAG = 0, 1, 2, 3
# Case table: integer columns, float columns, states.
_C_TYPE, _C_STEP, _C_SERIAL, _C_PREV, _C_NEXT, _C_STATE, _C_SEEN, _C_CARRIED = range(8)
_C_INTS = 8  # _C_SEEN: 1 once the case's service at a step with a resource has begun
# _C_CARRIED bits: count this wait though it began before the window (cleared when served);
# leave after this step's service; carried in (never counted end to end).
_CARRIED_WAIT, _CARRIED_LEAVES, _CARRIED_IN = 1, 2, 4
# Flags of a case carried in (``carried[3]``): leaves after its step; past its first contact.
CARRY_LEAVES, CARRY_SEEN = 1, 2
#: Tries at a patience longer than a carried case has already waited (then it gives up at once).
PATIENCE_TRIES = 1000
_C_ARRIVED, _C_JOINED = 0, 1
_FREE, _WAITING, _SERVING, _FIRST_WAIT = 0, 1, 2, 3  # _FIRST_WAIT: first contact, may renege
# Per resource: integer and float columns.
_R_ON_DUTY, _R_BUSY, _R_WAITING = 0, 1, 2
_R_BUSY_AREA, _R_DUTY_AREA, _R_OVER_AREA, _R_LAST = 0, 1, 2, 3
# Per step: integer and float columns.
_S_WAITING, _S_JOINED, _S_RENEGED = 0, 1, 2
_S_AREA, _S_LAST, _S_RENEGE_WAIT, _S_BEFORE = 0, 1, 2, 3  # _S_BEFORE: counted waits before w0
# Per (step, case type) counts; per case type counts and sums.
_SERVED, _WAITED = 0, 1
_T_RENEGED, _T_DONE, _T_ARRIVED = 0, 1, 2
_T_RENEGE_WAIT, _T_DONE_MINUTES = 0, 1
# Duration kinds are indices into DISTRIBUTIONS; no duration (nobody gives up) is -1.
# Times end to end are counted in log-spaced bins (0.8% wide) up to ten years, for percentiles.
E2E_BINS = 2000
E2E_MAX_MINUTES = 10 * 365.25 * 1440.0
_E2E_SCALE = E2E_BINS / math.log1p(E2E_MAX_MINUTES)
_EXPONENTIAL, _LOGNORMAL, _GAMMA, _FIXED, _EMPIRICAL = range(5)
assert DISTRIBUTIONS == ("exponential", "lognormal", "gamma", "fixed", "empirical")


# ------------------------------------------------------------------ compiled helpers
@njit(cache=True, nogil=True)
def _heap_push(ht, hi, counts, minute, kind, slot, tag):
    """Add an event; ``counts[0]`` is the heap size, ``counts[1]`` the next sequence number."""
    i = counts[0]
    seq = counts[1]
    counts[0] = i + 1
    counts[1] = seq + 1
    while i > 0:
        parent = (i - 1) >> 1
        pm = ht[parent]
        if pm < minute or (pm == minute and hi[parent, _H_SEQ] < seq):
            break
        ht[i] = pm
        for k in range(4):
            hi[i, k] = hi[parent, k]
        i = parent
    ht[i] = minute
    hi[i, _H_SEQ] = seq
    hi[i, _H_KIND] = kind
    hi[i, _H_SLOT] = slot
    hi[i, _H_TAG] = tag


@njit(cache=True, nogil=True)
def _heap_pop(ht, hi, counts):
    """Remove the earliest event (read it from row 0 first): the last row sifts down from the
    root (with one event left, it is the root and stays)."""
    n = counts[0] - 1
    counts[0] = n
    minute = ht[n]
    seq, kind, slot, tag = hi[n, 0], hi[n, 1], hi[n, 2], hi[n, 3]
    i = 0
    child = 1
    while child < n:
        right = child + 1
        if right < n and (
            ht[right] < ht[child] or (ht[right] == ht[child] and hi[right, 0] < hi[child, 0])
        ):
            child = right
        cm = ht[child]
        if not (cm < minute or (cm == minute and hi[child, 0] < seq)):
            break
        ht[i] = cm
        for k in range(4):
            hi[i, k] = hi[child, k]
        i = child
        child = 2 * i + 1
    ht[i] = minute
    hi[i, 0] = seq
    hi[i, 1] = kind
    hi[i, 2] = slot
    hi[i, 3] = tag


@njit(cache=True, nogil=True, inline="always")
def _sample(d, a, b, n_values):
    """A duration in minutes of kind ``d`` with parameters ``a, b`` (see :func:`_durations`);
    for an empirical one, the index of the value picked among ``n_values``.

    Random numbers are drawn in scalar code and in :func:`_events` only: a helper holding
    arrays across a random call makes Numba count references to them on every call (atomic
    operations that took half the run time)."""
    if d == _EXPONENTIAL:
        x = np.random.exponential(a)
    elif d == _LOGNORMAL:
        x = np.random.lognormal(a, b)
    elif d == _GAMMA:
        x = np.random.gamma(a, b)
    elif d == _FIXED:
        x = a
    else:
        x = float(np.random.randint(0, n_values))
    return x


@njit(cache=True, nogil=True)
def _next_arrival(now, e, rate, t, week_total):
    """The first arrival after ``now`` of case type ``t``, whose rate per minute is
    ``rate[t, h % 168]`` in simulated hour ``h``; ``week_total`` (> 0) is arrivals per week.

    Inversion of the cumulative rate: ``e``, an Exp(1) draw, is used up hour by hour (exact
    for piecewise-constant rates, zero-rate hours included)."""
    h = int(now / MINUTES_PER_HOUR)
    pos = now
    r = rate[t, h % HOURS_PER_WEEK]
    expected = r * ((h + 1) * MINUTES_PER_HOUR - pos)  # arrivals expected in the hour's rest
    while e >= expected:
        e -= expected
        h += 1
        pos = h * MINUTES_PER_HOUR
        if e > week_total and h % HOURS_PER_WEEK == 0:  # skip whole quiet weeks at once
            weeks = math.floor(e / week_total)
            e = max(e - weeks * week_total, 0.0)
            h += weeks * HOURS_PER_WEEK
            pos = h * MINUTES_PER_HOUR
        r = rate[t, h % HOURS_PER_WEEK]
        expected = r * MINUTES_PER_HOUR
    return pos + e / r


@njit(cache=True, nogil=True, inline="always")
def _overlap(start, end, w0, w1):
    """Minutes of [start, end) inside the observed window [w0, w1]."""
    lo = max(start, w0)
    hi = min(end, w1)
    return hi - lo if hi > lo else 0.0


@njit(cache=True, nogil=True, inline="always")
def _resource_minutes(busy, on_duty, last, now, w0, w1):
    """Person-minutes (serving while on duty, on duty, overtime) in the window since ``last``.

    Busy time counts only up to the number on duty, so utilisation stays <= 1; people who
    finish a case after their shift has ended are overtime."""
    d = _overlap(last, now, w0, w1)
    return min(busy, on_duty) * d, on_duty * d, max(busy - on_duty, 0) * d


@njit(cache=True, nogil=True, inline="always")
def _resource_up_to_date(res_i, res_f, r, now, w0, w1):
    """Add resource ``r``'s person-minutes since its last change to its time integrals (see
    :func:`_resource_minutes`), just before its busy or on-duty count changes at ``now``.

    Inlined (Numba IR), so the arrays it takes cost no reference counting in the loop."""
    busy, duty, over = _resource_minutes(
        res_i[r, _R_BUSY], res_i[r, _R_ON_DUTY], res_f[r, _R_LAST], now, w0, w1
    )
    res_f[r, _R_BUSY_AREA] += busy
    res_f[r, _R_DUTY_AREA] += duty
    res_f[r, _R_OVER_AREA] += over
    res_f[r, _R_LAST] = now


@njit(cache=True, nogil=True)
def _grow_heap(ht, hi):
    n = ht.shape[0]
    ht2 = np.empty(2 * n)
    hi2 = np.empty((2 * n, 4), np.int64)
    ht2[:n] = ht
    hi2[:n] = hi
    return ht2, hi2


@njit(cache=True, nogil=True)
def _grow_cases(ci, cf):
    """Double the case table; the new slots form the free list (returned head)."""
    n = ci.shape[0]
    size = max(2 * n, 256)
    ci2 = np.empty((size, ci.shape[1]), np.int64)
    cf2 = np.empty((size, cf.shape[1]))
    ci2[:n] = ci
    cf2[:n] = cf
    for k in range(n, size):
        ci2[k, _C_STATE] = _FREE
        ci2[k, _C_NEXT] = k + 1 if k + 1 < size else -1
    return ci2, cf2, n


@njit(cache=True, nogil=True)
def _grow_waits(w_step, w_type, w_wait):
    n = w_wait.shape[0]
    s2 = np.empty(2 * n, np.int32)
    t2 = np.empty(2 * n, np.int32)
    m2 = np.empty(2 * n)
    s2[:n] = w_step
    t2[:n] = w_type
    m2[:n] = w_wait
    return s2, t2, m2


# ------------------------------------------------------------------ the event loop
# What _events returns: done (the window's end or no more events), or which table is full.
_DONE, _FULL_HEAP, _FULL_CASES, _FULL_WAITS = 0, 1, 2, 3
# Loop state kept between calls of _events (the heap's first two are _heap_push's counts).
_HEAP_SIZE, _NEXT_SEQ, _FREE_HEAD, _SERIAL, _N_WAITS, _N_SAMPLES, _KEEP_WAITS = 0, 1, 2, 3, 4, 5, 6


@njit(cache=True, nogil=True)
def _events(model, w0, w1, headroom, state, ht, hi, ci, cf, queues, res_i, res_f, step_i, step_f,
            tallies, w_step, w_type, w_wait, carried):  # fmt: skip
    """Run events until the window ends, or until a table may be too small for the next event
    (the caller grows it and calls again). No array is replaced inside the loop, so Numba
    keeps no reference counts there."""
    (resource, rank, rate, week_total, dur_kind, dur_par, dur_ptr, dur_values, route_cum,
     sched_ptr, sched_minutes, sched_servers, entry) = model  # fmt: skip
    st_i, st_f, ty_i, ty_f, samples, e2e, at_step, service_f = tallies
    c_type, c_step, c_since, c_flags = carried
    n_s = resource.shape[0]
    n_t = rank.shape[0]
    n_ranks = queues.shape[0] // res_i.shape[0]
    n_samples = samples.shape[1]
    free_head, serial = state[_FREE_HEAD], state[_SERIAL]
    n_w, k_sample = state[_N_WAITS], state[_N_SAMPLES]
    status = _DONE
    while state[_HEAP_SIZE] > 0:
        now = ht[0]
        if now > w1:
            break
        if state[_HEAP_SIZE] + headroom > ht.shape[0]:
            status = _FULL_HEAP
            break
        if free_head < 0:
            status = _FULL_CASES
            break
        if state[_KEEP_WAITS] and n_w + headroom > w_wait.shape[0]:
            status = _FULL_WAITS
            break
        kind, slot, tag = hi[0, _H_KIND], hi[0, _H_SLOT], hi[0, _H_TAG]
        _heap_pop(ht, hi, state)
        # Hourly queue lengths: the state is constant since the last event.
        while k_sample < n_samples and w0 + MINUTES_PER_HOUR * k_sample < now:
            for s in range(n_s):
                samples[s, k_sample] = step_i[s, _S_WAITING]
            k_sample += 1

        # Time integrals are brought up to date (in the window) just before a count changes.
        # Array helpers are inlined (inline="always") or written out here: Numba would count
        # references on every call.
        n_dispatch = 0
        first = second = 0  # resources where free people may now take waiting cases
        c = join_step = -1  # a case that now joins the queue of join_step
        since = now  # when it began waiting there (earlier for a case carried in)
        if kind == _ARRIVAL:
            t = slot
            after = _next_arrival(now, np.random.exponential(1.0), rate, t, week_total[t])
            _heap_push(ht, hi, state, after, _ARRIVAL, t, 0)
            c = free_head
            free_head = ci[c, _C_NEXT]
            serial += 1
            ci[c, _C_TYPE] = t
            ci[c, _C_SERIAL] = serial
            ci[c, _C_SEEN] = 0
            ci[c, _C_CARRIED] = 0
            cf[c, _C_ARRIVED] = now
            if now >= w0:
                ty_i[t, _T_ARRIVED] += 1
            join_step = entry[t]
        elif kind == _CARRY:  # a case on the waiting list at minute 0 (row slot of carried)
            c = free_head
            free_head = ci[c, _C_NEXT]
            serial += 1
            ci[c, _C_TYPE] = c_type[slot]
            ci[c, _C_SERIAL] = serial
            ci[c, _C_SEEN] = 1 if c_flags[slot] & CARRY_SEEN else 0
            ci[c, _C_CARRIED] = _CARRIED_WAIT | _CARRIED_IN
            if c_flags[slot] & CARRY_LEAVES:
                ci[c, _C_CARRIED] |= _CARRIED_LEAVES
            since = min(c_since[slot], now)
            cf[c, _C_ARRIVED] = since
            join_step = c_step[slot]
        elif kind == _SERVICE_END:
            s = ci[slot, _C_STEP]
            r = resource[s]
            if r >= 0:  # a delay step frees nobody
                _resource_up_to_date(res_i, res_f, r, now, w0, w1)
                res_i[r, _R_BUSY] -= 1
                first = r
                n_dispatch = 1
            if (ci[slot, _C_CARRIED] & _CARRIED_LEAVES) == 0:
                u = np.random.random()
                for j in range(n_s):
                    if u < route_cum[ci[slot, _C_TYPE] * n_s + s, j]:
                        c = slot
                        join_step = j
                        break
            if join_step < 0:  # leaves the pathway
                if cf[slot, _C_ARRIVED] >= w0 and (ci[slot, _C_CARRIED] & _CARRIED_IN) == 0:
                    t = ci[slot, _C_TYPE]
                    ty_i[t, _T_DONE] += 1
                    ty_f[t, _T_DONE_MINUTES] += now - cf[slot, _C_ARRIVED]
                    b = int(math.log1p(now - cf[slot, _C_ARRIVED]) * _E2E_SCALE)
                    e2e[t, min(b, E2E_BINS - 1)] += 1
                ci[slot, _C_STATE] = _FREE
                ci[slot, _C_NEXT] = free_head
                free_head = slot
        elif kind == _RENEGE:
            if ci[slot, _C_SERIAL] == tag and ci[slot, _C_STATE] == _FIRST_WAIT:
                s = ci[slot, _C_STEP]
                r = resource[s]
                q = r * n_ranks + rank[ci[slot, _C_TYPE]]
                prev, nxt = ci[slot, _C_PREV], ci[slot, _C_NEXT]
                if prev >= 0:
                    ci[prev, _C_NEXT] = nxt
                else:
                    queues[q, 0] = nxt
                if nxt >= 0:
                    ci[nxt, _C_PREV] = prev
                else:
                    queues[q, 1] = prev
                res_i[r, _R_WAITING] -= 1
                step_f[s, _S_AREA] += step_i[s, _S_WAITING] * _overlap(
                    step_f[s, _S_LAST], now, w0, w1
                )
                step_f[s, _S_LAST] = now
                step_i[s, _S_WAITING] -= 1
                joined = cf[slot, _C_JOINED]
                if joined >= w0 or (ci[slot, _C_CARRIED] & _CARRIED_WAIT) != 0:
                    t = ci[slot, _C_TYPE]
                    ty_i[t, _T_RENEGED] += 1
                    ty_f[t, _T_RENEGE_WAIT] += now - joined
                    step_i[s, _S_RENEGED] += 1
                    step_f[s, _S_RENEGE_WAIT] += now - joined
                    if joined < w0:
                        step_f[s, _S_BEFORE] += w0 - joined
                ci[slot, _C_STATE] = _FREE
                ci[slot, _C_NEXT] = free_head
                free_head = slot
        else:  # _ROTA
            r = slot
            _resource_up_to_date(res_i, res_f, r, now, w0, w1)
            res_i[r, _R_ON_DUTY] = sched_servers[tag]
            if tag + 1 < sched_ptr[r + 1]:
                _heap_push(ht, hi, state, sched_minutes[tag + 1], _ROTA, r, tag + 1)
            first = r
            n_dispatch = 1

        if join_step >= 0 and resource[join_step] < 0:
            # A delay: no queue and nobody to wait for; it ends after its fixed (or random)
            # time, counted as a wait of 0 and a service of that time.
            s = join_step
            t = ci[c, _C_TYPE]
            ci[c, _C_STEP] = s
            ci[c, _C_STATE] = _SERVING
            cf[c, _C_JOINED] = now
            k = s * n_t + t
            lo = dur_ptr[k]
            minutes = _sample(dur_kind[k], dur_par[k, 0], dur_par[k, 1], dur_ptr[k + 1] - lo)
            if dur_kind[k] == _EMPIRICAL:
                minutes = dur_values[lo + int(minutes)]
            if now >= w0:
                step_i[s, _S_JOINED] += 1
                st_i[s, t, _SERVED] += 1
                service_f[s, t] += minutes
                b = int(math.log1p(minutes) * _E2E_SCALE)
                at_step[s, min(b, E2E_BINS - 1)] += 1
                if state[_KEEP_WAITS]:
                    w_step[n_w] = s
                    w_type[n_w] = t
                    w_wait[n_w] = 0.0
                    n_w += 1
            _heap_push(ht, hi, state, now + minutes, _SERVICE_END, c, 0)
        elif join_step >= 0:
            # Case c joins the tail of its priority's list at the step's resource
            # (queues[r * n_ranks + rank] = (head, tail) case slots, -1 for none).
            s = join_step
            step_f[s, _S_AREA] += step_i[s, _S_WAITING] * _overlap(step_f[s, _S_LAST], now, w0, w1)
            step_f[s, _S_LAST] = now
            step_i[s, _S_WAITING] += 1
            if now >= w0:
                step_i[s, _S_JOINED] += 1
            ci[c, _C_STEP] = s
            ci[c, _C_STATE] = _WAITING
            cf[c, _C_JOINED] = since
            r = resource[s]
            q = r * n_ranks + rank[ci[c, _C_TYPE]]
            tail = queues[q, 1]
            ci[c, _C_PREV] = tail
            ci[c, _C_NEXT] = -1
            if tail >= 0:
                ci[tail, _C_NEXT] = c
            else:
                queues[q, 0] = c
            queues[q, 1] = c
            res_i[r, _R_WAITING] += 1
            if n_dispatch == 0:
                first = r
                n_dispatch = 1
            elif first != r:
                second = r
                n_dispatch = 2
            if ci[c, _C_SEEN] == 0:  # waiting for first contact: may give up
                k = n_s * n_t + ci[c, _C_TYPE]  # patience row
                if dur_kind[k] >= 0:
                    ci[c, _C_STATE] = _FIRST_WAIT
                    lo = dur_ptr[k]
                    waited = now - since  # > 0 only for a case carried in
                    patience = -1.0
                    tries = 0
                    # A case carried in has not given up yet: its patience is drawn given
                    # that it exceeds the wait so far (by rejection; at once if none does).
                    while patience < 0 or (waited > 0 and patience <= waited):
                        if tries == (1 if waited <= 0 else PATIENCE_TRIES):
                            patience = waited
                            break
                        tries += 1
                        patience = _sample(
                            dur_kind[k], dur_par[k, 0], dur_par[k, 1], dur_ptr[k + 1] - lo
                        )
                        if dur_kind[k] == _EMPIRICAL:
                            patience = dur_values[lo + int(patience)]
                    _heap_push(ht, hi, state, since + patience, _RENEGE, c, ci[c, _C_SERIAL])

        # Free people take waiting cases: most urgent first, then first come first served.
        for d in range(n_dispatch):
            r = first if d == 0 else second
            while res_i[r, _R_BUSY] < res_i[r, _R_ON_DUTY] and res_i[r, _R_WAITING] > 0:
                q = r * n_ranks
                while queues[q, 0] < 0:
                    q += 1
                c = queues[q, 0]
                nxt = ci[c, _C_NEXT]
                queues[q, 0] = nxt
                if nxt >= 0:
                    ci[nxt, _C_PREV] = -1
                else:
                    queues[q, 1] = -1
                res_i[r, _R_WAITING] -= 1
                s = ci[c, _C_STEP]
                step_f[s, _S_AREA] += step_i[s, _S_WAITING] * _overlap(
                    step_f[s, _S_LAST], now, w0, w1
                )
                step_f[s, _S_LAST] = now
                step_i[s, _S_WAITING] -= 1
                _resource_up_to_date(res_i, res_f, r, now, w0, w1)
                res_i[r, _R_BUSY] += 1
                t = ci[c, _C_TYPE]
                joined = cf[c, _C_JOINED]
                counted = joined >= w0 or (ci[c, _C_CARRIED] & _CARRIED_WAIT) != 0
                ci[c, _C_CARRIED] &= ~_CARRIED_WAIT
                if counted:
                    wait = now - joined
                    if joined < w0:
                        step_f[s, _S_BEFORE] += w0 - joined
                    st_i[s, t, _SERVED] += 1
                    st_f[s, t] += wait
                    if wait > 0:
                        st_i[s, t, _WAITED] += 1
                    if state[_KEEP_WAITS]:
                        w_step[n_w] = s
                        w_type[n_w] = t
                        w_wait[n_w] = wait
                        n_w += 1
                ci[c, _C_STATE] = _SERVING
                ci[c, _C_SEEN] = 1
                k = s * n_t + t  # service row
                lo = dur_ptr[k]
                minutes = _sample(dur_kind[k], dur_par[k, 0], dur_par[k, 1], dur_ptr[k + 1] - lo)
                if dur_kind[k] == _EMPIRICAL:
                    minutes = dur_values[lo + int(minutes)]
                if counted:  # time at the step: the wait and the service
                    service_f[s, t] += minutes
                    b = int(math.log1p(now - joined + minutes) * _E2E_SCALE)
                    at_step[s, min(b, E2E_BINS - 1)] += 1
                _heap_push(ht, hi, state, now + minutes, _SERVICE_END, c, 0)

    state[_FREE_HEAD], state[_SERIAL] = free_head, serial
    state[_N_WAITS], state[_N_SAMPLES] = n_w, k_sample
    return status


@njit(cache=True, nogil=True)
def _replication(seed, w0, w1, n_samples, model, n_ranks, keep_waits, carried):
    """One replication from minute 0 to ``w1``; statistics cover the window [w0, w1].

    ``model`` and ``n_ranks`` are :func:`_flatten`'s; ``carried`` the cases on the waiting
    list at minute 0 as arrays (case type, step, minute they began waiting, flags
    :data:`CARRY_LEAVES` | :data:`CARRY_SEEN`), empty for none. Returns the tuple that
    :func:`_gather` unpacks (shapes in :class:`PathwayResult`)."""
    np.random.seed(seed)
    resource, rank, rate, week_total = model[0], model[1], model[2], model[3]
    sched_ptr, sched_minutes, sched_servers = model[9], model[10], model[11]
    n_s = resource.shape[0]
    n_t = rank.shape[0]
    n_res = sched_ptr.shape[0] - 1
    max_servers = 0
    for k in range(sched_servers.shape[0]):
        max_servers = max(max_servers, sched_servers[k])
    # Pushes and counted waits one event can add: services started at two resources, the
    # next arrival or rota change, a renege.
    headroom = 2 * max_servers + 4

    state = np.zeros(7, np.int64)
    state[_KEEP_WAITS] = keep_waits
    n_carried = carried[0].shape[0]
    ht = np.empty(64 + n_t + n_res + 2 * headroom + n_carried)
    hi = np.empty((ht.shape[0], 4), np.int64)
    ci = np.empty((0, _C_INTS), np.int64)
    cf = np.empty((0, 2))
    ci, cf, state[_FREE_HEAD] = _grow_cases(ci, cf)
    queues = np.full((n_res * n_ranks, 2), -1, np.int64)
    res_i = np.zeros((n_res, 3), np.int64)
    res_f = np.zeros((n_res, 4))
    step_i = np.zeros((n_s, 3), np.int64)
    step_f = np.zeros((n_s, 4))
    tallies = (
        np.zeros((n_s, n_t, 2), np.int64),
        np.zeros((n_s, n_t)),
        np.zeros((n_t, 3), np.int64),
        np.zeros((n_t, 2)),
        np.zeros((n_s, n_samples), np.int32),
        np.zeros((n_t, E2E_BINS), np.int64),
        np.zeros((n_s, E2E_BINS), np.int64),
        np.zeros((n_s, n_t)),
    )
    w_step = np.empty(1024, np.int32)
    w_type = np.empty(1024, np.int32)
    w_wait = np.empty(1024)

    for r in range(n_res):
        k = sched_ptr[r]
        res_i[r, _R_ON_DUTY] = sched_servers[k]
        if k + 1 < sched_ptr[r + 1]:
            _heap_push(ht, hi, state, sched_minutes[k + 1], _ROTA, r, k + 1)
    for t in range(n_t):
        if week_total[t] > 0:
            _heap_push(
                ht,
                hi,
                state,
                _next_arrival(0.0, np.random.exponential(1.0), rate, t, week_total[t]),
                _ARRIVAL,
                t,
                0,
            )
    for k in range(n_carried):  # no random draw: runs without carried cases are unchanged
        _heap_push(ht, hi, state, 0.0, _CARRY, k, 0)

    while True:
        status = _events(model, w0, w1, headroom, state, ht, hi, ci, cf, queues, res_i, res_f,
                         step_i, step_f, tallies, w_step, w_type, w_wait, carried)  # fmt: skip
        if status == _DONE:
            break
        if status == _FULL_HEAP:
            ht, hi = _grow_heap(ht, hi)
        elif status == _FULL_CASES:
            ci, cf, state[_FREE_HEAD] = _grow_cases(ci, cf)
        else:
            w_step, w_type, w_wait = _grow_waits(w_step, w_type, w_wait)

    samples = tallies[4]
    for k in range(state[_N_SAMPLES], n_samples):  # no event since: the state holds
        for s in range(n_s):
            samples[s, k] = step_i[s, _S_WAITING]
    for s in range(n_s):
        step_f[s, _S_AREA] += step_i[s, _S_WAITING] * _overlap(step_f[s, _S_LAST], w1, w0, w1)
    for r in range(n_res):
        _resource_up_to_date(res_i, res_f, r, w1, w0, w1)
    n_w = state[_N_WAITS]
    return (
        tallies[0],
        tallies[1],
        w_step[:n_w].copy(),
        w_type[:n_w].copy(),
        w_wait[:n_w].copy(),
        res_f[:, :3].copy(),
        step_f[:, _S_AREA].copy(),
        step_i[:, _S_JOINED].copy(),
        step_i[:, _S_WAITING].copy(),
        samples,
        tallies[2],
        tallies[3],
        tallies[5],
        tallies[6],
        tallies[7],
        step_i[:, _S_RENEGED].copy(),
        step_f[:, _S_RENEGE_WAIT].copy(),
        step_f[:, _S_BEFORE].copy(),
    )
