"""Predicted vs measured for tile plans (NPTP): the tile cost model next to the tile executors.

    python -m splitgym.experiments.predicted_vs_measured_tiles [--models vgg11,vgg16]
        [--sizes 224,512] [--devices 3] [--random 2] [--distributed 2] [--links netns] [--quick]

The tile counterpart of :mod:`.predicted_vs_measured` (whose helpers it imports: the local
cluster, MAPE, Spearman, the overhead fit). For every model, the profile is measured once at the
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
``experiments/results/predicted_vs_measured_tiles.{csv,json,png}``. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.agents.planners import run_planner
from splitgym.costmodels.calibration import PartSample, calibrate, predict_parts
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.tiles.tile_cost import TileCostModel, plan_rects, tile_plan
from splitgym.costmodels.tiles.tile_layouts import fraction_cuts, multilevel
from splitgym.executors.netns import netns_available
from splitgym.executors.tiles.tile_runner import TileExecutor, run_tiles_distributed
from splitgym.experiments.predicted_vs_measured import (
    BOARD,
    RESULTS,
    fit_overhead,
    local_cluster,
    mape,
    spearman,
    with_overhead,
)
from splitgym.experiments.results_csv import write_csv

PLANNERS = ("nptp-mpa", "coedge-strips", "grid")


def tile_plans(graph: ModelGraph, cluster: Cluster, profile: DeviceProfile, n_random: int, seed: int = 0) -> list[Plan]:
    """The planners' tile plans and ``n_random`` random MPA layouts (seeded)."""
    prof = {BOARD: profile}
    out = [run_planner("nptp-mpa", graph, cluster, profiles=prof, iterations=100),
           run_planner("coedge-strips", graph, cluster, profiles=prof, grid=16),
           run_planner("grid", graph, cluster, profiles=prof)]
    _, h, w = graph.input_shape
    rng = np.random.default_rng(seed)
    n = cluster.size - 1
    for i in range(n_random):
        cuts = fraction_cuts(h, w, rng.integers(0, 2, n).tolist(), rng.integers(0, 2, n).tolist(),
                             rng.uniform(0.15, 0.6, n).tolist())
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


