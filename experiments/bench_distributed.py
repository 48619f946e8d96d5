"""Where a distributed run's latency goes, and the executor before and after issue #21 item 7.

    python -m splitgym.experiments.bench_distributed [--models resnet18,vgg11] [--size 224]
        [--plan equal] [--images 5] [--repeats 3] [--links netns] [--variants before,sender,after]
        [-o out.json]

The plans are the predicted-vs-measured study's distributed ones (:mod:`.predicted_vs_measured`):
``--plan`` on 2 logical devices that are this CPU, 300 Mbps and 1 ms, the measured link table's
transport cost per message. For each:

- ``composed_ms``: the plan's parts timed alone in this process (``LocalExecutor.run_timed``,
  median of 3) composed along the plan with its links, the link table's per-message transport
  included (:func:`compose_latency`): the prediction with the compute model's error taken out;
- the control for compute: the same parts timed in two processes at once, no messages
  (:func:`concurrent_compute_ms`): what computing on both cores together costs here;
- ``measured_ms`` per executor variant (:data:`~.bench_hosts.VARIANTS`): ``before`` (a waiter
  thread per message, each stage's receives posted when it starts), ``sender`` (only the sender
  new: :class:`~splitgym.executors.volumes.volume_sender.Sender`), ``after`` (the executor as it is:
  also every receive of an image posted at its start); the median image latency of
  ``run_distributed`` (``--images`` after one warm-up);
- the run's breakdown (``ExecutionResult.meta["breakdown"]``): per rank, ms per image of compute,
  receive posting and waiting, concatenation, slicing, hand-off to the sender, the end-of-image
  flush, Python bookkeeping (``other``), the sender thread's time inside ``isend`` (``issue``) and
  its lateness after due (``lag``).

Every repeat runs every variant, in an order rotated per repeat, so they see the same load; the
medians over repeats are reported with ``os.getloadavg()`` before and after. Run it at
``nice -n -20`` as root on a shared machine (the processes inherit it). ``-o out.json`` also
writes ``out.csv``: the same figures as stamped rows (:func:`csv_rows`), what the README's spans read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.agents.planners import run_planner
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.link_table import LOCAL_LINKS
from splitgym.costmodels.models import build_model
from splitgym.costmodels.network import transfer_seconds
from splitgym.costmodels.plan import Plan
from splitgym.executors import LocalExecutor, compose_latency
from splitgym.executors.netns import netns_available
from splitgym.executors.volumes.volume_distributed import run_distributed
from splitgym.experiments.bench_hosts import VARIANTS, executor_variant
from splitgym.experiments.pvm_harness import local_cluster, torch_threads
from splitgym.experiments.results_csv import write_csv

__all__ = ["composed_ms", "concurrent_compute_ms", "measure", "csv_rows", "main"]

#: the breakdown's columns printed per device rank (ms per image)
SHOWN = ("compute", "recv_post", "recv_wait", "assemble", "slice", "put", "flush", "other", "issue", "lag")


def with_transport(plan: Plan) -> Any:
    """The plan's link model with the link table's per-message transport cost (what the simulator
    charges; ``network_transfer`` charges only the plan's own overhead)."""
    cluster = plan.cluster()
    names = cluster.names + [cluster.requester]
    bw = cluster.network.matrix(names, 0.0)
    index = {n: i for i, n in enumerate(names)}
    lat, msg = cluster.network.latency_s, cluster.network.message_s
    return lambda src, dst, nbytes: float(transfer_seconds(nbytes, bw[index[src], index[dst]], lat, msg))


def composed_ms(plan: Plan, graph: ModelGraph, repeats: int = 3) -> tuple[float, dict[str, float]]:
    """The plan's parts timed alone here, composed with its links (transport included): ms, and
    each device's compute ms."""
    x = torch.randn(1, *graph.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        _, times = LocalExecutor(plan, graph).run_timed(x, repeats=repeats, warmup=1)
    per = {d.name: float(np.asarray(times["compute_s"])[:, k].sum()) * 1e3 for k, d in enumerate(plan.devices)}
    if times["head_device"] is not None:
        per[times["head_device"]] += float(times["head_s"]) * 1e3
    return compose_latency(times, plan, with_transport(plan))["latency_s"] * 1e3, per


def _parts_in_process(plan_json: dict[str, Any]) -> dict[str, float]:
    """(In a fresh process, one thread) each device's compute ms of ``plan``'s parts, timed alone."""
    torch.set_num_threads(1)
    plan = Plan.model_validate(plan_json)
    graph = ModelGraph.from_module(build_model(plan.model.name, seed=0), tuple(plan.model.input), name=plan.model.name)
    return composed_ms(plan, graph, repeats=5)[1]


def concurrent_compute_ms(plan: Plan, processes: int = 2) -> list[dict[str, float]]:
    """Every device's compute ms timed as :func:`composed_ms` does, in ``processes`` processes at
    once (no messages): what computing on both cores at the same time costs on this machine, the
    control for the distributed run's compute."""
    import torch.multiprocessing as mp

    with mp.get_context("spawn").Pool(processes) as pool:
        return pool.map(_parts_in_process, [plan.model_dump(mode="json")] * processes)


def measure(plan: Plan, variant: str, images: int, links: str) -> dict[str, Any]:
    """One distributed run of the executor ``variant``: median latency (ms), max abs error, the breakdown (ms)."""
    with executor_variant(variant):
        res = run_distributed(plan, images=images, links=links, warmup=1, threads=1, timeout_s=600)
    brk = {
        rank: {k: (v if k == "messages" else v * 1e3) for k, v in row.items()}
        for rank, row in res.meta["breakdown"].items()
    }
    return {"latency_ms": res.latency_median_s * 1e3, "max_abs_error": res.max_abs_error, "breakdown": brk}


def _median_breakdown(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    ranks = runs[0]["breakdown"]
    return {r: {k: statistics.median(run["breakdown"][r][k] for run in runs) for k in ranks[r]} for r in ranks}


def bench(models: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Every model's plan: composed prediction, then ``--repeats`` rounds of every variant."""
    out: dict[str, Any] = {"loadavg_before": os.getloadavg(), "links": args.links, "rows": []}
    with torch_threads(1):
        for name in models:
            graph = ModelGraph.from_module(build_model(name, seed=0), (3, args.size, args.size), name=name)
            plan = run_planner(args.plan, graph, local_cluster(2, links=LOCAL_LINKS))
            comp, per_dev = composed_ms(plan, graph)
            both = concurrent_compute_ms(plan)
            together = {d: statistics.fmean(b[d] for b in both) for d in per_dev}
            runs: dict[str, list[dict[str, Any]]] = {s: [] for s in args.variants}
            for rep in range(args.repeats):
                k = rep % len(args.variants)
                for var in args.variants[k:] + args.variants[:k]:
                    runs[var].append(measure(plan, var, args.images, args.links))
                    print(f"{name} {var} repeat {rep}: {runs[var][-1]['latency_ms']:.1f} ms", flush=True)
            for var, rs in runs.items():
                lat = [r["latency_ms"] for r in rs]
                out["rows"].append(
                    {
                        "model": name,
                        "plan": args.plan,
                        "variant": var,
                        "composed_ms": comp,
                        "part_compute_ms": per_dev,
                        "part_compute_two_processes_ms": together,
                        "measured_ms": statistics.median(lat),
                        "measured_per_repeat_ms": lat,
                        "measured_over_composed": statistics.median(lat) / comp,
                        "max_abs_error": max(r["max_abs_error"] for r in rs),
                        "breakdown_ms": _median_breakdown(rs),
                    }
                )
    out["loadavg_after"] = os.getloadavg()
    return out


def report(res: dict[str, Any]) -> None:
    for r in res["rows"]:
        print(
            f"{r['model']:<10} {r['plan']:<7} variant {r['variant']:<6} measured {r['measured_ms']:7.1f} ms "
            f"(repeats {', '.join(f'{x:.1f}' for x in r['measured_per_repeat_ms'])}), composed "
            f"{r['composed_ms']:.1f} ms, ratio {r['measured_over_composed']:.2f}, "
            f"max abs error {r['max_abs_error']:.1e}"
        )
        print(f"    {'rank':<10}" + "".join(f"{k:>10}" for k in SHOWN) + f"{'msgs':>6}")
        for rank, row in r["breakdown_ms"].items():
            part = r["part_compute_ms"].get(rank)
            both = r["part_compute_two_processes_ms"].get(rank)
            cells = "".join(f"{row.get(k, 0.0):10.2f}" for k in SHOWN)
            note = f"  (compute alone {part:.1f} ms, two processes at once {both:.1f} ms)" if part is not None else ""
            print(f"    {rank:<10}{cells}{row.get('messages', 0):6.0f}{note}")
    lb, la = res["loadavg_before"], res["loadavg_after"]
    print(f"load {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f} -> {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")


def csv_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (model, variant, rank): the run's figures (the same on each of its ranks'
    rows), the rank's parts timed alone and in two processes (empty for the requester) and its
    breakdown (ms per image; a key the rank lacks is empty), the 1-minute load before and after."""
    keys = list(dict.fromkeys(k for r in res["rows"] for b in r["breakdown_ms"].values() for k in b))
    out = []
    for r in res["rows"]:
        lat = r["measured_per_repeat_ms"]
        run = {k: r[k] for k in ("model", "plan", "variant", "composed_ms", "measured_ms")}
        run |= {"measured_min_ms": min(lat), "measured_max_ms": max(lat), "repeats": len(lat)}
        run |= {k: r[k] for k in ("measured_over_composed", "max_abs_error")}
        for rank, brk in r["breakdown_ms"].items():
            alone, two = r["part_compute_ms"].get(rank), r["part_compute_two_processes_ms"].get(rank)
            row = {**run, "rank": rank, "part_compute_ms": alone, "part_compute_two_processes_ms": two}
            row |= {k: brk.get(k) for k in keys}
            out.append(row | {"load_before": res["loadavg_before"][0], "load_after": res["loadavg_after"][0]})
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        prog="python -m splitgym.experiments.bench_distributed", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--models", default="resnet18,vgg11")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--plan", default="equal", help="the volume planner (on 2 devices)")
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--links", default=None, help="netns (default where root) or emulated or none")
    ap.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    ap.add_argument("-o", "--output", default=None, help="write the results JSON here")
    args = ap.parse_args(argv)
    bad = [s for s in args.variants if s not in VARIANTS]
    if bad:
        ap.error(f"--variants: {bad[0]!r} is not one of {', '.join(VARIANTS)}")
    args.links = args.links or ("netns" if netns_available() is None else "emulated")
    res = bench(args.models.split(","), args)
    report(res)
    if args.output:
        atomic_write(Path(args.output), json.dumps(res, indent=1))
        write_csv(Path(args.output).with_suffix(".csv"), csv_rows(res))
    return res


if __name__ == "__main__":
    main()
