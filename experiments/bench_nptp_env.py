"""Benchmark: NPTP env steps/s, the tile cost model's Python loop vs its numpy path vs the batched env.

    python -m splitgym.experiments.bench_nptp_env [--seconds 1.0] [--repeats 3] [--batch 64 256 1024]

Cases, on one instance (NPTP-v0's default: VGG-16 at 224 on ``nptp3``, 0.5 MB/s; ``--model`` and
``--input`` change it): NPTP-v0 with the loop scorer (``score(path="python")``: the scorer before
this change), with the numpy one (today's), NPTP-v1 on its default distribution (it scores with
the loop: a new cost model per reset, two scores each) and :class:`NPTPVectorEnv` at each
``--batch`` size (steps/s counts every copy's step). Every repeat runs every case in turn in one
process (side by side) for ``--seconds`` each, random actions drawn in advance; the table gives
medians over repeats and the ratio to the loop scorer's NPTP-v0, with the 1-minute load average
before and after. Written to ``bench_nptp_env.csv`` under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.tiles.tile_cost import TileCostModel
from splitgym.envs.nptp import NPTPEnv
from splitgym.envs.nptp_v1 import NPTPv1Env
from splitgym.envs.nptp_vector import NPTPVectorEnv
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["measure", "main"]


@contextlib.contextmanager
def scorer(path: str) -> Iterator[None]:
    """Within: every :meth:`TileCostModel.score` call uses ``path`` (``"python"`` or ``"numpy"``)."""
    original = TileCostModel.score
    TileCostModel.score = functools.partialmethod(original, path=path)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        TileCostModel.score = original  # type: ignore[method-assign]


def _single(env: Any, dims: int, seconds: float) -> Callable[[], float]:
    acts = np.random.default_rng(0).uniform(-1, 1, (4096, dims))

    def run() -> float:
        env.reset(seed=0)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            _, _, done, _, _ = env.step(acts[n % len(acts)])
            n += 1
            if done:
                env.reset(seed=n)
        return n / (time.perf_counter() - t0)

    return run


def _batched(env: NPTPVectorEnv, seconds: float) -> Callable[[], float]:
    acts = np.random.default_rng(0).uniform(-1, 1, (64, env.num_envs, 3))

    def run() -> float:
        env.reset(seed=0)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            env.step(acts[n % len(acts)])
            n += 1
        return n * env.num_envs / (time.perf_counter() - t0)

    return run


def measure(
    model: str = "vgg16", size: int = 224, seconds: float = 1.0, repeats: int = 3, batches: tuple[int, ...] = (64, 1024)
) -> list[dict[str, Any]]:
    """One row per case: median steps/s over ``repeats``, ratio to NPTP-v0 with the loop scorer."""
    v0 = NPTPEnv(model=model, input=size)
    v1 = NPTPv1Env(instances={"models": [model], "inputs": [size]})
    cases: dict[str, tuple[Callable[[], float], str]] = {
        "NPTP-v0, loop scorer (before)": (_single(v0, 3, seconds), "python"),
        "NPTP-v0, numpy scorer": (_single(v0, 3, seconds), "numpy"),
        "NPTP-v1 (its loop scorer, a cost model per reset)": (_single(v1, 4, seconds), "python"),
    }
    for b in batches:
        cases[f"NPTPVectorEnv B={b} (v0 dynamics)"] = (
            _batched(NPTPVectorEnv(b, model=model, input=size), seconds),
            "numpy",
        )
    for run, path in cases.values():  # warm-up: caches, first allocations
        with scorer(path):
            run()
    load0 = os.getloadavg()[0]
    rates: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, (run, path) in cases.items():
            with scorer(path):
                rates[name].append(run())
    load1 = os.getloadavg()[0]
    base = statistics.median(rates["NPTP-v0, loop scorer (before)"])
    return [
        {
            "case": name,
            "model": model,
            "input": size,
            "steps_per_s": statistics.median(r),
            "min": min(r),
            "max": max(r),
            "ratio_to_v0_loop": statistics.median(r) / base,
            "repeats": repeats,
            "load_before": load0,
            "load_after": load1,
        }
        for name, r in rates.items()
    ]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--input", type=int, default=224)
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds of stepping per case and repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 1024], help="NPTPVectorEnv sizes")
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1 or min(args.batch) < 1:
        ap.error(f"--seconds > 0, --repeats >= 1, --batch >= 1: got {args.seconds}, {args.repeats}, {args.batch}")
    rows = measure(args.model, args.input, args.seconds, args.repeats, tuple(args.batch))
    write_csv(Path(args.out) / "bench_nptp_env.csv", rows)
    print(
        f"{'case':<52}{'steps/s':>12}{'x loop v0':>11}   (median of {args.repeats}; load {rows[0]['load_before']:.1f}"
        f" -> {rows[0]['load_after']:.1f})"
    )
    for r in rows:
        print(f"{r['case']:<52}{r['steps_per_s']:>12,.0f}{r['ratio_to_v0_loop']:>11.2f}")
    return rows


if __name__ == "__main__":
    main()
