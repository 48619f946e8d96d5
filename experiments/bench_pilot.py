"""Benchmark: the pilot search (``env.partition=pilot-search``), this code next to another's.

Why subprocesses: what a training run pays is the first search in a fresh process (the env runs
it once), and the code to compare against is another checkout with its own interpreter
(``--baseline /path/to/.venv/bin/python``, e.g. the main branch's). Each repeat runs one search
per code in its own process, the two alternating so that both see the same load; the snippet
uses only ``pilot_partition`` and ``SEARCH``, which both have. Wall and CPU seconds of the search
alone (imports and the graph excluded), medians of ``--repeats``, and whether the two chose the
same partition, latency, prior and centre (a digest of them).

    python -m splitgym.experiments.bench_pilot [--baseline PYTHON] [--repeats 3]
    python -m splitgym.experiments.bench_partitions --pilot ...   # the same rows after its own
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["main", "measure_pilot", "MODELS", "DEVICES"]

MODELS = ("vgg16", "resnet50", "resnet152")
DEVICES = ("DB", "LB")

_SNIPPET = """
import hashlib, json, sys, time
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.partition_pilot import SEARCH, pilot_partition
g = ModelGraph.from_torchvision(sys.argv[1])
c = Cluster.from_config(sys.argv[2], 300.0)
t, cpu = time.perf_counter(), time.process_time()
res = pilot_partition(g, c, **SEARCH)
wall, cpu = time.perf_counter() - t, time.process_time() - cpu
key = repr(([tuple(p) for p in res.partition], res.latency, res.prior, res.source)).encode()
digest = hashlib.sha256(key + res.centre.tobytes()).hexdigest()[:12]
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "digest": digest, "priced": res.priced,
                  "volumes": len(res.partition), "latency_ms": res.latency * 1e3}))
"""


def _search(python: str, model: str, devices: str) -> dict[str, Any]:
    """One search in a fresh process of ``python``, run from a temporary folder without writing
    byte code (the other checkout is read-only)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run(
            [python, "-c", _SNIPPET, model, devices], capture_output=True, text=True, cwd=cwd, env=env, check=False
        )
    if out.returncode != 0:
        raise RuntimeError(f"{python}: the pilot search on {model} {devices} failed: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_pilot(
    repeats: int = 3,
    baseline: str | None = None,
    models: tuple[str, ...] = MODELS,
    devices: tuple[str, ...] = DEVICES,
) -> list[dict[str, Any]]:
    """One row per (model, devices): this code's medians and, with ``baseline``, the baseline's
    beside them (alternating runs), their ratio and whether the choices are equal."""
    rows = []
    for model in models:
        for dev in devices:
            runs: dict[str, list[dict[str, Any]]] = {"after": [], "before": []}
            for _ in range(repeats):
                if baseline:
                    runs["before"].append(_search(baseline, model, dev))
                runs["after"].append(_search(sys.executable, model, dev))
            row: dict[str, Any] = {"case": f"{model} {dev}", "priced": runs["after"][-1]["priced"]}
            for side, got in runs.items():
                row[f"{side}_wall_s"] = statistics.median(r["wall_s"] for r in got) if got else None
                row[f"{side}_cpu_s"] = statistics.median(r["cpu_s"] for r in got) if got else None
            row["speed_up_cpu"] = row["before_cpu_s"] / row["after_cpu_s"] if baseline else None
            digests = {r["digest"] for side in runs.values() for r in side}
            row["equal"] = len(digests) == 1
            row["latency_ms"] = runs["after"][-1]["latency_ms"]
            rows.append(row)
    return rows


def report(rows: list[dict[str, Any]], repeats: int, out: Path) -> None:
    load = os.getloadavg()[0]
    for r in rows:
        r["load"] = load
        before = (
            f"before {r['before_wall_s']:6.2f} s wall {r['before_cpu_s']:6.2f} s CPU  x{r['speed_up_cpu']:.2f} CPU  "
            if r["before_wall_s"] is not None
            else ""
        )
        print(
            f"pilot-search {r['case']:<14} priced {r['priced']:>4}  after {r['after_wall_s']:6.2f} s wall "
            f"{r['after_cpu_s']:6.2f} s CPU  {before}same choice: {r['equal']}"
        )
    print(f"(pilot: fresh processes, medians of {repeats}; load {load:.1f} on {os.cpu_count()} cores)")
    write_csv(out / "bench_pilot.csv", rows)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout's python (its splitgym is the code compared against)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--devices", default=",".join(DEVICES))
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    rows = measure_pilot(args.repeats, args.baseline, tuple(args.models.split(",")), tuple(args.devices.split(",")))
    report(rows, args.repeats, Path(args.out))
    return rows


if __name__ == "__main__":
    main()
