"""The analyst queue of the fast case engine: a compiled replay of the reference's events.

The reference (:func:`policies.recovery.work_cases`) is a SimPy model: case processes put
tasks into a FIFO :class:`simpy.Store`; analyst processes ``get`` a task or the end of
their shift, whichever comes first.  To give *identical* results, not just the same
distribution, this loop keeps SimPy's scheduling rules where they decide ties (alerts
open on the hour grid, shifts start and end on it):

* events are processed by ``(time, schedule order)``; case openings were all scheduled at
  time 0 and so come first at their time;
* a put appends the task at once, but waiting analysts are served only when the put event
  is processed, and each trigger serves at most one getter (``Store._do_get`` returns None);
* an analyst's wait ends when the first of "task granted" and "shift over" is processed;
  a task granted in that very step is still taken (and finished past the shift end);
* times are computed with the same float operations (``now + (start - now)``, ...).

Event kinds (``kind`` in a heap entry ``(time, order, kind, who, aux)``):
OPEN, CASE_WAKE (trace reply or recheck), PUT, DONE (aux 1: worked, 0: moved meanwhile),
WAKE (shift start), T_END / GRANT (aux: wait id), COND (the analyst resumes), WORK.
"""

from __future__ import annotations

import heapq

import numpy as np
from numba import njit

OPEN, CASE_WAKE, PUT, DONE, WAKE, T_END, GRANT, COND, WORK = range(9)
# case phases: what the case waits for
PH_TRIAGE, PH_TRACE, PH_FOLLOW, PH_RECHECK, PH_DONE = 1, 2, 3, 4, 5
# step codes used here (index in policies.config.ACTIONS)
TRACE, WAIT_RECHECK = 2, 3
# close reasons (index in policies.cases.CLOSE_REASONS)
R_DELIVERED, R_MOVED, R_PLAN_DONE = 1, 2, 3


@njit(cache=True)
def _push(heap, st, nq, now, t, kind, who, aux):
    """Schedule an event.  One at the current instant goes to the FIFO ``nq`` (it was
    scheduled after every event already waiting for this instant, so FIFO is SimPy's
    order); later ones go to the heap, ordered by (time, schedule order)."""
    if t == now:
        k = st[5] % nq.shape[0]
        nq[k, 0] = kind
        nq[k, 1] = who
        nq[k, 2] = aux
        st[5] += 1
    else:
        heapq.heappush(heap, (t, st[0], np.int64(kind), np.int64(who), np.int64(aux)))
    st[0] += 1


