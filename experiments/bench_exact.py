"""Benchmark: the exact search, enumeration vs branch and bound, and how far each reaches in devices.

Part 1, side by side in one process on VGG-16 / DB: both methods on the same partition and grid
(they must return the same cuts and latency), enumeration only where it has at most
``--enum-limit`` candidates. Part 2, branch and bound alone: DB's boards repeated to N devices at
one bandwidth, one volume and two, N growing until a search takes over ``--limit-s`` seconds:
the largest N under it is what the README quotes. Medians of ``--repeats``, with the load.

    python -m splitgym.experiments.bench_exact [--repeats 3] [--limit-s 10] [--out experiments/results]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from splitgym.agents.planners.volumes.exact import count_candidates, plan_exact
from splitgym.costmodels.cluster import Cluster, load_conf
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.experiments.bench_planners import median_time
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["main", "side_by_side", "scaling"]

SIDE_BY_SIDE = (("0,7", 8), ("0,7,14", 4), ("0,5,10", 8), ("stages", 4), ("stages", 8))


def _cluster(n: int, bandwidth: float, devices: str = "DB") -> Cluster:
    """DB's boards repeated (Xavier, Xavier, Nano, Nano, Xavier, ...) to ``n`` devices."""
    devs = load_conf("devices", devices)["devices"]
    pick = [dict(devs[i % len(devs)], name=f"d{i}") for i in range(n)]
    return Cluster.from_config({"name": f"{devices}x{n}", "devices": pick}, bandwidth)


def _case(
    g: ModelGraph, c: Cluster, partition: str, grid: int, method: str, repeats: int, budget: int = 10**12
) -> dict[str, Any]:
    secs, plan = median_time(
        lambda: plan_exact(g, c, partition=partition, grid=grid, method=method, max_candidates=budget), repeats
    )
    return {"s": secs, "latency_ms": plan.meta["latency_s"] * 1e3, "rows": [v.rows for v in plan.volumes], **plan.meta}


def side_by_side(
    g: ModelGraph, bandwidth: float, repeats: int, enum_limit: int, cases: tuple[tuple[str, int], ...] = SIDE_BY_SIDE
) -> list[dict[str, Any]]:
    c = Cluster.from_config("DB", bandwidth)
    rows = []
    for partition, grid in cases:
        heights = [g.units[last].height for _, last in named_partition(partition, g)]
        cands = count_candidates(heights, c.size, grid)
        bnb = _case(g, c, partition, grid, "bnb", repeats)
        row = {"part": 1, "devices": c.size, "bandwidth": bandwidth, "partition": partition, "grid": grid}
        row |= {"candidates": cands, "bnb_s": bnb["s"], "bnb_advanced": bnb["scored"], "latency_ms": bnb["latency_ms"]}
        row |= {"enum_s": None, "same_plan": None, "speedup": None}
        if cands <= enum_limit:
            enum = _case(g, c, partition, grid, "enumerate", 1)
            same = enum["rows"] == bnb["rows"] and enum["latency_ms"] == bnb["latency_ms"]
            row |= {"enum_s": enum["s"], "same_plan": same, "speedup": enum["s"] / bnb["s"]}
        rows.append(row)
        print(row, flush=True)
    return rows


def scaling(
    g: ModelGraph, bandwidth: float, limit_s: float, steps: tuple[int, ...], budget: int
) -> list[dict[str, Any]]:
    """Branch and bound alone as N grows; a search over ``budget`` partial plans stops the row."""
    rows = []
    for partition in ("single", "0,7"):
        for n in steps:
            c = _cluster(n, bandwidth)
            heights = [g.units[last].height for _, last in named_partition(partition, g)]
            try:
                bnb = _case(g, c, partition, 8, "bnb", 1, budget)
            except ConfigError:
                print(f"{partition} at {n} devices: over {budget:,} partial plans, stopped", flush=True)
                break
            rows.append(
                {
                    "part": 2,
                    "devices": n,
                    "bandwidth": bandwidth,
                    "partition": partition,
                    "grid": 8,
                    "candidates": count_candidates(heights, n, 8),
                    "bnb_s": bnb["s"],
                    "bnb_advanced": bnb["scored"],
                    "latency_ms": bnb["latency_ms"],
                }
            )
            print(rows[-1], flush=True)
            if bnb["s"] > limit_s:
                break
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--bandwidth", type=float, default=300.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--enum-limit", type=int, default=5_000_000)
    ap.add_argument("--limit-s", type=float, default=10.0)
    ap.add_argument("--steps", default="4,6,8,12,16,20,24,32")
    ap.add_argument("--budget", type=int, default=5_000_000, help="partial plans per scaling search")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    g = ModelGraph.from_torchvision(args.model)
    load_before = os.getloadavg()[0]
    rows = side_by_side(g, args.bandwidth, args.repeats, args.enum_limit)
    rows += scaling(g, args.bandwidth, args.limit_s, tuple(int(x) for x in args.steps.split(",")), args.budget)
    load_after = os.getloadavg()[0]
    for r in rows:
        r["load_before"], r["load_after"] = load_before, load_after
    write_csv(args.out / "bench_exact.csv", rows)
    return rows


if __name__ == "__main__":
    main()
