"""NPTP planners (nptp-mpa, coedge-strips, grid, nptp-exact) and the CLI path for tile plans."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splitgym.agents.planners import PLANNERS, run_planner
from splitgym.agents.planners.tiles.coedge_lp import bounded_fill
from splitgym.agents.planners.tiles.nptp_mpa import Scheme, _proportional, mpa_search, scheme_rects
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.tiles.tile_cost import TileCostModel, cluster_caps, plan_rects, score_tiles
from splitgym.costmodels.tiles.tile_layouts import is_partition
from splitgym.experiments.cli import main


@pytest.fixture(scope="module")
def g64() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg11", 64)


@pytest.fixture(scope="module")
def c3() -> Cluster:
    return Cluster.from_config("nptp3", 4.0)


@pytest.fixture(scope="module")
def plans(g64, c3):
    return {
        "coedge-strips": run_planner("coedge-strips", g64, c3, grid=8),
        "grid": run_planner("grid", g64, c3, grid=8),
        "nptp-exact": run_planner("nptp-exact", g64, c3, grid=8),
        "nptp-mpa": run_planner("nptp-mpa", g64, c3, rounds=2, iterations=120, seed=3),
        "coedge-lp": run_planner("coedge-lp", g64, c3),
    }


def test_registered():
    assert {"nptp-mpa", "coedge-strips", "coedge-lp", "grid", "nptp-exact"} <= set(PLANNERS)


def test_plans_are_valid_feasible_and_score_as_reported(g64, plans):
    for name, p in plans.items():
        assert p.method == name
        assert p.problems(g64) == []
        rects = plan_rects(p)
        assert is_partition(64, 64, rects) and all(not r.empty for r in rects)
        s = score_tiles(g64, rects=p)
        assert s.feasible, name
        assert s.latency == pytest.approx(p.meta["latency_s"])
        assert p.meta["activation_share"] == {"xavier-0": 0.5, "tx2-0": 0.4, "nano-0": 0.3}


def test_coedge_strips_are_penetrative(plans):
    for t in plans["coedge-strips"].tiles:
        assert t.cols == (0, 64)


def test_coedge_lp_solves_its_programme_and_rounds_to_strips(g64, c3, plans):
    """CoEdge's rule: the LP's optimum ends every device inside its bounds together; the plan is
    its rows rounded, fastest device first; the best strips on a grid do at least as well."""
    a, c = np.array([1e-3, 2e-3, 4e-3]), np.array([0.01, 0.02, 0.01])
    x, t = bounded_fill(a, c, 64.0, np.ones(3), np.full(3, 64.0))
    assert x.sum() == pytest.approx(64.0) and np.allclose(a * x + c, t)
    x, t = bounded_fill(a, c, 64.0, np.ones(3), np.array([20.0, 64.0, 64.0]))  # the fast one capped
    assert x[0] == pytest.approx(20.0) and (a * x + c)[1] == pytest.approx((a * x + c)[2]) == pytest.approx(t)
    lp = plans["coedge-lp"]
    assert sum(lp.meta["rows"]) == 64 and lp.meta["order"][0] == "xavier-0"
    assert all(t.cols == (0, 64) for t in lp.tiles)
    assert plans["coedge-strips"].meta["latency_s"] <= lp.meta["latency_s"] * 1.05
    on = run_planner("coedge-lp", g64, c3, scatter=True)
    assert on.meta["scatter"] is True and score_tiles(g64, rects=on).scatter_seconds is not None
    assert score_tiles(g64, rects=on).latency == pytest.approx(on.meta["latency_s"])  # re-scored with its scatter


def test_exact_beats_every_layout_on_its_grid(plans):
    """Strips and grids with edges on the 8-step grid are partitions of the same board."""
    best = plans["nptp-exact"].meta["latency_s"]
    assert best <= plans["coedge-strips"].meta["latency_s"] + 1e-12
    assert best <= plans["grid"].meta["latency_s"] + 1e-12
    assert plans["nptp-exact"].meta["candidates"] == 238 * 6


def test_mpa_improves_on_its_start_and_beats_strips(g64, c3, plans):
    model = TileCostModel(g64, c3, activation_share=cluster_caps(c3).share)
    speeds = [1 / model.full_seconds(d) for d in range(3)]
    import numpy as np

    limits = np.array([0.5, 0.4, 0.3])
    start = model.score(scheme_rects(_proportional(np.array(speeds), limits), 64, 64))
    assert start.feasible
    mpa = plans["nptp-mpa"].meta["latency_s"]
    assert mpa <= start.latency
    # with links this slow, a non-penetrative layout beats the best strips
    assert mpa < plans["coedge-strips"].meta["latency_s"]
    # repeatable under a seed
    a = mpa_search(model, rounds=1, iterations=40, seed=7)
    b = mpa_search(model, rounds=1, iterations=40, seed=7)
    assert a[0].latency == b[0].latency and a[1] == b[1] and a[2] == 41


def test_scheme_rects_assigns_pieces_in_device_order():
    s = Scheme(order=(2, 0, 1), axes=(0, 1), sides=(0, 0), fracs=(0.25, 0.5))
    rects = scheme_rects(s, 8, 8)
    assert rects[2] == (0, 2, 0, 8)  # first piece: a quarter of the height, for device 2
    assert rects[0] == (2, 8, 0, 4) and rects[1] == (2, 8, 4, 8)


def test_bad_options_are_one_line(g64, c3):
    with pytest.raises(ConfigError, match="axis: must be 'rows' or 'cols'"):
        run_planner("coedge-strips", g64, c3, axis="diag")
    with pytest.raises(ConfigError, match="exceed max_candidates"):
        run_planner("nptp-exact", g64, c3, grid=8, max_candidates=100)
    with pytest.raises(ConfigError, match="takes no option 'partition'"):
        run_planner("nptp-mpa", g64, c3, partition="layers")
    with pytest.raises(ConfigError, match="scatter: planner 'coedge-lp' expects true or false, got 'maybe'"):
        run_planner("coedge-lp", g64, c3, scatter="maybe")
    assert run_planner("coedge-lp", g64, c3, scatter="true").meta["scatter"] is True  # the CLI's --set text


def test_cli_plans_and_simulates_a_tile_plan(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert (
        main(
            [
                "plan",
                "nptp-mpa",
                "--model",
                "vgg11",
                "--input",
                "64",
                "--devices",
                "nptp3",
                "--bandwidth",
                "4",
                "--set",
                "iterations=30",
                "--set",
                "rounds=1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "xavier-0" in capsys.readouterr().out
    assert main(["simulate", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "tiles" and data["detail"]["feasible"] and len(data["per_device"]) == 3
    assert data["detail"]["latency_s"] == pytest.approx(json.loads(out.read_text())["meta"]["latency_s"])
    assert data["latency_s"] == data["detail"]["end_to_end_s"]


def test_cli_executes_a_tile_plan_exactly(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert (
        main(
            [
                "plan",
                "coedge-strips",
                "--model",
                "vgg11",
                "--input",
                "64",
                "--devices",
                "nptp3",
                "--bandwidth",
                "4",
                "--set",
                "grid=4",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["execute", str(out), "--images", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "tiles" and data["backend"] == "local"
    assert data["max_abs_error"] < 1e-4 and data["bytes_moved"] == data["detail"]["modelled_bytes"] > 0
    assert all(r["measured_ms"] > 0 for r in data["detail"]["per_device"])