@njit(cache=True)
def run_queue(open_t, open_order, parcel, plan_of, plan_off, plan_len, codes, manual, delivered,
              next_move, h_triage, h_follow, trace_h, win_start, win_end, win_off, win_len,
              recheck, horizon, kpi_start, kpi_end, queue_cap, rec_cap):
    n = open_t.size
    n_an = win_off.size
    pos = np.zeros(n, np.int64)
    triaged = np.zeros(n, np.bool_)
    phase = np.zeros(n, np.int64)
    first = np.full(n, np.nan)
    handling = np.zeros(n)
    closed = np.full(n, np.nan)
    reason = np.zeros(n, np.int64)
    rec_case = np.empty(rec_cap, np.int64)
    rec_pos = np.empty(rec_cap, np.int64)
    rec_time = np.empty(rec_cap)
    rec_prev_trace = np.empty(rec_cap, np.int64)  # the case's last trace record before it
    last_trace = np.full(n, -1, np.int64)
    nrec = 0
    q_case = np.empty(queue_cap, np.int64)
    q_hours = np.empty(queue_cap)
    q_check = np.empty(queue_cap, np.bool_)
    getq = np.empty(max(n_an, 1), np.int64)
    # eid, getters waiting, task queue head, task queue tail, instant FIFO head, its tail
    st = np.zeros(6, np.int64)
    nq = np.empty((n + 2 * n_an + 16, 3), np.int64)  # at most one live event per case,
    # two per analyst
    wi = np.zeros(n_an, np.int64)
    in_window = np.zeros(n_an, np.bool_)
    waitid = np.zeros(n_an, np.int64)
    pending = np.zeros(n_an, np.bool_)
    granted = np.zeros(n_an, np.bool_)
    a_task = np.full(n_an, -1, np.int64)
    busy = 0.0

    heap = [(0.0, np.int64(0), np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    st[0] = n  # the openings were scheduled first (eids 0..n-1): merged from open_order
    next_open = 0

    now = 0.0
    # analysts start at time 0, after the cases (they were created later)
    for a in range(n_an):
        _analyst_on(a, now, heap, st, nq, getq, granted, pending, a_task, waitid, wi,
                    in_window, win_start, win_end, win_off, win_len)

    while True:
        # the next event: openings due now, then heap events due now (both scheduled
        # before this instant), then this instant's FIFO, else advance the clock
        t_open = open_t[open_order[next_open]] if next_open < n else np.inf
        t_heap = heap[0][0] if len(heap) > 0 else np.inf
        if t_open <= now or (t_heap > now and st[4] == st[5] and t_open <= t_heap):
            if t_open >= horizon:
                break
            now = t_open
            kind, who, aux = OPEN, open_order[next_open], 0
            next_open += 1
        elif t_heap <= now or st[4] == st[5]:
            if t_heap >= horizon:
                break
            t, _, kind, who, aux = heapq.heappop(heap)
            now = t
        else:
            k = st[4] % nq.shape[0]
            kind, who, aux = nq[k, 0], nq[k, 1], nq[k, 2]
            st[4] += 1
        run_analyst = -1
        if kind == PUT:
            _trigger_get_at(heap, st, nq, getq, granted, a_task, waitid, now)
        elif kind == WAKE:
            in_window[who] = True
            run_analyst = who
        elif kind == T_END or kind == GRANT:  # noqa: SIM109 (numba: no tuple membership)
            if aux == waitid[who] and pending[who]:
                pending[who] = False
                _push(heap, st, nq, now, now, COND, who, aux)
        elif kind == COND:
            if granted[who]:
                k = a_task[who]
                c = q_case[k]
                if q_check[k] and parcel[c] and next_move[c] <= now:
                    _push(heap, st, nq, now, now, DONE, c, 0)  # moved meanwhile: closed unworked
                    run_analyst = who
                else:
                    h = q_hours[k]
                    busy += max(min(now + h, kpi_end) - max(now, kpi_start), 0.0)
                    _push(heap, st, nq, now, now + h, WORK, who, 0)
            else:  # the shift ended first: withdraw, go to the next window
                for i in range(st[1]):
                    if getq[i] == who:
                        for j in range(i, st[1] - 1):
                            getq[j] = getq[j + 1]
                        st[1] -= 1
                        break
                wi[who] += 1
                in_window[who] = False
                run_analyst = who
        elif kind == WORK:
            _push(heap, st, nq, now, now, DONE, q_case[a_task[who]], 1)
            run_analyst = who
        else:  # OPEN, CASE_WAKE, DONE: the case goes on
            c = who
            go = True
            if kind == DONE:
                if phase[c] == PH_TRIAGE:
                    if aux == 0:
                        reason[c] = R_MOVED
                        closed[c] = now
                        phase[c] = PH_DONE
                        go = False
                    else:
                        if np.isnan(first[c]):
                            first[c] = now - h_triage[c]
                        handling[c] += h_triage[c]
                        if parcel[c] and delivered[c] <= now:
                            reason[c] = R_DELIVERED
                            closed[c] = now
                            phase[c] = PH_DONE
                            go = False
                        else:  # the step that needed the triage is done now
                            code = codes[plan_off[plan_of[c]] + pos[c]]
                            nrec = _record(rec_case, rec_pos, rec_time, rec_prev_trace,
                                           last_trace, nrec, c, pos[c], now, code == TRACE)
                            phase[c] = 0
                            if code == TRACE:
                                _push(heap, st, nq, now, now + max((now + trace_h[c]) - now, 0.0),
                                      CASE_WAKE, c, 0)
                                phase[c] = PH_TRACE
                                go = False
                            elif code == WAIT_RECHECK:
                                _push(heap, st, nq, now, now + recheck, CASE_WAKE, c, 0)
                                phase[c] = PH_RECHECK
                                go = False
                            else:
                                pos[c] += 1
                else:  # a follow-up after a trace
                    handling[c] += h_follow[c]
                    pos[c] += 1
                    phase[c] = 0
            elif kind == CASE_WAKE:
                if phase[c] == PH_TRACE:  # the reply is in: a follow-up for an analyst
                    k = st[3]
                    q_case[k] = c
                    q_hours[k] = h_follow[c]
                    q_check[k] = False
                    st[3] += 1
                    _push(heap, st, nq, now, now, PUT, c, 0)
                    phase[c] = PH_FOLLOW
                    go = False
                else:
                    pos[c] += 1
                    phase[c] = 0
            while go:
                p = plan_of[c]
                if pos[c] >= plan_len[p]:
                    closed[c] = now
                    if reason[c] == 0:
                        reason[c] = R_PLAN_DONE
                    phase[c] = PH_DONE
                    break
                if parcel[c] and delivered[c] <= now:
                    reason[c] = R_DELIVERED
                    closed[c] = now
                    phase[c] = PH_DONE
                    break
                code = codes[plan_off[p] + pos[c]]
                if manual[code] and not triaged[c]:
                    triaged[c] = True
                    k = st[3]
                    q_case[k] = c
                    q_hours[k] = h_triage[c]
                    q_check[k] = True
                    st[3] += 1
                    _push(heap, st, nq, now, now, PUT, c, 0)
                    phase[c] = PH_TRIAGE
                    break
                nrec = _record(rec_case, rec_pos, rec_time, rec_prev_trace, last_trace, nrec, c,
                               pos[c], now, code == TRACE)
                if code == TRACE:
                    _push(heap, st, nq, now, now + max((now + trace_h[c]) - now, 0.0), CASE_WAKE, c, 0)
                    phase[c] = PH_TRACE
                    break
                if code == WAIT_RECHECK:
                    _push(heap, st, nq, now, now + recheck, CASE_WAKE, c, 0)
                    phase[c] = PH_RECHECK
                    break
                pos[c] += 1
        if run_analyst >= 0:
            _analyst_on(run_analyst, now, heap, st, nq, getq, granted, pending, a_task, waitid,
                        wi, in_window, win_start, win_end, win_off, win_len)

    n_done = np.zeros(n, np.int64)
    for i in range(nrec):
        n_done[rec_case[i]] += 1
    return (first, handling, closed, reason, n_done, rec_case[:nrec].copy(),
            rec_pos[:nrec].copy(), rec_time[:nrec].copy(), rec_prev_trace[:nrec].copy(), busy)


@njit(cache=True)
def _record(rec_case, rec_pos, rec_time, rec_prev_trace, last_trace, nrec, c, p, now,
            is_trace):
    """Append "case ``c`` did plan step ``p`` at ``now``" (the desk acts on these records
    in one batch after the loop); a trace remembers its record for the steps after it."""
    rec_case[nrec] = c
    rec_pos[nrec] = p
    rec_time[nrec] = now
    rec_prev_trace[nrec] = last_trace[c]
    if is_trace:
        last_trace[c] = nrec
    return nrec + 1


@njit(cache=True)
def _analyst_on(b, now, heap, st, nq, getq, granted, pending, a_task, waitid, wi, in_window,
                win_start, win_end, win_off, win_len):
    """Analyst ``b`` carries on along its rota at ``now`` (as the SimPy analyst's loop does
    after a task or a wake-up): sleep until the next window opens, or ask for a task with a
    timeout at the window's end; windows already over are skipped."""
    while wi[b] < win_len[b]:
        s = win_start[win_off[b] + wi[b]]
        e = win_end[win_off[b] + wi[b]]
        if not in_window[b]:
            if now < s:
                _push(heap, st, nq, now, now + (s - now), WAKE, b, 0)
                return
            in_window[b] = True
        if now < e:
            getq[st[1]] = b
            st[1] += 1
            waitid[b] += 1
            pending[b] = True
            granted[b] = False
            _trigger_get_at(heap, st, nq, getq, granted, a_task, waitid, now)
            _push(heap, st, nq, now, now + (e - now), T_END, b, waitid[b])
            return
        wi[b] += 1
        in_window[b] = False


@njit(cache=True)
def _trigger_get_at(heap, st, nq, getq, granted, a_task, waitid, now):
    """Serve the oldest waiting analyst with the oldest task, at most one per call, as
    SimPy's ``Store`` does (``_do_get`` returns None, which stops the trigger loop)."""
    if st[1] > 0 and st[2] < st[3]:
        a = getq[0]
        for i in range(st[1] - 1):
            getq[i] = getq[i + 1]
        st[1] -= 1
        granted[a] = True
        a_task[a] = st[2]
        st[2] += 1
        _push(heap, st, nq, now, now, GRANT, a, waitid[a])


@njit(cache=True)
def next_seen(ptr, seen, rows, t):
    """Per query: the first ``seen`` of order ``rows[i]`` later than ``t[i]`` (inf if none);
    ``seen[ptr[o]:ptr[o + 1]]`` is order o's sorted seen times."""
    out = np.full(rows.size, np.inf)
    for i in range(rows.size):
        lo = ptr[rows[i]]
        hi = ptr[rows[i] + 1]
        while lo < hi:  # first index with seen > t (searchsorted side="right")
            mid = (lo + hi) // 2
            if seen[mid] <= t[i]:
                lo = mid + 1
            else:
                hi = mid
        if lo < ptr[rows[i] + 1]:
            out[i] = seen[lo]
    return out
