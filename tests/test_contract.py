"""The contract every planner keeps with its kind's scorer and runner (plan kinds, issue #16).

For each entry of PLANNERS, on a small model and a cluster of the right kind: the plan validates
against the model; ``splitgym simulate`` on its file gives the kind's scorer's figure and the
planner's own recorded prediction where it records one; a version-1 copy of the file (no ``kind``)
loads as the same kind; and running it on the kind's default backend reproduces the unsplit model.
This is the test that would have caught HiDP plans priced by the volume simulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from splitgym.agents.planners import PLANNERS, run_planner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import KINDS, Plan
from splitgym.costmodels.scoring import score_plan
from splitgym.executors.run import backends, execute, validate_run
from splitgym.experiments.cli import main

#: Per planner: its kind, and the cluster and options it is planned with (vgg11 at 64 px).
SETUPS: dict[str, tuple[str, str, str | float, dict[str, Any]]] = {
    **{
        m: ("volumes", "DB", 300.0, {})
        for m in (
            "equal",
            "coedge",
            "modnn",
            "mednn",
            "deepthings",
            "deeperthings",
            "aofl",
            "offload",
            "exact",
            "lcpss-pilot",
        )
    },
    "ar-mdi": ("stages", "tx2x3", 300.0, {}),
    "nptp-mpa": ("tiles", "nptp3", 4.0, {"iterations": 30, "rounds": 1}),
    "coedge-strips": ("tiles", "nptp3", 4.0, {"grid": 4}),
    "coedge-lp": ("tiles", "nptp3", 4.0, {}),
    "grid": ("tiles", "nptp3", 4.0, {}),
    "nptp-exact": ("tiles", "nptp3", 4.0, {}),
    "hyps": ("neurons", "pi3b-4", 300.0, {"threshold": 1000000}),
    **{
        m: ("nodes", "hidp-2", "hidp80", {"nodes": "hidp-2"})
        for m in ("hidp", "disnet", "modnn-hidp", "omniboost", "aofl-hidp")
    },
}
#: The meta key where a planner records its scorer's figure for its own plan, per kind.
OWN_PREDICTION = {
    "volumes": ("simulated_latency_s", "latency_s"),
    "stages": ("simulated_latency_s",),
    "tiles": ("latency_s",),
    "nodes": ("predicted_latency_s",),
    "neurons": ("score",),
}
MODEL, SIZE = "vgg11", 64


@pytest.fixture(scope="module")
def graph() -> ModelGraph:
    return ModelGraph.from_torchvision(MODEL, SIZE)


@pytest.fixture(scope="module")
def plans(graph: ModelGraph) -> dict[str, Plan]:
    out = {}
    for name, (_, devices, network, opts) in SETUPS.items():
        out[name] = run_planner(name, graph, Cluster.from_config(devices, network), **opts)
    return out


def test_every_planner_has_a_setup_and_every_kind_a_planner():
    assert set(SETUPS) == set(PLANNERS)
    assert {k for k, *_ in SETUPS.values()} == set(KINDS)


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_plan_validates_and_simulate_gives_its_kinds_figure(name, plans, graph, tmp_path, capsys):
    plan = plans[name]
    kind = SETUPS[name][0]
    assert plan.kind == kind and plan.problems(graph) == []
    path = plan.save(tmp_path / "plan.json")
    assert main(["simulate", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    score = score_plan(plan, graph)
    assert shown["kind"] == kind and shown["latency_s"] == pytest.approx(score.latency_s, rel=1e-12)
    for key in OWN_PREDICTION[kind]:
        own = plan.meta.get(key)
        if isinstance(own, dict):  # HyPS records its whole score
            own = own["latency_s"]
        if isinstance(own, float):
            figure = score.detail["latency_s"] if kind == "tiles" else score.latency_s  # NPTP: feature extractor
            assert figure == pytest.approx(own, rel=1e-9), f"{name}: meta {key}"
            break


@pytest.mark.parametrize("name", sorted(n for n, s in SETUPS.items() if s[0] == "nodes"))
def test_node_plans_get_hidps_scorer_not_the_volume_simulator(name, plans, graph):
    plan = plans[name]
    hidp = HiDPScorer(graph, NodeCluster.from_config("hidp-2")).latency(plan)
    assert score_plan(plan, graph).latency_s == pytest.approx(hidp, rel=1e-12)


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_a_version_1_file_loads_as_the_same_kind(name, plans, tmp_path):
    doc = json.loads(plans[name].model_dump_json(exclude_none=True))
    kind = doc.pop("kind")
    doc["version"] = 1
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    from splitgym.costmodels.plan import load_plan

    again = load_plan(path)
    assert again.kind == kind and again.version == 2
    assert again.model_dump(exclude={"kind", "version"}) == plans[name].model_dump(exclude={"kind", "version"})


@pytest.mark.parametrize("name", sorted(n for n, s in SETUPS.items() if s[0] != "neurons"))
def test_running_the_plan_locally_reproduces_the_unsplit_model(name, plans):
    plan = plans[name]
    assert "local" in backends(plan.kind)
    run = execute(plan, "local", images=1)
    assert run.kind == plan.kind and run.backend == "local" and len(run.latency_s) == 1
    assert validate_run(run) == [], name


@pytest.mark.slow  # HyPS's manager starts a worker process per device under its memory budget
def test_running_the_hyps_plan_on_its_hub_reproduces_the_unsplit_model(plans, tmp_path: Path):
    run = execute(plans["hyps"], "hub", folder=tmp_path / "run")
    assert run.kind == "neurons" and validate_run(run) == []


def test_execute_names_a_kinds_backends_in_one_line(plans, tmp_path, capsys):
    path = plans["hyps"].save(tmp_path / "hyps.json")
    assert main(["execute", str(path), "--backend", "local"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        "splitgym execute: error: backend: a 'neurons' plan has no backend 'local' (it has: hub)"
    ]
    path = plans["grid"].save(tmp_path / "grid.json")
    assert main(["execute", str(path), "--folder", str(tmp_path / "f")]) == 2
    assert "folder: the local backend of a 'tiles' plan takes no 'folder'" in capsys.readouterr().err


def test_validators_find_an_inexact_or_slow_run(plans):
    run = execute(plans["equal"], "local", images=1)
    assert validate_run(run, predicted_s=run.latency_median_s) == []
    far = validate_run(run, predicted_s=run.latency_median_s * 10, tolerance=0.5)
    assert [p.field for p in far] == ["latency_s"] and "from the predicted" in far[0].message
    run.max_abs_error = 1.0 + 10 * run.ref_max_abs
    assert [p.field for p in validate_run(run)] == ["max_abs_error"]


def test_a_sensitivity_runs_node_plan_is_scored_on_its_own_figures(graph):
    """A plan made on nodes with an overridden GPU efficiency records it, and is scored on it."""
    slow = NodeCluster.from_config("hidp-2", "hidp80", efficiency={"gpu-gl": 0.1})  # the Pis' GPUs
    plan = PLANNERS["hidp"](graph, slow)
    assert plan.meta["efficiency"] == {"gpu-gl": 0.1}
    assert score_plan(plan, graph).latency_s == pytest.approx(plan.meta["predicted_latency_s"], rel=1e-9)
    plain = plan.evolve(meta={k: v for k, v in plan.meta.items() if k != "efficiency"})
    assert score_plan(plain, graph).latency_s < score_plan(plan, graph).latency_s
