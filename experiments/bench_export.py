"""Benchmark: what the actor export costs a training run (issue #21 item 2).

Runs ``splitgym train experiment=smoke`` (the README's shortest training command) end to end, as a
user would, with ``export.actor=true`` and ``=false``, and with ``--baseline SPLITGYM`` another
checkout's command beside them (e.g. the main branch's, which always exports); the runs alternate
so that all see the same load. Wall seconds of the whole command, medians of ``--repeats``; each
run in its own temporary folder (``hydra.run.dir``), from a temporary working directory.

    python -m splitgym.experiments.bench_export [--baseline /work/main/.venv/bin/splitgym] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
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


def _run(cmd: list[str]) -> float:
    """Wall seconds of one training command in a fresh temporary run folder."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as cwd:
        t = time.perf_counter()
        out = subprocess.run([*cmd, f"hydra.run.dir={cwd}/run"], capture_output=True, text=True, cwd=cwd, env=env)
        wall = time.perf_counter() - t
        if out.returncode != 0 or not (Path(cwd) / "run" / "export" / "summary.json").exists():
            raise RuntimeError(f"{' '.join(cmd)}: failed: {out.stderr.strip()[-300:]}")
    return wall


def measure_export(repeats: int = 3, baseline: str | None = None) -> list[dict[str, Any]]:
    """One row per variant: the baseline's command, then this code with the export on and off."""
    mine = _splitgym()
    variants = {
        "export.actor=true": [mine, *COMMAND, "export.actor=true"],
        "export.actor=false": [mine, *COMMAND, "export.actor=false"],
    }
    if baseline:
        variants = {"baseline": [baseline, *COMMAND], **variants}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, cmd in variants.items():
            walls[name].append(_run(cmd))
    return [
        {
            "variant": name,
            "command": " ".join([Path(cmd[0]).name, *cmd[1:]]),
            "median_s": statistics.median(walls[name]),
            "runs_s": " ".join(f"{x:.2f}" for x in walls[name]),
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
        print(f"{r['variant']:<20} median {r['median_s']:6.2f} s  ({r['runs_s']})")
    print(f"(splitgym train experiment=smoke, whole command; medians of {args.repeats}; load {load:.1f})")
    write_csv(Path(args.out) / "bench_export.csv", rows)
    return rows


if __name__ == "__main__":
    main()
