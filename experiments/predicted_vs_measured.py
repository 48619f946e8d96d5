"""Predicted vs measured: the simulator's latency next to the executors' on this machine.

    python -m splitgym.experiments.predicted_vs_measured [--models vgg11,resnet18,mobilenet_v2]
        [--size 224] [--devices 4] [--random 4] [--distributed 6] [--links netns] [--quick]
        [--link-table PATH|none] [--no-in-process]

For every model, the profile is measured first (:func:`profile_model`, ``--threads`` torch
threads, the same as the executors use: 1 by default, because more threads than free cores only
wait at barriers). Then plans from every classical planner (``exact`` excepted) and a few random
row splits, on ``--devices`` logical devices that are all this CPU (board ``local-cpu``), linked
at 300 Mbps with 1 ms latency:

- *in-process*: :meth:`LocalExecutor.run_timed` times every part alone (median of ``--repeats``)
  and :func:`compose_latency` composes them along the plan with
  the plan's links, exactly as the simulator composes the profile's times. What differs is only
  the compute model: isolated per-unit bands in the profile, fused slices in the executor.
- *distributed*: for the first ``--distributed`` plans re-planned on 2 devices, one process per
  device (and the requester) over gloo, ``--threads`` each, links shaped for real
  (``--links netns``, root) or emulated: the whole system, overlap and contention included.
  Their cluster names the measured link table (``--link-table``, default the one
  ``conf/network/local.yaml`` names): the simulator charges its per-message transport cost, which
  the executor pays for real and never waits. Each row also gives ``predicted_no_transport_ms``,
  the prediction without it (the cost model before links were measured), scored on the same run.

The cost model is then calibrated (:func:`~splitgym.costmodels.calibration.calibrate`) from the
in-process parts of half the plans, plus, for the distributed backend, one per-transfer overhead
fitted to that half's distributed runs (:func:`fit_overhead`: what processes, gloo and the
loopback add to each message), and scored on the other half (2-fold, by plan), for both
backends. Reported per backend: MAPE and Spearman rank correlation, before and after calibration.
Writes ``experiments/results/predicted_vs_measured.{csv,json,png}`` (the loop is
:mod:`.pvm_harness`'s; this module is the volume kind's plug-in). Run it on a quiet machine:
other jobs on the cores inflate the executors' times but not the profile's (the profiler keeps
the lowest of its passes).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.calibration import PartSample, calibrate
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.link_table import LOCAL_LINKS
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.executors import LocalExecutor, compose_latency, network_transfer
from splitgym.executors.netns import netns_available
from splitgym.executors.volumes.volume_distributed import run_distributed
from splitgym.experiments.pvm_harness import (
    BOARD,
    RESULTS,
    Calibrated,
    Measured,
    Study,
    backend_line,
    breakdown_columns,
    execute,
    fit_overhead,
    local_cluster,
    progress,
    summarise,
    with_overhead,
    without_transport,
)

__all__ = ["VolumeStudy", "plans_for", "predicted", "part_samples", "time_parts", "main"]


def plans_for(graph: ModelGraph, cluster: Cluster, n_random: int, seed: int = 0) -> list[Plan]:
    """Every classical volume planner's plan (``exact`` excepted) and ``n_random`` random row splits."""
    out = [run_planner(name, graph, cluster) for name in VOLUME_PLANNERS]
    rng = np.random.default_rng(seed)
    part = named_partition("stages", graph)
    for i in range(n_random):
        cuts = []
        for _, last in part:
            h = graph.units[last].height
            cuts.append([0, *sorted(rng.integers(0, h + 1, cluster.size - 1).tolist()), h])
        out.append(Plan.from_volumes(f"random-{i}", graph, cluster, part, cuts))
    return out


def predicted(plan: Plan, graph: ModelGraph, profile: DeviceProfile) -> float:
    """The volume simulator's seconds for ``plan`` with ``profile`` as every device's (the kind's
    scorer, with the profile just measured instead of the cached one)."""
    return float(Simulator(graph, plan.cluster(), {BOARD: profile}).simulate(plan).latency)


def part_samples(plan: Plan, times: dict[str, Any]) -> list[tuple[str, PartSample]]:
    """Every timed non-empty part of a :meth:`LocalExecutor.run_timed` result, with the plan
    device it ran on; the head last, as ``first = last = -1``."""
    parts = []
    for v, vol in enumerate(plan.volumes):
        for k, d in enumerate(plan.devices):
            s = float(times["compute_s"][v, k])
            if vol.rows[k + 1] > vol.rows[k] and s > 0:
                parts.append((d.name, PartSample(vol.first, vol.last, (vol.rows[k], vol.rows[k + 1]), s)))
    if times["head_device"] is not None:
        parts.append((times["head_device"], PartSample(-1, -1, (0, 0), float(times["head_s"]))))
    return parts


def time_parts(
    plan: Plan, graph: ModelGraph, x: torch.Tensor, repeats: int, warmup: int = 1, devices: dict[str, str] | None = None
) -> tuple[float, list[tuple[str, PartSample]]]:
    """Every part timed alone (``devices``: torch device per plan device, CPU by default) and the
    latency composed along the plan with its links, as the simulator composes the profile's times."""
    _, times = LocalExecutor(plan, graph, devices).run_timed(x, repeats=repeats, warmup=warmup)
    latency = compose_latency(times, plan, network_transfer(plan))["latency_s"]
    return float(latency), part_samples(plan, times)


@dataclass
class _Model:
    name: str
    graph: ModelGraph
    profile: DeviceProfile
    x: torch.Tensor


