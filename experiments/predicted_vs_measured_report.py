"""The executors' report in one table: predicted vs measured for every kind of plan.

    python -m splitgym.experiments.predicted_vs_measured_report [--results experiments/results]

Each kind of plan has its own entry point, a plug-in of the one loop in :mod:`.pvm_harness`,
because each runs on its own executor: volume plans (:mod:`.predicted_vs_measured`: in-process and
distributed over shaped links), tile plans (:mod:`.predicted_vs_measured_tiles`) and HiDP's
processor shares (:mod:`.predicted_vs_measured_hidp`). They all write ``predicted_vs_measured[_<kind>].json`` with
one entry per backend (plans, MAPE and Spearman before and after the 2-fold calibration), and this
script gathers whatever of them exists into ``predicted_vs_measured_summary.csv`` and prints it,
so the cost model's accuracy on this machine reads as one table. Entries that are not a backend
(per-part fits) are left out. Each summary row carries the commit and command of the study that
measured it (its ``<stem>.csv`` rows, which :func:`write_csv` stamped), not this script's: the
summary only copies figures, so its rows are as fresh as the measurement.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from splitgym.experiments.pvm_harness import RESULTS
from splitgym.experiments.results_csv import read_csv, write_csv

COLUMNS = ("plans", "mape_pct", "spearman", "calibrated_mape_pct", "calibrated_spearman")


def provenance(study_csv: Path) -> dict[str, str]:
    """The commit and command of the study's rows; ``unknown`` when they are missing or disagree
    (the JSON and CSV are written together, so one study has one of each)."""
    rows = read_csv(study_csv)
    stamps = {(str(r.get("commit", "unknown")), str(r.get("command", "unknown"))) for r in rows}
    commit, command = stamps.pop() if len(stamps) == 1 else ("unknown", "unknown")
    return {"commit": commit, "command": command}


def gather(results: Path) -> list[dict[str, Any]]:
    """One row per (plan kind, backend) found under ``results``, with its study's provenance."""
    rows = []
    for path in sorted(results.glob("predicted_vs_measured*.json")):
        kind = path.stem.removeprefix("predicted_vs_measured").lstrip("_") or "volumes"
        stamp = provenance(path.with_suffix(".csv"))
        for backend, entry in json.loads(path.read_text()).items():
            if isinstance(entry, dict) and all(c in entry for c in COLUMNS):
                rows.append({"plans_kind": kind, "backend": backend, **{c: entry[c] for c in COLUMNS}, **stamp})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(RESULTS))
    args = ap.parse_args(argv)
    results = Path(args.results)
    rows = gather(results)
    if not rows:
        raise SystemExit(f"--results: no predicted_vs_measured*.json under {results} (run the measuring scripts)")
    write_csv(results / "predicted_vs_measured_summary.csv", rows)
    print(f"{'plans':<10} {'backend':<18} {'n':>3} {'MAPE %':>7} {'rho':>5} {'calib. MAPE %':>13} {'rho':>5}")
    for r in rows:
        print(
            f"{r['plans_kind']:<10} {r['backend']:<18} {r['plans']:>3} {r['mape_pct']:7.1f} {r['spearman']:5.2f} "
            f"{r['calibrated_mape_pct']:13.1f} {r['calibrated_spearman']:5.2f}"
        )


if __name__ == "__main__":
    main()
