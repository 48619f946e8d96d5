"""Predicted vs measured for HiDP-style plans: ``hidp_score``'s latency next to pinned processors.

    python -m splitgym.experiments.predicted_vs_measured_hidp [--models vgg11,resnet18] [--size 224]
        [--random 3] [--repeats 3] [--quick]

The volume-plan report (``predicted_vs_measured.py``) for the two-level plans of HiDP and its
baselines. This machine is the cluster: two nodes (``n0``, the leader, and ``n1``, 300 Mbps,
1 ms), each with two *processors* ``core0`` and ``core1`` that are this CPU's two cores: worker
processes pinned with ``sched_setaffinity``, one torch thread each (:class:`ProcessorPool`). Every
processor's profile is the local profile measured first at 1 thread (:func:`profile_model`), given
to the planners as the board ``local-cpu`` (processors of kind ``board``).

* **Plans**: ``hidp``, ``disnet``, ``modnn-hidp``, ``omniboost``, ``aofl-hidp`` on these nodes, and
  ``--random`` plans with random modes, node rows and processor fractions.
* **Measured** (in-process, pinned): :func:`run_shares` runs the plan, each node's parts split
  over the two pinned workers at once (hand-offs through queues, merge included); the nodes run
  one after another here, so each (volume, node) part's wall time (median of ``--repeats``) is
  placed on ``hidp_score``'s schedule in place of its modelled time (:class:`MeasuredScorer`):
  the network is modelled on both sides, as ``compose_latency`` does for volume plans.
* **Predicted**: :class:`HiDPScorer` with the measured profile and the node's intra-node figures
  (``--intra-overhead-ms`` per hand-off, ``--intra-gbps``; the priors are HiDP's board
  assumptions, ``node_processors.py``).
* **Calibrated** (2-fold by plan, as the volume report): the profile refitted
  (:func:`calibrate`) on the per-processor compute seconds of half the plans, and the hand-off's
  overhead and rate fitted to that half's one-processor parts (:func:`fit_handoff`: their
  measured wall minus compute, regressed on hand-offs and bytes), scored on the other half.

Reported: MAPE and Spearman rank correlation before and after calibration, plus per part the
three pieces of a node part's time (measured wall, slowest processor's compute, and the rest:
hand-offs, merge and queueing) beside the model's. Writes
``experiments/results/predicted_vs_measured_hidp.{csv,json,png}`` and ``_parts.csv`` (the loop
is :mod:`.pvm_harness`'s; this module is the node kind's plug-in). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.agents.planners import PLANNERS
from splitgym.agents.planners.nodes.hidp_local import LocalPartitioner, build_plan
from splitgym.costmodels.calibration import PartSample, calibrate
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import Node, NodeCluster
from splitgym.costmodels.nodes.node_processors import INTRA_OVERHEAD_S, ProcessorSpec
from splitgym.costmodels.plan import NodeShares, Plan, ProcessorShare
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile, load_or_measure
from splitgym.executors.nodes.processor_runner import ProcessorPool, SharesResult, run_shares
from splitgym.experiments.pvm_harness import (
    BOARD,
    RESULTS,
    Calibrated,
    Measured,
    Study,
    backend_line,
    execute,
    mape,
    progress,
    summarise,
)

__all__ = ["local_nodes", "MeasuredScorer", "fit_handoff", "random_plan", "NodeStudy", "main"]

METHODS = ("hidp", "disnet", "modnn-hidp", "omniboost", "aofl-hidp")
CORES = ("core0", "core1")


def local_nodes(
    n: int = 2,
    intra_gbps: float = 5.0,
    overhead_s: float = INTRA_OVERHEAD_S,
    mbps: float = 300.0,
    latency_ms: float = 1.0,
    handoff_default: bool = True,
) -> NodeCluster:
    """``n`` nodes whose processors are this CPU's cores (kind ``board``: the ``local-cpu`` profile);
    every processor, ``core0`` (the default) included, is a worker the node process hands rows to."""
    procs = tuple(ProcessorSpec(c, "board", 0.0, 0.0, "this machine: one pinned core") for c in CORES)
    nodes = [
        Node(
            f"n{k}",
            BOARD,
            procs,
            CORES[0],
            0.0,
            intra_gbps,
            mbps,
            intra_overhead_s=overhead_s,
            default_handoff=handoff_default,
        )
        for k in range(n)
    ]
    return NodeCluster(f"local{n}x{len(CORES)}", nodes, nodes[0].name, latency_ms / 1e3)


def with_handoff(nodes: NodeCluster, overhead_s: float, gbps: float) -> NodeCluster:
    return NodeCluster(
        nodes.name,
        [replace(n, intra_overhead_s=overhead_s, intra_gbps=gbps) for n in nodes.nodes],
        nodes.leader,
        nodes.latency_s,
    )


class MeasuredScorer(HiDPScorer):
    """``hidp_score``'s schedule with every node part (and the head) taking its measured wall time:
    measured compute, hand-offs and merges, modelled network."""

    def __init__(
        self,
        graph: ModelGraph,
        nodes: NodeCluster,
        profile: DeviceProfile,
        plan: Plan,
        walls: dict[tuple[int, str], float],
    ) -> None:
        super().__init__(graph, nodes, boards={BOARD: profile})
        self.walls = {
            (
                plan.volumes[v].first if v < len(plan.volumes) else -1,
                plan.volumes[v].last if v < len(plan.volumes) else -1,
                nodes.names.index(n),
            ): w
            for (v, n), w in walls.items()
        }

    def part_detail(
        self, j: int, first: int, last: int, a: int, b: int, procs: list[str], fractions: list[float]
    ) -> list[tuple[str, float, float, float]]:
        return [(procs[0], 0.0, self.walls[(first, last, j)], 0.0)]

    def head_detail(self, j: int, proc: str) -> tuple[float, float, float]:
        return 0.0, self.walls[(-1, -1, j)], 0.0


def random_plan(
    i: int, graph: ModelGraph, nodes: NodeCluster, profile: DeviceProfile, rng: np.random.Generator
) -> Plan:
    """Random modes, node rows and processor fractions (per unit; a model-mode unit on a random node)."""
    sc = HiDPScorer(graph, nodes, boards={BOARD: profile})
    cuts = []
    for u in graph.units:
        h, m = u.height, nodes.size
        if rng.random() < 0.5:  # model mode
            c = np.zeros(m + 1, dtype=np.int64)
            c[int(rng.integers(m)) + 1 :] = h
        else:
            c = np.array([0, *sorted(rng.integers(0, h + 1, m - 1).tolist()), h])
        cuts.append(c)
    plan = build_plan(
        f"random-{i}", graph, nodes, [(u, u) for u in range(graph.num_units)], cuts, LocalPartitioner(sc, "default")
    )
    shares = []
    for s in plan.shares or []:
        if s.volume < len(plan.volumes) and rng.random() < 0.7:  # local data mode, random fractions
            f = rng.uniform(0.15, 0.85)
            s = NodeShares(
                device=s.device,
                volume=s.volume,
                mode="data",
                shares=[
                    ProcessorShare(processor=CORES[0], share=round(f, 4)),
                    ProcessorShare(processor=CORES[1], share=round(1 - f, 4)),
                ],
            )
        shares.append(s)
    return plan.evolve(shares=shares)


def time_shares(
    plan: Plan, graph: ModelGraph, x: torch.Tensor, pool: ProcessorPool, repeats: int
) -> tuple[dict[tuple[int, str], float], list[PartSample], SharesResult]:
    """Median wall per (volume, node) over ``repeats`` runs (after one warm-up), and one calibration
    sample per processor range (its median compute seconds)."""
    regions: dict[Any, Any] = {}
    run_shares(plan, graph, x, pool, regions=regions)  # warm-up: every worker builds its slices
    runs = [run_shares(plan, graph, x, pool, regions=regions) for _ in range(repeats)]
    walls = {
        (p.volume, p.node): float(np.median([r.parts[i].wall_s for r in runs])) for i, p in enumerate(runs[0].parts)
    }
    samples = []
    for i, p in enumerate(runs[0].parts):
        busy = [rr for rr in p.proc_rows if rr[1] > rr[0]]
        for k, rows in enumerate(busy):
            secs = float(np.median([r.parts[i].compute_s[k] for r in runs]))
            head = p.volume == len(plan.volumes)
            vol = None if head else plan.volumes[p.volume]
            samples.append(PartSample(-1, -1, (0, 0), secs) if head else PartSample(vol.first, vol.last, rows, secs))
    return walls, samples, runs[-1]


def part_rows(
    model: str, plan: Plan, res: SharesResult, walls: dict[tuple[int, str], float], scorer: HiDPScorer
) -> list[dict[str, Any]]:
    """Per node part: measured wall / slowest compute / the rest, next to the model's pieces."""
    out = []
    names = scorer.nodes.names
    for p in res.parts:
        j = names.index(p.node)
        procs = [scorer.nodes.nodes[j].default if q == "default" else q for q in p.processors]
        p = replace(p, processors=procs)
        if p.volume < len(plan.volumes):
            vol = plan.volumes[p.volume]
            detail = scorer.part_detail(
                j,
                vol.first,
                vol.last,
                p.rows[0],
                p.rows[1],
                p.processors,
                [1.0] * len(p.processors) if len(p.processors) == 1 else [float(b - a) for a, b in p.proc_rows],
            )
        else:
            detail = [(p.processors[0], *scorer.head_detail(j, p.processors[0]))]
        wall = walls[(p.volume, p.node)]
        comp = max(p.compute_s)
        m_comp = max(c for _, _, c, _ in detail)
        m_total = max(i + c + o for _, i, c, o in detail)
        out.append(
            {
                "model": model,
                "plan": plan.method,
                "volume": p.volume,
                "node": p.node,
                "processors": len(p.compute_s),
                "measured_wall_ms": wall * 1e3,
                "measured_compute_ms": comp * 1e3,
                "measured_rest_ms": (wall - comp) * 1e3,
                "model_total_ms": m_total * 1e3,
                "model_compute_ms": m_comp * 1e3,
                "model_rest_ms": (m_total - m_comp) * 1e3,
            }
        )
    return out


