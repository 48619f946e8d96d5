"""The tile plans' predicted-vs-measured report runs end to end (reduced: VGG-11 at 64, in-process)."""

from __future__ import annotations

import csv
import json
import math

import pytest

from splitgym.experiments import predicted_vs_measured_tiles as pvmt

pytestmark = pytest.mark.usefixtures("one_thread")


def test_quick_report_writes_finite_numbers_and_calibration_fits(tmp_path) -> None:
    res = pvmt.main(["--quick", "--out", str(tmp_path)])
    for ext in ("csv", "json", "png"):
        assert (tmp_path / f"predicted_vs_measured_tiles.{ext}").stat().st_size > 0
    rows = list(csv.DictReader(open(tmp_path / "predicted_vs_measured_tiles.csv")))
    assert {r["plan"] for r in rows} >= {"nptp-mpa", "coedge-strips", "grid", "random-0"}
    for r in rows:
        for k in ("predicted_ms", "measured_ms", "calibrated_ms", "fit_calibrated_ms"):
            assert math.isfinite(float(r[k])) and float(r[k]) > 0, (k, r)
    summary = json.loads((tmp_path / "predicted_vs_measured_tiles.json").read_text())
    assert summary == json.loads(json.dumps(res["summary"]))
    s = summary["in-process"]
    assert all(math.isfinite(s[k]) for k in ("mape_pct", "calibrated_mape_pct", "fit_mape_pct"))
    # what the calibration minimises, on the parts it was fitted to, is not worse after it
    assert summary["parts"]["fit_calibrated_mape_pct"] <= summary["parts"]["fit_mape_pct"] + 1e-9
