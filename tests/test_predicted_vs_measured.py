"""The predicted-vs-measured loop (:mod:`pvm_harness`) on a toy kind, and the volume report, reduced
(vgg11 at 64, a few plans): it measures both backends, calibrates by 2-fold cross-validation and
writes CSV, JSON and the plot."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from splitgym.experiments import pvm_harness
from splitgym.experiments.predicted_vs_measured import main
from splitgym.experiments.pvm_harness import Measured, Study, execute, mape, spearman
from splitgym.experiments.results_csv import write_csv


def test_rank_correlation_and_mape() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a * 10) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    assert mape(np.array([110.0, 90.0]), np.array([100.0, 100.0])) == pytest.approx(10.0)


class _Toy(Study):
    """Four plans measured at 1..4 ms, predicted at 2 ms; a fold's calibration predicts its mean."""

    stem = "toy"
    trailing = ("fold_mean",)

    def prepare(self, name, model):
        return name

    def items(self, ctx):
        return ["d", "a", "c", "b"]

    def measure(self, ctx, m):
        row = {
            "model": ctx,
            "backend": "in-process",
            "plan": m,
            "predicted_ms": 2.0,
            "measured_ms": 1.0 + "abcd".index(m),
            "_private": object(),
        }
        return Measured(m, [row], [row["measured_ms"]])

    def calibrate(self, ctx, fit, fold, rows):
        mean = sum(fit) / len(fit)
        return lambda r, in_fold: {} if in_fold else {"fold_mean": mean, "calibrated_ms": mean}


def test_harness_calibrates_each_half_on_the_other_and_writes_every_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pvm_harness, "build_model", lambda name, seed: None)
    res = execute(_Toy(), ["m"], tmp_path)
    rows = list(csv.DictReader((tmp_path / "toy.csv").open()))
    assert [r["plan"] for r in rows] == ["d", "a", "c", "b"]  # measured order
    assert list(rows[0]) == [
        "model",
        "backend",
        "plan",
        "predicted_ms",
        "measured_ms",
        "calibrated_ms",
        "error_pct",
        "calibrated_error_pct",
        "fold_mean",
        "commit",
        "command",
    ]  # private keys dropped; write_csv ends every row with its provenance
    # folds by sorted method: {a, c} (1, 3 ms: mean 2) predicts b and d; {b, d} (mean 3) a and c
    assert {r["plan"]: float(r["calibrated_ms"]) for r in rows} == {"a": 3.0, "c": 3.0, "b": 2.0, "d": 2.0}
    assert res["summary"]["in-process"]["plans"] == 4
    assert json.loads((tmp_path / "toy.json").read_text()) == json.loads(json.dumps(res["summary"]))
    assert (tmp_path / "toy.png").stat().st_size > 10_000


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
    # the distributed row says where its latency went (the executor's breakdown); in-process rows do not
    last = rows[-1]
    assert 0 < float(last["dist_compute_ms"]) < float(last["measured_ms"])
    assert float(last["dist_executor_ms"]) >= 0 and float(last["dist_messages"]) >= 2
    assert rows[0]["dist_compute_ms"] == ""
    assert all(math.isfinite(s["mape_pct"]) for s in summary.values())
    assert (tmp_path / "predicted_vs_measured.png").stat().st_size > 10_000


def test_report_gathers_every_kind_of_plan(tmp_path: Path) -> None:
    from splitgym.experiments.predicted_vs_measured_report import main as report

    entry = {"plans": 4, "mape_pct": 20.0, "spearman": 0.8, "calibrated_mape_pct": 5.0, "calibrated_spearman": 0.9}
    (tmp_path / "predicted_vs_measured.json").write_text(json.dumps({"in-process": entry}))
    (tmp_path / "predicted_vs_measured_tiles.json").write_text(
        json.dumps({"distributed-netns": {**entry, "plans": 2}, "parts": {"folds": 4}})
    )
    study = "python -m splitgym.experiments.predicted_vs_measured_tiles"
    stamped = [{"plan": p, "commit": "abc1234", "command": study} for p in "ab"]
    write_csv(tmp_path / "predicted_vs_measured_tiles.csv", stamped)
    report(["--results", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "predicted_vs_measured_summary.csv").open()))
    assert [(r["plans_kind"], r["backend"], r["plans"]) for r in rows] == [
        ("volumes", "in-process", "4"),
        ("tiles", "distributed-netns", "2"),
    ]
    # each row is the study's measurement: its commit and command, not the report's
    assert (rows[1]["commit"], rows[1]["command"]) == ("abc1234", study)
    assert (rows[0]["commit"], rows[0]["command"]) == ("unknown", "unknown")  # no study CSV to vouch for it
    with pytest.raises(SystemExit, match="--results"):
        report(["--results", str(tmp_path / "empty")])
