"""Why our HiDP figures differ from the paper's: bandwidth and GPU-efficiency sweeps on the cost model.

    nice -n 10 python -m splitgym.experiments.hidp_sensitivity           # CSV + PNG + MD in experiments/results
    python -m splitgym.experiments.hidp_sensitivity --models resnet18 --mbps 80 --gpu-eff 0.3 --nodes 2 --out /tmp/s

Two sweeps over the five-board HiDP cluster (``hidp-5``; the mean over the requests arriving at
each of ``--leaders`` in turn, as ``hidp_tables`` does for Figs. 5 and 8), every number
from :class:`HiDPScorer` on derived processor profiles:

* **bandwidth** (every node's rate, 2 ms latency), on ``hidp-5`` and on it less its fastest nodes
  (``--drop``: a less heterogeneous cluster): HiDP, DisNet and OmniBoost latency per model,
  HiDP's gain over each, and how many units HiDP's DP puts in *global data mode* (the DP is exact
  over its space, so a unit in data mode is one where splitting its rows over nodes pays);
* **GPU efficiency** (the Jetson GPUs' fraction of peak, at ``--base-mbps``): HI Fig. 1 (one TX2
  alone: HiDP's local CPU+GPU split against the GPU alone, and how many parts it splits locally),
  HI Fig. 5a (HiDP's gain over DisNet and OmniBoost on five nodes) and HI Fig. 8 (HiDP's gain
  over the best baseline on the first k nodes), to see where local splits pay.

Writes ``hidp_sensitivity.csv`` (one row per sweep, value, cluster, model, method, leader),
``hidp_sensitivity_summary.csv`` (the gains and data-mode counts per sweep point),
``hidp_sensitivity.png`` and ``hidp_sensitivity.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.agents.planners import PLANNERS
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

MODELS = ["efficientnet_b0", "inception_v3", "resnet152", "vgg19"]
METHODS = ["hidp", "disnet", "omniboost"]
_GRAPHS: dict[str, ModelGraph] = {}


def graph(model: str) -> ModelGraph:
    if model not in _GRAPHS:
        _GRAPHS[model] = ModelGraph.from_torchvision(model)
    return _GRAPHS[model]


def cluster(mbps: float, gpu_eff: float | None, leader: str, k: int = 5, drop: Sequence[str] = ()) -> NodeCluster:
    """``hidp-5`` at ``mbps`` per node (2 ms latency), Jetson GPUs at ``gpu_eff`` of peak, its
    first ``k`` nodes less the nodes in ``drop``."""
    net = {"name": f"bw{mbps:g}", "bandwidth_mbps": float(mbps), "latency_ms": 2.0}
    nc = NodeCluster.from_config("hidp-5", network=net, efficiency=None if gpu_eff is None else {"gpu": gpu_eff})
    nodes = [n for n in nc.nodes[:k] if n.name not in drop]
    name = "hidp-5" + "".join(f" -{d}" for d in drop) + (f" [:{k}]" if k < nc.size else "")
    return NodeCluster(name, nodes, leader, nc.latency_s)


def clusters(
    mbps: float, gpu_eff: float | None, leaders: Sequence[str], k: int = 5, drop: Sequence[str] = ()
) -> list[NodeCluster]:
    """One cluster per leader among the nodes kept (as ``hidp_tables``' Fig. 8 does)."""
    names = NodeCluster.from_config("hidp-5").names
    unknown = [ld for ld in [*leaders, *drop] if ld not in names]
    if unknown:
        raise ConfigError(f"leaders/drop: {unknown} are not nodes of hidp-5 ({', '.join(names)})")
    return [cluster(mbps, gpu_eff, ld, k, drop) for ld in leaders if ld in names[:k] and ld not in drop]


def score(model: str, nc: NodeCluster, method: str) -> dict[str, Any]:
    """One plan's latency, its global data-mode units and its local data-mode parts."""
    g = graph(model)
    plan = PLANNERS[method](g, nc.to_cluster(), nodes=nc)
    return {
        "model": model,
        "method": method,
        "cluster": nc.name.split(" [")[0],
        "nodes": nc.size,
        "leader": nc.leader,
        "latency_ms": HiDPScorer(g, nc).latency(plan) * 1e3,
        "data_units": sum(m == "data" for m in plan.modes or []),
        "units": g.num_units,
        "local_data_parts": sum(s.mode == "data" for s in plan.shares or []),
    }


def grid(sweep: str, value: float, models: Sequence[str], ncs: Sequence[NodeCluster]) -> list[dict[str, Any]]:
    return [{"sweep": sweep, "value": value, **score(m, nc, meth)} for nc in ncs for m in models for meth in METHODS]


def motivation(value: float, models: Sequence[str], mbps: float) -> list[dict[str, Any]]:
    """HI Fig. 1 at this GPU efficiency: one TX2 alone, GPU only (DisNet's P1) vs HiDP's local split."""
    base = cluster(mbps, value, "orin")  # the TX2's figures at this efficiency
    tx2 = next(n for n in base.nodes if n.board == "tx2")
    nc = NodeCluster("tx2", [tx2], tx2.name, base.latency_s)
    return [{"sweep": "gpu_eff_tx2", "value": value, **score(m, nc, meth)} for m in models for meth in METHODS[:2]]


def _lat(rows: list[dict[str, Any]], **key: Any) -> float:
    vals = [r["latency_ms"] for r in rows if all(r[k] == v for k, v in key.items())]
    return float(np.mean(vals))


def gain(ours: float, theirs: float) -> float:
    """Percent latency reduction of ``ours`` against ``theirs``."""
    return 100.0 * (1.0 - ours / theirs)


def summarise(rows: list[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """Per (sweep, value, nodes): mean gains over the models (each a mean over the leaders),
    units in global data mode and parts split locally."""
    out = []
    keys = dict.fromkeys((r["sweep"], r["value"], r["cluster"], r["nodes"]) for r in rows)
    for key in keys:
        sel = [r for r in rows if (r["sweep"], r["value"], r["cluster"], r["nodes"]) == key]
        row: dict[str, Any] = dict(zip(("sweep", "value", "cluster", "nodes"), key))
        hidp = {m: _lat(sel, model=m, method="hidp") for m in models}
        for meth in METHODS[1:]:
            if any(r["method"] == meth for r in sel):
                row[f"gain_vs_{meth}_pct"] = float(
                    np.mean([gain(hidp[m], _lat(sel, model=m, method=meth)) for m in models])
                )
        best = [
            min(_lat(sel, model=m, method=x) for x in METHODS[1:] if any(r["method"] == x for r in sel)) for m in models
        ]
        row["gain_vs_best_pct"] = float(np.mean([gain(hidp[m], b) for m, b in zip(models, best)]))
        hp = [r for r in sel if r["method"] == "hidp"]
        row["hidp_data_units"] = int(sum(r["data_units"] for r in hp))
        row["hidp_units"] = int(sum(r["units"] for r in hp))
        row["hidp_local_data_parts"] = int(sum(r["local_data_parts"] for r in hp))
        out.append(row)
    return out


def plot(summ: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ax2 = axes[0].twinx()
    for name in dict.fromkeys(r["cluster"] for r in summ if r["sweep"] == "bandwidth"):
        bw = [r for r in summ if r["sweep"] == "bandwidth" and r["cluster"] == name]
        x = [r["value"] for r in bw]
        line = axes[0].plot(x, [r["gain_vs_omniboost_pct"] for r in bw], "o-", label=f"vs OmniBoost, {name}")
        frac = [100 * r["hidp_data_units"] / r["hidp_units"] for r in bw]
        ax2.plot(x, frac, "--", color=line[0].get_color(), label=f"units in data mode (%), {name}")
    ax2.set_ylabel("HiDP units in global data mode (%), dashed")
    axes[0].set(xscale="log", xlabel="Mbps per node", ylabel="HiDP latency gain (%)", title="bandwidth")
    axes[0].legend(fontsize=6, loc="upper left")
    ax2.legend(fontsize=6, loc="lower right")
    for ax, sweep, title in ((axes[1], "gpu_eff", "GPU efficiency (5 nodes)"), (axes[2], "gpu_eff_tx2", "one TX2")):
        for k in sorted({r["nodes"] for r in summ if r["sweep"] == sweep}):
            pts = [r for r in summ if r["sweep"] == sweep and r["nodes"] == k]
            ax.plot(
                [r["value"] for r in pts], [r["gain_vs_disnet_pct"] for r in pts], "o-", label=f"vs DisNet, {k} nodes"
            )
            if sweep == "gpu_eff":
                ax.plot(
                    [r["value"] for r in pts], [r["gain_vs_best_pct"] for r in pts], "x:", label=f"vs best, {k} nodes"
                )
        ax.set(xscale="log", xlabel="Jetson GPU fraction of peak", ylabel="HiDP latency gain (%)", title=title)
        ax.legend(fontsize=6)
    fig.suptitle("HiDP sensitivity on the cost model (derived processor figures)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(summ: list[dict[str, Any]], args: argparse.Namespace) -> str:
    cols = ["gain_vs_disnet_pct", "gain_vs_omniboost_pct", "gain_vs_best_pct"]
    lines = [
        f"HiDP sensitivity (models {', '.join(args.models)}; leaders {', '.join(args.leaders)}; "
        "gains = mean over models of HiDP's latency reduction, %).\n",
        "| sweep | value | cluster | nodes | vs DisNet | vs OmniBoost | vs best "
        "| units in data mode | local data parts |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summ:
        vals = " | ".join(f"{r[c]:.1f}" if c in r else "" for c in cols)
        lines.append(
            f"| {r['sweep']} | {r['value']:g} | {r['cluster']} | {r['nodes']} | {vals} | "
            f"{r['hidp_data_units']}/{r['hidp_units']} | {r['hidp_local_data_parts']} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--leaders", nargs="+", default=["orin", "tx2", "nano", "pi5", "pi4"], help="mean over these")
    ap.add_argument("--mbps", type=float, nargs="+", default=[10, 80, 1000, 10000])
    ap.add_argument("--gpu-eff", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[2, 5], help="Fig. 8's node counts")
    ap.add_argument(
        "--drop",
        nargs="+",
        default=["", "orin", "orin,tx2"],
        help="bandwidth sweep per cluster: hidp-5 less these nodes (comma-separated; '' keeps all)",
    )
    ap.add_argument("--base-mbps", type=float, default=80.0)
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    for field, vals in (("mbps", args.mbps), ("gpu-eff", args.gpu_eff)):
        if any(not v > 0 for v in vals):
            ap.exit(2, f"{field}: every value must be > 0, got {vals}\n")
    if any(k not in range(1, 6) for k in args.nodes):
        ap.exit(2, f"nodes: every count must be in 1..5, got {args.nodes}\n")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[dict[str, Any]] = []
    for drop in args.drop:
        gone = [d for d in drop.split(",") if d]
        for mbps in args.mbps:
            rows += grid("bandwidth", mbps, args.models, clusters(mbps, None, args.leaders, drop=gone))
    for eff in args.gpu_eff:
        for k in args.nodes:
            rows += grid("gpu_eff", eff, args.models, clusters(args.base_mbps, eff, args.leaders, k))
        rows += motivation(eff, args.models, args.base_mbps)
    out = Path(args.out)
    write_csv(out / "hidp_sensitivity.csv", rows)
    summ = summarise(rows, args.models)
    write_csv(out / "hidp_sensitivity_summary.csv", summ)
    plot(summ, out / "hidp_sensitivity.png")
    text = markdown(summ, args)
    atomic_write((out / "hidp_sensitivity.md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
