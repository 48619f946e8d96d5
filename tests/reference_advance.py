"""A frozen copy of ``Simulator.advance`` as it was before the table/sparse rewrite (issue 18.4):
the reference the new batched path must equal to the last bit (tests/test_fast_advance.py)."""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.network import transfer_seconds


def reference_advance(
    sim, first: int, last: int, cuts: np.ndarray, T_prev: np.ndarray, prev_cuts: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    """(T, compute, recv_bytes, recv_seconds, in_lo, in_hi, ranges) of one volume, the old maths."""
    B = cuts.shape[0]
    nonempty = cuts[:, 1:] > cuts[:, :-1]
    ranges = sim.split.ranges(first, last, cuts)
    rows = np.stack([b - a for a, b in ranges[:-1]])
    units = np.arange(last, first - 1, -1)[:, None, None]
    compute = sim.lat[np.arange(sim.N), units, rows].sum(axis=0)
    a, b = ranges[-1]
    nbytes = sim.split.received_bytes(first, a, b, prev_cuts)
    if prev_cuts is None:
        src_dev, ready = np.array([sim.N]), np.zeros((B, 1))
    else:
        src_dev, ready = np.arange(sim.N), T_prev
    bw = sim.bw[src_dev][:, : sim.N].T
    secs = transfer_seconds(nbytes, bw[None], sim.latency_s, sim.overhead_s)
    if sim.shared:
        secs = sim._queued(np.broadcast_to(ready[:, None, :], nbytes.shape), secs, nbytes)
    arrival = np.where(nbytes > 0, ready[:, None, :] + secs, 0.0).max(axis=2)
    T = np.where(nonempty, np.maximum(T_prev, arrival) + compute, T_prev)
    return T, compute, nbytes, secs, a, b, ranges


def reference_score(sim, partition: list[tuple[int, int]], cuts: np.ndarray, head_device: int | None = None):
    """(B,) latencies of a batch by :func:`reference_advance` and the simulator's ``finish``."""
    T = np.zeros((cuts.shape[0], sim.N))
    prev = None
    for v, (f, l) in enumerate(partition):
        T = reference_advance(sim, f, l, cuts[:, v], T, prev)[0]
        prev = cuts[:, v]
    if sim.graph.head is not None and not sim.shared:
        return reference_finish(sim, prev, T, head_device)[0]
    return sim.finish(prev, T, head_device)[0]  # (the headless and shared finish are unchanged)


def reference_finish(sim, last_cuts: np.ndarray, T: np.ndarray, head_device: int | None = None):
    """``Simulator.finish`` of a model with a head on a switched medium, the old maths."""
    B = T.shape[0]
    nbytes = sim.split.gather_bytes(last_cuts)
    h = np.argmax(nbytes, axis=1) if head_device is None else np.full(B, head_device)
    nbytes[np.arange(B), h] = 0.0
    secs = transfer_seconds(nbytes, sim.bw[: sim.N][:, h].T, sim.latency_s, sim.overhead_s)
    arrive = np.where(nbytes > 0, T + secs, 0.0).max(axis=1)
    start = np.maximum(T[np.arange(B), h], arrive)
    result = transfer_seconds(np.full(B, sim.result_bytes), sim.bw[h, sim.N], sim.latency_s, sim.overhead_s)
    end = start + sim.head_lat[h] + result
    return end, {"head": h, "head_start": start, "result": result, "gather_bytes": nbytes, "gather_s": secs}
