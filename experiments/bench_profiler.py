"""Benchmark: the profiler's per-point timing, ``blocked_autorange`` (before) vs sized blocks (now).

Both profile the same model in one process, alternating, ``--repeats`` times each: wall time per
profile, and how far the tables lie apart (MAPE of one method's points against the other's) beside
the noise floor (MAPE between two profiles of the same method). The old per-point timer is kept
here as the reference (:func:`autorange_time`), the way bench_steps keeps old hot paths.

    python -m splitgym.experiments.bench_profiler [--model vgg16] [--input 224] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.utils.benchmark as benchmark

from splitgym.costmodels import profiler
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["autorange_time", "table_mape", "main"]


def autorange_time(fn: Any, x: torch.Tensor, min_run_time: float, device: str) -> float:
    """The profiler's per-point timer before issue 21: ``blocked_autorange``'s median."""
    timer = benchmark.Timer(stmt="fn(x)", globals={"fn": fn, "x": x}, num_threads=torch.get_num_threads())
    with torch.inference_mode():
        fn(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return float(timer.blocked_autorange(min_run_time=min_run_time).median)


def table_mape(a: DeviceProfile, b: DeviceProfile) -> float:
    """Mean absolute percentage difference of ``b``'s measured points from ``a``'s (same grid)."""
    pa = np.concatenate([np.ravel(u.seconds) for u in a.units])
    pb = np.concatenate([np.ravel(u.seconds) for u in b.units])
    return float(np.mean(np.abs(pb - pa) / pa) * 100)


def measure(model: str, size: int, repeats: int) -> dict[str, Any]:
    graph = ModelGraph.from_torchvision(model, input_size=size)
    sized = profiler._time
    walls: dict[str, list[float]] = {"autorange": [], "sized": []}
    profs: dict[str, list[DeviceProfile]] = {"autorange": [], "sized": []}
    try:
        for _ in range(repeats):
            for name, fn in (("autorange", autorange_time), ("sized", sized)):  # alternating: load hits both
                profiler._time = fn
                t0 = time.perf_counter()
                profs[name].append(profiler.profile_model(graph, progress=False, threads=1))
                walls[name].append(time.perf_counter() - t0)
    finally:
        profiler._time = sized
    row = {
        "model": model,
        "input": size,
        "repeats": repeats,
        "autorange_s": statistics.median(walls["autorange"]),
        "sized_s": statistics.median(walls["sized"]),
        "sized_vs_autorange_mape_pct": table_mape(profs["autorange"][0], profs["sized"][0]),
        "autorange_noise_mape_pct": table_mape(*profs["autorange"][:2]) if repeats > 1 else None,
        "sized_noise_mape_pct": table_mape(*profs["sized"][:2]) if repeats > 1 else None,
        "load": os.getloadavg()[0],
    }
    row["speed_up"] = row["autorange_s"] / row["sized_s"]
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--input", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    row = measure(args.model, args.input, args.repeats)
    for k, v in row.items():
        print(f"{k:<30} {v:.3f}" if isinstance(v, float) else f"{k:<30} {v}")
    write_csv(Path(args.out) / "bench_profiler.csv", [row])
    return row


if __name__ == "__main__":
    main()
