"""The tile cost model's hot loop in numpy, for a batch of layouts at once.

:meth:`TileCostModel._walk` walks units, receivers and senders in three nested Python loops
(89% of an NPTP-v0 step). Everything in it is elementwise integer geometry on rectangles, so the
same quantities come out of arrays shaped ``(B, U, N)`` (batch, unit, device) and ``(B, U, N, N)``
(receiver ``d``, sender ``e``):

* ownership ``floor(b * H_l / H)`` and the needed hull (``min``/``max`` over a unit's
  ``(S, P, C, hi)`` paths, padded by repeating the first path, which changes no min or max);
* every halo piece as the intersection of the receiver's hull with each sender's previous tile;
* compute as the profile's interpolation with the same arithmetic as :func:`tile_cost._interp`
  (``slope * (x - xs[j]) + ys[j]``; tables of different lengths padded with ``+inf`` knots);
* a shared medium's FIFO per layer as a cumulative sum over messages in receiver-then-sender
  order (all ready at once), read at each receiver's last message.

Per-device sums run in another order than the loop's, so results agree to floating-point
rounding, not bit for bit (tested on random plans against the loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from splitgym.costmodels.graph import DTYPE_BYTES

if TYPE_CHECKING:
    from splitgym.costmodels.tiles.tile_cost import TileCostModel

__all__ = ["BatchWalk", "TileArrays"]


def _paths(maps: list[tuple[tuple[int, int, int, int], ...]]) -> np.ndarray:
    """(U, P, 4) array of ``(S, P, C, hi)`` paths, short units padded with their first path."""
    width = max(len(m) for m in maps)
    return np.array([list(m) + [m[0]] * (width - len(m)) for m in maps], dtype=np.int64)


@dataclass
class BatchWalk:
    """Per layout of a batch: what :meth:`TileCostModel._walk` returns, as arrays."""

    compute: np.ndarray  # (B, N)
    comm_seconds: np.ndarray  # (B, N)
    comm_bytes: np.ndarray  # (B, N)
    activation: np.ndarray  # (B, N)
    layer_elements: np.ndarray  # (B, U)
    messages: np.ndarray  # (B,)
    last: np.ndarray  # (B, N, 4) owned rectangles at the last unit
    scatter: np.ndarray  # (B, N) seconds to receive the input tile (0 when the model has none)

    @property
    def total(self) -> np.ndarray:
        """(B, N) each device's scatter + compute + halo receive time."""
        return self.scatter + self.compute + self.comm_seconds


