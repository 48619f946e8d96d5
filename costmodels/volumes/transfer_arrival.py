"""When each part's input has arrived (switched medium): dense for a few devices, sparse for many.

Part k of a volume can start once every slice it needs from another part m of the previous volume
(or from the requester) has arrived: ``max over m with bytes > 0 of ready_m + seconds_km``, where
``seconds = latency + overhead + 8 bytes / (mbps 1e6)`` (:func:`network.transfer_seconds`).

* :func:`dense_arrival` prices every (source, part) pair, laid out (M, N, B): the batch last, so
  every operation runs over long contiguous rows and the max over sources is an elementwise
  maximum of contiguous blocks (numpy's reduction over a short last axis was most of the old
  step's time).
* :func:`sparse_arrival` prices only the pairs that can overlap. The previous volume's cuts are
  sorted, so the sources a part ``[lo, hi)`` needs rows from are one run ``m_lo..m_hi - 1`` of
  them (two ``searchsorted`` over the whole batch, rows kept apart by an offset per instance);
  a part needs rows from its neighbours and a few more, so a 64-device batch prices ~3 pairs per
  part instead of 64, and the per-part max is a ``maximum.reduceat`` over the runs.

Both do the same double operations per priced pair as the old dense code, and the max is exact,
so their results are equal to it (``tests/test_fast_advance.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_arrival", "sparse_arrival", "SPARSE_MIN_N"]

#: from this many devices on, the simulator prices transfers sparsely (experiments/bench_sparse.py)
SPARSE_MIN_N = 16


def dense_arrival(
    in_lo: np.ndarray,
    in_hi: np.ndarray,
    src_lo: np.ndarray,
    src_hi: np.ndarray,
    ready: np.ndarray,
    row_bits: np.ndarray,
    mbps_e6: np.ndarray,
    base: float,
) -> np.ndarray:
    """(N, B) arrival of each part's last slice (0 when it needs none), everything batch-last.

    Args:
        in_lo, in_hi: (N, B) input rows each part needs (doubles holding integers).
        src_lo, src_hi, ready: (M, B) rows each source holds (doubles) and when it has them.
        row_bits: (M, N) bits of one row from source m to part k, ``8 * bytes`` (0 where the data
            is free); ``rows * (8 * bytes)`` equals ``(rows * bytes) * 8`` (a power of two).
        mbps_e6: (M, N) link rate ``mbps * 1e6`` from source m to part k.
        base: ``latency_s + overhead_s`` of one message.

    Every (M, N, B) operand is first copied into a full buffer (a broadcast copy is cheap; an
    arithmetic ufunc over broadcast operands runs numpy's slow strided loops, ~6x slower here).
    """
    M, (N, B) = src_lo.shape[0], in_lo.shape
    x, y = np.empty((M, N, B)), np.empty((M, N, B))
    x[:] = in_hi
    y[:] = src_hi[:, None]
    np.minimum(x, y, out=x)
    z = np.empty((M, N, B))
    z[:] = in_lo
    y[:] = src_lo[:, None]
    np.maximum(z, y, out=z)
    x -= z
    np.maximum(x, 0.0, out=x)  # rows of overlap
    y[:] = row_bits[:, :, None]
    x *= y  # bits, >= 0
    keep = np.sign(x, out=z)  # 1.0 where a message is sent, else 0.0
    y[:] = mbps_e6[:, :, None]
    x /= y
    x += base  # seconds of the transfer
    y[:] = ready[:, None]
    x += y  # arrival, finite and >= 0 (rates are > 0), so * 0.0 gives +0.0
    x *= keep  # (a masked copy is ~20x slower: it branches on a random mask)
    return x.max(axis=0)


def sparse_arrival(
    in_lo: np.ndarray,
    in_hi: np.ndarray,
    prev_cuts: np.ndarray,
    ready: np.ndarray,
    row_bytes: float,
    mbps_e6: np.ndarray,
    base: float,
) -> np.ndarray:
    """:func:`dense_arrival` between two volumes of N parts, pricing only the overlapping pairs.

    Args:
        in_lo, in_hi: (B, N) input rows each part needs.
        prev_cuts: (B, N+1) the previous volume's cuts, sorted in every row.
        ready: (B, N) when each part of the previous volume finished.
        row_bytes: bytes of one row of the previous volume's output.
        mbps_e6: (N * N,) link rate ``mbps * 1e6`` from device m to device k at ``m * N + k``.
        base: ``latency_s + overhead_s`` of one message.
    """
    B, N = in_lo.shape
    span = max(int(prev_cuts.max()), int(in_hi.max())) + 1
    off = np.arange(0, B * span, span, dtype=np.int64)[:, None]  # keeps the instances' rows apart
    src_lo = (prev_cuts[:, :-1] + off).ravel()
    src_hi = (prev_cuts[:, 1:] + off).ravel()
    lo, hi = (in_lo + off).ravel(), (in_hi + off).ravel()
    first = np.searchsorted(src_hi, lo, side="right")  # first source ending after lo (global index)
    width = np.searchsorted(src_lo, hi, side="left") - first  # sources starting before hi
    np.maximum(width, 0, out=width)
    arrival = np.zeros(B * N)
    total = int(width.sum())
    if total == 0:
        return arrival.reshape(B, N)
    start = np.cumsum(width) - width
    dst = np.repeat(np.arange(B * N), width)  # the pair's part, flat (instance, k)
    src = np.repeat(first - start, width) + np.arange(total)  # its source, flat (instance, m)
    ov = np.minimum(hi[dst], src_hi[src]) - np.maximum(lo[dst], src_lo[src])
    m, k = src % N, dst % N
    nb = ov * row_bytes
    none = (nb <= 0.0) | (m == k)  # no rows, or the part's own rows (free)
    nb *= 8.0
    nb /= mbps_e6[m * N + k]
    nb += base
    nb += ready.ravel()[src]
    np.copyto(nb, 0.0, where=none)
    has = width > 0
    arrival[has] = np.maximum.reduceat(nb, start[has])
    return arrival.reshape(B, N)
