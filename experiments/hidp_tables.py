"""Reproduce HiDP's experiments on the two-level cost model (HI Section IV; PAPERS-AUDIT A.5).

    python -m splitgym.experiments.hidp_tables              # everything, CSV + PNG in experiments/results
    python -m splitgym.experiments.hidp_tables --quick      # two models, fewer leaders (a smoke run)
    python -m splitgym.experiments.hidp_tables --gpu-efficiency 0.1   # sensitivity, in results/hidp_gpu_eff_0.1

Every number is from :class:`HiDPScorer` on derived processor profiles (``node_processors.py``,
``node_cluster.py``), never from a board. Methods: ``hidp``, ``disnet``, ``omniboost``, ``modnn-hidp``
and ``aofl-hidp`` (DistrEdge's side: AOFL, see ``distredge_hidp.py``), planned once per (model,
cluster, leader) and scored on the same model. Tables:

* ``hidp_latency.csv/png`` (Fig. 5a/5b): latency and energy of one request per model on the five
  boards at 80 Mbps; the request arrives at each node in turn (HiDP's leader, HI L105: requests
  arrive "at a local node") and the table gives the mean over the five leaders;
* ``hidp_nodes.csv/png`` (Fig. 8): the same latency on the first 2..5 nodes of (Orin NX, TX2,
  Nano, Pi 5, Pi 4), mean over the leaders in the subset;
* ``hidp_staggered.csv/png`` (Fig. 6): requests at 0, 0.5, 1.0, 1.5 s for EfficientNet-B0,
  InceptionV3, ResNet-152, VGG-19, each then a closed-loop stream (next request when its last
  returns) until 5 s, all arriving at the Nano; GFLOP/s completed per 0.1 s bin (a request's FLOPs
  spread over its tasks in proportion to their seconds) and its mean over [1.5, 5) s;
* ``hidp_mixes.csv/png`` (Fig. 7): throughput of 8 mixes (Mix 1-4: two models, Mix 5-8: three),
  every model a stream with 2 requests in flight, arriving at the Nano; the processors are shared
  first come first served (``HiDPScorer.schedule``); simulated for ``--horizon`` seconds and
  reported as inferences per 100 s (count x 100 / horizon);
* ``hidp_motivation.csv`` (Fig. 1): one TX2 alone, TF default (GPU only, P1) against HiDP's
  local partition (``--motivation-only`` runs just this);
* ``hidp_planner_time.csv``: the planners' run time per model (HiDP's DP alone, timed per solver:
  ``hidp_dp.py``; the paper gives 15 ms, HI L189).

Plans are static per (model, leader): no method re-plans under load. ``hidp_claims.csv`` puts our
averages next to the paper's (PAPERS-AUDIT A.5 P4, P5, P6, P7, P8).
"""

from __future__ import annotations

import argparse
import heapq
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.agents.planners import PLANNERS
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer, RequestResult
from splitgym.costmodels.nodes.node_cluster import Availability, NodeCluster
from splitgym.costmodels.nodes.node_processors import EFFICIENCY
from splitgym.costmodels.plan import Plan
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

MODELS = ["efficientnet_b0", "inception_v3", "resnet152", "vgg19"]
METHODS = ["hidp", "disnet", "omniboost", "modnn-hidp", "aofl-hidp"]
LOAD_METHODS = ["hidp-avail"] + METHODS  # the workloads also run HiDP with availability re-planning
MIXES = [
    ("efficientnet_b0", "inception_v3"),
    ("efficientnet_b0", "resnet152"),
    ("inception_v3", "vgg19"),
    ("resnet152", "vgg19"),
    ("efficientnet_b0", "inception_v3", "resnet152"),
    ("efficientnet_b0", "inception_v3", "vgg19"),
    ("efficientnet_b0", "resnet152", "vgg19"),
    ("inception_v3", "resnet152", "vgg19"),
]
PAPER = {  # PAPERS-AUDIT A.5: HiDP's average reduction (latency, energy) / gain (GFLOP/s) vs each
    "latency_fig5a": {"disnet": 37, "omniboost": 44, "modnn-hidp": 56},
    "energy_fig5b": {"disnet": 33, "omniboost": 48, "modnn-hidp": 58},
    "gflops_fig6": {"disnet": 39, "omniboost": 54, "modnn-hidp": 56},
    "latency_fig8": {"disnet": 30, "omniboost": 46, "modnn-hidp": 38},
}