class TileArrays:
    """A :class:`TileCostModel`'s per-unit and per-device constants as arrays (built once)."""

    def __init__(self, model: TileCostModel) -> None:
        rows = model._unit_rows()
        self.N, self.U = model.N, len(rows)
        _, self.h, self.w = model.graph.input_shape
        self.c_in0 = model.graph.input_shape[0]
        self.hl = np.array([r[1] for r in rows], dtype=np.int64)
        self.wl = np.array([r[2] for r in rows], dtype=np.int64)
        self.c_in = np.array([r[3] for r in rows], dtype=np.int64)
        self.c_out = np.array([r[4] for r in rows], dtype=np.int64)
        self.rp, self.cp = _paths([r[5] for r in rows]), _paths([r[6] for r in rows])
        self.edges = model.counting == "edges"
        self.shared = model.shared
        self.lat, self.ovh = model.latency_s, model.overhead_s
        self.bw_rx = np.asarray(model.bw, dtype=float).T.copy()  # [receiver d, sender e] = bw[e][d]
        self.scatter_mbps = model.scatter_mbps  # (N,) or None
        self.ops_coef = model.ops_coef  # (N, U) seconds per output element, or None (profiles)
        if self.ops_coef is None:
            self._rate_tables(model)

    def _rate_tables(self, model: TileCostModel) -> None:
        rates = [[model.rates[d][u] for u in range(self.U)] for d in range(self.N)]
        k = max(len(r.heights) for row in rates for r in row)
        self.xs = np.full((self.N, self.U, k), np.inf)
        self.ys = np.zeros((self.N, self.U, k))
        self.n_knots = np.zeros((self.N, self.U), dtype=np.int64)
        for d, row in enumerate(rates):
            for u, r in enumerate(row):
                m = len(r.heights)
                self.xs[d, u, :m], self.ys[d, u, :m], self.ys[d, u, m:] = r.heights, r.seconds, r.seconds[-1]
                self.n_knots[d, u] = m
        self.h_ref = np.array([[r.h_ref for r in row] for row in rates]).T  # (U, N)
        self.scale = np.array([[r.scale for r in row] for row in rates]).T
        self.area = (self.hl * self.wl).astype(float)

    def seconds_of(self, elems: np.ndarray) -> np.ndarray:
        """(B, U, N) compute seconds for owned regions of ``elems`` output elements."""
        if self.ops_coef is not None:
            return elems * self.ops_coef.T[None]
        x = elems / self.area[None, :, None] * self.h_ref[None]
        xs, ys = self.xs.transpose(1, 0, 2)[None], self.ys.transpose(1, 0, 2)[None]  # (1, U, N, K)
        last = (self.n_knots.T - 1)[None]
        j = np.clip((xs <= x[..., None]).sum(-1) - 1, 0, None)
        j1 = np.minimum(j + 1, last)
        xj, yj = np.take_along_axis(xs, j[..., None], -1)[..., 0], np.take_along_axis(ys, j[..., None], -1)[..., 0]
        xk = np.take_along_axis(xs, j1[..., None], -1)[..., 0]
        yk = np.take_along_axis(ys, j1[..., None], -1)[..., 0]
        x_last = np.take_along_axis(xs, last[..., None], -1)[..., 0]
        y_last = np.take_along_axis(ys, last[..., None], -1)[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = (yk - yj) / (xk - xj) * (x - xj) + yj
            inner = np.where(x >= x_last, y_last, np.where(xj == x, yj, mid))
            below = self.scale * ys[..., 0] * x / xs[..., 0]
        t = np.where(x < xs[..., 0], below, self.scale * inner)
        return np.where(elems > 0, t, 0.0)

    def walk(self, rects: np.ndarray) -> BatchWalk:
        """Score a batch of layouts, ``rects`` of shape ``(B, N, 4)`` (``r0, r1, c0, c1``)."""
        rects = np.asarray(rects, dtype=np.int64)
        hl, wl = self.hl[None, :, None], self.wl[None, :, None]
        r0, r1, c0, c1 = (rects[:, None, :, i] for i in range(4))  # (B, 1, N)
        a0, a1, b0, b1 = r0 * hl // self.h, r1 * hl // self.h, c0 * wl // self.w, c1 * wl // self.w  # (B, U, N)
        o_area = np.maximum(0, a1 - a0) * np.maximum(0, b1 - b0)
        full = (a1 > a0) & (b1 > b0)
        n0, n1 = _hull(self.rp, a0, a1)
        m0, m1 = _hull(self.cp, b0, b1)
        c_in, c_out = self.c_in[None, :, None], self.c_out[None, :, None]
        act = np.where(full, ((n1 - n0) * (m1 - m0) * c_in + o_area * c_out), o_area * c_out) * DTYPE_BYTES
        own = np.stack([a0, a1, b0, b1], -1)  # (B, U, N, 4)
        prev = np.concatenate([rects[:, None], own[:, :-1]], 1)
        p0, p1, q0, q1 = (prev[:, :, None, :, i] for i in range(4))  # senders e: (B, U, 1, N)
        i0, i1 = np.maximum(n0[..., None], p0), np.minimum(n1[..., None], p1)  # (B, U, N, N)
        j0, j1 = np.maximum(m0[..., None], q0), np.minimum(m1[..., None], q1)
        ok = full[..., None] & (i1 > i0) & (j1 > j0) & ~np.eye(self.N, dtype=bool)
        cells = (i1 - i0) * (j1 - j0)
        if self.edges:
            d0, d1, e0, e1 = (prev[..., i][..., None] for i in range(4))  # the receiver's own tile
            rows_out = (i1 - i0) - np.maximum(0, np.minimum(i1, d1) - np.maximum(i0, d0))
            cols_out = (j1 - j0) - np.maximum(0, np.minimum(j1, e1) - np.maximum(j0, e0))
            cells = cells - rows_out * cols_out
            ok &= cells > 0
        cells = np.where(ok, cells, 0)
        elems = cells * self.c_in[None, :, None, None]
        nb = (elems * DTYPE_BYTES).astype(float)
        secs = np.where(ok, self.lat + self.ovh + nb * 8.0 / (self.bw_rx * 1e6), 0.0)
        if self.shared:
            B = rects.shape[0]
            done = np.cumsum(secs.reshape(B, self.U, -1), -1)[..., self.N - 1 :: self.N]  # end of each block
            comm_s = np.where(ok.any(-1), done, 0.0).sum(1)
        else:
            comm_s = secs.sum((1, 3))
        return BatchWalk(
            compute=self.seconds_of(o_area).sum(1),
            comm_seconds=comm_s,
            comm_bytes=nb.sum((1, 3)),
            activation=act.max(1).astype(float),
            layer_elements=elems.sum((2, 3)).astype(float),
            messages=ok.sum((1, 2, 3)),
            last=own[:, -1],
            scatter=self._scatter(rects),
        )

    def _scatter(self, rects: np.ndarray) -> np.ndarray:
        """(B, N) when each device has received its input tile from the requester."""
        if self.scatter_mbps is None:
            return np.zeros(rects.shape[:2])
        area = np.maximum(0, rects[..., 1] - rects[..., 0]) * np.maximum(0, rects[..., 3] - rects[..., 2])
        nb = (area * self.c_in0 * DTYPE_BYTES).astype(float)
        secs = np.where(nb > 0, self.lat + self.ovh + nb * 8.0 / (self.scatter_mbps * 1e6), 0.0)
        return np.where(nb > 0, np.cumsum(secs, -1), 0.0) if self.shared else secs


def _hull(paths: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tile_cost._hull` for arrays ``a, b`` of shape (B, U, N) and paths (U, P, 4)."""
    S, P, C, hi = (paths[None, :, None, :, i] for i in range(4))  # (1, U, 1, P)
    start = np.minimum(hi, np.maximum(0, S * a[..., None] - P))
    end = np.maximum(start, np.minimum(hi, S * b[..., None] + C))
    return start.min(-1), end.max(-1)