@dataclass
class VolumeStudy(Study):
    """Volume plans on this CPU: in-process on ``devices`` devices, distributed on 2."""

    size: int = 224
    devices: int = 4
    n_random: int = 4
    n_dist: int = 6
    links: str = "emulated"
    repeats: int = 5
    threads: int = 1
    link_table: str | None = str(LOCAL_LINKS)
    in_process: bool = True

    stem = "predicted_vs_measured"
    # distributed rows only; last columns
    trailing = ("fitted_overhead_ms", "dist_compute_ms", "dist_recv_wait_ms", "dist_executor_ms", "dist_messages")

    def summarise(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return summarise(rows, {"mape_no_transport_pct": "predicted_no_transport_ms"})

    def report(self, res: dict[str, Any], out: Path) -> None:
        for backend, s in res["summary"].items():
            print(backend_line(backend, s) + f"  (without the measured transport: {s['mape_no_transport_pct']:.1f}%)")
        print(f"wrote {out / (self.stem + '.csv')} and .png")

    def prepare(self, name: str, model: torch.nn.Module) -> _Model:
        graph = ModelGraph.from_module(model, (3, self.size, self.size), name=name)
        t = time.perf_counter()
        profile = profile_model(graph, progress=False)
        print(f"{name:<14}profiled in {time.perf_counter() - t:.1f} s ({self.threads} thread(s))", flush=True)
        x = torch.randn(1, 3, self.size, self.size, generator=torch.Generator().manual_seed(1))
        return _Model(name, graph, profile, x)

    def items(self, ctx: _Model) -> Iterator[tuple[str, int, Plan]]:
        if self.in_process:
            for plan in plans_for(ctx.graph, local_cluster(self.devices), self.n_random):
                yield "in-process", self.devices, plan
        for plan in plans_for(ctx.graph, local_cluster(2, links=self.link_table), self.n_random)[: self.n_dist]:
            yield "distributed", 2, plan

    def measure(self, ctx: _Model, item: tuple[str, int, Plan]) -> Measured:
        backend, devices, plan = item
        row = {"model": ctx.name, "backend": backend, "plan": plan.method, "devices": devices}
        if backend == "in-process":
            t = time.perf_counter()
            with torch.inference_mode():
                meas, parts = time_parts(plan, ctx.graph, ctx.x, self.repeats)
            row |= {
                "predicted_ms": predicted(plan, ctx.graph, ctx.profile) * 1e3,
                "measured_ms": meas * 1e3,
                "predicted_no_transport_ms": predicted(without_transport(plan), ctx.graph, ctx.profile) * 1e3,
                "_plan": plan,
            }
            progress(f"{ctx.name:<14}in-process  {plan.method:<14}", row, f" ({time.perf_counter() - t:.1f} s)")
            return Measured(plan.method, [row], [p for _, p in parts])
        res = run_distributed(plan, images=3, links=self.links, warmup=1, threads=self.threads, timeout_s=600)
        row |= {
            "backend": f"distributed-{self.links}",
            "predicted_ms": predicted(plan, ctx.graph, ctx.profile) * 1e3,
            "measured_ms": res.latency_median_s * 1e3,
            "predicted_no_transport_ms": predicted(without_transport(plan), ctx.graph, ctx.profile) * 1e3,
            "_plan": plan,
            **breakdown_columns(res.meta["breakdown"], res.devices),
        }
        progress(f"{ctx.name:<14}distributed {plan.method:<14}", row, f" (max abs error {res.max_abs_error:.2g})")
        return Measured(plan.method, [row])

    def calibrate(self, ctx: _Model, fit: list[PartSample], fold: set[str], rows: list[dict[str, Any]]) -> Calibrated:
        """The profile refitted on the fold's in-process parts; for the distributed backend, plus
        one per-transfer overhead fitted to the fold's distributed runs."""
        cal = calibrate(ctx.profile, ctx.graph, fit)
        overhead = fit_overhead(
            [r for r in rows if r["backend"] != "in-process" and r["plan"] in fold], ctx.graph, cal, predicted
        )

        def columns(r: dict[str, Any], in_fold: bool) -> dict[str, Any]:
            if in_fold:
                return {}
            if r["backend"] == "in-process":
                return {"calibrated_ms": predicted(r["_plan"], ctx.graph, cal) * 1e3}
            return {
                "fitted_overhead_ms": overhead * 1e3,
                "calibrated_ms": predicted(with_overhead(r["_plan"], overhead), ctx.graph, cal) * 1e3,
            }

        return columns


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vgg11,resnet18,mobilenet_v2")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--random", type=int, default=4, help="random row splits per model")
    ap.add_argument("--distributed", type=int, default=6, help="plans per model run distributed (2 devices)")
    ap.add_argument("--links", default=None, help="distributed links: netns (default where root) or emulated")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (profiler and executors)")
    ap.add_argument("--quick", action="store_true", help="vgg11 at 64, 2 random plans, 2 distributed")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--link-table", default=str(LOCAL_LINKS), help="the distributed cluster's link table (none: none)")
    ap.add_argument("--no-in-process", action="store_true", help="only the distributed backend")
    a = ap.parse_args(argv)
    if a.quick:
        a.models, a.size, a.random, a.distributed = "vgg11", 64, 2, 2
    links = a.links or ("netns" if netns_available() is None else "emulated")
    table = None if a.link_table == "none" else a.link_table
    study = VolumeStudy(
        a.size, a.devices, a.random, a.distributed, links, a.repeats, a.threads, table, not a.no_in_process
    )
    return execute(study, a.models.split(","), a.out)


if __name__ == "__main__":
    main()