def with_leader(nc: NodeCluster, leader: str) -> NodeCluster:
    return NodeCluster(nc.name, nc.nodes, leader, nc.latency_s)


class Bench:
    """Graphs, scorers and plans, built once."""

    def __init__(self, base: NodeCluster) -> None:
        self.base = base
        self.graphs: dict[str, ModelGraph] = {}
        self.plans: dict[tuple[str, str, str, int], Plan] = {}
        self.plan_s: dict[tuple[str, str, str, int], float] = {}

    def graph(self, model: str) -> ModelGraph:
        if model not in self.graphs:
            self.graphs[model] = ModelGraph.from_torchvision(model)
        return self.graphs[model]

    def cluster(self, k: int, leader: str) -> NodeCluster:
        return with_leader(self.base.subset(k) if k < self.base.size else self.base, leader)

    def plan(self, model: str, method: str, leader: str, k: int) -> Plan:
        key = (model, method, leader, k)
        if key not in self.plans:
            nc = self.cluster(k, leader)
            t = time.perf_counter()
            self.plans[key] = PLANNERS[method](self.graph(model), nc.to_cluster(), nodes=nc)
            self.plan_s[key] = time.perf_counter() - t
        return self.plans[key]


def single(bench: Bench, models: Sequence[str], ks: Sequence[int], leaders_of: Any) -> list[dict[str, Any]]:
    rows = []
    for k in ks:
        for model in models:
            g = bench.graph(model)
            for leader in leaders_of(k):
                sc = HiDPScorer(g, bench.cluster(k, leader))
                for method in METHODS:
                    plan = bench.plan(model, method, leader, k)
                    res = sc.schedule(plan)
                    rows.append(
                        {
                            "nodes": k,
                            "model": model,
                            "leader": leader,
                            "method": method,
                            "latency_ms": res.latency * 1e3,
                            "energy_j": sc.energy(res),
                            "data_volumes": sum(m == "data" for m in plan.modes or []),
                            "plan_s": bench.plan_s[(model, method, leader, k)],
                        }
                    )
    return rows


def mean_by(rows: list[dict[str, Any]], keys: Sequence[str], value: str) -> dict[tuple, float]:
    acc: dict[tuple, list[float]] = {}
    for r in rows:
        acc.setdefault(tuple(r[k] for k in keys), []).append(r[value])
    return {k: float(np.mean(v)) for k, v in acc.items()}


def busy_mask(nc: NodeCluster, free: dict, t: float) -> tuple[bool, ...]:
    """HiDP's availability vector (Eq. 4) read off the processor timelines: a node whose every
    processor is still busy at ``t`` is unavailable (the leader never is)."""
    return tuple(
        j == nc.leader_index or any(free.get((j, p.name), 0.0) <= t for p in n.processors)
        for j, n in enumerate(nc.nodes)
    )


def avail_plan(bench: Bench, model: str, nc: NodeCluster, mask: tuple[bool, ...]) -> Plan:
    key = (model, "hidp-avail", nc.leader, mask)
    if key not in bench.plans:
        nodes = [replace(n, availability=Availability(() if ok else ((0.0, False),))) for n, ok in zip(nc.nodes, mask)]
        sub = NodeCluster(nc.name, nodes, nc.leader, nc.latency_s)
        bench.plans[key] = PLANNERS["hidp"](bench.graph(model), sub.to_cluster(), nodes=sub)  # type: ignore[index]
    return bench.plans[key]  # type: ignore[index]


def streams(
    bench: Bench,
    models: Sequence[str],
    method: str,
    leader: str,
    starts: Sequence[float],
    horizon: float,
    inflight: int,
) -> list[tuple[str, RequestResult]]:
    """Closed-loop request streams sharing the processors (first come, first served).
    ``hidp-avail``: HiDP re-planned at every request for the nodes available then."""
    nc = bench.cluster(bench.base.size, leader)
    scorers = {m: HiDPScorer(bench.graph(m), nc) for m in models}
    base = "hidp" if method == "hidp-avail" else method
    plans = {m: bench.plan(m, base, leader, bench.base.size) for m in models}
    free: dict = {}
    heap = [(t, i * inflight + s, m) for i, (m, t) in enumerate(zip(models, starts)) for s in range(inflight)]
    heapq.heapify(heap)
    out, seq = [], len(heap)
    while heap:
        t, _, m = heapq.heappop(heap)
        if t >= horizon:
            continue
        plan = avail_plan(bench, m, nc, busy_mask(nc, free, t)) if method == "hidp-avail" else plans[m]
        r = scorers[m].schedule(plan, t, free, checked=True)
        out.append((m, r))
        seq += 1
        heapq.heappush(heap, (r.end, seq, m))
    return out


