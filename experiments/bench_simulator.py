"""Benchmark: the cost of scoring DistrEdge split decisions with the vectorised simulator.

    python -m splitgym.experiments.bench_simulator [--model vgg16] [--devices DB] [--batch 1000]

Scores one VGG-16 / 4-device plan alone and a batch of random split decisions, on the same
partition, and prints the median over repeats (all in one run, so the numbers compare). The
issue's target is <= 50 us per plan batched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
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


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--devices", default="DB")
    ap.add_argument("--bandwidth", type=float, default=300.0)
    ap.add_argument("--partition", default="stages")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    g = ModelGraph.from_torchvision(args.model)
    cluster = Cluster.from_config(args.devices, args.bandwidth)
    sim = Simulator(g, cluster)
    part = named_partition(args.partition, g)
    heights = [g.units[last].height for _, last in part]
    one = np.stack([equal_cuts(h, cluster.size) for h in heights])
    batch = random_cuts(np.random.default_rng(0), heights, cluster.size, args.batch)
    sim.score(part, batch)  # warm-up
    single = _median_time(lambda: sim.score(part, one), args.repeats)
    batched = _median_time(lambda: sim.score(part, batch), args.repeats)
    out = {
        "model": g.name,
        "devices": cluster.name,
        "n_devices": cluster.size,
        "partition": args.partition,
        "volumes": len(part),
        "units": g.num_units,
        "batch": args.batch,
        "repeats": args.repeats,
        "single_plan_us": single * 1e6,
        "batched_per_plan_us": batched / args.batch * 1e6,
        "plans_per_second_batched": args.batch / batched,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
