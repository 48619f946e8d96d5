"""The NPTP experiment script on a tiny case: one comparison row, consistent with its plans."""

from __future__ import annotations

import pytest

from splitgym.experiments.nptp_tables import EQ9, compare


def test_compare_row_is_consistent():
    r = compare("vgg11", 64, 0.5, iterations=60, grid=8)
    assert r["speedup"] == pytest.approx(r["coedge_ms"] / r["nptp_ms"])
    assert r["speedup_lp"] == pytest.approx(r["coedge_lp_ms"] / r["nptp_ms"])
    assert r["scatter"] is True and r["nptp_scatter_ms"] > 0  # the end-to-end objective by default
    eq9 = compare("vgg11", 64, 0.5, iterations=60, grid=8, obj=EQ9)
    assert eq9["scatter"] is False and eq9["nptp_scatter_ms"] == 0 and eq9["nptp_ms"] < r["nptp_ms"]
    assert r["comm_reduction"] == pytest.approx(r["coedge_MB"] / r["nptp_MB"])
    assert r["nptp_feasible"] and r["coedge_feasible"]
    assert r["mpa_evaluations"] == 4 * 60 + 4
    # CoEdge's tiles are full-width strips, one per device
    assert len(r["coedge_tiles"].split(";")) == 3


@pytest.mark.slow
def test_ppo_table_row_matches_its_exported_plan(tmp_path):
    """One short PPO run through the Hydra app: the row's learned latency is its exported plan's,
    the ratios are the row's own, and the CSV and plot are written."""
    import csv
    from pathlib import Path

    from splitgym.costmodels.plan import load_plan
    from splitgym.costmodels.tiles.tile_cost import plan_rects
    from splitgym.envs.nptp import NPTPEnv
    from splitgym.experiments import nptp_tables as nt

    rows = nt.table_ppo(
        30,
        episodes=64,
        ddpg_episodes=0,
        model="vgg11",
        size=64,
        grid=4,
        runs=tmp_path / "runs",
        out=tmp_path,
        bandwidths=(0.5,),
    )
    assert len(rows) == 1 and (tmp_path / "nptp_ppo.png").stat().st_size > 0
    r = rows[0]
    assert list(csv.DictReader(open(tmp_path / "nptp_ppo.csv")))[0]["algo"] == "ppo"
    env = NPTPEnv(model="vgg11", input=64, devices="nptp3", bandwidth_mbps=4.0)
    plan = load_plan(Path(r["run"]) / "export" / "plan.json")
    assert r["learned_ms"] == pytest.approx(env.penalised(env.model.score(plan_rects(plan))) * 1e3)
    assert r["learned_over_mpa"] == pytest.approx(r["learned_ms"] / r["mpa_ms"])
    assert r["learned_over_exact"] == pytest.approx(r["learned_ms"] / r["exact_ms"])
    assert 0 < r["episodes_to_1pct"] <= r["episodes"]
    # the run's commit (recorded in its folder before training) and a per-group spread over seeds
    assert r["seed"] == 0 and r["commit"] not in ("", "unknown") and (Path(r["run"]) / "provenance.json").exists()
    (spread,) = list(csv.DictReader(open(tmp_path / "nptp_ppo_summary.csv")))
    assert spread["seeds"] == "1" and float(spread["learned_over_mpa_median"]) == pytest.approx(r["learned_over_mpa"])
