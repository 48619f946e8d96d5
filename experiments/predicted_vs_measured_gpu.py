"""Predicted vs measured on a CPU + GPU cluster: the CUDA paths of the profiler and the executor.

    python -m splitgym.experiments.predicted_vs_measured_gpu [--models vgg16,resnet18,mobilenet_v2]
        [--size 224] [--cpus 1] [--random 4] [--repeats 10] [--out experiments/results]

Why a run of its own: the CPU study (:mod:`.predicted_vs_measured`) never touches CUDA, and a GPU
next to CPUs is the heterogeneity the field's papers plan for (HiDP's CPU+GPU nodes, DistrEdge's
Xavier+Nano groups). Here one logical device ``gpu-0`` is this machine's ``cuda:0`` (board
``local-cuda``) and ``--cpus`` more are its CPU (``local-cpu``), linked at 300 Mbps with 1 ms
latency. Both profiles are measured first (:func:`profile_model`, the GPU's with CUDA synchronised
by ``torch.utils.benchmark``) and cached where the planners look for them, so every classical
planner plans with what was measured. Then per plan:

- the output of :class:`LocalExecutor` with ``gpu-0`` on ``cuda:0`` against the unsplit model on
  the CPU (max abs error over the reference's max abs; TF32 off for this check, since cuDNN's
  default TF32 convolutions differ from fp32 by ~1e-3);
- its latency: every part timed alone on its device (CUDA synchronised), composed with the links
  as the simulator composes the profiles (:func:`compose_latency`), against the simulator's.

Calibration is 2-fold by plan, per board: each board's profile is refitted on one half's parts on
that board and scored on the other half. Writes ``predicted_vs_measured_gpu.{csv,json}`` and prints
one summary line. Needs a CUDA device; it exits with one line where there is none.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.calibration import PartSample, calibrate
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile, cached_profile_path
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.executors import LocalExecutor, compose_latency, network_transfer
from splitgym.executors.volumes.volume_local import strict_fp32
from splitgym.experiments.predicted_vs_measured import (
    mape,
    part_samples,
    plans_for,
    spearman,
    two_folds,
)
from splitgym.experiments.results_csv import write_csv

RESULTS = Path(__file__).resolve().parent / "results"
GPU, CPU = "local-cuda", "local-cpu"


def gpu_cluster(cpus: int, mbps: float = 300.0, latency_ms: float = 1.0) -> Cluster:
    devices = [Device("gpu-0", GPU)] + [Device(f"cpu-{k}", CPU) for k in range(cpus)]
    caps = {d.name: mbps for d in devices} | {"requester": mbps}
    return Cluster(f"gpu1-cpu{cpus}", devices, Network(caps, latency_ms / 1e3, 0.0))


def measure_profiles(graph: ModelGraph, gpu: str = "cuda:0", passes: int = 2,
                     min_run_time: float = 0.02) -> dict[str, DeviceProfile]:
    """Both boards' profiles, measured now and cached where the planners'
    :func:`~splitgym.costmodels.profiles.load_or_measure` finds them."""
    out = {}
    for board, device in ((GPU, gpu), (CPU, "cpu")):
        t = time.perf_counter()
        prof = profile_model(graph, device=device, name=board, progress=False, passes=passes,
                             min_run_time=min_run_time)
        path = cached_profile_path(board, graph)
        path.parent.mkdir(parents=True, exist_ok=True)
        prof.save(path)
        print(f"{graph.name:<14}profiled on {device:<7} in {time.perf_counter() - t:5.1f} s", flush=True)
        out[board] = prof
    return out


def exactness(plan: Plan, graph: ModelGraph, x: torch.Tensor, ref: torch.Tensor, gpu: str = "cuda:0") -> float:
    """Max abs error of the split run (gpu-0 on ``gpu``, TF32 off) over the reference's max abs."""
    with strict_fp32():
        y = LocalExecutor(plan, graph, {"gpu-0": gpu}).run(x)
    return float((y.cpu() - ref).abs().max() / ref.abs().max())


def measure(plan: Plan, graph: ModelGraph, x: torch.Tensor, repeats: int, gpu: str = "cuda:0"
            ) -> tuple[float, dict[str, list[PartSample]], dict[str, float]]:
    """Composed latency, the timed parts per board, and the seconds computed per board."""
    _, times = LocalExecutor(plan, graph, {"gpu-0": gpu}).run_timed(x, repeats=repeats, warmup=2)
    latency = compose_latency(times, plan, network_transfer(plan))["latency_s"]
    board = {d.name: d.board for d in plan.devices}
    parts: dict[str, list[PartSample]] = {GPU: [], CPU: []}
    for device, p in part_samples(plan, times):
        parts[board[device]].append(p)
    busy = {b: sum(p.seconds for p in ps) for b, ps in parts.items()}
    return float(latency), parts, busy


