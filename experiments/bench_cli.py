"""Benchmark: wall time of the ``splitgym`` CLI (issue 21, item 2: a quick CLI).

    python -m splitgym.experiments.bench_cli [--before /work/main/.venv/bin/python] [--runs 5]

Runs ``splitgym plan equal --model vgg16 --devices DB --bandwidth 300 -o p.json`` and then
``splitgym simulate p.json`` with each interpreter given (``--before``: another checkout's
venv, ``--after``: this one), interleaved run by run so that both see the same machine load, and
prints the median wall time of each with the load average (``os.getloadavg``) before and after.
``--importtime`` also prints the top ``python -X importtime`` entries of each command. The
outputs of the two must match (the plan files byte for byte, the simulation tables line for line).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAN = ["plan", "equal", "--model", "vgg16", "--devices", "DB", "--bandwidth", "300", "-o", "p.json"]
SIMULATE = ["simulate", "p.json"]


def _run(python: str, args: list[str], folder: Path, flags: tuple[str, ...] = ()) -> tuple[float, str, str]:
    """(wall seconds, stdout, stderr) of ``python -m splitgym.experiments.cli args`` in ``folder``."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [python, *flags, "-m", "splitgym.experiments.cli", *args], cwd=folder, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{python} {' '.join(args)}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return wall, out.stdout, out.stderr


def _top_imports(stderr: str, top: int) -> list[str]:
    """The ``top`` largest cumulative entries of an ``-X importtime`` log, largest first."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cum, name = (part.strip() for part in line[len("import time:") :].split("|", 2))
            if cum.isdigit():
                rows.append((int(cum), name))
    return [f"{cum / 1e6:7.3f} s  {name}" for cum, name in sorted(rows, reverse=True)[:top]]


def measure(pythons: dict[str, str], runs: int) -> dict[str, dict[str, list[float]]]:
    """Wall times per interpreter label and command, interleaved; checks the outputs agree."""
    times: dict[str, dict[str, list[float]]] = {k: {"plan": [], "simulate": []} for k in pythons}
    outputs: dict[str, tuple[bytes, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {k: Path(tmp) / k for k in pythons}
        for d in dirs.values():
            d.mkdir()
        for _ in range(runs):
            for label, python in pythons.items():
                wall, _, _ = _run(python, PLAN, dirs[label])
                times[label]["plan"].append(wall)
                wall, text, _ = _run(python, SIMULATE, dirs[label])
                times[label]["simulate"].append(wall)
                outputs[label] = ((dirs[label] / "p.json").read_bytes(), text)
    if len({v for v in outputs.values()}) > 1:
        raise SystemExit("the interpreters disagree: different plan files or simulation tables")
    return times


def importtimes(pythons: dict[str, str], top: int) -> None:
    """Print the top ``-X importtime`` entries of the CLI import and of each command."""
    with tempfile.TemporaryDirectory() as tmp:
        for label, python in pythons.items():
            t0 = time.perf_counter()
            out = subprocess.run(
                [python, "-X", "importtime", "-c", "import splitgym.experiments.cli"], capture_output=True, text=True
            )
            print(f"\n[{label}] import splitgym.experiments.cli ({time.perf_counter() - t0:.2f} s wall)")
            print("\n".join(_top_imports(out.stderr, top)))
            for args in (PLAN, SIMULATE):
                wall, _, err = _run(python, args, Path(tmp), ("-X", "importtime"))
                print(f"\n[{label}] splitgym {' '.join(args)} ({wall:.2f} s wall)")
                print("\n".join(_top_imports(err, top)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=None, help="python of the baseline checkout (e.g. /work/main/.venv/bin/python)")
    ap.add_argument("--after", default=sys.executable, help="python of the checkout under test (default: this one)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--importtime", action="store_true", help="also print the top -X importtime entries")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    pythons = ({"before": args.before} if args.before else {}) | {"after": args.after}
    load0 = os.getloadavg()
    times = measure(pythons, args.runs)
    load1 = os.getloadavg()
    medians = {k: {c: statistics.median(v) for c, v in t.items()} for k, t in times.items()}
    if args.json:
        print(json.dumps({"times_s": times, "median_s": medians, "load": [load0, load1]}, indent=1))
    else:
        print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f}")
        print(f"{'':8} {'plan (median s)':>16} {'simulate (median s)':>20}   runs: plan / simulate")
        for label, t in times.items():
            runs = " ".join(f"{x:.2f}" for x in t["plan"]) + " / " + " ".join(f"{x:.2f}" for x in t["simulate"])
            print(f"{label:8} {medians[label]['plan']:16.2f} {medians[label]['simulate']:20.2f}   {runs}")
    if args.importtime:
        importtimes(pythons, args.top)


if __name__ == "__main__":
    main()
