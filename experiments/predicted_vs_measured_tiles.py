"""Predicted vs measured for tile plans (NPTP): the tile cost model next to the tile executors.

    python -m splitgym.experiments.predicted_vs_measured_tiles [--models vgg11,vgg16]
        [--sizes 224,512] [--devices 3] [--random 2] [--distributed 2] [--links netns] [--quick]

The tile counterpart of :mod:`.predicted_vs_measured` (sharing :mod:`.pvm_harness`'s helpers: the
local cluster, MAPE, Spearman, the overhead fit). For every model, the profile is measured once at the
smallest size (:func:`profile_model`, ``--threads`` torch threads, 1 by default) and used at every
size: the tile cost model scales a profile by layer area (:mod:`costmodels.tiles`), so the larger
sizes also test that scaling. Plans on ``--devices`` logical devices that are all this CPU (board
``local-cpu``) linked at ``--mbps`` (50 by default: halo time and compute are of the same order at
224) with 1 ms latency: ``nptp-mpa``, ``coedge-strips``, ``grid`` and ``--random`` random MPA
layouts (random axes, sides and shares, :func:`fraction_cuts`).

- *in-process*: :meth:`TileExecutor.run_timed` times every device's part of every unit alone
  (median of ``--repeats``); the latency is composed as the cost model composes it (Eq. 9: the
  slowest device's compute + the time of the halo messages it receives on the plan's links). What
  differs from the prediction is only the compute: isolated full-width bands of the profile,
  scaled by area, against the tiles' real parts.
- *distributed*: the first ``--distributed`` plans of each (model, size), one process per device
  over gloo (:func:`run_tiles_distributed`, ``--threads`` each), links shaped for real (``netns``,
  root) or emulated: the head device's latency from the start barrier to the head's output,
  median over 3 images after 1 warm-up, against the cost model's ``end_to_end`` (gather and head
  included). With more devices than free cores the processes also contend for the CPU, which
  the cost model does not know (said in the report).

Calibration is 2-fold by plan method: the in-process unit parts of one half of the methods refit
the profile (:func:`~splitgym.costmodels.calibration.calibrate`; a tile part of ``a`` output
cells on a unit of area ``A_l`` is the band of ``round(a / A_l * H_ref)`` rows of the reference
size, its seconds divided by ``A_l / A_ref``, the inverse of the cost model's scaling), plus for
the distributed backend one per-message overhead (:func:`fit_overhead`) fitted to that half's
distributed runs; the other half is predicted. Reported per backend: MAPE and Spearman before and
after (out of fold), and the MAPE on the fitting half itself (``fit_mape_pct``); and for the unit
parts the calibration fits, their MAPE on the fitting half before and after (``parts``: what the
least squares minimises, so it must not get worse; a plan's latency, a maximum over devices of
sums of parts, may, where the parts are small and noisy, as at 64x64). Writes
``experiments/results/predicted_vs_measured_tiles.{csv,json,png}`` (the loop is
:mod:`.pvm_harness`'s; this module is the tile kind's plug-in). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.agents.planners import run_planner
from splitgym.costmodels.calibration import PartSample, calibrate, predict_parts
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.tiles.tile_cost import TileCostModel, plan_rects, tile_plan
from splitgym.costmodels.tiles.tile_layouts import fraction_cuts, multilevel
from splitgym.executors.netns import netns_available
from splitgym.executors.tiles.tile_runner import TileExecutor, run_tiles_distributed
from splitgym.experiments.pvm_harness import (
    BOARD,
    RESULTS,
    Calibrated,
    Measured,
    Study,
    backend_line,
    execute,
    fit_overhead,
    local_cluster,
    mape,
    progress,
    summarise,
    two_folds,
    with_overhead,
)

__all__ = ["TileStudy", "tile_plans", "score", "predicted_end_to_end", "tile_parts", "main"]

PLANNERS = ("nptp-mpa", "coedge-strips", "grid")


def tile_plans(graph: ModelGraph, cluster: Cluster, profile: DeviceProfile, n_random: int, seed: int = 0) -> list[Plan]:
    """The planners' tile plans and ``n_random`` random MPA layouts (seeded)."""
    prof = {BOARD: profile}
    out = [
        run_planner("nptp-mpa", graph, cluster, profiles=prof, iterations=100),
        run_planner("coedge-strips", graph, cluster, profiles=prof, grid=16),
        run_planner("grid", graph, cluster, profiles=prof),
    ]
    _, h, w = graph.input_shape
    rng = np.random.default_rng(seed)
    n = cluster.size - 1
    for i in range(n_random):
        cuts = fraction_cuts(
            h, w, rng.integers(0, 2, n).tolist(), rng.integers(0, 2, n).tolist(), rng.uniform(0.15, 0.6, n).tolist()
        )
        out.append(tile_plan(f"random-{i}", graph, cluster, multilevel(h, w, cuts)))
    return out


