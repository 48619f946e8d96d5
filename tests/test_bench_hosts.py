"""bench_hosts's CSV: the JSON's figures again, one stamped row per (message size, ping-pong
mode), so the README's spans can read them (issue #19). The real two-host run is in
tests/test_two_hosts.py (root and iproute2)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from splitgym.costmodels.provenance import command_line
from splitgym.experiments import bench_hosts
from splitgym.experiments.bench_hosts import MODES
from splitgym.experiments.results_csv import read_csv


def check_csv(res: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Every JSON figure is in its rows, every row is stamped with this process's command."""
    got = {(r["bytes"], r["mode"]): r for r in rows}
    assert len(got) == len(rows) == len(res["pingpong"]) * len(MODES)
    for summary in res["pingpong"]:
        for mode in MODES:
            row = got[(summary["bytes"], mode)]
            us = [r["one_way_us"] for r in res["pingpong_rows"] if r["bytes"] == summary["bytes"] and r["mode"] == mode]
            assert (row["one_way_us"], row["min_us"], row["max_us"]) == (summary[f"{mode}_us"], min(us), max(us))
        assert got[(summary["bytes"], "executor")]["overhead_us"] == summary["executor_overhead_us"]
        assert got[(summary["bytes"], "executor-old")]["overhead_us"] == summary["executor_old_overhead_us"]
        assert got[(summary["bytes"], "gloo")]["overhead_us"] is None
    for r in rows:
        assert r["run_latency_ms"] == res["executor_latency_median_s"] * 1e3
        assert (r["stages_per_image"], r["repeats"]) == (res["stages_per_image"], res["repeats"])
        assert (r["load_before"], r["load_after"]) == (res["loadavg_before"][0], res["loadavg_after"][0])
        assert r["commit"] != "unknown" and r["command"] == command_line()


def test_main_writes_the_json_figures_as_stamped_csv_rows(tmp_path: Path, monkeypatch) -> None:
    pp = [
        {"repeat": i, "bytes": b, "mode": m, "one_way_us": (1 + i) * (b + 10 * k), "mean_us": 2.0 * b}
        for i in range(3)
        for b in (4, 65536)
        for k, m in enumerate(MODES)
    ]
    summary = []
    for b in (4, 65536):
        med = {m: statistics.median(r["one_way_us"] for r in pp if (r["bytes"], r["mode"]) == (b, m)) for m in MODES}
        row = {"bytes": b, **{f"{m}_us": round(v, 1) for m, v in med.items()}}
        row |= {"executor_overhead_us": round(med["executor"] - med["gloo"], 1)}
        summary.append(row | {"executor_old_overhead_us": round(med["executor-old"] - med["gloo"], 1)})
    res = {"mbps": 100.0, "messages": 20, "repeats": 3, "pingpong": summary, "pingpong_rows": pp}
    res |= {"executor_latency_median_s": 0.0631, "executor_latency_per_repeat_s": [0.0631, 0.07, 0.06]}
    res |= {"executor_max_abs_error": 2.7e-7, "executor_ref_max_abs": 0.28, "images": 5, "messages_per_image": 43}
    res |= {"bytes_per_image": 502688, "stages_per_image": 15}
    res |= {"loadavg_before": [1.5, 1, 1], "loadavg_after": [2.25, 1, 1]}
    monkeypatch.setattr(bench_hosts, "bench", lambda args: res)
    assert bench_hosts.main(["--repeats", "3", "-o", str(tmp_path / "h.json")]) == 0
    assert json.loads((tmp_path / "h.json").read_text()) == res
    check_csv(res, read_csv(tmp_path / "h.csv"))
