"""Benchmark: what the actor export costs a training run (issue #21 item 2).

Runs ``splitgym train experiment=smoke`` (the README's shortest training command) end to end, as a
user would, with ``export.actor=true`` and ``=false``, and with ``--baseline SPLITGYM`` another
checkout's command beside them (e.g. the main branch's, which always exports); the runs alternate
so that all see the same load. Wall and CPU seconds of the whole command, medians of ``--repeats``; each
run in its own temporary folder (``hydra.run.dir``), from a temporary working directory.

    python -m splitgym.experiments.bench_export [--baseline /work/main/.venv/bin/splitgym] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["main", "measure_export"]

COMMAND = ("train", "experiment=smoke")


def _splitgym() -> str:
    found = shutil.which("splitgym", path=str(Path(sys.executable).parent)) or shutil.which("splitgym")
    if found is None:
        raise RuntimeError("splitgym: no such command next to this python or on PATH")
    return found


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system: less moved by other processes' load than wall) of
    one training command in a fresh temporary run folder."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as cwd:
        t, cpu = time.perf_counter(), _cpu()
        out = subprocess.run([*cmd, f"hydra.run.dir={cwd}/run"], capture_output=True, text=True, cwd=cwd, env=env)
        wall, cpu = time.perf_counter() - t, _cpu() - cpu
        if out.returncode != 0 or not (Path(cwd) / "run" / "export" / "summary.json").exists():
            raise RuntimeError(f"{' '.join(cmd)}: failed: {out.stderr.strip()[-300:]}")
    return wall, cpu


def measure_export(repeats: int = 3, baseline: str | None = None) -> list[dict[str, Any]]:
    """One row per variant: the baseline's command, then this code with the export on and off."""
    mine = _splitgym()
    variants = {
        "export.actor=true": [mine, *COMMAND, "export.actor=true"],
        "export.actor=false": [mine, *COMMAND, "export.actor=false"],
    }
    if baseline:
        variants = {"baseline": [baseline, *COMMAND], **variants}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, cmd in variants.items():
            runs[name].append(_run(cmd))
    return [
        {
            "variant": name,
            "command": " ".join([Path(cmd[0]).name, *cmd[1:]]),
            "median_s": statistics.median(w for w, _ in runs[name]),
            "median_cpu_s": statistics.median(c for _, c in runs[name]),
            "runs_s": " ".join(f"{w:.2f}" for w, _ in runs[name]),
        }
        for name, cmd in variants.items()
    ]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout's splitgym command (timed beside this code's)")
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    rows = measure_export(args.repeats, args.baseline)
    load = os.getloadavg()[0]
    for r in rows:
        r["load"] = load
        print(f"{r['variant']:<20} median {r['median_s']:6.2f} s wall ({r['runs_s']}), {r['median_cpu_s']:6.2f} s CPU")
    print(f"(splitgym train experiment=smoke, whole command; medians of {args.repeats}; load {load:.1f})")
    write_csv(Path(args.out) / "bench_export.csv", rows)
    return rows


if __name__ == "__main__":
    main()
