"""HiDP: node model, two-level scorer, global DP (optimality against exhaustive search), local
partitioner, baselines, plans."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from splitgym.agents.planners import PLANNERS, run_planner
from splitgym.agents.planners.nodes.hidp import GlobalDP
from splitgym.agents.planners.nodes.hidp_local import LocalPartitioner
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer, local_cuts
from splitgym.costmodels.nodes.node_cluster import NodeCluster, make_node, processor_profiles
from splitgym.costmodels.plan import Plan

from .helpers import synthetic_profile


def _tiny() -> ModelGraph:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    return ModelGraph.from_module(m, (3, 32, 32), name="tiny")


@pytest.fixture(scope="module")
def tiny() -> ModelGraph:
    return _tiny()


def _nodes(leader: str = "nano", mbps: tuple[float, ...] = (200.0, 50.0, 20.0)) -> NodeCluster:
    boards = [("orin", "orin-nx"), ("tx2", "tx2"), ("nano", "nano")]
    return NodeCluster("t", [make_node(n, b, r) for (n, b), r in zip(boards, mbps)], leader, 1e-3)


def _scorer(graph: ModelGraph, nodes: NodeCluster) -> HiDPScorer:
    base = synthetic_profile(graph, [2e-5 * (i + 1) for i in range(graph.num_units)], head=1e-4, fixed=1e-4)
    return HiDPScorer(graph, nodes, processor_profiles(graph, nodes, base))


# -- node model -----------------------------------------------------------------------------------
def test_config_nodes_processors_and_availability():
    nc = NodeCluster.from_config("hidp-dynamic")
    assert nc.names == ["orin", "tx2", "nano", "pi5", "pi4"] and nc.leader == "orin"
    tx2 = nc.nodes[1]
    assert [p.name for p in tx2.processors] == ["denver", "a57", "gpu"]
    assert tx2.rate_gflops == pytest.approx(sum(p.effective_gflops for p in tx2.processors))
    assert nc.available(0) == [True] * 5
    assert nc.available(30) == [True, False, True, True, True]
    assert nc.available(70) == [True, True, True, False, True]
    assert nc.nodes[0].network_mbps == 80 and nc.latency_s == pytest.approx(2e-3)
    assert nc.nodes[0].intra_seconds(0) == 0 and nc.nodes[0].intra_seconds(1e6) > nc.nodes[0].intra_overhead_s


def test_config_errors():
    with pytest.raises(ConfigError, match="leader"):
        NodeCluster("x", [make_node("a", "nano", 80)], "b")
    with pytest.raises(ConfigError, match="board"):
        make_node("a", "pi3", 80)
    with pytest.raises(ConfigError, match="network_mbps"):
        make_node("a", "nano", 0)
    with pytest.raises(ConfigError, match="processor"):
        make_node("a", "nano", 80).processor("npu")


def test_gpu_efficiency_is_a_parameter_of_the_nodes(tiny):
    """A sensitivity run's GPU efficiency travels with its nodes (no global to overwrite): the
    Jetson GPUs slow by 0.1 / EFFICIENCY["gpu"], nothing else does, HiDP's latency rises, and the
    table and a cluster built after it keep the default figures."""
    from splitgym.costmodels.nodes.node_processors import EFFICIENCY

    table = dict(EFFICIENCY)
    base = synthetic_profile(tiny, [2e-5 * (i + 1) for i in range(tiny.num_units)], head=1e-4, fixed=1e-4)
    nc = NodeCluster.from_config("hidp-5")
    slow = NodeCluster.from_config("hidp-5", efficiency={"gpu": 0.1})
    for n, m in zip(nc.nodes, slow.nodes):
        for p, q in zip(n.processors, m.processors):
            want = p.effective_gflops * (0.1 / EFFICIENCY["gpu"] if p.kind == "gpu" else 1.0)
            assert q.effective_gflops == pytest.approx(want, rel=1e-12), (n.name, p.name)
    assert any(p.kind == "gpu" for n in nc.nodes for p in n.processors)
    sc, sc_slow = (HiDPScorer(tiny, c, processor_profiles(tiny, c, base)) for c in (nc, slow))
    plan = PLANNERS["hidp"](tiny, nc.to_cluster(), nodes=nc, processor_profiles=sc.profiles)
    plan_slow = PLANNERS["hidp"](tiny, slow.to_cluster(), nodes=slow, processor_profiles=sc_slow.profiles)
    assert sc_slow.latency(plan) > sc.latency(plan)  # the same plan, slower GPUs
    assert sc_slow.latency(plan_slow) > sc.latency(plan)  # the best plan on slower GPUs is slower
    assert sc_slow.latency(plan_slow) <= sc_slow.latency(plan) * (1 + 1e-9)  # and re-planning helps
    assert EFFICIENCY == table
    again = NodeCluster.from_config("hidp-5")
    assert [p.effective_gflops for n in again.nodes for p in n.processors] == [
        p.effective_gflops for n in nc.nodes for p in n.processors
    ]
    with pytest.raises(ConfigError, match="efficiency.tpu"):
        NodeCluster.from_config("hidp-5", efficiency={"tpu": 0.1})
    with pytest.raises(ConfigError, match="efficiency.gpu.*got 0"):
        make_node("a", "nano", 80, efficiency={"gpu": 0.0})


def test_processor_profiles_are_derived_and_scaled(tiny):
    nc = _nodes()
    profs = processor_profiles(tiny, nc, synthetic_profile(tiny, 1e-5))
    gpu, cpu = profs[("nano", "gpu")], profs[("nano", "cpu")]
    assert gpu.kind == cpu.kind == "derived" and "derived" in gpu.meta["label"]
    g, c = nc.nodes[2].processor("gpu"), nc.nodes[2].processor("cpu")
    # a CPU processor: the base scaled to its effective rate
    assert cpu.total_seconds() == pytest.approx(tiny.flops / (c.effective_gflops * 1e9), rel=1e-6)
    # a Jetson GPU: the GPU wave model at fp32, at the processor's peak and efficiency; launch
    # floors and part-empty waves make it slower than its effective rate alone
    spec, params = gpu.meta["gpu_spec"], gpu.meta["gpu_params"]
    assert gpu.meta["shape"] == "gpu" and spec["dtype_bytes"] == 4
    assert spec["sms"] * spec["clock_ghz"] * spec["flop_per_sm_cycle"] == pytest.approx(g.peak_gflops, rel=1e-3)
    assert params["efficiency"] == pytest.approx(g.effective_gflops / g.peak_gflops, rel=1e-12)
    assert gpu.total_seconds() > tiny.flops / (g.effective_gflops * 1e9)
    assert gpu.total_seconds() < cpu.total_seconds()


def test_large_model_without_a_shipped_profile_gets_a_flop_scaled_base():
    from splitgym.costmodels.nodes.node_cluster import local_base

    g = ModelGraph.from_torchvision("resnet101")
    base = local_base(g)
    assert "FLOP-scaled" in base.meta["label"] and len(base.units) == g.num_units
    u = max(range(g.num_units), key=lambda i: g.units[i].flops)
    v = min(range(g.num_units), key=lambda i: g.units[i].flops)
    assert base.units[u].at(np.array([g.units[u].height]))[0] > base.units[v].at(np.array([g.units[v].height]))[0]


# -- scorer -----------------------------------------------------------------------------------------
def test_local_cuts_cover_rows():
    c = local_cuts(3, 20, [0.8, 0.2])
    assert c[0] == 3 and c[-1] == 20 and np.all(np.diff(c) >= 0) and c[1] - c[0] in (13, 14)
    with pytest.raises(PlanError):
        local_cuts(0, 4, [0, 0])


def test_single_node_model_plan_matches_hand_sum(tiny):
    nc = _nodes(leader="orin")
    sc = _scorer(tiny, nc)
    lp = LocalPartitioner(sc, "default")
    from splitgym.agents.planners.nodes.hidp_local import build_plan

    cuts = [np.array([0, u.height, u.height, u.height]) for u in tiny.units]
    plan = build_plan("x", tiny, nc, [(u, u) for u in range(tiny.num_units)], cuts, lp)
    expect = sum(sc.unit_seconds(0, "gpu", u, tiny.units[u].height) for u in range(tiny.num_units))
    expect += sc.head_seconds(0, "gpu")
    assert sc.latency(plan) == pytest.approx(expect, rel=1e-9)
    assert plan.modes == ["model"] * tiny.num_units and plan.stages[0].last == tiny.num_units - 1


def test_concurrent_requests_wait_for_busy_processors(tiny):
    nc = _nodes()
    sc = _scorer(tiny, nc)
    plan = PLANNERS["hidp"](tiny, nc.to_cluster(), nodes=nc)
    free: dict = {}
    a = sc.schedule(plan, 0.0, free)
    b = sc.schedule(plan, 0.0, free)
    assert b.latency > a.latency and a.latency == pytest.approx(sc.latency(plan))
    assert sc.energy([a, b]) > sc.energy(a) > 0


# -- global DP --------------------------------------------------------------------------------------
def _exhaustive(dp: GlobalDP) -> float:
    return min(dp.sequence_cost(list(seq)) for seq in itertools.product(dp.states, repeat=dp.U))


@pytest.mark.parametrize("local", ["hidp", "default"])
def test_dp_is_optimal_against_exhaustive_search(tiny, local):
    sc = _scorer(tiny, _nodes())
    dp = GlobalDP(sc, LocalPartitioner(sc, local))
    best, seq = dp.solve()
    assert best == pytest.approx(_exhaustive(dp), rel=1e-12)
    assert dp.sequence_cost(seq) == pytest.approx(best, rel=1e-12)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(["orin", "tx2", "nano"]), st.tuples(*[st.sampled_from([5.0, 20.0, 80.0, 400.0])] * 3))
def test_dp_optimal_for_any_leader_and_rates(leader, mbps):
    g = _tiny()
    sc = _scorer(g, _nodes(leader, mbps))
    dp = GlobalDP(sc, LocalPartitioner(sc, "hidp"))
    best, seq = dp.solve()
    assert best == pytest.approx(_exhaustive(dp), rel=1e-12)
    # the scorer lets nodes run ahead of the DP's per-unit barrier: never slower
    from splitgym.agents.planners.nodes.hidp_local import build_plan

    plan = build_plan(
        "hidp", g, sc.nodes, [(u, u) for u in range(g.num_units)], [dp.cuts(u, s) for u, s in enumerate(seq)], dp.local
    )
    assert sc.latency(plan) <= best + 1e-12


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from(["orin", "tx2", "nano"]),
    st.tuples(*[st.sampled_from([5.0, 20.0, 80.0, 400.0])] * 3),
    st.sampled_from(["hidp", "default"]),
    st.booleans(),
)
def test_linear_dp_reaches_the_exhaustive_optimum(leader, mbps, local, tx2_gone):
    """The O(n*m) relaxation (ranked rates, prefix/suffix minima) loses nothing: equal to
    exhaustive search and to the O(n*m^2) solver, with heterogeneous rates and a missing node."""
    g = _tiny()
    nc = _nodes(leader, mbps)
    if tx2_gone and leader != "tx2":
        from dataclasses import replace

        from splitgym.costmodels.nodes.node_cluster import Availability

        nc.nodes[1] = replace(nc.nodes[1], availability=Availability(((0.0, False),)))
    sc = _scorer(g, nc)
    dp = GlobalDP(sc, LocalPartitioner(sc, local))
    best, seq = dp.solve_linear()
    assert best == pytest.approx(_exhaustive(dp), rel=1e-12)
    assert best == pytest.approx(dp.solve()[0], rel=1e-12)
    assert dp.sequence_cost(seq) == pytest.approx(best, rel=1e-12)
    assert all(s in dp.states for s in seq)


def test_linear_dp_on_five_nodes_equals_the_quadratic_one():
    g = ModelGraph.from_torchvision("vgg11", 64)
    boards = [
        ("orin", "orin-nx", 300.0),
        ("tx2", "tx2", 80.0),
        ("nano", "nano", 20.0),
        ("pi5", "pi5", 80.0),
        ("pi4", "pi4", 150.0),
    ]
    nc = NodeCluster("five", [make_node(n, b, r) for n, b, r in boards], "pi4", 2e-3)
    sc = _scorer(g, nc)
    dp = GlobalDP(sc, LocalPartitioner(sc, "hidp"))
    assert dp.solve_linear()[0] == pytest.approx(dp.solve()[0], rel=1e-12)
    with pytest.raises(ConfigError, match="solver"):
        PLANNERS["hidp"](g, nc.to_cluster(), nodes=nc, solver="cubic")


def test_dp_runtime_and_hidp_not_slower_than_disnet():
    g = ModelGraph.from_torchvision("vgg11", 64)
    nc = _nodes("nano", (80.0, 80.0, 80.0))
    sc = _scorer(g, nc)
    t = time.perf_counter()
    hidp, _ = GlobalDP(sc, LocalPartitioner(sc, "hidp")).solve()
    elapsed = time.perf_counter() - t
    disnet, _ = GlobalDP(sc, LocalPartitioner(sc, "default")).solve()
    assert hidp <= disnet + 1e-12
    assert elapsed < 5.0  # paper: 15 ms on its middleware; here recorded by the experiment


def test_unavailable_node_gets_no_work(tiny):
    nc = NodeCluster.from_config("hidp-dynamic")
    plan = PLANNERS["hidp"](tiny, nc.to_cluster(), nodes=nc, at=30.0)
    tx2 = nc.names.index("tx2")
    assert all(v.rows[tx2 + 1] == v.rows[tx2] for v in plan.volumes)
    assert all(s.device != "tx2" for s in plan.shares)


# -- a node cluster is a cluster ---------------------------------------------------------------------
def test_node_cluster_is_the_board_level_cluster():
    nc = _nodes()
    assert isinstance(nc, Cluster)
    plain = nc.to_cluster()
    assert type(plain) is Cluster and plain.devices == nc.devices and plain.network == nc.network
    assert [(d.name, d.board) for d in nc.devices] == [("orin", "orin-nx"), ("tx2", "tx2"), ("nano", "nano")]
    assert nc.network.cap("requester") == nc.network.cap("nano") == 20.0  # with the leader, at its rate
    assert nc.network.latency_s == nc.latency_s == 1e-3 and nc.network.overhead_s == 0.0
    assert nc.size == 3 and nc.names == ["orin", "tx2", "nano"] and nc.index("tx2") == 1
    assert NodeCluster.from_cluster(nc) is nc  # already the refinement: processors, availability kept
    assert NodeCluster.from_cluster(nc, leader="orin").leader == "orin"
    # a board-level round trip gives the same nodes
    assert NodeCluster.from_cluster(plain, leader=nc.leader) == nc


def test_a_planner_taking_a_cluster_takes_a_node_cluster(tiny):
    nc = _nodes()
    a, b = PLANNERS["hidp"](tiny, nc), PLANNERS["hidp"](tiny, nc.to_cluster(), nodes=nc)
    assert (a.devices, a.network, a.volumes, a.shares) == (b.devices, b.network, b.volumes, b.shares)
    assert PLANNERS["equal"](tiny, nc) == PLANNERS["equal"](tiny, nc.to_cluster())  # a board-level planner


def test_node_cluster_from_a_group_and_a_network():
    nc = NodeCluster.from_config("hidp-dynamic", 40.0)
    assert [n.network_mbps for n in nc.nodes] == [40.0] * nc.size and nc.latency_s == 0.0
    assert nc.available(30) == NodeCluster.from_config("hidp-dynamic").available(30)


# -- planners and plans -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["hidp", "disnet", "modnn-hidp", "omniboost", "aofl-hidp"])
def test_planners_give_valid_plans(tiny, method):
    cl = Cluster.from_config("hidp-5", "hidp80")
    plan = run_planner(method, tiny, cl, nodes="hidp-5")
    plan.check(tiny)
    again = Plan.parse(plan.model_dump(mode="json", exclude_none=True))
    sc = HiDPScorer(tiny, NodeCluster.from_config("hidp-5"))
    assert sc.latency(again) == pytest.approx(sc.latency(plan)) and sc.latency(plan) > 0
    if plan.modes is not None:
        assert len(plan.modes) == len(plan.volumes)
    if method == "modnn-hidp":
        assert set(plan.modes) == {"data"}
    if method == "omniboost":
        assert set(plan.modes) == {"model"} and len(plan.meta["stages"]) <= 4


def test_plan_rejects_bad_modes_and_processors(tiny):
    cl = Cluster.from_config("hidp-5", "hidp80")
    plan = run_planner("hidp", tiny, cl, nodes="hidp-5")
    data = plan.model_dump(mode="json", exclude_none=True)
    data["modes"] = data["modes"][:-1]
    with pytest.raises(PlanError, match="modes"):
        Plan.parse(data)
    data = plan.model_dump(mode="json", exclude_none=True)
    data["shares"][0]["shares"][0]["processor"] = "npu"
    with pytest.raises(ConfigError, match="npu"):
        HiDPScorer(tiny, NodeCluster.from_config("hidp-5")).latency(Plan.parse(data))


# -- workload helpers of the experiment ---------------------------------------------------------------
def test_streams_conserve_flops_and_queue(tiny):
    from splitgym.experiments.hidp_tables import Bench, busy_mask, gflops_series, streams

    bench = Bench(_nodes("nano", (80.0, 80.0, 80.0)))
    bench.graphs["tiny"] = tiny
    done = streams(bench, ["tiny", "tiny"], "hidp", "nano", [0.0, 0.0], horizon=0.02, inflight=1)
    assert len(done) >= 2 and all(r.start < 0.02 for _, r in done)
    end = max(r.end for _, r in done)
    edges = np.linspace(0.0, end + 1e-3, 50)
    series = gflops_series(bench, done, edges)
    assert float((series * np.diff(edges)).sum()) == pytest.approx(len(done) * tiny.flops / 1e9, rel=1e-9)
    # two streams started together: the second request of time 0 waits for the first
    first_two = sorted((r for _, r in done if r.start == 0.0), key=lambda r: r.end)
    assert first_two[1].latency > first_two[0].latency
    nc = bench.cluster(3, "nano")
    assert busy_mask(nc, {}, 0.0) == (True, True, True)
    busy = {(0, p.name): 1.0 for p in nc.nodes[0].processors}
    assert busy_mask(nc, busy, 0.5) == (False, True, True) and busy_mask(nc, busy, 1.0) == (True, True, True)


def test_dp_timing_writes_both_solvers(tmp_path):
    import csv
    import math

    from splitgym.experiments.hidp_dp import main as dp_main

    dp_main(["--models", "vgg11", "--nodes", "2", "--min-run-time", "0.02", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "hidp_dp.csv").open()))
    assert {r["solver"] for r in rows} == {"linear", "quadratic"} and {r["nodes"] for r in rows} == {"2"}
    assert all(math.isfinite(float(r[k])) and float(r[k]) > 0 for r in rows for k in ("cold_ms", "relax_ms"))
    assert rows[0]["latency_ms"] == rows[1]["latency_ms"] or math.isclose(
        float(rows[0]["latency_ms"]), float(rows[1]["latency_ms"]), rel_tol=1e-9
    )