def score(plan: Plan, graph: ModelGraph, profile: DeviceProfile) -> Any:
    return TileCostModel(graph, plan.cluster(), {BOARD: profile}).score(plan_rects(plan))


def predicted_end_to_end(plan: Plan, graph: ModelGraph, profile: DeviceProfile) -> float:
    """The tile cost model's end-to-end seconds (feature extractor, gather, head)."""
    return float(score(plan, graph, profile).end_to_end)


def tile_parts(ex: TileExecutor, ref: ModelGraph) -> list[PartSample]:
    """Each measured (unit, device) part as a band of the reference graph (see the module doc)."""
    parts = []
    for x in ex.ex:
        u = ex.graph.units[x.unit]
        hl, wl = u.out_shape[1], u.out_shape[2]
        r = ref.units[x.unit]
        h_ref, a_ref = r.out_shape[1], r.out_shape[1] * r.out_shape[2]
        for d, o in enumerate(x.owned):
            s = float(ex.unit_seconds[x.unit, d])
            if o.empty or s <= 0:
                continue
            rows = int(min(h_ref, max(1, round(o.rows * o.cols / (hl * wl) * h_ref))))
            parts.append(PartSample(x.unit, x.unit, (0, rows), s * a_ref / (hl * wl)))
    return parts


@dataclass
class _Model:
    name: str
    model: torch.nn.Module
    ref: ModelGraph
    profile: DeviceProfile
    graphs: dict[int, ModelGraph] = field(default_factory=dict)


