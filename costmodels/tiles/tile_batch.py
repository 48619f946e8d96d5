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
from typing import TYPE_CHECKING, Any

import numpy as np

from splitgym.costmodels.graph import DTYPE_BYTES

if TYPE_CHECKING:
    from splitgym.costmodels.tiles.tile_cost import TileCostModel

__all__ = ["BatchWalk", "TileArrays", "SEARCH_MIN"]

SEARCH_MIN = 200_000  # table lookups (layouts x units x devices x knots) above which seconds_of searches


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
        self._geometry_groups(rows)
        self.c_in_u, self.c_out_u = self.c_in[None, :, None], self.c_out[None, :, None]
        self.c_in_m = self.c_in[None, :, None, None]
        self.off_diag = ~np.eye(self.N, dtype=bool)
        self.edges = model.counting == "edges"
        self.shared = model.shared
        self.lat, self.ovh = model.latency_s, model.overhead_s
        self.bw_bps = np.asarray(model.bw, dtype=float).T * 1e6  # [receiver d, sender e] = bw[e][d]
        self.lat_ovh = self.lat + self.ovh
        self.scatter_mbps = model.scatter_mbps  # (N,) or None
        self.ops_coef = model.ops_coef  # (N, U) seconds per output element, or None (profiles)
        if self.ops_coef is None:
            self._rate_tables(model)

    def _geometry_groups(self, rows: list[tuple[Any, ...]]) -> None:
        """Units with the same output size, row/column maps and input size have the same halo
        geometry (VGG-16: 10 kinds among 18 units); it is computed once per kind, ``G`` of them."""
        kinds: dict[tuple[Any, ...], int] = {}
        prev, gidx = (self.h, self.w), []
        for r in rows:
            gidx.append(kinds.setdefault((r[1], r[2], r[5], r[6], prev), len(kinds)))
            prev = (r[1], r[2])
        self.gidx = np.array(gidx)
        first = [gidx.index(g) for g in range(len(kinds))]
        key = list(kinds)
        paths = _paths([rows[u][5] for u in first] + [rows[u][6] for u in first]).astype(np.int32)
        paths = paths.reshape(2, len(first), -1, 4).transpose(1, 0, 2, 3)
        self.S, self.P, self.C, self.S_hi = (paths[None, :, None, :, :, i] for i in range(4))  # (1, G, 1, 2, P)
        self.mul = np.array([k[:2] for k in key], dtype=np.int32)[None, :, None, :, None]  # (1, G, 1, 2, 1)
        self.pmul = np.array([k[4] for k in key], dtype=np.int32)[None, :, None, :, None]  # the input's size
        self.div = np.array([self.h, self.w], dtype=np.int32)[:, None]  # (2, 1)
        self.count_g = np.bincount(self.gidx, minlength=len(first))  # units per kind
        self.cin_g = np.bincount(self.gidx, weights=self.c_in, minlength=len(first))  # their C_in summed

    def _rate_tables(self, model: TileCostModel) -> None:
        """Every (unit, device) table flattened into one array of knots, with each segment's slope
        precomputed by the loop's own division (so ``slope * (x - xs[j]) + ys[j]`` is the same
        double), and per table its offset, first and last knots."""
        rates = [[model.rates[d][u] for d in range(self.N)] for u in range(self.U)]  # (U, N)
        k = max(len(r.heights) for row in rates for r in row)
        xs = np.full((self.U, self.N, k), np.inf)
        ys = np.zeros((self.U, self.N, k))
        slope = np.zeros((self.U, self.N, k))
        last = np.zeros((self.U, self.N), dtype=np.int64)
        for u, row in enumerate(rates):
            for d, r in enumerate(row):
                m = len(r.heights)
                xs[u, d, :m], ys[u, d, :m] = r.heights, r.seconds
                with np.errstate(divide="ignore", invalid="ignore"):
                    slope[u, d, : m - 1] = (r.seconds[1:] - r.seconds[:-1]) / (r.heights[1:] - r.heights[:-1])
                last[u, d] = m - 1
        self.knots = xs  # (U, N, K), +inf padded: counting knots <= x is bisect_right
        self.xs_flat, self.ys_flat, self.slope_flat = xs.ravel(), ys.ravel(), slope.ravel()
        self.base = (np.arange(self.U * self.N) * k).reshape(self.U, self.N)
        self.last = last
        self.x0, self.y0 = xs[..., 0], ys[..., 0]
        self.x_last, self.y_last = (
            np.take_along_axis(xs, last[..., None], -1)[..., 0],
            ys[np.arange(self.U)[:, None], np.arange(self.N), last],
        )
        self.x_per_elem = np.array([[r.h_ref / r.area for r in row] for row in rates])
        self.h_ref = np.array([[r.h_ref for r in row] for row in rates])
        self.area = np.array([[r.area for r in row] for row in rates])
        self.scale = np.array([[r.scale for r in row] for row in rates])
        self.below = self.scale * self.y0
        groups: dict[tuple[float, ...], list[int]] = {}
        for i, (u, d) in enumerate(np.ndindex(self.U, self.N)):
            groups.setdefault(tuple(xs[u, d, : last[u, d] + 1].tolist()), []).append(i)
        self.knot_groups = [(np.array(k), np.array(cols)) for k, cols in groups.items()]

    def seconds_of(self, elems: np.ndarray) -> np.ndarray:
        """(B, U, N) compute seconds for owned regions of ``elems`` output elements."""
        if self.ops_coef is not None:
            return elems * self.ops_coef.T[None]
        x = elems / self.area * self.h_ref
        if x.size * self.knots.shape[-1] <= SEARCH_MIN:  # few layouts: one comparison for all tables
            count = (self.knots <= x[..., None]).sum(-1)
        else:  # many: one searchsorted per distinct knot vector (bisect_right, the same count)
            flat = x.reshape(len(x), -1)
            count = np.empty(flat.shape, dtype=np.int64)
            for knots, cols in self.knot_groups:
                count[:, cols] = np.searchsorted(knots, flat[:, cols], side="right")
            count = count.reshape(x.shape)
        j = np.minimum(np.maximum(count - 1, 0), self.last)
        idx = self.base + j
        xj, yj = self.xs_flat[idx], self.ys_flat[idx]
        inner = np.where(x >= self.x_last, self.y_last, np.where(xj == x, yj, self.slope_flat[idx] * (x - xj) + yj))
        t = np.where(x < self.x0, self.below * x / self.x0, self.scale * inner)
        return np.where(elems > 0, t, 0.0)

    def walk(self, rects: np.ndarray) -> BatchWalk:
        """Score a batch of layouts, ``rects`` of shape ``(B, N, 4)`` (``r0, r1, c0, c1``).

        Rows and columns travel together: rectangles are ``(..., 2, 2)`` arrays of ``[axis][lo,
        hi]``, so each step is one numpy call for both axes (what a single layout's time is made of)."""
        rects = np.asarray(rects, dtype=np.int32)  # geometry in int32 (<= 4096^2), byte counts in int64
        B, g = rects.shape[0], self.gidx
        box = rects.reshape(B, 1, self.N, 2, 2)
        own = box * self.mul // self.div  # (B, G, N, 2, 2): floor(b * H_l / H) per axis, per kind
        prev = box * self.pmul // self.div  # what each sender owns before the unit
        ext = own[..., 1] - own[..., 0]  # (B, G, N, 2)
        o_area = ext[..., 0] * ext[..., 1]  # ext >= 0: tiles never invert (no reduce over 2: slow in numpy)
        full = (ext[..., 0] > 0) & (ext[..., 1] > 0)
        start = np.minimum(self.S_hi, np.maximum(0, self.S * own[..., :1] - self.P))  # (B, G, N, 2, P)
        end = np.maximum(start, np.minimum(self.S_hi, self.S * own[..., 1:] + self.C))
        need_lo, need_hi = start.min(-1), end.max(-1)  # (B, G, N, 2): the needed hull
        need = need_hi - need_lo
        lo = np.maximum(need_lo[:, :, :, None], prev[:, :, None, :, :, 0])  # (B, G, d, e, 2)
        side = np.minimum(need_hi[:, :, :, None], prev[:, :, None, :, :, 1]) - lo
        ok = (side[..., 0] > 0) & (side[..., 1] > 0) & full[..., None] & self.off_diag
        cells = side[..., 0] * side[..., 1]
        if self.edges:  # leave out the cells outside both the receiver's rows and its columns
            mine = prev[:, :, :, None]  # the receiver's own tile, (B, G, d, 1, 2, 2)
            inside = np.maximum(0, np.minimum(lo + side, mine[..., 1]) - np.maximum(lo, mine[..., 0]))
            out = side - inside
            cells = cells - out[..., 0] * out[..., 1]
            ok &= cells > 0
        cells = np.where(ok, cells, 0)
        o_unit = o_area[:, g]  # (B, U, N)
        act = np.where(full[:, g], (need[..., 0] * need[..., 1])[:, g] * self.c_in_u + o_unit * self.c_out_u, 0)
        if self.shared:  # the FIFO runs per unit: expand the messages to units
            comm_s = self._fifo(ok[:, g], cells[:, g] * self.c_in_m)
        else:  # per kind: its units' messages summed (count x latency, sum C_in x wire time)
            wire = (cells * (8.0 * DTYPE_BYTES) / self.bw_bps).sum(-1)  # (B, G, N) seconds per channel
            comm_s = (ok.sum(-1) * (self.count_g * self.lat_ovh)[:, None] + self.cin_g[:, None] * wire).sum(1)
        per_recv = cells.sum(-1)  # (B, G, N)
        return BatchWalk(
            compute=self.seconds_of(o_unit).sum(1),
            comm_seconds=comm_s,
            comm_bytes=(per_recv * self.cin_g[:, None]).sum(1) * float(DTYPE_BYTES),
            activation=act.max(1) * float(DTYPE_BYTES),
            layer_elements=(per_recv.sum(-1)[:, g] * self.c_in).astype(float),
            messages=(ok.sum((2, 3)) * self.count_g).sum(1),
            last=own[:, g[-1]].reshape(B, self.N, 4),
            scatter=self._scatter(rects),
        )

    def _fifo(self, ok: np.ndarray, elems: np.ndarray) -> np.ndarray:
        """(B, N) exchange time on a shared medium: per unit, the messages in receiver-then-sender
        order, each receiver's time the end of its last one."""
        B = ok.shape[0]
        secs = np.where(ok, self.lat_ovh + elems * float(DTYPE_BYTES) * 8.0 / self.bw_bps, 0.0)
        done = np.cumsum(secs.reshape(B, self.U, -1), -1)[..., self.N - 1 :: self.N]  # end of each block
        return np.where(ok.any(-1), done, 0.0).sum(1)

    def _scatter(self, rects: np.ndarray) -> np.ndarray:
        """(B, N) when each device has received its input tile from the requester."""
        if self.scatter_mbps is None:
            return np.zeros(rects.shape[:2])
        area = np.maximum(0, rects[..., 1] - rects[..., 0]) * np.maximum(0, rects[..., 3] - rects[..., 2])
        nb = (area * self.c_in0 * DTYPE_BYTES).astype(float)
        secs = np.where(nb > 0, self.lat + self.ovh + nb * 8.0 / (self.scatter_mbps * 1e6), 0.0)
        return np.where(nb > 0, np.cumsum(secs, -1), 0.0) if self.shared else secs
