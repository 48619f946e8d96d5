"""Fit the GPU wave model's free parameters to CUDA profiles and report its error.

    python -m splitgym.experiments.calibrate_gpu_shape PROFILE.json [...] [--gpu h100-sxm]
    python -m splitgym.experiments.calibrate_gpu_shape --measure [--models vgg16,resnet18]   (needs CUDA)
    python -m splitgym.experiments.calibrate_gpu_shape --synthetic      (self-check, no GPU needed)

Profiles are what ``splitgym profile --device cuda`` writes (fp32, PyTorch eager, cuDNN). The GPU
they were measured on is named by ``--gpu`` or matched from the profile's ``machine.gpu``; its
figures (:data:`CALIBRATION_GPUS`, each with its source) stand in for a board's. For each
candidate tile and occupancy (:data:`TILE_CANDIDATES`, discrete) the continuous parameters
(launch_s, efficiency, mem_efficiency) are fitted by least squares on relative errors; the best
candidate wins. The model is linear in (launch_s, 1/efficiency, 1/mem_efficiency) once it is
known which bound (compute or memory) each kernel is on, so an active-set iteration of numpy's
linear least squares fits it exactly; no scipy needed. cuDNN runs fp32 convolutions as TF32 on
tensor cores by default, so a fitted ``efficiency`` above 1 (relative to the FP32 CUDA-core rate)
says that is what happened. Writes ``gpu_shape_calibration.json`` (parameters, MAPE per unit and
model, before and after; ``--synthetic``: ``gpu_shape_calibration_synthetic.json``), the same
figures as stamped rows in a CSV of the same stem (:func:`csv_rows`, what the README's spans
read), and prints one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError, ProfileError
from splitgym.costmodels.gpu_shape import GpuShapeParams, GpuSpec, KernelTerms, head_terms, unit_terms
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiler import height_grid, profile_model
from splitgym.costmodels.profiles import PROFILE_VERSION, DeviceProfile, UnitTable
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["CALIBRATION_GPUS", "TILE_CANDIDATES", "Fit", "model_profile", "fit", "mape", "csv_rows", "main"]

RESULTS = Path(RESULTS_DIR)  # under the working directory, never the package

# FP32 figures of GPUs a session may be lent, each with its public source
CALIBRATION_GPUS: dict[str, tuple[GpuSpec, str]] = {
    "h100-sxm": (
        GpuSpec("h100-sxm", 132, 1.98, 256.0, 3350.0, 4),
        "NVIDIA H100 SXM5 data sheet: 132 SMs x 128 FP32 cores @ 1.98 GHz boost -> 66.9 TFLOPS FP32; HBM3 3.35 TB/s",
    ),
    "h100-pcie": (
        GpuSpec("h100-pcie", 114, 1.755, 256.0, 2000.0, 4),
        "NVIDIA H100 PCIe data sheet: 114 SMs x 128 FP32 cores @ 1.755 GHz -> 51.2 TFLOPS FP32; HBM2e 2.0 TB/s",
    ),
    "h200": (
        GpuSpec("h200", 132, 1.98, 256.0, 4800.0, 4),
        "NVIDIA H200 SXM data sheet: H100's 132 SMs @ 1.98 GHz -> 66.9 TFLOPS FP32; HBM3e 4.8 TB/s",
    ),
    "a100": (
        GpuSpec("a100", 108, 1.41, 128.0, 2039.0, 4),
        "NVIDIA A100 80GB SXM data sheet: 108 SMs x 64 FP32 cores @ 1.41 GHz -> 19.5 TFLOPS FP32; HBM2e 2.04 TB/s",
    ),
}
_NAME_HINTS = [("h200", "h200"), ("h100 pcie", "h100-pcie"), ("h100", "h100-sxm"), ("a100", "a100")]

# (tile_m, tile_n, blocks_per_sm): common cuDNN / CUTLASS implicit-GEMM configurations
TILE_CANDIDATES: list[tuple[int, int, int]] = [(64, 64, 2), (128, 64, 1), (128, 64, 2), (128, 128, 1), (256, 128, 1)]


@dataclass
class Fit:
    params: GpuShapeParams
    rel_rms: float
    iterations: int


@dataclass
class _Sample:
    """One unit (or the head) of one profile: its kernels' terms at the measured heights."""

    model: str
    unit: str
    terms: KernelTerms
    seconds: np.ndarray


