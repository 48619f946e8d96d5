"""Benchmark: AOFL's partition search, brute force over 2^(U-1) partitions vs the min-sum DP.

Both run side by side in one process on the same priced volumes (``price_volumes`` on the DB
cluster at 300 Mbps, the shipped local profiles), and must return the same mask and cost; then
the DP alone where the brute force cannot finish: ResNet-152's 52 units (its volumes priced only
when its local profile is cached: profiling it takes minutes) and synthetic chains of 52 and 100
units with random volume costs. Medians of ``--repeats`` runs, with the load average. With
``--pilot``, then the pilot search over those partitions' candidates on VGG-16, ResNet-50 and
ResNet-152, DB and LB (:mod:`.bench_pilot`; ``--baseline PYTHON``: another checkout's beside it).

    python -m splitgym.experiments.bench_partitions [--repeats 3] [--out experiments/results]
    python -m splitgym.experiments.bench_partitions --pilot [--baseline /work/main/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiles import SHIPPED_PROFILES, cached_profile_path
from splitgym.costmodels.volumes.linear_model import LinearModel
from splitgym.costmodels.volumes.partition_search import brute_force_partitions, price_volumes, search_partitions
from splitgym.experiments.bench_pilot import measure_pilot, report
from splitgym.experiments.bench_planners import median_time
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["main", "measure"]

BRUTE_MODELS = ("vgg11", "vgg16", "vgg19", "resnet50")


def _priced(model: str) -> tuple[np.ndarray, float] | None:
    g = ModelGraph.from_torchvision(model)
    name = cached_profile_path("local-cpu", g).name
    if not (cached_profile_path("local-cpu", g).exists() or (SHIPPED_PROFILES / name).exists()):
        return None  # no local profile: pricing would profile the model first
    t0 = time.perf_counter()
    tau, _ = price_volumes(LinearModel.build(g, Cluster.from_config("DB", 300.0)), g.num_units)
    return tau, time.perf_counter() - t0


def _row(name: str, tau: np.ndarray, price_s: float | None, repeats: int, brute: bool) -> dict[str, Any]:
    dp_s, dp = median_time(lambda: search_partitions(tau), repeats)
    row: dict[str, Any] = {
        "case": name,
        "units": tau.shape[0],
        "partitions": dp[2],
        "price_s": price_s,
        "dp_s": dp_s,
        "brute_s": None,
        "speed_up": None,
        "equal": None,
    }
    if brute:
        brute_s, bf = median_time(lambda: brute_force_partitions(tau), repeats)
        row.update(brute_s=brute_s, speed_up=brute_s / dp_s, equal=bf == dp)
    return row


def measure(
    repeats: int = 3, models: tuple[str, ...] = (*BRUTE_MODELS, "resnet152"), chains: tuple[int, ...] = (52, 100)
) -> list[dict[str, Any]]:
    """One row per model (brute force and DP side by side where the model is in ``BRUTE_MODELS``)
    and per synthetic chain (DP alone); models without a local profile are skipped, with a line."""
    rows = []
    for model in models:
        priced = _priced(model)
        if priced is None:
            print(f"{model}: no cached local profile, skipped (splitgym profile --model {model} makes one)")
            continue
        rows.append(_row(model, priced[0], priced[1], repeats, brute=model in BRUTE_MODELS))
    rng = np.random.default_rng(0)
    for units in chains:
        tau = np.triu(rng.uniform(1e-3, 1e-2, (units, units))) + np.tril(np.full((units, units), np.inf), -1)
        rows.append(_row(f"chain-{units}", tau, None, repeats, brute=False))
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=RESULTS_DIR)
    ap.add_argument("--pilot", action="store_true", help="also time the pilot search (bench_pilot)")
    ap.add_argument("--baseline", help="with --pilot: another checkout's python, timed beside this code")
    args = ap.parse_args(argv)
    if args.baseline and not args.pilot:
        ap.error("--baseline: only with --pilot")
    rows = measure(args.repeats)
    load = os.getloadavg()[0]
    for r in rows:
        r["load"] = load
        extra = f"brute {r['brute_s'] * 1e3:9.2f} ms  x{r['speed_up']:8.0f}  equal {r['equal']}" if r["brute_s"] else ""
        price = f"price {r['price_s'] * 1e3:7.1f} ms" if r["price_s"] is not None else " " * 16
        print(f"{r['case']:<10} U={r['units']:<4} {price}  DP {r['dp_s'] * 1e3:8.3f} ms  {extra}")
    print(f"(medians of {args.repeats}; load {load:.1f} on {os.cpu_count()} cores)")
    write_csv(Path(args.out) / "bench_partitions.csv", rows)
    if args.pilot:
        pilot = measure_pilot(args.repeats, args.baseline)
        report(pilot, args.repeats, Path(args.out))
    return rows


if __name__ == "__main__":
    main()
