"""The predicted-vs-measured report, reduced (vgg11 at 64, a few plans): it measures both
backends, calibrates by 2-fold cross-validation and writes CSV, JSON and the plot."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from splitgym.experiments.predicted_vs_measured import main, mape, spearman


def test_rank_correlation_and_mape() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a * 10) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    assert mape(np.array([110.0, 90.0]), np.array([100.0, 100.0])) == pytest.approx(10.0)


@pytest.mark.slow
def test_reduced_report_writes_csv_json_png(tmp_path: Path) -> None:
    main(["--quick", "--distributed", "1", "--links", "emulated", "--repeats", "1", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "predicted_vs_measured.csv").open()))
    assert {r["backend"] for r in rows} == {"in-process", "distributed-emulated"}
    for r in rows:
        p, m, c = (float(r[k]) for k in ("predicted_ms", "measured_ms", "calibrated_ms"))
        assert p > 0 and m > 0 and c > 0
        assert float(r["error_pct"]) == pytest.approx((p - m) / m * 100)
    summary = json.loads((tmp_path / "predicted_vs_measured.json").read_text())
    assert summary["in-process"]["plans"] == 10  # 8 planners + 2 random splits
    assert float(rows[-1]["fitted_overhead_ms"]) >= 0 and rows[0]["fitted_overhead_ms"] == ""
    assert all(math.isfinite(s["mape_pct"]) for s in summary.values())
    assert (tmp_path / "predicted_vs_measured.png").stat().st_size > 10_000


def test_report_gathers_every_kind_of_plan(tmp_path: Path) -> None:
    from splitgym.experiments.predicted_vs_measured_report import main as report

    entry = {"plans": 4, "mape_pct": 20.0, "spearman": 0.8, "calibrated_mape_pct": 5.0, "calibrated_spearman": 0.9}
    (tmp_path / "predicted_vs_measured.json").write_text(json.dumps({"in-process": entry}))
    (tmp_path / "predicted_vs_measured_tiles.json").write_text(
        json.dumps({"distributed-netns": {**entry, "plans": 2}, "parts": {"folds": 4}}))
    report(["--results", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "predicted_vs_measured_summary.csv").open()))
    assert [(r["plans_kind"], r["backend"], r["plans"]) for r in rows] == [
        ("volumes", "in-process", "4"), ("tiles", "distributed-netns", "2")]
    with pytest.raises(SystemExit, match="--results"):
        report(["--results", str(tmp_path / "empty")])