@dataclass
class TileStudy(Study):
    """Tile plans on ``devices`` devices of this CPU at every size of ``sizes`` (profiled once at
    the smallest: ``profile_passes`` passes of ``profile_s``), the first ``n_dist`` also distributed."""

    sizes: list[int] = field(default_factory=lambda: [224, 512])
    devices: int = 3
    n_random: int = 2
    n_dist: int = 2
    links: str = "emulated"
    repeats: int = 3
    threads: int = 1
    mbps: float = 50.0
    profile_passes: int = 2
    profile_s: float = 0.02
    #: per fold: the part MAPE of the fitting half, before / after its calibration
    part_errors: list[tuple[float, float]] = field(default_factory=list)

    stem = "predicted_vs_measured_tiles"
    trailing = ("max_abs_error", "fitted_overhead_ms")
    figure = "log"
    figure_title = "tile plans: "

    def prepare(self, name: str, model: torch.nn.Module) -> _Model:
        size = min(self.sizes)
        ref = ModelGraph.from_module(model, (3, size, size), name=name)
        t = time.perf_counter()
        profile = profile_model(ref, progress=False, passes=self.profile_passes, min_run_time=self.profile_s)
        print(f"{name:<8}profiled at {size} in {time.perf_counter() - t:.1f} s ({self.threads} thread(s))", flush=True)
        return _Model(name, model, ref, profile)

    def items(self, ctx: _Model) -> Iterator[tuple[int, int, torch.Tensor, Plan]]:
        for size in self.sizes:
            graph = (
                ctx.ref
                if size == min(self.sizes)
                else ModelGraph.from_module(ctx.model, (3, size, size), name=ctx.name)
            )
            ctx.graphs[size] = graph
            x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
            for k, plan in enumerate(
                tile_plans(graph, local_cluster(self.devices, self.mbps), ctx.profile, self.n_random)
            ):
                yield size, k, x, plan

    def measure(self, ctx: _Model, item: tuple[int, int, torch.Tensor, Plan]) -> Measured:
        """In-process: every unit's part timed alone, composed with the halo messages (Eq. 9);
        for the first ``n_dist`` plans also distributed, its halo bytes checked against the model's."""
        size, k, x, plan = item
        graph = ctx.graphs[size]
        t = time.perf_counter()
        ex = TileExecutor(plan, graph)
        compute = np.array(ex.run_timed(x, repeats=self.repeats))
        sc = score(plan, graph, ctx.profile)
        parts = tile_parts(ex, ctx.ref)
        base = {
            "model": ctx.name,
            "size": size,
            "plan": plan.method,
            "devices": self.devices,
            "halo_MB": sc.total_bytes / 1e6,
            "_plan": plan,
            "_graph": graph,
        }
        rows = [
            base
            | {
                "backend": "in-process",
                "predicted_ms": sc.latency * 1e3,
                "measured_ms": float((compute + sc.comm_seconds).max()) * 1e3,
            }
        ]
        progress(
            f"{ctx.name:<8}{size:>5} in-process  {plan.method:<14}", rows[-1], f" ({time.perf_counter() - t:.1f} s)"
        )
        del ex  # its per-device copies of the model: the distributed workers need the memory
        gc.collect()
        if k < self.n_dist:
            res = run_tiles_distributed(plan, links=self.links, images=3, warmup=1, threads=self.threads, timeout_s=600)
            if sum(res.bytes_sent.values()) != int(sc.total_bytes):
                raise RuntimeError(
                    f"{plan.method}: {sum(res.bytes_sent.values())} halo bytes sent, "
                    f"the cost model says {int(sc.total_bytes)}"
                )
            rows.append(
                base
                | {
                    "backend": f"distributed-{self.links}",
                    "predicted_ms": sc.end_to_end * 1e3,
                    "measured_ms": res.latency_median_s * 1e3,
                    "max_abs_error": max(res.feature_error, res.output_error),
                }
            )
            progress(
                f"{ctx.name:<8}{size:>5} distributed {plan.method:<14}",
                rows[-1],
                f" (max abs error {rows[-1]['max_abs_error']:.2g})",
            )
        return Measured(plan.method, rows, parts)

    def folds(self, samples: dict[str, list[Any]]) -> list[set[str]]:
        """In plan order: the distributed plans (the first ones) fall in both folds."""
        return two_folds(list(samples))

    def calibrate(self, ctx: _Model, fit: list[PartSample], fold: set[str], rows: list[dict[str, Any]]) -> Calibrated:
        """The profile refitted on the fold's unit parts; per size, one per-message overhead fitted
        to the fold's distributed runs. The fold's own rows get ``fit_calibrated_ms``."""
        cal = calibrate(ctx.profile, ctx.ref, fit)
        secs = np.array([p.seconds for p in fit])
        self.part_errors.append(
            (mape(predict_parts(ctx.profile, ctx.ref, fit), secs), mape(predict_parts(cal, ctx.ref, fit), secs))
        )
        overhead = {
            size: fit_overhead(
                [r for r in rows if r["size"] == size and r["backend"] != "in-process" and r["plan"] in fold],
                graph,
                cal,
                predict=predicted_end_to_end,
            )
            for size, graph in ctx.graphs.items()
        }

        def columns(r: dict[str, Any], in_fold: bool) -> dict[str, Any]:
            plan, out = r["_plan"], {}
            if r["backend"] != "in-process":
                plan = with_overhead(plan, overhead[r["size"]])
                if not in_fold:
                    out["fitted_overhead_ms"] = overhead[r["size"]] * 1e3
            sc = score(plan, ctx.graphs[r["size"]], cal)
            value = (sc.latency if r["backend"] == "in-process" else sc.end_to_end) * 1e3
            return out | {"fit_calibrated_ms" if in_fold else "calibrated_ms": value}

        return columns

    def summarise(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        summary = summarise(rows, also={"fit_mape_pct": "fit_calibrated_ms"})
        summary["parts"] = {
            "folds": len(self.part_errors),
            "fit_mape_pct": float(np.mean([b for b, _ in self.part_errors])),
            "fit_calibrated_mape_pct": float(np.mean([a for _, a in self.part_errors])),
        }
        return summary

    def report(self, res: dict[str, Any], out: Path) -> None:
        parts = res["summary"]["parts"]
        print(
            f"unit parts of the fitting halves: MAPE {parts['fit_mape_pct']:.1f}% -> "
            f"{parts['fit_calibrated_mape_pct']:.1f}% calibrated"
        )
        for backend, s in res["summary"].items():
            if backend != "parts":
                print(f"{backend_line(backend, s)}  on the fitting half {s['fit_mape_pct']:5.1f}%")
        print(f"wrote {out / (self.stem + '.csv')} and .png")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vgg11,vgg16")
    ap.add_argument("--sizes", default="224,512")
    ap.add_argument("--devices", type=int, default=3)
    ap.add_argument("--random", type=int, default=2, help="random MPA layouts per (model, size)")
    ap.add_argument("--distributed", type=int, default=2, help="plans per (model, size) run distributed")
    ap.add_argument("--links", default=None, help="distributed links: netns (default where root) or emulated")
    ap.add_argument("--mbps", type=float, default=50.0, help="every device's link cap")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (profiler and executors)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="vgg11 at 64, 2 random layouts, in-process only, a "
        "one-pass profile (the test's run; the distributed backend has its own tests)",
    )
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    if a.quick:
        a.models, a.sizes, a.random, a.distributed, a.repeats = "vgg11", "64", 2, 0, 5
    links = a.links or ("netns" if netns_available() is None else "emulated")
    study = TileStudy(
        [int(s) for s in a.sizes.split(",")],
        a.devices,
        a.random,
        a.distributed,
        links,
        a.repeats,
        a.threads,
        a.mbps,
        *((1, 0.005) if a.quick else (2, 0.02)),
    )
    return execute(study, a.models.split(","), a.out)


if __name__ == "__main__":
    main()