def gflops_series(bench: Bench, done: list[tuple[str, RequestResult]], edges: np.ndarray) -> np.ndarray:
    series = np.zeros(len(edges) - 1)
    for m, r in done:
        busy = sum(t.end - t.start for t in r.tasks)
        rate = bench.graph(m).flops / busy / 1e9
        for t in r.tasks:
            overlap = np.clip(np.minimum(edges[1:], t.end) - np.maximum(edges[:-1], t.start), 0, None)
            series += rate * overlap
    return series / np.diff(edges)


def motivation(bench: Bench, models: Sequence[str], board: str = "tx2") -> list[dict[str, Any]]:
    """HI Fig. 1 (P1-P9 on a TX2): one node alone, TF default (GPU only, P1) against HiDP's local
    partition; the paper's reductions vs P1 are 65 / 40 / 25 / 75 % (InceptionV3, ResNet-152,
    VGG-19, EfficientNet-B0; PAPERS-AUDIT A.5 P2)."""
    node = next(n for n in bench.base.nodes if n.board == board)
    nc = NodeCluster(board, [node], node.name, bench.base.latency_s)
    rows = []
    for m in models:
        g = bench.graph(m)
        sc = HiDPScorer(g, nc)
        p1 = sc.latency(PLANNERS["disnet"](g, nc.to_cluster(), nodes=nc))
        plan = PLANNERS["hidp"](g, nc.to_cluster(), nodes=nc)
        rows.append(
            {
                "board": board,
                "model": m,
                "p1_gpu_only_ms": p1 * 1e3,
                "hidp_local_ms": sc.latency(plan) * 1e3,
                "reduction_pct": 100 * (1 - sc.latency(plan) / p1),
                "paper_pct": {"inception_v3": 65, "resnet152": 40, "vgg19": 25, "efficientnet_b0": 75}.get(m, ""),
                "data_mode_parts": sum(s.mode == "data" for s in plan.shares or []),
            }
        )
    return rows


def gain(ours: float, theirs: float, lower_is_better: bool) -> float:
    return 100 * (1 - ours / theirs) if lower_is_better else 100 * (ours / theirs - 1)


def _bars(
    ax: Any, table: dict[tuple, float], groups: Sequence[Any], label: str, methods: Sequence[str] = METHODS
) -> None:
    w = 0.8 / len(methods)
    for i, meth in enumerate(methods):
        ax.bar(np.arange(len(groups)) + i * w, [table[(g, meth)] for g in groups], w, label=meth)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - w / 2, [str(g) for g in groups], fontsize=8)
    ax.set_ylabel(label)
    ax.set_yscale("log")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fig5_latency(bench: Bench, models: Sequence[str], leaders_of: Any, out: Path) -> list[dict[str, Any]]:
    """Fig. 5: latency and energy on five nodes; returns the claims rows."""
    rows = single(bench, models, [5], leaders_of)
    write_csv(out / "hidp_latency_all.csv", rows)
    lat = mean_by(rows, ["model", "method"], "latency_ms")
    en = mean_by(rows, ["model", "method"], "energy_j")
    write_csv(
        out / "hidp_latency.csv",
        [{"model": m, "method": k, "latency_ms": lat[(m, k)], "energy_j": en[(m, k)]} for m in models for k in METHODS],
    )
    fig, axes = _pyplot().subplots(1, 2, figsize=(12, 4))
    _bars(axes[0], lat, models, "latency (ms, mean over leaders)")
    _bars(axes[1], en, models, "energy per inference (J)")
    axes[0].legend(fontsize=7)
    fig.suptitle("HiDP Fig. 5 on the cost model: 5 nodes, 80 Mbps (derived profiles)")
    _save(fig, out / "hidp_latency.png")
    claims = []
    for key, table, lower in (("latency_fig5a", lat, True), ("energy_fig5b", en, True)):
        for meth in METHODS[1:]:
            g = float(np.mean([gain(table[(m, "hidp")], table[(m, meth)], lower) for m in models]))
            claims.append({"claim": key, "vs": meth, "ours_pct": g, "paper_pct": PAPER[key].get(meth, "")})
    return claims


