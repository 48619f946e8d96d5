"""The live ring's runs as a results CSV: one row per set-up, re-runs replace, provenance stamped."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitgym.experiments.mdi_ring_run import csv_row, main, merge_rows
from splitgym.experiments.results_csv import read_csv


def _rec(workers: int, policy: str, total: float) -> dict:
    return {"model": "vgg11", "input": 64, "workers": workers, "policy": policy, "mode": "live",
            "measured_total_s": total, "compute_s": [0.5, 1.25]}  # fmt: skip


def test_a_re_run_replaces_its_set_up_and_keeps_the_others() -> None:
    old = [csv_row(_rec(3, "ms-mdi", 4.0)), csv_row(_rec(2, "ms-mdi", 3.0)), csv_row(_rec(2, "local", 2.0))]
    new = [csv_row(_rec(2, "ms-mdi", 9.0))]
    got = merge_rows(old, new)
    assert [(r["workers"], r["policy"], r["measured_total_s"]) for r in got] == [
        (3, "ms-mdi", 4.0),
        (2, "local", 2.0),
        (2, "ms-mdi", 9.0),
    ]
    # rows read back from a CSV hold strings where the new ones hold ints: still the same set-up
    assert len(merge_rows([{k: str(v) for k, v in old[1].items()}], new)) == 1


def test_csv_row_joins_the_per_worker_times_and_records_the_load() -> None:
    row = csv_row(_rec(2, "local", 1.0))
    assert row["compute_s"] == "0.5000;1.2500" and isinstance(row["load_1min"], float)


@pytest.mark.slow
def test_two_runs_of_the_same_ring_leave_one_stamped_row(tmp_path: Path) -> None:
    out = tmp_path / "ring.csv"
    argv = ["--workers", "2", "--rates", "200", "400", "--images", "3", "4", "--policies", "local", "--csv", str(out)]
    main(argv)
    first = read_csv(out)
    main(argv)
    rows = read_csv(out)
    assert len(first) == len(rows) == 1
    assert rows[0]["decisions_not_the_policys"] == 0 and rows[0]["max_abs_error"] == 0.0
    assert rows[0]["commit"] != "unknown" and "mdi_ring_run" in rows[0]["command"]
    assert rows[0]["wall_s"] != first[0]["wall_s"]  # the second run's figures, not the first's kept