def model_profile(
    graph: ModelGraph, spec: GpuSpec, params: GpuShapeParams, name: str = "synthetic-cuda"
) -> DeviceProfile:
    """A profile the model itself would measure, on the profiler's default grid (H // 12 rows):
    what the calibration must recover the parameters from."""
    units = []
    for u in graph.units:
        hs = height_grid(u.height, max(1, u.height // 12))
        s = unit_terms(graph, u.index, np.array(hs, float), spec, params).seconds(params)
        units.append(UnitTable(u.name, hs, [u.out_shape[2]], [[float(v)] for v in s]))
    head = float(head_terms(graph, spec, params).seconds(params)[0])
    meta = {"version": PROFILE_VERSION, "machine": {"gpu": spec.name}, "synthetic": params.to_json()}
    return DeviceProfile(name, "local-cuda", "measured", graph.name, graph.input_shape, units, head, meta)


def _samples(pairs: list[tuple[ModelGraph, DeviceProfile]], spec: GpuSpec, p: GpuShapeParams) -> list[_Sample]:
    out = []
    for graph, prof in pairs:
        prof.check(graph)
        for i, table in enumerate(prof.units):
            hs = np.asarray(table.heights, float)
            s = np.asarray(table.seconds, float)[:, -1]
            out.append(_Sample(graph.name, table.name, unit_terms(graph, i, hs, spec, p), s))
        if graph.head is not None and prof.head_seconds > 0:
            out.append(_Sample(graph.name, "head", head_terms(graph, spec, p), np.array([prof.head_seconds])))
    return out


def _design(samples: list[_Sample], a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows [kernels run, compute-bound seconds, memory-bound seconds] / measured, target 1."""
    rows = []
    for smp in samples:
        compute_bound = smp.terms.compute * a >= smp.terms.memory * b
        runs = smp.terms.runs
        cols = [runs.sum(0), (runs * smp.terms.compute * compute_bound).sum(0)]
        cols.append((runs * smp.terms.memory * ~compute_bound).sum(0))
        rows.append(np.stack(cols, axis=1) / smp.seconds[:, None])
    x = np.concatenate(rows)
    return x, np.ones(len(x))


def _fit_continuous(samples: list[_Sample], start: GpuShapeParams) -> tuple[GpuShapeParams, float, int]:
    """Active-set least squares over x = (launch_s, 1/efficiency, 1/mem_efficiency)."""
    x0 = np.array([start.launch_s, 1 / start.efficiency, 1 / start.mem_efficiency])
    best: tuple[float, np.ndarray] = (np.inf, x0)
    x, its = x0, 0
    for step in range(1, 51):
        its = step
        a_mat, y = _design(samples, x[1], x[2])
        unused = np.abs(a_mat).sum(0) == 0  # e.g. no kernel memory-bound: keep that parameter
        sol = x.copy()
        sol[~unused] = np.linalg.lstsq(a_mat[:, ~unused], y - a_mat[:, unused] @ x[unused], rcond=None)[0]
        sol = np.maximum(sol, [0.0, 1e-6, 1e-6])
        a_new, _ = _design(samples, sol[1], sol[2])
        err = float(np.sqrt(np.mean((a_new @ sol - 1) ** 2)))
        if err < best[0]:
            best = (err, sol)
        if np.allclose(sol, x, rtol=1e-12, atol=0):
            break
        x = sol
    xb = best[1]
    params = replace(start, launch_s=max(float(xb[0]), 1e-12), efficiency=1 / xb[1], mem_efficiency=1 / xb[2])
    return params, best[0], its


def fit(
    pairs: list[tuple[ModelGraph, DeviceProfile]],
    spec: GpuSpec,
    candidates: list[tuple[int, int, int]] | None = None,
    start: GpuShapeParams | None = None,
) -> Fit:
    """The parameters that best explain ``pairs`` (graph, measured CUDA profile) on ``spec``."""
    start = start or GpuShapeParams()
    best: Fit | None = None
    for tm, tn, bps in candidates or TILE_CANDIDATES:
        p0 = replace(start, tile_m=tm, tile_n=tn, blocks_per_sm=bps)
        params, err, its = _fit_continuous(_samples(pairs, spec, p0), p0)
        if best is None or err < best.rel_rms:
            best = Fit(params, err, its)
    assert best is not None
    return best


def mape(pairs: list[tuple[ModelGraph, DeviceProfile]], spec: GpuSpec, params: GpuShapeParams) -> dict[str, Any]:
    """MAPE (%) of the model against each unit's measured points, per unit and per model."""
    per_unit: dict[str, dict[str, float]] = {}
    for smp in _samples(pairs, spec, params):
        pred = smp.terms.seconds(params)
        per_unit.setdefault(smp.model, {})[smp.unit] = float(np.mean(np.abs(pred - smp.seconds) / smp.seconds) * 100)
    per_model = {m: float(np.mean(list(u.values()))) for m, u in per_unit.items()}
    return {"per_model": per_model, "per_unit": per_unit, "overall": float(np.mean(list(per_model.values())))}


def _spec_for(prof: DeviceProfile, gpu: str | None) -> tuple[GpuSpec, str]:
    key = gpu
    if key is None:
        name = str((prof.meta.get("machine") or {}).get("gpu", "")).lower()
        key = next((k for hint, k in _NAME_HINTS if hint in name), None)
        if key is None:
            raise ConfigError(
                f"gpu: cannot tell the GPU of profile {prof.name} ({name!r}); pass --gpu one of "
                f"{', '.join(CALIBRATION_GPUS)}"
            )
    if key not in CALIBRATION_GPUS:
        raise ConfigError(f"gpu: unknown GPU {key!r} (known: {', '.join(CALIBRATION_GPUS)})")
    return CALIBRATION_GPUS[key]


def _measure(models: list[str], size: int, out: Path) -> list[Path]:
    if not torch.cuda.is_available():
        raise ProfileError("device: --measure needs a CUDA device and torch sees none")
    paths = []
    for m in models:
        g = ModelGraph.from_torchvision(m, input_size=size)
        prof = profile_model(g, device="cuda", granularity=1, name="local-cuda", progress=False)
        paths.append(prof.save(out / f"local-cuda_{m}_3x{size}x{size}.json"))
    return paths


def _load(paths: list[Path]) -> list[tuple[ModelGraph, DeviceProfile]]:
    pairs = []
    for p in paths:
        prof = DeviceProfile.load(p)
        graph = ModelGraph.from_torchvision(prof.model, input_size=tuple(prof.input_shape[1:]), weights=False)
        pairs.append((graph, prof))
    return pairs


def _report(pairs: list[tuple[ModelGraph, DeviceProfile]], spec: GpuSpec, source: str) -> dict[str, Any]:
    before = mape(pairs, spec, GpuShapeParams())
    result = fit(pairs, spec)
    after = mape(pairs, spec, result.params)
    return {
        "gpu": spec.name,
        "gpu_source": source,
        "profiles": [p.name + f" ({g.name} {list(g.input_shape)})" for g, p in pairs],
        "params": result.params.to_json(),
        "rel_rms": result.rel_rms,
        "mape_uncalibrated": before,
        "mape_calibrated": after,
    }


def csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A report as rows a README span can filter: ``kind=mape`` per (model, unit), per model
    (``unit=all``) and overall (``model=all``), ``default`` the MAPE (%) at the default parameters
    and ``fitted`` after the fit; ``kind=param`` per parameter, its default, fitted value and, for
    ``--synthetic``, the ``truth`` it should recover."""
    before, after = report["mape_uncalibrated"], report["mape_calibrated"]
    rows = [{"kind": "mape", "model": "all", "name": "all", "default": before["overall"], "fitted": after["overall"]}]
    for model, units in before["per_unit"].items():
        rows.append(
            {"kind": "mape", "model": model, "name": "all", "default": before["per_model"][model]}
            | {"fitted": after["per_model"][model]}
        )
        rows += [
            {"kind": "mape", "model": model, "name": u, "default": v, "fitted": after["per_unit"][model][u]}
            for u, v in units.items()
        ]
    default, truth = GpuShapeParams().to_json(), report.get("truth") or {}
    rows += [
        {"kind": "param", "model": "all", "name": k, "default": default[k], "fitted": v}
        for k, v in report["params"].items()
    ]
    return [{"gpu": report["gpu"], **r, "truth": truth.get(r["name"]) if r["kind"] == "param" else None} for r in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("profiles", nargs="*", type=Path, help="CUDA profile JSONs (splitgym profile --device cuda)")
    ap.add_argument("--gpu", choices=list(CALIBRATION_GPUS), help="the GPU they were measured on")
    ap.add_argument("--measure", action="store_true", help="measure the profiles here first (needs CUDA)")
    ap.add_argument("--synthetic", action="store_true", help="fit a profile made by the model with known params")
    ap.add_argument("--models", default="vgg16", help="comma-separated models for --measure / --synthetic")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        models = [m for m in args.models.split(",") if m]
        if args.synthetic:
            spec, source = CALIBRATION_GPUS[args.gpu or "h100-sxm"]
            truth = GpuShapeParams(launch_s=7e-6, efficiency=1.6, mem_efficiency=0.6, tile_m=128, tile_n=128)
            graphs = [ModelGraph.from_torchvision(m, input_size=args.size, weights=False) for m in models]
            pairs = [(g, model_profile(g, spec, truth)) for g in graphs]
            report = dict(_report(pairs, spec, source), truth=truth.to_json())
            name = "gpu_shape_calibration_synthetic.json"
        else:
            paths = _measure(models, args.size, args.out) if args.measure else args.profiles
            if not paths:
                raise ConfigError("profiles: none given (pass CUDA profile JSONs, --measure or --synthetic)")
            pairs = _load(list(paths))
            spec, source = _spec_for(pairs[0][1], args.gpu)
            report = _report(pairs, spec, source)
            name = "gpu_shape_calibration.json"
    except (ConfigError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out / name, json.dumps(report, indent=1))
    write_csv((args.out / name).with_suffix(".csv"), csv_rows(report))
    p = report["params"]
    print(
        f"gpu_shape on {spec.name}: launch {p['launch_s'] * 1e6:.2f} us, efficiency {p['efficiency']:.3f}, "
        f"mem_efficiency {p['mem_efficiency']:.3f}, tile {p['tile_m']}x{p['tile_n']} x{p['blocks_per_sm']}; "
        f"MAPE {report['mape_uncalibrated']['overall']:.1f}% -> {report['mape_calibrated']['overall']:.1f}% "
        f"-> {args.out / name}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