def fit_handoff(parts: list[dict[str, Any]], prior_overhead_s: float, prior_gbps: float) -> tuple[float, float]:
    """Hand-off figures ``(overhead_s, GB/s)`` from measured node parts run on one processor:
    their rest (wall - compute: two hand-offs, the merge and any wait) regressed on the number of
    hand-offs and the bytes moved (back-computed from the modelled rest at the priors), by least
    squares; the priors where the parts cannot determine them."""
    sel = [p for p in parts if p["processors"] == 1 and p["model_rest_ms"] > 0]
    if len(sel) < 3:
        return prior_overhead_s, prior_gbps
    hand = np.full(len(sel), 2.0)
    gb_s = np.array([(p["model_rest_ms"] / 1e3 - 2 * prior_overhead_s) * prior_gbps for p in sel])  # GB moved
    rest = np.array([p["measured_rest_ms"] / 1e3 for p in sel])
    (o, per_gb), *_ = np.linalg.lstsq(np.column_stack([hand, gb_s]), rest, rcond=None)
    o = max(float(o), 0.0)
    gbps = 1.0 / per_gb if per_gb > 1e-6 else prior_gbps
    return o, float(gbps)


@dataclass
class _Model:
    name: str
    model: torch.nn.Module
    graph: ModelGraph
    profile: DeviceProfile
    plans: list[Plan]
    x: torch.Tensor
    ref: torch.Tensor
    scorer: HiDPScorer
    board_rule: HiDPScorer
    pool: ProcessorPool | None = None


