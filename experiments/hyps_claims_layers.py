"""HyPS's layer-by-layer claims (Figs. 8, 9 and 11), for :mod:`hyps_claims_table`: each row's
numbers read from ``hyps_layers.csv`` (the 21 layers, with the hub's measured output transfer)
and ``hyps_cuts.csv`` (nine partitions ending at convolutions vs at pools).

Why a module of its own: these rows rank and compare layers (Spearman, local minima), which the
fc6 rows of :mod:`hyps_claims_table` do not need.
"""

from __future__ import annotations

from typing import Any

from scipy.stats import spearmanr

from splitgym.experiments.claims_table import Sources, row

__all__ = ["layer_rows"]

MIB = 2**20


def _layers(res: Sources) -> list[dict[str, Any]]:
    """The layers the paper ran on the Pi: fc6 offloaded (HY L292), L1 run by our manager."""
    return [r for r in res.rows("hyps_layers.csv") if r["name"] != "fc6" and r["hub_output_s"] is not None]


def _rho(a: list[float], b: list[float]) -> float:
    return float(spearmanr(a, b).statistic)


def _fig8_rows(res: Sources) -> list[dict[str, str]]:
    """Fig. 8 (HY L294-L296): communication falls with depth, follows the map size, not the parameters."""
    claims = [
        ("communication falls from layer to layer", "decreases"),
        ("communication follows the feature-map size", "directly correlated"),
        ("the parameter count does not drive communication", "no"),
    ]
    gone = [res.absent("Fig. 8", c, p, "hyps_layers.csv") for c, p in claims]
    if gone[0]:
        return gone  # type: ignore[return-value]
    runs = _layers(res)
    comm = [r["hub_output_s"] for r in runs]
    depth = _rho(list(range(len(runs))), comm)
    size, params = _rho([r["saved_bytes"] for r in runs], comm), _rho([r["params"] for r in runs], comm)
    top = max(runs, key=lambda r: r["params"])
    span_ = f"{runs[0]['name']}..{runs[-1]['name']}, {len(runs)} layers, fc6 left out as in the paper"
    mine = [
        f"Spearman(depth, hub output time) = {depth:.2f} ({span_})",
        f"Spearman(saved bytes, hub output time) = {size:.2f}",
        f"Spearman(parameters, hub output time) = {params:.2f}",
    ]
    excess = [r["hub_output_s"] / r["model_output_transfer_s"] - 1 for r in runs]
    whys = [
        "agrees: the pools shrink the maps" if depth < 0 else "disagrees",
        f"agrees; the hub's transfers run {100 * min(excess):.0f}-{100 * max(excess):.0f}% over the cost model's "
        "`pi-lan` time (pipe and scheduling on this CPU)",
        f"agrees: {top['name']} has the most parameters ({top['params']:,}) and moves "
        f"{top['hub_output_s'] * 1e3:.1f} ms, {runs[0]['name']} moves {runs[0]['hub_output_s'] * 1e3:.0f} ms",
    ]
    return [row("Fig. 8", c, p, o, "hyps_layers.csv", w) for (c, p), o, w in zip(claims, mine, whys)]


def _fig9_row(res: Sources) -> dict[str, str]:
    """Fig. 9 (HY L296-L303): local minima of the output size at the pooling layers."""
    claim, paper = "the output size has local minima at the pools", "yes (orange arrows)"
    gone = res.absent("Fig. 9", claim, paper, "hyps_layers.csv")
    if gone:
        return gone
    runs = [r for r in res.rows("hyps_layers.csv") if r["name"] != "fc6"]
    size = [r["saved_bytes"] for r in runs]
    minima = [
        runs[i]["name"]
        for i in range(1, len(size) - 1)
        if max(size[i - 1], size[i + 1]) > size[i] <= min(size[i - 1], size[i + 1])
    ]
    pools = [r for r in runs if r["kind"] == "maxpool"]
    missed = [p for p in pools if p["name"] not in minima]
    after = {r["name"]: runs[i + 1] for i, r in enumerate(runs[:-1])}
    why = (
        "agrees"
        if not missed
        else "; ".join(
            f"{p['name']}'s {p['saved_bytes'] / 1024:.0f} KiB is larger than {after[p['name']]['name']}'s "
            f"{after[p['name']]['saved_bytes'] / 1024:.0f} KiB after it (with fc6 offloaded, as in the paper)"
            for p in missed
        )
    )
    ours = f"minima at {', '.join(minima)} of the pools {', '.join(p['name'] for p in pools)}"
    return row("Fig. 9", claim, paper, ours, "hyps_layers.csv", why)


def _fig11_rows(res: Sources) -> list[dict[str, str]]:
    """Fig. 11 (HY L307): ending at a pool cuts communication; partition 1 2x higher at a conv."""
    one, first = ("partition 1: communication ending at a conv over at a pool", "2x")
    gone = res.absent("Fig. 11", one, first, "hyps_cuts.csv")
    if gone:
        return [gone, res.absent("Fig. 11", "first five partitions lower ending at a pool", "yes", "hyps_cuts.csv")]
    cuts = res.rows("hyps_cuts.csv")
    conv = {r["partition"]: r for r in cuts if r["layout"] == "conv"}
    pool = {r["partition"]: r for r in cuts if r["layout"] == "pool"}
    c1, p1 = conv[1], pool[1]
    ours = (
        f"{c1['output_transfer_s'] / p1['output_transfer_s']:.2f}x output transfer, "
        f"{c1['communication_s'] / p1['communication_s']:.2f}x with its input (cost model, `pi-lan`)"
    )
    why = (
        f"the conv end ships {c1['bytes_out'] / p1['bytes_out']:.1f}x the bytes ({c1['ends_at']}, "
        f"{c1['bytes_out'] / MIB:.2f} MiB, vs {p1['ends_at']}, {p1['bytes_out'] / MIB:.2f} MiB) and our link time is "
        "bytes over bandwidth (a 2x at a 4x byte ratio is a time not proportional to the bytes, which we do not model)"
    )
    lower = [k for k in range(1, 6) if pool[k]["communication_s"] < conv[k]["communication_s"]]
    total = f"{c1['total_communication_s'] / p1['total_communication_s']:.2f}x"
    second = row(
        "Fig. 11",
        "first five partitions lower ending at a pool",
        "yes",
        f"lower at {len(lower)} of 5 (partitions {', '.join(map(str, lower))}); whole model {total} ending at convs",
        "hyps_cuts.csv",
        "agrees" if len(lower) == 5 else "the pool layout's partition k ends deeper than the conv layout's",
    )
    return [row("Fig. 11", one, first, ours, "hyps_cuts.csv", why), second]


def layer_rows(res: Sources) -> list[dict[str, str]]:
    """Figs. 8, 9 and 11, in the paper's order."""
    return _fig8_rows(res) + [_fig9_row(res)] + _fig11_rows(res)
