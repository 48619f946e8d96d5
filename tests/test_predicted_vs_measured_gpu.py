"""The GPU study's pipeline, run without a GPU (``--gpu cpu``): what CI can check of it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from splitgym.agents.planners import VOLUME_PLANNERS
from splitgym.experiments.predicted_vs_measured_gpu import main


def test_quick_dry_run_writes_every_plan_exact_and_calibrated(tmp_path: Path) -> None:
    main(["--gpu", "cpu", "--quick", "--cpus", "2", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "predicted_vs_measured_gpu.csv").open()))
    assert [r["plan"] for r in rows] == [*VOLUME_PLANNERS, "random-0"]
    for r in rows:
        assert float(r["rel_error_vs_cpu"]) < 1e-5
        assert float(r["measured_ms"]) > 0 and float(r["predicted_ms"]) > 0 and float(r["calibrated_ms"]) > 0
        assert float(r["gpu_compute_ms"]) + float(r["cpu_compute_ms"]) > 0
    offload = next(r for r in rows if r["plan"] == "offload")  # one device does it all
    assert min(float(offload["gpu_compute_ms"]), float(offload["cpu_compute_ms"])) == 0
    summary = json.loads((tmp_path / "predicted_vs_measured_gpu.json").read_text())
    assert summary["plans"] == len(rows) and summary["gpu"] == "cpu" and summary["cpus"] == 2


def test_without_a_gpu_it_says_so_in_one_line(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="no CUDA device here"):
        main(["--quick"])
