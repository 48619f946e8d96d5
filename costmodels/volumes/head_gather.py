"""The head's gather of a batch, batch-last: :meth:`Simulator.finish` on a switched medium.

The same maths as the simulator's general ``finish`` (every part's rows to the head device, the
head runs, its result goes back to the requester), laid out (N, B) like
:mod:`~splitgym.costmodels.volumes.transfer_arrival`: the argmax and the max over devices become
elementwise passes over contiguous rows instead of numpy's slow reductions over a short last axis,
and the masks are applied by multiplication (values are finite and >= 0, so ``* 0`` gives +0.0).
The results equal the general path's to the last bit (``tests/test_fast_advance.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.costmodels.network import transfer_seconds

__all__ = ["gather_at_head"]

#: up to this many devices the head (first largest part) is found by a pass per device
LOOP_ARGMAX_N = 16


def _first_argmax(x: np.ndarray) -> np.ndarray:
    """(B,) index of the first maximum of each column of ``x`` (N, B), as ``np.argmax(axis=0)``."""
    if x.shape[0] > LOOP_ARGMAX_N:
        return np.argmax(np.ascontiguousarray(x.T), axis=1)
    h = np.zeros(x.shape[1], dtype=np.int64)
    best = x[0].copy()
    for k in range(1, x.shape[0]):
        np.putmask(h, x[k] > best, k)
        np.maximum(best, x[k], out=best)
    return h


def gather_at_head(
    sim: Any, last_cuts: np.ndarray, T: np.ndarray, head_device: int | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:meth:`Simulator.finish` of a model with a head on a switched medium: (B,) end-to-end
    latency and the per-instance head, its start, the result's return, gather bytes and seconds."""
    N, B = sim.N, T.shape[0]
    cuts_t = np.ascontiguousarray(last_cuts.T)
    nb = (cuts_t[1:] - cuts_t[:-1]) * sim.row_bytes[-1]  # (N, B)
    h = _first_argmax(nb) if head_device is None else np.full(B, head_device)
    cols = np.arange(B)
    nb.ravel()[h * B + cols] = 0.0  # the head holds its own rows
    sent = nb > 0
    secs = nb * 8.0
    secs /= (sim.bw[:N] * 1e6).take(h, axis=1)  # rate from device k to instance i's head
    secs += sim.latency_s + sim.overhead_s
    secs *= sent
    T_t = np.ascontiguousarray(T.T)
    arrive = (T_t + secs) * sent
    arrive = arrive.max(axis=0)
    start = np.maximum(T_t.ravel().take(h * B + cols), arrive)
    result_of = transfer_seconds(np.full(N, sim.result_bytes), sim.bw[:N, N], sim.latency_s, sim.overhead_s)
    result = result_of.take(h)
    end = start + sim.head_lat.take(h) + result
    info = {"head": h, "head_start": start, "result": result, "gather_bytes": nb.T, "gather_s": secs.T}
    return end, info
