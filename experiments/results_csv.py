"""Writing experiment results: one CSV per table, its folder created on demand."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_file

__all__ = ["RESULTS_DIR", "write_csv", "read_csv"]

#: every experiment script's ``--out`` default, relative to the working directory (the checkout,
#: when run through ``make``): a folder next to the module would sit inside the installed package
#: for a non-editable install, where results do not belong and may not be writable
RESULTS_DIR = "experiments/results"


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` (dicts with the same keys, in column order) as a CSV file at ``path``."""
    with atomic_file(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _value(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_csv(path: Path) -> list[dict[str, Any]]:
    """The rows :func:`write_csv` wrote, numbers parsed back (empty cells: None); [] if no file."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(f)]