def run(models: list[str], size: int, cpus: int, n_random: int, repeats: int, threads: int,
        gpu: str = "cuda:0", quick: bool = False) -> dict[str, Any]:
    """Every plan's exactness, predicted and measured latency; ``gpu`` is the torch device of
    ``gpu-0`` (``cpu`` runs the whole pipeline without a GPU, as the tests do); ``quick`` profiles
    with one short pass."""
    rows: list[dict[str, Any]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    cluster = gpu_cluster(cpus)
    for name in models:
        model = build_model(name, seed=0)
        graph = ModelGraph.from_module(model, (3, size, size), name=name)
        profiles = measure_profiles(graph, gpu, *((1, 0.002) if quick else ()))
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            ref = graph.gm(x)
        samples: dict[str, dict[str, list[PartSample]]] = {}
        for plan in plans_for(graph, cluster, n_random):
            with torch.inference_mode():
                err = exactness(plan, graph, x, ref, gpu)
                meas, parts, busy = measure(plan, graph, x, repeats, gpu)
            samples[plan.method] = parts
            pred = float(Simulator(graph, cluster, dict(profiles)).simulate(plan).latency)
            rows.append({"model": name, "plan": plan.method, "predicted_ms": pred * 1e3, "measured_ms": meas * 1e3,
                         "gpu_compute_ms": busy[GPU] * 1e3, "cpu_compute_ms": busy[CPU] * 1e3,
                         "rel_error_vs_cpu": err, "_plan": plan})
            print(f"{name:<14}{plan.method:<14}{pred * 1e3:9.2f} ms predicted {meas * 1e3:9.2f} ms measured  "
                  f"gpu {busy[GPU] * 1e3:7.2f} ms cpu {busy[CPU] * 1e3:7.2f} ms  error {err:.1e}", flush=True)
        for fold in two_folds(sorted(samples)):
            fit = {b: [p for m in fold for p in samples[m][b]] for b in (GPU, CPU)}
            cal = {b: calibrate(profiles[b], graph, fit[b]) if any(not p.is_head for p in fit[b]) else profiles[b]
                   for b in (GPU, CPU)}
            sim = Simulator(graph, cluster, cal)
            for r in rows:
                if r["model"] == name and r["plan"] not in fold:
                    r["calibrated_ms"] = float(sim.simulate(r["_plan"]).latency) * 1e3
    torch.set_num_threads(before)
    for r in rows:
        r.pop("_plan")
        r["error_pct"] = (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
        r["calibrated_error_pct"] = (r["calibrated_ms"] - r["measured_ms"]) / r["measured_ms"] * 100
    p, m, c = (np.array([r[k] for r in rows]) for k in ("predicted_ms", "measured_ms", "calibrated_ms"))
    summary = {"plans": len(rows), "mape_pct": mape(p, m), "spearman": spearman(p, m),
               "calibrated_mape_pct": mape(c, m), "calibrated_spearman": spearman(c, m),
               "max_rel_error_vs_cpu": max(r["rel_error_vs_cpu"] for r in rows),
               "gpu": torch.cuda.get_device_name(gpu) if gpu.startswith("cuda") else gpu, "torch": torch.__version__, "cpu": platform.processor(),
               "threads": threads, "cpus": cpus, "models": models, "size": size}
    return {"rows": rows, "summary": summary}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vgg16,resnet18,mobilenet_v2")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--cpus", type=int, default=1, help="CPU devices next to the GPU")
    ap.add_argument("--random", type=int, default=4, help="random row splits per model")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (profiler and executor)")
    ap.add_argument("--gpu", default="cuda:0", help="torch device of gpu-0 (cpu: a dry run without a GPU)")
    ap.add_argument("--quick", action="store_true", help="vgg11 at 32, 1 random plan, 1 repeat, one short profile pass")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    if a.quick:
        a.models, a.size, a.random, a.repeats = "vgg11", 32, 1, 1
    if a.gpu.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("predicted_vs_measured_gpu: no CUDA device here (torch.cuda.is_available() is False)")
    if "SPLITGYM_HOME" not in os.environ:  # measured profiles go to a fresh cache, not the user's
        os.environ["SPLITGYM_HOME"] = tempfile.mkdtemp(prefix="splitgym-gpu-")
    res = run(a.models.split(","), a.size, a.cpus, a.random, a.repeats, a.threads, a.gpu, a.quick)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "predicted_vs_measured_gpu.csv", res["rows"])
    (out / "predicted_vs_measured_gpu.json").write_text(json.dumps(res["summary"], indent=1))
    s = res["summary"]
    print(f"{s['plans']} plans on {s['gpu']} + {s['cpus']} CPU device(s): MAPE {s['mape_pct']:.1f}% (rank corr "
          f"{s['spearman']:.2f}), calibrated {s['calibrated_mape_pct']:.1f}% ({s['calibrated_spearman']:.2f}); "
          f"max error vs the CPU model {s['max_rel_error_vs_cpu']:.1e}")


if __name__ == "__main__":
    main()