def fig8_nodes(bench: Bench, models: Sequence[str], leaders_of: Any, out: Path) -> list[dict[str, Any]]:
    """Fig. 8: the latency on the first 2..5 nodes; returns the claims rows."""
    ks = [2, 3, 4, 5]
    nrows = single(bench, models, ks, leaders_of)
    write_csv(out / "hidp_nodes_all.csv", nrows)
    nl = mean_by(nrows, ["nodes", "model", "method"], "latency_ms")
    write_csv(
        out / "hidp_nodes.csv",
        [
            {"nodes": k, "model": m, "method": meth, "latency_ms": nl[(k, m, meth)]}
            for k in ks
            for m in models
            for meth in METHODS
        ],
    )
    fig, axes = _pyplot().subplots(1, len(models), figsize=(4 * len(models), 3.5))
    for ax, m in zip(np.atleast_1d(axes), models):
        _bars(ax, {(k, meth): nl[(k, m, meth)] for k in ks for meth in METHODS}, ks, "latency (ms)")
        ax.set_title(m)
        ax.set_xlabel("nodes")
    np.atleast_1d(axes)[0].legend(fontsize=6)
    _save(fig, out / "hidp_nodes.png")
    claims = []
    for meth in METHODS[1:]:
        g = float(np.mean([gain(nl[(k, m, "hidp")], nl[(k, m, meth)], True) for k in ks for m in models]))
        claims.append(
            {"claim": "latency_fig8", "vs": meth, "ours_pct": g, "paper_pct": PAPER["latency_fig8"].get(meth, "")}
        )
    for k in ks:
        best_other = [min(nl[(k, m, meth)] for meth in METHODS[1:]) / nl[(k, m, "hidp")] for m in models]
        claims.append(
            {
                "claim": f"fig8_gap_{k}_nodes",
                "vs": "best baseline",
                "ours_pct": 100 * (float(np.mean(best_other)) - 1),
                "paper_pct": "gap widens with fewer nodes",
            }
        )
    return claims


def fig6_staggered(bench: Bench, order: Sequence[str], leader: str, out: Path) -> list[dict[str, Any]]:
    """Fig. 6: the staggered workload (a request every 0.5 s, in ``order``); returns the claims rows."""
    horizon6 = 5.0
    edges = np.arange(0, horizon6 + 1e-9, 0.1)
    srows, means = [], {}
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    for meth in LOAD_METHODS:
        done = streams(bench, order, meth, leader, [0.5 * i for i in range(len(order))], horizon6, 1)
        series = gflops_series(bench, done, edges)
        means[meth] = float(series[edges[:-1] >= 0.5 * (len(order) - 1)].mean())
        for t, v in zip(edges[:-1], series):
            srows.append({"method": meth, "t_s": round(float(t), 2), "gflops_per_s": float(v)})
        ax.plot(edges[:-1], series, label=f"{meth} (mean {means[meth]:.0f})")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"Staggered workload, requests at {leader} (HiDP Fig. 6 on the cost model)")
    ax.legend(fontsize=7)
    _save(fig, out / "hidp_staggered.png")
    write_csv(out / "hidp_staggered.csv", srows)
    return [
        {
            "claim": f"gflops_fig6 ({ours})",
            "vs": meth,
            "ours_pct": gain(means[ours], means[meth], False),
            "paper_pct": PAPER["gflops_fig6"].get(meth, ""),
        }
        for ours in ("hidp", "hidp-avail")
        for meth in METHODS[1:]
    ]


