"""bench_distributed's CSV: the JSON's figures again, one stamped row per (model, variant, rank),
so the README's spans can read them (issue #19)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from splitgym.costmodels.provenance import command_line
from splitgym.experiments import bench_distributed
from splitgym.experiments.results_csv import read_csv


def _check(res: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Every JSON figure is in its rows, every row is stamped."""
    got = {(r["model"], r["variant"], r["rank"]): r for r in rows}
    assert len(got) == len(rows) == sum(len(r["breakdown_ms"]) for r in res["rows"])
    for run in res["rows"]:
        lat = run["measured_per_repeat_ms"]
        for rank, brk in run["breakdown_ms"].items():
            row = got[(run["model"], run["variant"], rank)]
            for k in ("plan", "composed_ms", "measured_ms", "measured_over_composed", "max_abs_error"):
                assert row[k] == run[k]
            assert (row["measured_min_ms"], row["measured_max_ms"], row["repeats"]) == (min(lat), max(lat), len(lat))
            assert row["part_compute_ms"] == run["part_compute_ms"].get(rank)
            assert row["part_compute_two_processes_ms"] == run["part_compute_two_processes_ms"].get(rank)
            assert all(row[k] == v for k, v in brk.items())
            assert (row["load_before"], row["load_after"]) == (res["loadavg_before"][0], res["loadavg_after"][0])
    assert all(r["commit"] != "unknown" and r["command"] == command_line() for r in rows)


def _result(variant: str, ms: list[float]) -> dict[str, Any]:
    """One run's JSON row in the shape :func:`bench_distributed.bench` makes (two devices, the
    requester without parts and with its own ``result`` time)."""
    brk = {d: {"compute": 50.0 + i, "recv_wait": 30.5, "messages": 6.0} for i, d in enumerate(("cpu-0", "cpu-1"))}
    return {
        "model": "resnet18",
        "plan": "equal",
        "variant": variant,
        "composed_ms": 100.25,
        "part_compute_ms": {"cpu-0": 51.5, "cpu-1": 40.75},
        "part_compute_two_processes_ms": {"cpu-0": 99.0, "cpu-1": 101.5},
        "measured_ms": statistics.median(ms),
        "measured_per_repeat_ms": ms,
        "measured_over_composed": statistics.median(ms) / 100.25,
        "max_abs_error": 1.5e-6,
        "breakdown_ms": brk | {"requester": {"recv_wait": 120.0, "messages": 0.0, "result": 121.0}},
    }


def test_main_writes_the_json_figures_as_stamped_csv_rows(tmp_path: Path, monkeypatch) -> None:
    res = {"loadavg_before": [6.25, 5.0, 4.0], "links": "netns", "rows": [], "loadavg_after": [7.5, 5.5, 4.5]}
    res["rows"] = [_result("before", [130.5, 150.25, 120.0]), _result("after", [102.0, 98.5, 110.0])]
    monkeypatch.setattr(bench_distributed, "bench", lambda models, args: res)
    bench_distributed.main(["--models", "resnet18", "--links", "none", "-o", str(tmp_path / "b.json")])
    assert json.loads((tmp_path / "b.json").read_text()) == res
    rows = read_csv(tmp_path / "b.csv")
    _check(res, rows)
    assert next(r for r in rows if r["rank"] == "requester")["part_compute_ms"] is None  # no parts: empty


@pytest.mark.slow  # three torch processes per run and two for the compute control (about 50 s on 2 cores)
def test_a_real_run_writes_its_json_figures_as_stamped_csv_rows(tmp_path: Path) -> None:
    argv = ["--models", "resnet18", "--size", "32", "--images", "1", "--repeats", "1", "--variants", "after"]
    bench_distributed.main([*argv, "--links", "none", "-o", str(tmp_path / "b.json")])
    res = json.loads((tmp_path / "b.json").read_text())
    _check(res, read_csv(tmp_path / "b.csv"))
