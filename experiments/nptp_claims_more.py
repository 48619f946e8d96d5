"""NPTP's claims on communication per operator (Fig. 5) and on MPA (Sec. III-D), for
:mod:`nptp_claims`: each row's numbers read from ``nptp_layers*.csv``, ``nptp_gap*.csv``,
``nptp_search_time.csv`` and the tiles ``nptp_bandwidth.csv`` records.

Why a module of its own: Fig. 5's reason is geometric (how long the layouts' cuts are), computed
here from the tile strings of the plans, which :mod:`nptp_claims`' speed-up rows do not need.
"""

from __future__ import annotations

import statistics
from typing import Any

from splitgym.experiments.claims_table import Sources, row, span

__all__ = ["cut_length", "mpa_rows", "operator_rows"]

#: Fig. 5 (NP L62): "NPTP can reduce up to 1.32 communication volume compared to CoEdge"
REDUCTION_PAPER = 1.32
LAYERS = ("nptp_layers.csv", "nptp_layers_eq9.csv")
Rect = tuple[int, int, int, int]  # rows [r0, r1), cols [c0, c1)


def _rects(tiles: str, size: int) -> list[Rect]:
    """``dev:r0-r1xc0-c1;...`` (a strip ``dev:r0-r1`` spans every column) as rectangles."""
    out = []
    for part in tiles.split(";"):
        spans = part.split(":", 1)[1].split("x")
        r0, r1 = (int(v) for v in spans[0].split("-"))
        c0, c1 = (int(v) for v in spans[1].split("-")) if len(spans) > 1 else (0, size)
        out.append((r0, r1, c0, c1))
    return out


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def cut_length(tiles: str, size: int) -> int:
    """Pixels of boundary the tiles share on the input: a 3x3 convolution's halo is one row or
    column across each, so the halo bytes follow this length (Fig. 2's argument)."""
    rects, total = _rects(tiles, size), 0
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            if a[1] == b[0] or b[1] == a[0]:
                total += _overlap(a[2], a[3], b[2], b[3])
            if a[3] == b[2] or b[3] == a[2]:
                total += _overlap(a[0], a[1], b[0], b[1])
    return total


def _total(rows: list[dict[str, Any]]) -> float:
    return sum(r["coedge_KB"] for r in rows) / sum(r["nptp_KB"] for r in rows)


def _volume_row(res: Sources) -> dict[str, str]:
    claim, paper = "less communication than CoEdge, up to", f"{REDUCTION_PAPER:g}x"
    gone = res.absent("Fig. 5", claim, paper, *LAYERS, "nptp_bandwidth.csv")
    if gone:
        return gone
    e2e, eq9 = (res.rows(n) for n in LAYERS)
    conv = [r["ratio"] for r in e2e if r["kind"] == "conv"]
    bw = res.rows("nptp_bandwidth.csv")
    ours = (
        f"VGG-16 at 224, CoEdge's halo over NPTP's: {_total(e2e):.2f}x in all (Eq. 9 alone {_total(eq9):.2f}x), "
        f"{span(conv)}x per convolution; every model at 224: {span(r['comm_reduction'] for r in bw)}x"
    )
    ref = next((r for r in bw if r["model"] == "vgg16" and r["bandwidth_MBps"] == 0.5), None)
    geometry = ""
    if ref is not None:
        n, c = cut_length(ref["nptp_tiles"], ref["size"]), cut_length(ref["coedge_tiles"], ref["size"])
        geometry = (
            f"; the layouts' cuts on the input (VGG-16, 0.5 MB/s): NPTP's {n} px, the strips' {c} px ({c / n:.2f}x), "
            "and a convolution's halo runs along the cuts"
        )
    tops = {"VGG-16's": max(_total(e2e), _total(eq9), *conv), "every model's": max(r["comm_reduction"] for r in bw)}
    why = "; ".join(
        f"{k} largest, {v:.2f}x, is {'within' if v <= REDUCTION_PAPER else 'above'} the paper's {paper}"
        for k, v in tops.items()
    )
    why += geometry
    return row("Fig. 5", claim, paper, ours, ", ".join([*LAYERS, "nptp_bandwidth.csv"]), why)


