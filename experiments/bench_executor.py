"""Benchmark: the in-process executor against the unsplit model, on this CPU.

    python -m splitgym.experiments.bench_executor [--model vgg16] [--size 224] [--threads 1]

All parts run one after another in this process, so a split run costs the unsplit run times the
extra work the halo adds, plus the executor's own overhead (slicing, concatenation, many smaller
convolutions). Two plans, 4 devices (DistrEdge's group DB), equal row splits:

(a) ``single``: the whole feature extractor as one volume. Reported: measured / unsplit time,
    the MAC ratio (sum over parts of their operations with halo, from the row maths, plus the
    head, over the unsplit model's) and overhead = measured / (MAC ratio x unsplit); target <= 1.1.
(b) ``stages``: one volume per pooling stage. Reported: measured / unsplit; target <= 1.3.

Times are medians of ``torch.utils.benchmark`` (``blocked_autorange``), every run in this one
process so the numbers compare; the outputs are checked against the unsplit model first.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch.utils import benchmark

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.traffic import SplitMaths
from splitgym.costmodels.volumes.linear_model import equal_cuts
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.executors import LocalExecutor


def mac_ratio(graph: ModelGraph, plan: Plan) -> float:
    """Operations of all parts (halo included) + head, over the unsplit model's."""
    maths = SplitMaths(graph)
    split = sum(
        float(maths.operations(first, last, maths.ranges(first, last, plan.cuts[v][None]))[0])
        for v, (first, last) in enumerate(plan.partition)
    )
    head = graph.head.flops if graph.head else 0
    return (split + head) / (sum(u.flops for u in graph.units) + head)


def median_seconds(fn, x: torch.Tensor, threads: int, min_run_time: float) -> float:
    timer = benchmark.Timer(stmt="fn(x)", globals={"fn": fn, "x": x}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--devices", default="DB")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads (1: on a shared CPU more threads measure the other "
        "load: oneDNN's threads wait at every barrier for a stolen core)",
    )
    ap.add_argument("--min-run-time", type=float, default=3.0, help="seconds per measurement")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    graph = ModelGraph.from_torchvision(args.model, args.size)
    model = build_model(args.model)
    cluster = Cluster.from_config(args.devices, 300)
    x = torch.randn(1, *graph.input_shape)
    with torch.inference_mode():
        ref = model(x)
    unsplit_fn = torch.inference_mode()(model)

    def plan_for(partition: str) -> Plan:
        part = named_partition(partition, graph)
        cuts = np.stack([equal_cuts(graph.units[last].height, cluster.size) for _, last in part])
        return Plan.from_volumes("equal", graph, cluster, part, cuts, meta={"partition": partition})

    results: dict = {
        "model": args.model,
        "input": list(graph.input_shape),
        "threads": args.threads,
        "devices": cluster.names,
    }
    executors = {}
    for key, partition in (("a_single", "single"), ("b_stages", "stages")):
        plan = plan_for(partition)
        ex = LocalExecutor(plan, graph)
        torch.testing.assert_close(ex.run(x), ref, rtol=1e-4, atol=1e-5 * max(1.0, ref.abs().max().item()))
        executors[key] = (plan, ex)
    # interleave the measurements (unsplit first and last) so drift shows
    unsplit = median_seconds(unsplit_fn, x, args.threads, args.min_run_time)
    measured = {k: median_seconds(ex.run, x, args.threads, args.min_run_time) for k, (_, ex) in executors.items()}
    unsplit2 = median_seconds(unsplit_fn, x, args.threads, args.min_run_time)
    base = min(unsplit, unsplit2)
    results["unsplit_s"] = [unsplit, unsplit2]
    for key, (plan, _) in executors.items():
        ratio = mac_ratio(graph, plan)
        results[key] = {
            "volumes": len(plan.volumes),
            "rows": [v.rows for v in plan.volumes],
            "measured_s": measured[key],
            "measured_over_unsplit": measured[key] / base,
            "mac_ratio": ratio,
            "overhead": measured[key] / (ratio * base),
        }
    a, b = results["a_single"], results["b_stages"]
    print(json.dumps(results, indent=1))
    print(
        f"(a) single volume, 4-way: measured {a['measured_s'] * 1e3:.1f} ms, unsplit {base * 1e3:.1f} ms, "
        f"MAC ratio {a['mac_ratio']:.3f}, overhead {a['overhead']:.3f} (target <= 1.1)"
    )
    print(
        f"(b) stages, 4-way: measured {b['measured_s'] * 1e3:.1f} ms, measured/unsplit "
        f"{b['measured_over_unsplit']:.3f} (target <= 1.3; MAC ratio {b['mac_ratio']:.3f}, "
        f"overhead {b['overhead']:.3f})"
    )
    return results


if __name__ == "__main__":
    main()
