"""DistrEdge's per-device plan loads (experiments/distredge_plan_loads.py, Fig. 14 and Sec. VI):
every device of every plan priced once, trained runs found and carrying their own commit, and a
run the cost model no longer reproduces refused in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.provenance import REPO, SOURCE, UNKNOWN, write_run_provenance
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments import distredge_plan_loads as loads
from splitgym.experiments.distredge_claims_data import Results
from splitgym.experiments.distredge_claims_loads import fig14_row, pi3_row
from splitgym.experiments.results_csv import read_csv, write_csv


@pytest.fixture(scope="module")
def db50() -> tuple[ModelGraph, Cluster, Simulator]:
    graph = ModelGraph.from_torchvision("vgg16", weights=False)
    cluster = Cluster.from_config("DB", "bw50")
    return graph, cluster, Simulator(graph, cluster)


def _fake_run(folder: Path, plan, latency_ms: float, commit: str | None = None) -> Path:  # type: ignore[no-untyped-def]
    """A finished run folder: plan, summary and provenance (this checkout's commit by default)."""
    (folder / "export").mkdir(parents=True)
    plan.save(folder / "export" / "plan.json")
    (folder / "export" / "summary.json").write_text(json.dumps({"latency_ms": {"learned_plan": latency_ms}}))
    write_run_provenance(folder, SOURCE, "python -m splitgym.agents.train")
    if commit is not None:
        (folder / "provenance.json").write_text(
            json.dumps({"commit": commit, "command": "python -m splitgym.agents.train"})
        )
    return folder


def test_device_rows_cover_each_device_once_and_offload_computes_on_one(db50) -> None:  # type: ignore[no-untyped-def]
    graph, cluster, sim = db50
    latency, rows = loads.device_rows(sim, run_planner("offload", graph, cluster))
    assert [r["device"] for r in rows] == [d.name for d in cluster.devices]
    assert latency == pytest.approx(sim.simulate(run_planner("offload", graph, cluster)).latency * 1e3)
    assert sum(r["compute_ms"] > 0 for r in rows) == 1
    _, equal = loads.device_rows(sim, run_planner("equal", graph, cluster))
    assert all(r["compute_ms"] > 0 for r in equal) and max(r["recv_ms"] for r in equal) > 0


def test_trained_runs_are_found_priced_and_carry_their_training_commit(db50, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    graph, cluster, sim = db50
    plan = run_planner("aofl", graph, cluster)
    latency = sim.simulate(plan).latency * 1e3
    run = _fake_run(tmp_path / "runs" / "table1" / "DB_bw50" / "seed2", plan, latency)
    _fake_run(tmp_path / "runs" / "table1-ours" / "DB_bw50" / "seed1", plan, latency, commit="0" * 40)
    (tmp_path / "runs" / "table1-ours" / "DB_bw50" / "seed0").mkdir(parents=True)  # unfinished: skipped
    monkeypatch.setattr(loads, "GROUPS", {"DB_bw50": ("DB", "bw50")})
    loads.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path)])
    rows = read_csv(tmp_path / "distredge_plan_loads.csv")
    paper = [r for r in rows if r["method"] == "distredge-paper"]
    assert {r["seed"] for r in paper} == {2} and len(paper) == len(cluster.devices)
    trained = json.loads((run / "provenance.json").read_text())["commit"]
    assert {r["train_commit"] for r in paper} == {trained} and trained != UNKNOWN
    aofl = [r for r in rows if r["method"] == "aofl"]
    assert {r["commit"] for r in paper} == {aofl[0]["commit"]}  # the row's commit is this process's
    assert {r["train_commit"] for r in aofl} == {None}
    ours = [r for r in rows if r["method"] == "distredge-ours"]
    assert {r["seed"] for r in ours} == {1} and {r["commit"] for r in ours} == {UNKNOWN}  # no commit guessed
    assert all(r["command"].startswith("python -m splitgym.experiments.distredge_plan_loads") for r in rows)
    assert [r["compute_ms"] for r in aofl] == [r["compute_ms"] for r in paper]
    assert {r["method"] for r in rows} == {*VOLUME_PLANNERS, "distredge-paper", "distredge-ours"}


