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
one summary line (the loop is :mod:`.pvm_harness`'s; this module is the GPU cluster's plug-in). Needs a
CUDA device; it exits with one line where there is none.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from splitgym.costmodels.calibration import PartSample, calibrate
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiler import profile_model
from splitgym.costmodels.profiles import DeviceProfile, cached_profile_path
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.executors import LocalExecutor
from splitgym.executors.volumes.volume_local import strict_fp32
from splitgym.experiments.predicted_vs_measured import plans_for, time_parts
from splitgym.experiments.pvm_harness import (
    RESULTS,
    Calibrated,
    Measured,
    Study,
    accuracy,
    execute,
    progress,
)

__all__ = ["GPU", "CPU", "gpu_cluster", "measure_profiles", "exactness", "GpuStudy", "main"]

GPU, CPU = "local-cuda", "local-cpu"


def gpu_cluster(cpus: int, mbps: float = 300.0, latency_ms: float = 1.0) -> Cluster:
    devices = [Device("gpu-0", GPU)] + [Device(f"cpu-{k}", CPU) for k in range(cpus)]
    caps = {d.name: mbps for d in devices} | {"requester": mbps}
    return Cluster(f"gpu1-cpu{cpus}", devices, Network(caps, latency_ms / 1e3, 0.0))


def measure_profiles(
    graph: ModelGraph, gpu: str = "cuda:0", passes: int = 2, min_run_time: float = 0.02
) -> dict[str, DeviceProfile]:
    """Both boards' profiles, measured now and cached where the planners'
    :func:`~splitgym.costmodels.profiles.load_or_measure` finds them."""
    out = {}
    for board, device in ((GPU, gpu), (CPU, "cpu")):
        t = time.perf_counter()
        prof = profile_model(graph, device=device, name=board, progress=False, passes=passes, min_run_time=min_run_time)
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


@dataclass
class _Model:
    name: str
    graph: ModelGraph
    profiles: dict[str, DeviceProfile]
    x: torch.Tensor
    ref: torch.Tensor


@dataclass
class GpuStudy(Study):
    """Volume plans on ``gpu-0`` (torch device ``gpu``; ``cpu`` runs the whole pipeline without a
    GPU, as the tests do) and ``cpus`` CPU devices; ``quick`` profiles with one short pass."""

    size: int = 224
    cpus: int = 1
    n_random: int = 4
    repeats: int = 10
    threads: int = 1
    gpu: str = "cuda:0"
    quick: bool = False

    stem = "predicted_vs_measured_gpu"
    figure = None

    def __post_init__(self) -> None:
        self.cluster = gpu_cluster(self.cpus)

    def prepare(self, name: str, model: torch.nn.Module) -> _Model:
        graph = ModelGraph.from_module(model, (3, self.size, self.size), name=name)
        profiles = measure_profiles(graph, self.gpu, *((1, 0.002) if self.quick else ()))
        x = torch.randn(1, 3, self.size, self.size, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            ref = graph.gm(x)
        return _Model(name, graph, profiles, x, ref)

    def items(self, ctx: _Model) -> list[Plan]:
        return plans_for(ctx.graph, self.cluster, self.n_random)

    def measure(self, ctx: _Model, plan: Plan) -> Measured:
        """The split run's exactness, then every part timed on its device and composed."""
        with torch.inference_mode():
            err = exactness(plan, ctx.graph, ctx.x, ctx.ref, self.gpu)
            meas, parts = time_parts(plan, ctx.graph, ctx.x, self.repeats, warmup=2, devices={"gpu-0": self.gpu})
        board = {d.name: d.board for d in plan.devices}
        samples = [(board[device], p) for device, p in parts]
        busy = {b: sum(p.seconds for bb, p in samples if bb == b) for b in (GPU, CPU)}
        pred = float(Simulator(ctx.graph, self.cluster, dict(ctx.profiles)).simulate(plan).latency)
        row = {
            "model": ctx.name,
            "plan": plan.method,
            "predicted_ms": pred * 1e3,
            "measured_ms": meas * 1e3,
            "gpu_compute_ms": busy[GPU] * 1e3,
            "cpu_compute_ms": busy[CPU] * 1e3,
            "rel_error_vs_cpu": err,
            "_plan": plan,
        }
        progress(
            f"{ctx.name:<14}{plan.method:<14}",
            row,
            f"  gpu {busy[GPU] * 1e3:7.2f} ms cpu {busy[CPU] * 1e3:7.2f} ms  error {err:.1e}",
            digits=2,
        )
        return Measured(plan.method, [row], samples)

    def calibrate(
        self, ctx: _Model, fit: list[tuple[str, PartSample]], fold: set[str], rows: list[dict[str, Any]]
    ) -> Calibrated:
        """Each board's profile refitted on the fold's parts on that board (kept where it ran none)."""
        per = {b: [p for bb, p in fit if bb == b] for b in (GPU, CPU)}
        cal = {
            b: calibrate(ctx.profiles[b], ctx.graph, per[b]) if any(not p.is_head for p in per[b]) else ctx.profiles[b]
            for b in (GPU, CPU)
        }
        sim = Simulator(ctx.graph, self.cluster, cal)
        return lambda r, in_fold: {} if in_fold else {"calibrated_ms": float(sim.simulate(r["_plan"]).latency) * 1e3}

    def summarise(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """One entry for all plans, with the exactness and what ran it."""
        gpu = torch.cuda.get_device_name(self.gpu) if self.gpu.startswith("cuda") else self.gpu
        return {
            **accuracy(rows),
            "max_rel_error_vs_cpu": max(r["rel_error_vs_cpu"] for r in rows),
            "gpu": gpu,
            "torch": torch.__version__,
            "cpu": platform.processor(),
            "threads": self.threads,
            "cpus": self.cpus,
            "models": list(dict.fromkeys(r["model"] for r in rows)),
            "size": self.size,
        }

    def report(self, res: dict[str, Any], out: Path) -> None:
        s = res["summary"]
        print(
            f"{s['plans']} plans on {s['gpu']} + {s['cpus']} CPU device(s): MAPE {s['mape_pct']:.1f}% (rank corr "
            f"{s['spearman']:.2f}), calibrated {s['calibrated_mape_pct']:.1f}% ({s['calibrated_spearman']:.2f}); "
            f"max error vs the CPU model {s['max_rel_error_vs_cpu']:.1e}"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
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
    study = GpuStudy(a.size, a.cpus, a.random, a.repeats, a.threads, a.gpu, a.quick)
    return execute(study, a.models.split(","), a.out)


if __name__ == "__main__":
    main()
