"""Predicted vs measured for HiDP-style plans: the composition of measured parts along the scorer's
schedule, the default processor's hand-off, and the reduced report (files, finite numbers)."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from splitgym.agents.planners import PLANNERS
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.profiles import load_or_measure
from splitgym.experiments.predicted_vs_measured_hidp import (
    BOARD,
    MeasuredScorer,
    fit_handoff,
    local_nodes,
    main,
    random_plan,
)


def _setup():
    g = ModelGraph.from_torchvision("vgg11", 64)
    prof = load_or_measure(g)
    nodes = local_nodes()
    return g, prof, nodes


@pytest.mark.parametrize("method", ["hidp", "omniboost", "random"])
def test_measured_parts_equal_to_the_model_compose_to_the_models_latency(method: str) -> None:
    """Walls equal to the scorer's own part times (hand-offs included) give the scorer's latency."""
    g, prof, nodes = _setup()
    sc = HiDPScorer(g, nodes, boards={BOARD: prof})
    plan = (
        random_plan(0, g, nodes, prof, np.random.default_rng(3))
        if method == "random"
        else PLANNERS[method](g, nodes.to_cluster(), nodes=nodes, profiles={BOARD: prof})
    )
    shares = {(s.volume, s.device): s for s in plan.shares or []}
    walls = {}
    for v, vol in enumerate(plan.volumes):
        for j, n in enumerate(nodes.names):
            a, b = vol.rows[j], vol.rows[j + 1]
            if b > a:
                s = shares[(v, n)]
                walls[(v, n)] = sc.part_seconds(
                    j, vol.first, vol.last, a, b, [p.processor for p in s.shares], [p.share for p in s.shares]
                )
    h = plan.head_device
    walls[(len(plan.volumes), h)] = sum(
        sc.head_detail(nodes.names.index(h), shares[(len(plan.volumes), h)].shares[0].processor)
    )
    assert MeasuredScorer(g, nodes, prof, plan, walls).latency(plan) == pytest.approx(sc.latency(plan), rel=1e-9)


def test_hand_off_fit_recovers_overhead_and_rate() -> None:
    """Parts whose rest is 2 x 1 ms + bytes at 2 GB/s give back (1 ms, 2 GB/s) from the 0.3 ms,
    5 GB/s priors the modelled rest was computed with."""
    rng = np.random.default_rng(0)
    parts = []
    for gb in rng.uniform(1e-4, 2e-2, 12):
        parts.append(
            {
                "processors": 1,
                "model_rest_ms": (2 * 0.3e-3 + gb / 5.0) * 1e3,
                "measured_rest_ms": (2 * 1e-3 + gb / 2.0) * 1e3,
            }
        )
    o, gbps = fit_handoff(parts, 0.3e-3, 5.0)
    assert o == pytest.approx(1e-3, rel=1e-6) and gbps == pytest.approx(2.0, rel=1e-6)
    assert fit_handoff(parts[:2], 0.3e-3, 5.0) == (0.3e-3, 5.0)  # too few parts: the priors


def test_default_processor_pays_hand_offs_only_where_the_node_says_so() -> None:
    g, prof, nodes = _setup()
    boards = local_nodes(handoff_default=False)
    plan = PLANNERS["disnet"](g, boards.to_cluster(), nodes=boards, profiles={BOARD: prof})  # core0 only
    with_h = HiDPScorer(g, nodes, boards={BOARD: prof}).latency(plan)
    without = HiDPScorer(g, boards, boards={BOARD: prof}).latency(plan)
    hand_offs = 2 * (g.num_units + 1)  # in and out of every unit's part and of the head
    assert with_h - without >= hand_offs * nodes.nodes[0].intra_overhead_s * 0.999
    assert nodes.nodes[0].pays_handoff("core0") and not boards.nodes[0].pays_handoff("core0")
    assert boards.nodes[0].pays_handoff("core1")
    fast = replace(boards.nodes[0], intra_overhead_s=0.0)
    assert fast.intra_seconds(0) == 0.0 and fast.intra_seconds(1e6) > 0


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_quick_report_writes_csv_json_png(tmp_path: Path) -> None:
    main(["--quick", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "predicted_vs_measured_hidp.csv").open()))
    assert {r["plan"] for r in rows} == {"hidp", "disnet", "modnn-hidp", "omniboost", "aofl-hidp", "random-0"}
    for r in rows:
        p, m, c = (float(r[k]) for k in ("predicted_ms", "measured_ms", "calibrated_ms"))
        assert all(math.isfinite(v) and v > 0 for v in (p, m, c))
        assert float(r["error_pct"]) == pytest.approx((p - m) / m * 100)
        assert float(r["fitted_handoff_ms"]) >= 0.0 and float(r["fitted_handoff_gbps"]) > 0
    parts = list(csv.DictReader((tmp_path / "predicted_vs_measured_hidp_parts.csv").open()))
    assert any(int(p["processors"]) == 2 for p in parts)
    assert all(float(p["measured_wall_ms"]) >= float(p["measured_compute_ms"]) > 0 for p in parts)
    summary = json.loads((tmp_path / "predicted_vs_measured_hidp.json").read_text())
    s = summary["in-process"]
    assert s["plans"] == 6 and all(math.isfinite(s[k]) for k in ("mape_pct", "calibrated_mape_pct"))
    assert (tmp_path / "predicted_vs_measured_hidp.png").stat().st_size > 10_000