def test_a_run_on_changed_code_or_the_cost_model_no_longer_reproduces_is_refused(
    db50, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    graph, cluster, sim = db50
    plan = run_planner("equal", graph, cluster)
    monkeypatch.setattr(loads, "GROUPS", {"DB_bw50": ("DB", "bw50")})
    run = _fake_run(tmp_path / "runs" / "table1" / "DB_bw50" / "seed0", plan, 1.0)
    with pytest.raises(SystemExit, match=f"{run}: simulated .* ms, the run recorded 1.000000 ms"):
        loads.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path)])
    first = subprocess.run(  # the repository's first commit: every source folder changed since
        ["git", "-C", str(REPO), "rev-list", "--max-parents=0", "HEAD"], capture_output=True, text=True
    ).stdout.split()[0]
    shutil.rmtree(run)
    run = _fake_run(run, plan, sim.simulate(plan).latency * 1e3, commit=first)
    with pytest.raises(SystemExit) as err:
        loads.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path)])
    assert "\n" not in str(err.value) and f"{run} trained on {first[:10]} and " in str(err.value)
    assert not (tmp_path / "distredge_plan_loads.csv").exists()


def _loads_csv(folder: Path, plans: dict[tuple[str, str, Any], list[tuple[str, float, float]]]) -> Results:
    """A plan-loads CSV: per (group, method, seed), (board, compute_ms, recv_ms) per device."""
    rows = [
        {
            "group": g,
            "model": "vgg16",
            "method": m,
            "seed": s,
            "board": b,
            "device": f"{b}-{k}",
            "compute_ms": c,
            "recv_ms": t,
            "latency_ms": 1.0,
        }  # fmt: skip
        for (g, m, s), devs in plans.items()
        for k, (b, c, t) in enumerate(devs)
    ]
    write_csv(folder / "distredge_plan_loads.csv", rows, command="python -m splitgym.experiments.distredge_plan_loads")
    return Results(folder)


def test_fig14_row_names_each_method_by_the_larger_maximum(tmp_path: Path) -> None:
    two = lambda c, t: [("xavier", c, t), ("nano", c / 2, t / 2)]  # noqa: E731
    res = _loads_csv(
        tmp_path,
        {
            ("DB_bw50", "coedge", None): two(10, 50),
            ("DB_bw50", "deepthings", None): two(60, 20),
            ("DB_bw50", "deeperthings", None): two(5, 40),
            ("DB_bw50", "distredge-ours", 0): two(30, 10),
            ("DB_bw50", "distredge-ours", 1): two(50, 10),
            ("DC_bw50", "coedge", None): two(90, 1),
        },  # fmt: skip
    )
    r = fig14_row(res)
    assert r["source"] == "distredge_plan_loads.csv"
    assert "coedge 50/10" in r["ours"] and "distredge-ours 10/40" in r["ours"]  # DC's coedge not read
    assert r["why"].startswith("as the paper for coedge, deepthings; not for deeperthings (transmission-bound)")
    assert "distredge-ours compute-bound" in r["why"] and "; 2 of 4 methods transmission-bound" in r["why"]


def test_pi3_row_agrees_only_when_every_trained_plan_leaves_the_pi3_empty(tmp_path: Path) -> None:
    empty = [("xavier", 20.0, 5.0), ("pi3", 0.0, 0.0)]
    plans = {("DC_bw50", "equal", None): [("xavier", 10.0, 5.0), ("pi3", 600.0, 5.0)],
             ("DC_bw50", "aofl", None): empty, ("DC_bw300", "distredge-paper", 0): empty,
             ("DC_bw300", "equal", None): [("xavier", 10.0, 5.0), ("pi3", 900.0, 5.0)],
             ("DC_bw50", "mednn", None): [("pi3", 2.0, 1.0)], ("DC_bw300", "mednn", None): empty,
             ("DC_bw50", "distredge-ours", 2): empty}  # fmt: skip
    r = pi3_row(_loads_csv(tmp_path, plans))
    assert "nothing in 2 of 2 trained plans (DC at 50/300 Mbps; variants ours, paper; seeds 0, 2)" in r["ours"]
    assert r["ours"].endswith("classical plans leaving it empty: aofl")  # not mednn: it computes at 50 Mbps
    assert r["why"].startswith("agrees") and "2-900 ms" in r["why"]  # both DC groups' classical plans
    plans[("DC_bw50", "distredge-ours", 2)] = [("xavier", 20.0, 5.0), ("pi3", 3.0, 1.0)]
    assert "nothing in 1 of 2" in pi3_row(_loads_csv(tmp_path / "b", plans))["ours"]