def _every_operator_row(res: Sources) -> dict[str, str]:
    claim, paper = "NPTP lower than CoEdge at every operator", "yes"
    gone = res.absent("Fig. 5", claim, paper, LAYERS[0])
    if gone:
        return gone
    rows = [r for r in res.rows(LAYERS[0]) if r["coedge_KB"] or r["nptp_KB"]]
    lower = [r for r in rows if r["nptp_KB"] < r["coedge_KB"]]
    higher = [r for r in rows if r["nptp_KB"] >= r["coedge_KB"]]
    pools = [r for r in res.rows(LAYERS[0]) if r["kind"] != "conv"]
    ours = f"lower at {len(lower)} of {len(rows)} operators with a halo (VGG-16 at 224, end-to-end)"
    odd = ", ".join(f"{r['name']} ({r['kind']}: {r['nptp_KB']:g} vs {r['coedge_KB']:g} KB)" for r in higher)
    why = (
        f"not lower at {odd}; "
        f"a 2x2 stride-2 pool needs a halo only where a cut falls inside a window: of {len(pools)} pools, "
        f"CoEdge pays at "
        f"{sum(r['coedge_KB'] > 0 for r in pools)}, NPTP at {sum(r['nptp_KB'] > 0 for r in pools)}"
        if higher
        else "agrees"
    )
    return row("Fig. 5", claim, paper, ours, LAYERS[0], why)


def _trend_row(res: Sources) -> dict[str, str]:
    claim, paper = "the same trend over operators for both", "yes"
    gone = res.absent("Fig. 5", claim, paper, LAYERS[0])
    if gone:
        return gone
    conv = [r for r in res.rows(LAYERS[0]) if r["kind"] == "conv"]
    corr = statistics.correlation([r["nptp_KB"] for r in conv], [r["coedge_KB"] for r in conv])
    ours = f"per-convolution halo of NPTP and CoEdge: Pearson r = {corr:.3f} over {len(conv)} convolutions"
    why = (
        f"agrees: both layouts exchange every layer's halo; the ratio drifts from {conv[0]['ratio']:.2f}x "
        f"({conv[0]['name']}) to {conv[-1]['ratio']:.2f}x ({conv[-1]['name']}) as the maps shrink"
    )
    return row("Fig. 5", claim, paper, ours, LAYERS[0], why)


def operator_rows(res: Sources) -> list[dict[str, str]]:
    """Fig. 5's three claims: the volume, lower at every operator, the same trend."""
    return [_volume_row(res), _every_operator_row(res), _trend_row(res)]


def _gap_row(res: Sources) -> dict[str, str]:
    claim, paper = "MPA finds the optimal partition", "optimal (no figure)"
    names = ("nptp_gap.csv", "nptp_gap_eq9.csv")
    gone = res.absent("Sec. III-D", claim, paper, *names)
    if gone:
        return gone
    cells = []
    for label, name in (("end-to-end", names[0]), ("Eq. 9 alone", names[1])):
        mine = ", ".join(
            f"{r['model'].upper()} {r['grid']}x{r['grid']} {r['mpa_over_exact']:.2f}" for r in res.rows(name)
        )
        cells.append(f"{label}: {mine}")
    both = res.rows(names[0]) + res.rows(names[1])
    worst = max(both, key=lambda r: r["mpa_over_exact"])
    why = (
        f"below 1 where MPA cuts finer than the grid ({sum(r['mpa_over_exact'] < 1 for r in both)} of {len(both)}); "
        f"at most {100 * (worst['mpa_over_exact'] - 1):.1f}% above the grid optimum "
        f"({worst['model'].upper()} {worst['grid']}x{worst['grid']}, scatter={worst['scatter']})"
    )
    ours = "MPA's latency / the grid optimum's (224, 0.5 MB/s): " + "; ".join(cells)
    return row("Sec. III-D", claim, paper, ours, ", ".join(names), why)


def _time_row(res: Sources) -> dict[str, str]:
    claim, paper = "MPA is a low-complexity search", "no time given"
    names = ("nptp_gap.csv", "nptp_search_time.csv")
    gone = res.absent("Sec. III-D", claim, paper, *names)
    if gone:
        return gone
    gap, big = (res.rows(n) for n in names)
    fine = [r for r in gap if r["grid"] == max(x["grid"] for x in gap)]
    cells = ", ".join(
        f"{r['model'].upper()} {r['mpa_s']:.2f} s vs {r['exact_s']:.0f} s ({r['exact_candidates']:,} layouts)"
        for r in fine
    )
    at = ", ".join(
        f"{r['model'].upper()} {r['search_s_median']:.2f} s ({r['search_s_min']:.2f}-{r['search_s_max']:.2f})"
        for r in big
    )
    grid = f"{fine[0]['grid']}x{fine[0]['grid']}"
    ours = f"at 224 MPA vs the {grid} exhaustive search: {cells}; at {big[0]['size']}: {at}"
    why = (
        f"MPA scores a fixed {big[0]['evaluations']:,} layouts whatever the size (`evaluations`), the grid "
        f"search every partition ({fine[0]['exact_candidates']:,}); times are wall clock on a loaded 2-core machine"
    )
    return row("Sec. III-D", claim, paper, ours, ", ".join(names), why)


def mpa_rows(res: Sources) -> list[dict[str, str]]:
    """MPA's two claims: it finds the optimum, at low cost."""
    return [_gap_row(res), _time_row(res)]
