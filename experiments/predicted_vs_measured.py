"""Predicted vs measured: the simulator's latency next to the executors' on this machine.

    python -m splitgym.experiments.predicted_vs_measured [--models vgg11,resnet18,mobilenet_v2]
        [--size 224] [--devices 4] [--random 4] [--distributed 6] [--links netns] [--quick]

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

The cost model is then calibrated (:func:`~splitgym.costmodels.calibration.calibrate`) from the
in-process parts of half the plans, plus, for the distributed backend, one per-transfer overhead
fitted to that half's distributed runs (:func:`fit_overhead`: what processes, gloo and the
loopback add to each message), and scored on the other half (2-fold, by plan), for both
backends. Reported per backend: MAPE and Spearman rank correlation, before and after calibration.
Writes ``experiments/results/predicted_vs_measured.{csv,json,png}``. Run it on a quiet machine:
other jobs on the cores inflate the executors' times but not the profile's (the profiler keeps
the lowest of its passes).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.calibration import PartSample, calibrate
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.executors import LocalExecutor, compose_latency, network_transfer
from splitgym.executors.netns import netns_available
from splitgym.executors.volumes.volume_distributed import run_distributed
from splitgym.experiments.results_csv import write_csv

RESULTS = Path(__file__).resolve().parent / "results"
BOARD = "local-cpu"


def local_cluster(n: int, mbps: float = 300.0, latency_ms: float = 1.0) -> Cluster:
    devices = [Device(f"cpu-{k}", BOARD) for k in range(n)]
    caps = {d.name: mbps for d in devices} | {"requester": mbps}
    return Cluster(f"local{n}", devices, Network(caps, latency_ms / 1e3, 0.0))


def plans_for(graph: ModelGraph, cluster: Cluster, n_random: int, seed: int = 0) -> list[Plan]:
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


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else float("nan")


def mape(pred: np.ndarray, meas: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - meas) / meas) * 100)


def predicted(plan: Plan, graph: ModelGraph, profile: DeviceProfile) -> float:
    return float(Simulator(graph, plan.cluster(), {BOARD: profile}).simulate(plan).latency)


def with_overhead(plan: Plan, seconds: float) -> Plan:
    """The plan with ``seconds`` more per-transfer overhead on every link."""
    net = plan.network.model_copy(update={"overhead_ms": plan.network.overhead_ms + seconds * 1e3})
    return plan.model_copy(update={"network": net})


def fit_overhead(rows: list[dict[str, Any]], graph: ModelGraph, profile: DeviceProfile,
                 predict: Callable[[Plan, ModelGraph, DeviceProfile], float] = predicted) -> float:
    """The per-transfer overhead (s) that best explains measured distributed latencies (least
    squares on relative errors over a 0-50 ms grid): what processes, gloo and the loopback add
    to every message beyond the link model. 0 without distributed rows. ``predict(plan, graph,
    profile)`` gives a plan's predicted seconds (default: the simulator's, for volume plans)."""
    if not rows:
        return 0.0
    grid = np.linspace(0.0, 0.05, 101)
    meas = np.array([r["measured_ms"] / 1e3 for r in rows])
    err = [np.sum(((np.array([predict(with_overhead(r["_plan"], g), graph, profile) for r in rows]) - meas)
                   / meas) ** 2) for g in grid]
    return float(grid[int(np.argmin(err))])


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


def measure_in_process(plan: Plan, graph: ModelGraph, x: torch.Tensor, repeats: int
                       ) -> tuple[float, list[PartSample]]:
    _, times = LocalExecutor(plan, graph).run_timed(x, repeats=repeats, warmup=1)
    latency = compose_latency(times, plan, network_transfer(plan))["latency_s"]
    return float(latency), [p for _, p in part_samples(plan, times)]


def run(models: list[str], size: int, devices: int, n_random: int, n_dist: int, links: str,
        repeats: int, threads: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    for name in models:
        model = build_model(name, seed=0)
        graph = ModelGraph.from_module(model, (3, size, size), name=name)
        t = time.perf_counter()
        profile = profile_model(graph, progress=False)
        print(f"{name:<14}profiled in {time.perf_counter() - t:.1f} s ({threads} thread(s))", flush=True)
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
        samples: dict[str, list[PartSample]] = {}
        for plan in plans_for(graph, local_cluster(devices), n_random):
            t = time.perf_counter()
            with torch.inference_mode():
                meas, parts = measure_in_process(plan, graph, x, repeats)
            samples[plan.method] = parts
            rows.append({"model": name, "backend": "in-process", "plan": plan.method, "devices": devices,
                         "predicted_ms": predicted(plan, graph, profile) * 1e3, "measured_ms": meas * 1e3,
                         "_plan": plan})
            print(f"{name:<14}in-process  {plan.method:<14}{rows[-1]['predicted_ms']:9.1f} ms predicted "
                  f"{rows[-1]['measured_ms']:9.1f} ms measured ({time.perf_counter() - t:.1f} s)", flush=True)
        for plan in plans_for(graph, local_cluster(2), n_random)[:n_dist]:
            res = run_distributed(plan, images=3, links=links, warmup=1, threads=threads, timeout_s=600)
            rows.append({"model": name, "backend": f"distributed-{links}", "plan": plan.method, "devices": 2,
                         "predicted_ms": predicted(plan, graph, profile) * 1e3,
                         "measured_ms": res.latency_median_s * 1e3, "_plan": plan})
            print(f"{name:<14}distributed {plan.method:<14}{rows[-1]['predicted_ms']:9.1f} ms predicted "
                  f"{rows[-1]['measured_ms']:9.1f} ms measured (max abs error {res.max_abs_error:.2g})", flush=True)
        # 2-fold calibration by plan: fit on one half's in-process parts, predict the other half
        for fold in two_folds(sorted(samples)):
            fit = [p for m in fold for p in samples[m]]
            cal = calibrate(profile, graph, fit)
            dist = [r for r in rows if r["model"] == name and r["backend"] != "in-process" and r["plan"] in fold]
            overhead = fit_overhead(dist, graph, cal)
            for r in rows:
                if r["model"] == name and r["plan"] not in fold:
                    plan = r["_plan"]
                    if r["backend"] != "in-process":
                        plan = with_overhead(plan, overhead)
                        r["fitted_overhead_ms"] = overhead * 1e3
                    r["calibrated_ms"] = predicted(plan, graph, cal) * 1e3
    torch.set_num_threads(before)
    for r in rows:
        r.pop("_plan")
        r["error_pct"] = (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        r["calibrated_error_pct"] = (r["calibrated_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        r["fitted_overhead_ms"] = r.pop("fitted_overhead_ms", None)  # distributed rows only; last column
    return {"rows": rows, "summary": summarise(rows)}


def two_folds(methods: list[str]) -> list[set[str]]:
    """The 2-fold split by plan: every other method in each fold."""
    return [set(methods[0::2]), set(methods[1::2])]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per backend: plans, MAPE and rank correlation, before and after calibration."""
    summary: dict[str, Any] = {}
    for backend in sorted({r["backend"] for r in rows}):
        sel = [r for r in rows if r["backend"] == backend]
        p, m, c = (np.array([r[k] for r in sel]) for k in ("predicted_ms", "measured_ms", "calibrated_ms"))
        summary[backend] = {"plans": len(sel), "mape_pct": mape(p, m), "spearman": spearman(p, m),
                            "calibrated_mape_pct": mape(c, m), "calibrated_spearman": spearman(c, m)}
    return summary


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    lim = max(max(r["measured_ms"], r["predicted_ms"], r["calibrated_ms"]) for r in rows) * 1.05
    for ax, key, title in zip(axes, ("predicted_ms", "calibrated_ms"), ("profile as measured", "calibrated (2-fold)")):
        ax.fill_between([0, lim], [0, 0.85 * lim], [0, 1.15 * lim], color="0.9", label="±15%", zorder=0)
        ax.plot([0, lim], [0, lim], "k--", lw=0.8, zorder=1)
        for backend, marker in (("in-process", "o"), *((b, "^") for b in {r["backend"] for r in rows} - {"in-process"})):
            sel = [r for r in rows if r["backend"] == backend]
            ax.scatter([r["measured_ms"] for r in sel], [r[key] for r in sel], marker=marker, s=18, label=backend,
                       zorder=3)
        ax.set(title=title, xlabel="measured latency (ms)", ylabel="predicted latency (ms)", xlim=(0, lim), ylim=(0, lim))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
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
    a = ap.parse_args(argv)
    if a.quick:
        a.models, a.size, a.random, a.distributed = "vgg11", 64, 2, 2
    links = a.links or ("netns" if netns_available() is None else "emulated")
    res = run(a.models.split(","), a.size, a.devices, a.random, a.distributed, links, a.repeats, a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "predicted_vs_measured.csv", res["rows"])
    (out / "predicted_vs_measured.json").write_text(json.dumps(res["summary"], indent=1))
    plot(res["rows"], out / "predicted_vs_measured.png")
    for backend, s in res["summary"].items():
        print(f"{backend:<22} {s['plans']:3d} plans  MAPE {s['mape_pct']:5.1f}% (rank corr {s['spearman']:.2f})"
              f"  calibrated MAPE {s['calibrated_mape_pct']:5.1f}% (rank corr {s['calibrated_spearman']:.2f})")
    print(f"wrote {out / 'predicted_vs_measured.csv'} and .png")


if __name__ == "__main__":
    main()