def run(models: list[str], sizes: list[int], devices: int, n_random: int, n_dist: int, links: str,
        repeats: int, threads: int, mbps: float, profile_passes: int = 2, profile_s: float = 0.02) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    part_errors: list[tuple[float, float]] = []  # per fold: part MAPE of the fitting half, before / after
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    for name in models:
        model = build_model(name, seed=0)
        ref = ModelGraph.from_module(model, (3, min(sizes), min(sizes)), name=name)
        t = time.perf_counter()
        profile = profile_model(ref, progress=False, passes=profile_passes, min_run_time=profile_s)
        print(f"{name:<8}profiled at {min(sizes)} in {time.perf_counter() - t:.1f} s ({threads} thread(s))", flush=True)
        samples: dict[str, list[PartSample]] = {}
        graphs: dict[int, ModelGraph] = {}
        for size in sizes:
            graph = ref if size == min(sizes) else ModelGraph.from_module(model, (3, size, size), name=name)
            graphs[size] = graph
            x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
            for k, plan in enumerate(tile_plans(graph, local_cluster(devices, mbps), profile, n_random)):
                t = time.perf_counter()
                ex = TileExecutor(plan, graph)
                compute = np.array(ex.run_timed(x, repeats=repeats))
                sc = score(plan, graph, profile)
                samples.setdefault(plan.method, []).extend(tile_parts(ex, ref))
                base = {"model": name, "size": size, "plan": plan.method, "devices": devices,
                        "halo_MB": sc.total_bytes / 1e6, "_plan": plan, "_graph": graph}
                rows.append(base | {"backend": "in-process", "predicted_ms": sc.latency * 1e3,
                                    "measured_ms": float((compute + sc.comm_seconds).max()) * 1e3})
                print(f"{name:<8}{size:>5} in-process  {plan.method:<14}{rows[-1]['predicted_ms']:9.1f} ms predicted "
                      f"{rows[-1]['measured_ms']:9.1f} ms measured ({time.perf_counter() - t:.1f} s)", flush=True)
                del ex  # its per-device copies of the model: the distributed workers need the memory
                gc.collect()
                if k < n_dist:
                    res = run_tiles_distributed(plan, links=links, images=3, warmup=1, threads=threads, timeout_s=600)
                    if sum(res.bytes_sent.values()) != int(sc.total_bytes):
                        raise RuntimeError(f"{plan.method}: {sum(res.bytes_sent.values())} halo bytes sent, "
                                           f"the cost model says {int(sc.total_bytes)}")
                    rows.append(base | {"backend": f"distributed-{links}", "predicted_ms": sc.end_to_end * 1e3,
                                        "measured_ms": res.latency_median_s * 1e3,
                                        "max_abs_error": max(res.feature_error, res.output_error)})
                    print(f"{name:<8}{size:>5} distributed {plan.method:<14}{rows[-1]['predicted_ms']:9.1f} ms "
                          f"predicted {rows[-1]['measured_ms']:9.1f} ms measured (max abs error "
                          f"{rows[-1]['max_abs_error']:.2g})", flush=True)
        methods = list(samples)  # in plan order: the distributed plans (the first ones) fall in both folds
        folds = [set(methods[0::2]), set(methods[1::2])]
        for fold in folds:
            fit = [p for m in fold for p in samples[m]]
            cal = calibrate(profile, ref, fit)
            secs = np.array([p.seconds for p in fit])
            part_errors.append((mape(predict_parts(profile, ref, fit), secs), mape(predict_parts(cal, ref, fit), secs)))
            mine = [r for r in rows if r["model"] == name]
            for size, graph in graphs.items():
                dist = [r for r in mine if r["size"] == size and r["backend"] != "in-process" and r["plan"] in fold]
                overhead = fit_overhead(dist, graph, cal, predict=predicted_end_to_end)
                for r in mine:
                    if r["size"] != size:
                        continue
                    plan = r["_plan"]
                    if r["backend"] != "in-process":
                        plan = with_overhead(plan, overhead)
                        if r["plan"] not in fold:
                            r["fitted_overhead_ms"] = overhead * 1e3
                    sc = score(plan, graph, cal)
                    value = (sc.latency if r["backend"] == "in-process" else sc.end_to_end) * 1e3
                    r["fit_calibrated_ms" if r["plan"] in fold else "calibrated_ms"] = value
    torch.set_num_threads(before)
    for r in rows:
        r.pop("_plan")
        r.pop("_graph")
        r["error_pct"] = (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        r["calibrated_error_pct"] = (r["calibrated_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        r["max_abs_error"] = r.pop("max_abs_error", None)
        r["fitted_overhead_ms"] = r.pop("fitted_overhead_ms", None)
    summary: dict[str, Any] = {}
    for backend in sorted({r["backend"] for r in rows}):
        sel = [r for r in rows if r["backend"] == backend]
        p, m, c, f = (np.array([r[k] for r in sel]) for k in ("predicted_ms", "measured_ms", "calibrated_ms",
                                                               "fit_calibrated_ms"))
        summary[backend] = {"plans": len(sel), "mape_pct": mape(p, m), "spearman": spearman(p, m),
                            "calibrated_mape_pct": mape(c, m), "calibrated_spearman": spearman(c, m),
                            "fit_mape_pct": mape(f, m)}
    summary["parts"] = {"folds": len(part_errors), "fit_mape_pct": float(np.mean([b for b, _ in part_errors])),
                        "fit_calibrated_mape_pct": float(np.mean([a for _, a in part_errors]))}
    return {"rows": rows, "summary": summary}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    lim = max(max(r["measured_ms"], r["predicted_ms"], r["calibrated_ms"]) for r in rows) * 1.1
    lo = min(min(r["measured_ms"], r["predicted_ms"], r["calibrated_ms"]) for r in rows) / 1.1
    for ax, key, title in zip(axes, ("predicted_ms", "calibrated_ms"), ("profile as measured", "calibrated (2-fold)")):
        xs = np.geomspace(lo, lim, 50)
        ax.fill_between(xs, 0.85 * xs, 1.15 * xs, color="0.9", label="±15%", zorder=0)
        ax.plot(xs, xs, "k--", lw=0.8, zorder=1)
        for backend in sorted({r["backend"] for r in rows}):
            sel = [r for r in rows if r["backend"] == backend]
            ax.scatter([r["measured_ms"] for r in sel], [r[key] for r in sel], s=18, zorder=3,
                       marker="o" if backend == "in-process" else "^", label=backend)
        ax.set(title=f"tile plans: {title}", xlabel="measured latency (ms)", ylabel="predicted latency (ms)",
               xscale="log", yscale="log", xlim=(lo, lim), ylim=(lo, lim))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    ap.add_argument("--quick", action="store_true", help="vgg11 at 64, 2 random layouts, in-process only, a "
                    "one-pass profile (the test's run; the distributed backend has its own tests)")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    if a.quick:
        a.models, a.sizes, a.random, a.distributed, a.repeats = "vgg11", "64", 2, 0, 5
    links = a.links or ("netns" if netns_available() is None else "emulated")
    res = run(a.models.split(","), [int(s) for s in a.sizes.split(",")], a.devices, a.random, a.distributed,
              links, a.repeats, a.threads, a.mbps, *((1, 0.005) if a.quick else (2, 0.02)))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "predicted_vs_measured_tiles.csv", res["rows"])
    (out / "predicted_vs_measured_tiles.json").write_text(json.dumps(res["summary"], indent=1))
    plot(res["rows"], out / "predicted_vs_measured_tiles.png")
    parts = res["summary"]["parts"]
    print(f"unit parts of the fitting halves: MAPE {parts['fit_mape_pct']:.1f}% -> {parts['fit_calibrated_mape_pct']:.1f}% "
          "calibrated")
    for backend, s in res["summary"].items():
        if backend == "parts":
            continue
        print(f"{backend:<22} {s['plans']:3d} plans  MAPE {s['mape_pct']:5.1f}% (rank corr {s['spearman']:.2f})"
              f"  calibrated MAPE {s['calibrated_mape_pct']:5.1f}% (rank corr {s['calibrated_spearman']:.2f})"
              f"  on the fitting half {s['fit_mape_pct']:5.1f}%")
    print(f"wrote {out / 'predicted_vs_measured_tiles.csv'} and .png")
    return res


if __name__ == "__main__":
    main()
