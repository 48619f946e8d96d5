"""Benchmark: batched scoring per plan as the cluster grows, dense vs sparse transfers (issue 21.4).

    python -m splitgym.experiments.bench_sparse [--devices 8,16,32,64] [--batch 256] [--repeats 5]

VGG-16 at 224 px on N devices (Xavier and Nano boards alternating, 300 Mbps caps, switched
medium), its ``stages`` partition, ``batch`` random split decisions (sorted cuts, empty parts
allowed) scored by ``Simulator.score`` on the batched path. Variants, side by side in one process
(each repeat runs each for >= 0.1 s, in turn; medians over repeats, load average before and after):
``dense`` prices every (source, part) pair (``sim.sparse_min_n`` above N), ``sparse`` only the
pairs whose rows can overlap (``sparse_min_n = 1``); both give equal latencies, which is checked.
Run with an older checkout's interpreter (no ``sparse_min_n``), the script measures that code's
``default`` path alone, for a before/after in alternating runs. Prints JSON, one row per N.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.bench_simulator import random_cuts

__all__ = ["measure", "cluster_of", "main"]


def cluster_of(n: int, bandwidth: float = 300.0) -> Cluster:
    """``n`` devices, Xavier and Nano boards alternating, every device capped at ``bandwidth`` Mbps."""
    boards = ("xavier", "nano")
    devices = [{"name": f"d{k}", "board": boards[k % 2]} for k in range(n)]
    return Cluster.from_config({"name": f"xn{n}", "devices": devices}, bandwidth)


def _variants(sim: Simulator, n: int) -> dict[str, int]:
    """Variant name -> the ``sparse_min_n`` it runs with (none settable: the code's default)."""
    if not hasattr(sim, "sparse_min_n"):
        return {"default": 0}
    return {"dense": n + 1, "sparse": 1}


def measure_n(graph: ModelGraph, n: int, batch: int, repeats: int, partition: str = "stages") -> dict[str, Any]:
    """Median microseconds per plan of each variant at ``n`` devices (side by side)."""
    sim = Simulator(graph, cluster_of(n), fast=False)
    part = named_partition(partition, graph)
    heights = [int(graph.units[last].height) for _, last in part]
    cuts = random_cuts(np.random.default_rng(n), heights, n, batch)
    variants = _variants(sim, n)
    results, times = {}, {name: [] for name in variants}
    calls = 1
    for name, min_n in variants.items():  # warm-up (builds the tables) and the equality check
        sim.sparse_min_n = min_n
        results[name] = sim.score(part, cuts)
        t = time.perf_counter()
        sim.score(part, cuts)
        calls = max(calls, int(0.1 / (time.perf_counter() - t)))  # >= 0.1 s per repeat and variant
    first = next(iter(results.values()))
    equal = all(np.array_equal(first, r) for r in results.values())
    load_before = os.getloadavg()
    for _ in range(repeats):
        for name, min_n in variants.items():
            sim.sparse_min_n = min_n
            t = time.perf_counter()
            for _ in range(calls):
                sim.score(part, cuts)
            times[name].append((time.perf_counter() - t) / calls / batch * 1e6)
    row: dict[str, Any] = {"model": graph.name, "n_devices": n, "partition": partition, "batch": batch}
    row.update({f"{name}_us_per_plan": statistics.median(ts) for name, ts in times.items()})
    if "sparse" in variants:
        row["dense_over_sparse"] = row["dense_us_per_plan"] / row["sparse_us_per_plan"]
    row.update({"equal": equal, "repeats": repeats, "load_before": load_before, "load_after": os.getloadavg()})
    return row


def measure(devices: tuple[int, ...] = (8, 16, 32, 64), batch: int = 256, repeats: int = 5) -> list[dict[str, Any]]:
    """One row per device count (see :func:`measure_n`)."""
    graph = ModelGraph.from_torchvision("vgg16")
    return [measure_n(graph, n, batch, repeats) for n in devices]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="8,16,32,64", help="device counts, comma-separated")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        devices = tuple(int(x) for x in args.devices.split(",") if x)
    except ValueError:
        ap.error(f"--devices: expected integers like 8,16,64, got {args.devices!r}")
    if not devices or min(devices) < 1 or args.batch < 1 or args.repeats < 1:
        ap.error(f"--devices/--batch/--repeats: expected >= 1, got {args.devices!r}, {args.batch}, {args.repeats}")
    rows = measure(devices, args.batch, args.repeats)
    print(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
