"""When each part's input has arrived (switched medium): dense for a few devices, sparse for many.

Part k of a volume can start once every slice it needs from another part m of the previous volume
(or from the requester) has arrived: ``max over m with bytes > 0 of ready_m + seconds_km``, where
``seconds = latency + overhead + 8 bytes / (mbps 1e6)`` (:func:`network.transfer_seconds`).

* :func:`dense_arrival` prices every (source, part) pair but a part's own, laid out (pairs, B):
  the batch last, so every operation runs over long contiguous rows and the max over sources is
  an elementwise maximum of contiguous blocks (numpy's reduction over a short last axis was most
  of the old step's time).
* :func:`sparse_arrival` prices only the pairs that overlap. The previous volume's cuts are
  sorted, so the non-empty parts a part ``[lo, hi)`` needs rows from are one run of them, found
  by looking up the owners of rows ``lo`` and ``hi - 1`` (a row -> owner table of the batch); a
  part needs rows from its neighbours and a few more, so a 64-device batch prices a few pairs
  per part instead of 64, and the per-part max is a ``maximum.reduceat`` over the runs.

Both do the same double operations per priced pair as the old dense code, and the max is exact,
so their results are equal to it (``tests/test_fast_advance.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_arrival", "sparse_arrival", "pairs_by_part", "SPARSE_MIN_N"]

#: from this many devices on, the simulator prices transfers sparsely (experiments/bench_sparse.py)
SPARSE_MIN_N = 20


def pairs_by_part(n_src: int, n_dst: int, own_free: bool) -> tuple[np.ndarray, np.ndarray]:
    """(source, part) index pairs grouped by part, every source of each part in order, a part's
    own rows left out where they are free (``own_free``, sources and parts the same devices)."""
    src = [m for k in range(n_dst) for m in range(n_src) if not (own_free and m == k)]
    dst = [k for k in range(n_dst) for m in range(n_src) if not (own_free and m == k)]
    return np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)


def dense_arrival(
    in_lo: np.ndarray,
    in_hi: np.ndarray,
    src_lo: np.ndarray,
    src_hi: np.ndarray,
    ready: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    row_bits: float,
    rate: np.ndarray,
    base: float,
) -> np.ndarray:
    """(N, B) arrival of each part's last slice (0 when it needs none), everything batch-last.

    Args:
        in_lo, in_hi: (N, B) input rows each part needs (doubles holding integers).
        src_lo, src_hi, ready: (M, B) rows each source holds (doubles) and when it has them.
        pairs: :func:`pairs_by_part`, P = N x S (source, part) pairs, S sources per part.
        row_bits: bits of one row, ``8 * bytes``; ``rows * (8 * bytes)`` equals ``(rows * bytes)
            * 8`` (a power of two).
        rate: (P, B) link rate ``mbps * 1e6`` of each pair, repeated over the batch (an ufunc
            over a broadcast (P, 1) operand runs numpy's slow strided loops, ~6x slower here).
        base: ``latency_s + overhead_s`` of one message.

    The masks are branch-free arithmetic (``maximum``/``minimum`` and ``* keep``): a masked copy,
    ``np.sign`` or ``np.heaviside`` over a random mask branch per element and cost 10-60x more.
    """
    src, dst = pairs
    if not src.size:  # one device: nothing to fetch
        return np.zeros(in_lo.shape)
    x = in_hi.take(dst, axis=0)  # (P, B)
    np.minimum(x, src_hi.take(src, axis=0), out=x)
    z = in_lo.take(dst, axis=0)
    np.maximum(z, src_lo.take(src, axis=0), out=z)
    x -= z
    np.maximum(x, 0.0, out=x)  # rows of overlap
    keep = np.minimum(x, 1.0, out=z)  # 1.0 where a message is sent (rows are whole), else 0.0
    x *= row_bits
    x /= rate
    x += base  # seconds of the transfer
    x += ready.take(src, axis=0)  # arrival, finite and >= 0 (rates are > 0), so * 0.0 gives +0.0
    x *= keep  # (a masked copy is ~20x slower: it branches on a random mask)
    return x.reshape(in_lo.shape[0], -1, x.shape[1]).max(axis=1)


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
        in_lo, in_hi: (B, N) input rows each part needs (``0 <= lo <= hi <= H``).
        prev_cuts: (B, N+1) the previous volume's cuts, sorted, from 0 to its height H.
        ready: (B, N) when each part of the previous volume finished.
        row_bytes: bytes of one row of the previous volume's output.
        mbps_e6: (N * N,) link rate ``mbps * 1e6`` from device m to device k at ``m * N + k``.
        base: ``latency_s + overhead_s`` of one message.

    The non-empty previous parts of the whole batch are numbered in order (instance, device);
    ``owner[i * H + r]`` is the number of the one holding row r of instance i. A part needing rows
    ``[lo, hi)`` then gets them from the numbers ``owner(lo) .. owner(hi - 1)``: a run, every one
    overlapping (empty parts, which a 64-device plan on a 14-row volume has many of, never appear).
    """
    B, N = in_lo.shape
    H = int(prev_cuts[0, -1])
    held = (prev_cuts[:, 1:] - prev_cuts[:, :-1]).ravel()  # rows of each previous part
    parts = np.flatnonzero(held)  # the non-empty ones, flat (instance, m)
    owner = np.repeat(np.arange(parts.size), held[parts])  # (B * H,)
    row0 = np.arange(0, B * H, H, dtype=np.int64)[:, None]
    lo, hi = (in_lo + row0).ravel(), (in_hi + row0).ravel()  # flat rows of the batch
    need = hi > lo
    first = owner.take(lo, mode="clip")
    width = owner.take(hi - 1, mode="clip")  # (an empty part's lookups are any row: width 0 below)
    width += 1
    width -= first
    width *= need
    total = int(width.sum())
    if total == 0:
        return np.zeros((B, N))
    start = np.cumsum(width)
    start -= width
    dst = np.repeat(np.arange(B * N), width)  # the pair's part, flat (instance, k)
    src = np.repeat(first - start, width)
    src += np.arange(total)
    src = parts.take(src)  # its source, flat (instance, m)
    src_lo = (prev_cuts[:, :-1] + row0).ravel().take(src)
    ov = np.minimum(hi.take(dst), src_lo + held.take(src))
    ov -= np.maximum(lo.take(dst), src_lo)
    m, k = src % N, dst % N
    nb = np.empty(total + 1)  # one more, 0: the end of the last run for reduceat
    np.multiply(ov, row_bytes, out=nb[:-1])
    nb[-1] = 0.0
    nb[:-1] *= 8.0
    nb[:-1] /= mbps_e6.take(m * N + k)
    nb[:-1] += base
    nb[:-1] += ready.ravel().take(src)
    nb[:-1] *= m != k  # a part's own rows are free (nb is finite and >= 0: * 0 gives +0.0)
    arrival = np.maximum.reduceat(nb, start)  # a part without runs gets the next run's first value
    arrival *= need
    return arrival.reshape(B, N)
