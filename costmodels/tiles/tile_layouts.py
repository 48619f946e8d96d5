"""Tile layouts: rectangles that cover an image exactly, one per device (NPTP's partitions).

Pure geometry, no model and no cost: the cost model (:mod:`tiles`), the planners, the NPTP env and
the tile executors all build their rectangles here, so every one of them means the same layout.

* **Penetrative** layouts cut straight through the whole image: :func:`strips` (CoEdge as NPTP
  uses it, NP L15) and :func:`grid` (``p x q`` cells, every cut running edge to edge).
* **Non-penetrative** layouts have cuts that stop at another cut (T-junctions): :func:`t_layout`
  (Fig. 2(b): one device on top, two side by side below) and, in general, the layouts MPA makes
  with :func:`multilevel`: cut a piece for device 1 off the image along the height or the width,
  then a piece for device 2 off what remains, and so on; the last device gets the remainder
  (NP Section III-D, Fig. 3). A :class:`Cut` also says from which *side* of the remainder the
  piece is taken (top/left or bottom/right): the paper does not say; with both sides and any
  device order, the multilevel family holds every partition of a rectangle into 3 rectangles.
* :func:`layer_rects` carries a layout to a layer's output (the ownership rule, see there).
* :func:`all_partitions` enumerates every partition of a coarse ``g x g`` grid into ``n``
  rectangles, for the exhaustive search (``nptp-exact``).

A rectangle is a :class:`~splitgym.costmodels.slicing.Region` ``(r0, r1, c0, c1)``, half-open.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.slicing import Region

__all__ = [
    "Cut",
    "strips",
    "equal_strips",
    "grid",
    "t_layout",
    "multilevel",
    "layer_rects",
    "is_partition",
    "all_partitions",
    "fraction_cuts",
    "scale_rects",
    "shared_boundary",
    "ROWS",
    "COLS",
]

ROWS, COLS = 0, 1  # the axis a cut runs across: ROWS = a horizontal cut (pieces stacked by height)


@dataclass(frozen=True)
class Cut:
    """One MPA step: a piece of ``size`` rows (``axis=ROWS``) or columns (``axis=COLS``) taken off
    the remaining rectangle, from its start (``side=0``: top/left) or its end (``side=1``)."""

    axis: int
    size: int
    side: int = 0


def _check_sizes(sizes: Sequence[int], total: int, what: str) -> None:
    if any(s < 0 for s in sizes) or sum(sizes) != total:
        raise PlanError(f"{what}: sizes must be >= 0 and sum to {total}, got {list(sizes)}")


def strips(h: int, w: int, sizes: Sequence[int], axis: int = ROWS) -> list[Region]:
    """Penetrative strips of the given heights (``axis=ROWS``) or widths (``axis=COLS``)."""
    total = h if axis == ROWS else w
    _check_sizes(sizes, total, "strips")
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    if axis == ROWS:
        return [Region(a, b, 0, w) for a, b in zip(edges, edges[1:])]
    return [Region(0, h, a, b) for a, b in zip(edges, edges[1:])]


def equal_strips(h: int, w: int, n: int, axis: int = ROWS) -> list[Region]:
    """``n`` strips as equal as integers allow (cut at ``round(k * H / n)``)."""
    total = h if axis == ROWS else w
    edges = np.round(np.arange(n + 1) * total / n).astype(int)
    return strips(h, w, np.diff(edges).tolist(), axis)


def grid(h: int, w: int, row_edges: Sequence[int], col_edges: Sequence[int]) -> list[Region]:
    """A penetrative grid: cells row by row; ``row_edges`` from 0 to ``h``, ``col_edges`` 0 to ``w``."""
    for name, edges, total in (("row_edges", row_edges, h), ("col_edges", col_edges, w)):
        if edges[0] != 0 or edges[-1] != total or any(b < a for a, b in zip(edges, edges[1:])):
            raise PlanError(f"grid.{name}: must rise from 0 to {total}, got {list(edges)}")
    return [
        Region(r0, r1, c0, c1) for r0, r1 in zip(row_edges, row_edges[1:]) for c0, c1 in zip(col_edges, col_edges[1:])
    ]


def t_layout(h: int, w: int, top: int, left: int) -> list[Region]:
    """Fig. 2(b): rows ``[0, top)`` for device 1, then the rows below split at column ``left``
    (device 2 on the left, device 3 on the right): the vertical cut stops at the horizontal one."""
    return multilevel(h, w, [Cut(ROWS, top), Cut(COLS, left)])


def multilevel(h: int, w: int, cuts: Sequence[Cut]) -> list[Region]:
    """MPA's layouts: ``len(cuts) + 1`` rectangles; piece ``k`` is cut off the remainder by
    ``cuts[k]``; the last rectangle is what remains. A piece may be empty (size 0) only if the
    remainder is; sizes are clipped to leave at least nothing behind, never more than there is."""
    rem = Region(0, h, 0, w)
    out: list[Region] = []
    for k, c in enumerate(cuts):
        if c.axis not in (ROWS, COLS) or c.side not in (0, 1):
            raise PlanError(f"cuts.{k}: axis and side must be 0 or 1, got {c.axis}, {c.side}")
        ext = rem.rows if c.axis == ROWS else rem.cols
        if not 0 <= c.size <= ext:
            raise PlanError(f"cuts.{k}.size: must lie in 0..{ext} (the remainder's extent), got {c.size}")
        r0, r1, c0, c1 = rem
        if c.axis == ROWS:
            piece = Region(r0, r0 + c.size, c0, c1) if c.side == 0 else Region(r1 - c.size, r1, c0, c1)
            rem = Region(r0 + c.size, r1, c0, c1) if c.side == 0 else Region(r0, r1 - c.size, c0, c1)
        else:
            piece = Region(r0, r1, c0, c0 + c.size) if c.side == 0 else Region(r0, r1, c1 - c.size, c1)
            rem = Region(r0, r1, c0 + c.size, c1) if c.side == 0 else Region(r0, r1, c0, c1 - c.size)
        out.append(piece)
    out.append(rem)
    return out


def fraction_cuts(h: int, w: int, axes: Sequence[int], sides: Sequence[int], fracs: Sequence[float]) -> list[Cut]:
    """MPA's decisions as cuts: step ``k`` takes ``fracs[k]`` of the remainder's extent along
    ``axes[k]`` from side ``sides[k]``. Each piece gets at least one row/column and leaves at
    least one for every later device where the extent allows; where the chosen axis has fewer
    than 2 rows/columns left, the other axis is used."""
    rem = [h, w]
    out: list[Cut] = []
    n_left = len(fracs) + 1
    for axis, side, f in zip(axes, sides, fracs):
        n_left -= 1
        axis = int(axis)
        if rem[axis] < 2 and rem[1 - axis] >= 2:
            axis = 1 - axis
        ext = rem[axis]
        lo, hi = (1, ext - 1) if ext >= 2 else (0, 0)
        if n_left > 1 and ext >= 2:  # leave a row/column for each device still to come
            hi = max(lo, ext - n_left)
        size = int(min(hi, max(lo, round(float(f) * ext))))
        out.append(Cut(axis, size, int(side)))
        rem[axis] -= size
    return out


def layer_rects(rects: Sequence[Region], h: int, w: int, hl: int, wl: int) -> list[Region]:
    """The ownership rule: the rectangles each device owns on a ``hl x wl`` layer output.

    Every tile boundary ``b`` on the ``h x w`` image maps to ``floor(b * hl / h)`` (columns
    alike). The map is monotone with 0 -> 0 and h -> hl, so the tiles stay an exact partition at
    every layer (a tile may become empty on a small layer; its device then computes nothing
    there). This is our choice (the paper propagates sizes with Eq. 2 but does not say who owns
    which rows of a layer whose height is not a multiple of the cut); it keeps every layer's
    cut where the image's cut falls, so a layout keeps its shape all the way down.
    """
    return [Region(r0 * hl // h, r1 * hl // h, c0 * wl // w, c1 * wl // w) for r0, r1, c0, c1 in rects]


def is_partition(h: int, w: int, rects: Sequence[Region]) -> bool:
    """Do the non-empty rectangles cover the ``h x w`` map exactly once?"""
    g = np.zeros((h, w), dtype=np.int32)
    for r in rects:
        if r.r0 < 0 or r.c0 < 0 or r.r1 > h or r.c1 > w:
            return False
        if not r.empty:
            g[r.r0 : r.r1, r.c0 : r.c1] += 1
    return bool((g == 1).all())


def scale_rects(rects: Sequence[Region], g_rows: int, g_cols: int, h: int, w: int) -> list[Region]:
    """Rectangles on a coarse ``g_rows x g_cols`` grid to pixels: edge ``k`` -> ``round(k*h/g)``."""

    def rr(k: int) -> int:
        return int(round(k * h / g_rows))

    def cc(k: int) -> int:
        return int(round(k * w / g_cols))

    return [Region(rr(r0), rr(r1), cc(c0), cc(c1)) for r0, r1, c0, c1 in rects]


def all_partitions(g_rows: int, g_cols: int, n: int) -> Iterator[list[Region]]:
    """Every partition of a ``g_rows x g_cols`` grid into exactly ``n`` non-empty rectangles, each
    once (as a list in the order their top-left cells come, row-major)."""
    free = np.ones((g_rows, g_cols), dtype=bool)
    chosen: list[Region] = []

    def rec() -> Iterator[list[Region]]:
        idx = np.flatnonzero(free)
        if idx.size == 0:
            if len(chosen) == n:
                yield list(chosen)
            return
        if len(chosen) == n:
            return
        r, c = divmod(int(idx[0]), g_cols)
        last = len(chosen) == n - 1
        for r1 in range(r + 1, g_rows + 1):
            if not free[r1 - 1, c]:
                break
            for c1 in range(c + 1, g_cols + 1):
                if not free[r:r1, c1 - 1].all():
                    break
                if last and int(free.sum()) != (r1 - r) * (c1 - c):
                    continue
                free[r:r1, c:c1] = False
                chosen.append(Region(r, r1, c, c1))
                yield from rec()
                chosen.pop()
                free[r:r1, c:c1] = True

    yield from rec()


def shared_boundary(a: Region, b: Region) -> int:
    """Length of the edge two disjoint rectangles share (0 when they only touch at a corner)."""
    if a.r1 == b.r0 or b.r1 == a.r0:
        return max(0, min(a.c1, b.c1) - max(a.c0, b.c0))
    if a.c1 == b.c0 or b.c1 == a.c0:
        return max(0, min(a.r1, b.r1) - max(a.r0, b.r0))
    return 0
