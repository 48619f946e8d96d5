"""Benchmark: the cost of scoring DistrEdge split decisions with the simulator.

    python -m splitgym.experiments.bench_simulator [--model vgg16] [--devices DB] [--batch 1000]

Scores one VGG-16 / 4-device plan alone, by the single-plan fast path and forced onto the batched
numpy path (``sim.fast = False``, the path before the fast one), ``simulate`` of that plan both
ways, and a batch of random split decisions, on the same partition. Every repeat times each
variant in turn (side by side, in one process), and the medians over repeats are printed with
the load average before and after. The issue's targets: <= 50 us per plan batched, <= 80 us for
one plan alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.linear_model import equal_cuts
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator


def random_cuts(rng: np.random.Generator, heights: list[int], n: int, batch: int) -> np.ndarray:
    """(batch, V, n+1) uniformly drawn sorted cut points (empty parts allowed)."""
    vols = []
    for h in heights:
        x = np.sort(rng.integers(0, h + 1, size=(batch, n - 1)), axis=1)
        vols.append(np.concatenate([np.zeros((batch, 1), np.int64), x, np.full((batch, 1), h)], axis=1))
    return np.stack(vols, axis=1)


def _per_call(fn: Callable[[], object], calls: int) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def side_by_side(variants: dict[str, tuple[Callable[[], object], int]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each ``name: (fn, calls per repeat)``; each repeat runs every
    variant once, in turn, so a change of load hits them all alike."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (fn, calls) in variants.items():
            times[name].append(_per_call(fn, calls))
    return {name: statistics.median(ts) for name, ts in times.items()}


def forced_batched(sim: Simulator, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` with the simulator forced onto its batched numpy path (the old single-plan path)."""

    def run() -> object:
        sim.fast = False
        try:
            return fn()
        finally:
            sim.fast = True

    return run


def measure(
    model: str = "vgg16",
    devices: str = "DB",
    bandwidth: float = 300.0,
    partition: str = "stages",
    batch_size: int = 1000,
    repeats: int = 7,
    calls: int = 200,
) -> dict[str, object]:
    """The benchmark's numbers (the JSON ``main`` prints): medians over ``repeats``, side by side."""
    g = ModelGraph.from_torchvision(model)
    cluster = Cluster.from_config(devices, bandwidth)
    sim = Simulator(g, cluster)
    part = named_partition(partition, g)
    heights = [g.units[last].height for _, last in part]
    one = np.stack([equal_cuts(h, cluster.size) for h in heights])
    plan = Plan.from_volumes("bench", g, cluster, part, one)
    batch = random_cuts(np.random.default_rng(0), heights, cluster.size, batch_size)
    sim.score(part, batch), sim.score(part, one), sim.simulate(plan)  # warm-up (builds the fast tables)
    load_before = os.getloadavg()
    t = side_by_side(
        {
            "single_fast": (lambda: sim.score(part, one), calls),
            "single_batched": (forced_batched(sim, lambda: sim.score(part, one)), calls),
            "simulate_fast": (lambda: sim.simulate(plan), max(1, calls // 4)),
            "simulate_batched": (forced_batched(sim, lambda: sim.simulate(plan)), max(1, calls // 4)),
            "batch": (lambda: sim.score(part, batch), 1),
        },
        repeats,
    )
    return {
        "model": g.name,
        "devices": cluster.name,
        "n_devices": cluster.size,
        "partition": partition,
        "volumes": len(part),
        "units": g.num_units,
        "batch": batch_size,
        "repeats": repeats,
        "single_plan_us": t["single_fast"] * 1e6,
        "single_plan_batched_path_us": t["single_batched"] * 1e6,
        "single_plan_speedup": t["single_batched"] / t["single_fast"],
        "simulate_us": t["simulate_fast"] * 1e6,
        "simulate_batched_path_us": t["simulate_batched"] * 1e6,
        "batched_per_plan_us": t["batch"] / batch_size * 1e6,
        "plans_per_second_batched": batch_size / t["batch"],
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--devices", default="DB")
    ap.add_argument("--bandwidth", type=float, default=300.0)
    ap.add_argument("--partition", default="stages")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=200, help="single-plan calls per repeat")
    args = ap.parse_args()
    out = measure(args.model, args.devices, args.bandwidth, args.partition, args.batch, args.repeats, args.calls)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