def fig7_mixes(
    bench: Bench, mixes: Sequence[tuple[str, ...]], leader: str, horizon: float, out: Path
) -> list[dict[str, Any]]:
    """Fig. 7: the throughput of model mixes over ``horizon`` seconds; returns the claims rows."""
    mrows, tput = [], {}
    for i, mix in enumerate(mixes, 1):
        for meth in LOAD_METHODS:
            done = streams(bench, mix, meth, leader, [0.0] * len(mix), horizon, 2)
            n = sum(r.end <= horizon for _, r in done)
            tput[(f"Mix-{i}", meth)] = n * 100.0 / horizon
            mrows.append(
                {
                    "mix": f"Mix-{i}",
                    "models": "+".join(mix),
                    "method": meth,
                    "inferences_per_100s": n * 100.0 / horizon,
                    "horizon_s": horizon,
                }
            )
    write_csv(out / "hidp_mixes.csv", mrows)
    fig, ax = _pyplot().subplots(figsize=(10, 4))
    _bars(ax, tput, [f"Mix-{i}" for i in range(1, len(mixes) + 1)], "inferences per 100 s", LOAD_METHODS)
    ax.legend(fontsize=7)
    _save(fig, out / "hidp_mixes.png")
    claims = []
    for ours in ("hidp", "hidp-avail"):
        for meth in METHODS[1:]:
            gains = [gain(tput[(f"Mix-{i}", ours)], tput[(f"Mix-{i}", meth)], False) for i in range(1, len(mixes) + 1)]
            claims.append(
                {
                    "claim": f"throughput_fig7_mean ({ours})",
                    "vs": meth,
                    "ours_pct": float(np.mean(gains)),
                    "paper_pct": "56 (all)",
                }
            )
            claims.append(
                {
                    "claim": f"throughput_fig7_max ({ours})",
                    "vs": meth,
                    "ours_pct": float(np.max(gains)),
                    "paper_pct": "150 (Mix-2)",
                }
            )
    return claims


def planner_times(bench: Bench, models: Sequence[str]) -> list[dict[str, Any]]:
    """The planners' mean run time per model on five nodes (and the DP's own, where it has one)."""
    return [
        {
            "model": m,
            "method": meth,
            "plan_ms_mean": 1e3
            * float(np.mean([s for (mm, me, _, k), s in bench.plan_s.items() if mm == m and me == meth and k == 5])),
            "dp_ms_mean": 1e3
            * float(
                np.mean(
                    [
                        p.meta["dp_seconds"]
                        for (mm, me, _, k), p in bench.plans.items()
                        if mm == m and me == meth and k == 5
                    ]
                )
            )
            if meth in ("hidp", "disnet")
            else "",
        }
        for m in models
        for meth in METHODS
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    ap.add_argument("--quick", action="store_true", help="two models, one leader, short streams")
    ap.add_argument("--horizon", type=float, default=10.0, help="simulated seconds per mix")
    ap.add_argument("--leader", default="nano", help="where the workload requests arrive")
    ap.add_argument("--motivation-only", action="store_true", help="only HI Fig. 1: one TX2, P1 vs HiDP local")
    ap.add_argument(
        "--gpu-efficiency",
        type=float,
        default=None,
        help=f"sensitivity: the Jetson GPUs' fraction of peak (default {EFFICIENCY['gpu']}); "
        "results in OUT/hidp_gpu_eff_<value>/",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    efficiency = None
    if args.gpu_efficiency is not None:  # a sensitivity run: its nodes carry the figure, the table stays
        efficiency = {"gpu": args.gpu_efficiency}
        out = out / f"hidp_gpu_eff_{args.gpu_efficiency:g}"
    bench = Bench(NodeCluster.from_config("hidp-5", efficiency=efficiency))
    models = MODELS[:2] if args.quick else MODELS
    all_leaders = bench.base.names
    leaders_of = (
        (lambda k: [args.leader] if args.leader in all_leaders[:k] else [all_leaders[0]])
        if args.quick
        else (lambda k: all_leaders[:k])
    )
    write_csv(out / "hidp_motivation.csv", motivation(bench, models))
    if args.motivation_only:
        return 0
    claims = fig5_latency(bench, models, leaders_of, out)
    claims += fig8_nodes(bench, models, leaders_of, out)
    claims += fig6_staggered(bench, models, args.leader, out)  # the paper's order: MODELS
    mixes = [tuple(models)] if args.quick else MIXES
    claims += fig7_mixes(bench, mixes, args.leader, 2.0 if args.quick else args.horizon, out)
    write_csv(out / "hidp_planner_time.csv", planner_times(bench, models))
    write_csv(out / "hidp_claims.csv", claims)
    for c in claims:
        print(f"{c['claim']:34s} vs {c['vs']:14s} ours {c['ours_pct']:7.1f} %   paper {c['paper_pct']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