@dataclass
class NodeStudy(Study):
    """HiDP's node plans on this machine's two nodes of two pinned cores (see the module doc);
    ``cached``: the shipped or cached profile instead of measuring one; ``handoff_default``: the
    default processor pays hand-offs too (as its worker does here)."""

    size: int = 224
    n_random: int = 3
    repeats: int = 3
    intra_gbps: float = 5.0
    overhead_s: float = INTRA_OVERHEAD_S
    seed: int = 0
    cached: bool = False
    handoff_default: bool = True
    parts: list[dict[str, Any]] = field(default_factory=list)

    stem = "predicted_vs_measured_hidp"
    trailing = ("fitted_handoff_ms", "fitted_handoff_gbps")

    def __post_init__(self) -> None:
        self.nodes = local_nodes(
            intra_gbps=self.intra_gbps, overhead_s=self.overhead_s, handoff_default=self.handoff_default
        )
        self.cluster = self.nodes.to_cluster()
        self.rng = np.random.default_rng(self.seed)  # one stream over all models' random plans

    def prepare(self, name: str, model: torch.nn.Module) -> _Model:
        size = self.size
        graph = ModelGraph.from_module(model, (3, size, size), name=name)
        t = time.perf_counter()
        profile = load_or_measure(graph) if self.cached else profile_model(graph, progress=False)
        print(
            f"{name:<14}{'cached profile' if self.cached else 'profiled'} in {time.perf_counter() - t:.1f} s "
            f"({profile.meta.get('machine', {}).get('threads', 1)} thread(s))",
            flush=True,
        )
        boards = {BOARD: profile}
        plans = [PLANNERS[m](graph, self.cluster, nodes=self.nodes, profiles=boards) for m in METHODS]
        plans += [random_plan(i, graph, self.nodes, profile, self.rng) for i in range(self.n_random)]
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            ref = graph.gm(x)
        # the model before the fix: the default processor without hand-offs (as on the boards)
        board_rule = HiDPScorer(
            graph,
            local_nodes(intra_gbps=self.intra_gbps, overhead_s=self.overhead_s, handoff_default=False),
            boards=boards,
        )
        return _Model(
            name, model, graph, profile, plans, x, ref, HiDPScorer(graph, self.nodes, boards=boards), board_rule
        )

    @contextlib.contextmanager
    def session(self, ctx: _Model) -> Iterator[None]:
        with ProcessorPool(ctx.name, (3, self.size, self.size), cores=[0, 1], module=ctx.model) as pool:
            ctx.pool = pool
            yield

    def items(self, ctx: _Model) -> list[Plan]:
        return ctx.plans

    def measure(self, ctx: _Model, plan: Plan) -> Measured:
        """The plan run over the pinned workers, its parts' walls placed on the scorer's schedule."""
        assert ctx.pool is not None
        t = time.perf_counter()
        walls, samples, last = time_shares(plan, ctx.graph, ctx.x, ctx.pool, self.repeats)
        torch.testing.assert_close(last.output, ctx.ref, rtol=1e-4, atol=1e-4)
        meas = MeasuredScorer(ctx.graph, self.nodes, ctx.profile, plan, walls).latency(plan)
        row = {
            "model": ctx.name,
            "backend": "in-process",
            "plan": plan.method,
            "modes": "".join("m" if m == "model" else "d" for m in plan.modes or []),
            "local_splits": sum(len(s.shares) > 1 for s in plan.shares or []),
            "predicted_ms": ctx.scorer.latency(plan) * 1e3,
            "measured_ms": meas * 1e3,
            "predicted_no_default_handoff_ms": ctx.board_rule.latency(plan) * 1e3,
            "_plan": plan,
        }
        self.parts += part_rows(ctx.name, plan, last, walls, ctx.scorer)
        progress(f"{ctx.name:<14}{plan.method:<12}", row, f" ({time.perf_counter() - t:.1f} s)")
        return Measured(plan.method, [row], samples)

    def calibrate(self, ctx: _Model, fit: list[PartSample], fold: set[str], rows: list[dict[str, Any]]) -> Calibrated:
        """The profile refitted on the fold's per-processor compute, the hand-off's overhead and
        rate on the fold's one-processor parts."""
        cal = calibrate(ctx.profile, ctx.graph, fit)
        handoff, gbps = fit_handoff(
            [p for p in self.parts if p["model"] == ctx.name and p["plan"] in fold], self.overhead_s, self.intra_gbps
        )
        sc = HiDPScorer(ctx.graph, with_handoff(self.nodes, handoff, gbps), boards={BOARD: cal})
        return lambda r, in_fold: (
            {}
            if in_fold
            else {
                "calibrated_ms": sc.latency(r["_plan"]) * 1e3,
                "fitted_handoff_ms": handoff * 1e3,
                "fitted_handoff_gbps": gbps,
            }
        )

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        return {"parts": self.parts}

    def summarise(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Per backend, plus the board rule's MAPE and the node parts' pieces (see the module doc)."""
        parts = self.parts
        summary = summarise(rows)
        sel = [r for r in rows if r["backend"] == "in-process"]
        summary["in-process"]["mape_pct_no_default_handoff"] = mape(
            np.array([r["predicted_no_default_handoff_ms"] for r in sel]), np.array([r["measured_ms"] for r in sel])
        )
        ratio = np.array([p["measured_compute_ms"] / p["model_compute_ms"] for p in parts])
        rest = np.array([[p["measured_rest_ms"], p["model_rest_ms"]] for p in parts])
        split = np.array([p["processors"] > 1 for p in parts])
        summary["parts"] = {
            "count": len(parts),
            "split_over_both_cores": int(split.sum()),
            "median_measured_rest_ms": float(np.median(rest[:, 0])),
            "median_model_rest_ms": float(np.median(rest[:, 1])),
            "median_measured_rest_ms_split": float(np.median(rest[split, 0])) if split.any() else None,
            "median_model_rest_ms_split": float(np.median(rest[split, 1])) if split.any() else None,
            "median_compute_ratio_split": float(np.median(ratio[split])) if split.any() else None,
            "median_compute_ratio_single": float(np.median(ratio[~split])) if (~split).any() else None,
            "intra_gbps": self.intra_gbps,
            "intra_overhead_ms": self.overhead_s * 1e3,
        }
        return summary

    def report(self, res: dict[str, Any], out: Path) -> None:
        for backend, s in res["summary"].items():
            if backend != "parts":
                print(backend_line(backend, s))
        p = res["summary"]["parts"]
        print(
            f"MAPE with the default processor free of hand-offs (the board rule): "
            f"{res['summary']['in-process']['mape_pct_no_default_handoff']:.1f}%"
        )
        print(
            f"node parts: median measured hand-off+merge {p['median_measured_rest_ms']:.2f} ms, "
            f"modelled {p['median_model_rest_ms']:.2f} ms; measured/modelled compute: split over both cores "
            f"{p['median_compute_ratio_split']}, one core {p['median_compute_ratio_single']}"
        )
        print(f"wrote {out / (self.stem + '.csv')}, _parts.csv, .json and .png")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vgg11,resnet18")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--random", type=int, default=3, help="random two-level plans per model")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--intra-gbps", type=float, default=5.0, help="modelled hand-off rate (GB/s)")
    ap.add_argument(
        "--intra-overhead-ms",
        type=float,
        default=INTRA_OVERHEAD_S * 1e3,
        help="modelled seconds per hand-off before calibration",
    )
    ap.add_argument("--cached", action="store_true", help="the shipped or cached profile instead of measuring")
    ap.add_argument(
        "--no-default-handoff",
        action="store_true",
        help="model the default processor without hand-offs (as on the boards; the model before the fix)",
    )
    ap.add_argument("--quick", action="store_true", help="vgg11 at 64, cached profile, 1 random plan, 1 repeat")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    if a.quick:
        a.models, a.size, a.random, a.repeats, a.cached = "vgg11", 64, 1, 1, True
    study = NodeStudy(
        a.size,
        a.random,
        a.repeats,
        a.intra_gbps,
        a.intra_overhead_ms / 1e3,
        cached=a.cached,
        handoff_default=not a.no_default_handoff,
    )
    return execute(study, a.models.split(","), a.out)


if __name__ == "__main__":
    main()
