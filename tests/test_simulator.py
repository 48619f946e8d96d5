"""The simulator against hand-computed latencies, and its batched path against the detailed one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import BandwidthTrace, Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator

from .helpers import random_cuts, synthetic_profile


def tiny_graph() -> ModelGraph:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(2, 2, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 3),
    )
    return ModelGraph.from_module(m, (1, 8, 8), name="tiny")


def two_device_sim(mbps: float = 8.0) -> tuple[ModelGraph, Simulator]:
    g = tiny_graph()
    fast = synthetic_profile(g, 1e-3, head=0.5e-3, name="fast")
    slow = synthetic_profile(g, 2e-3, head=1.0e-3, name="slow")
    net = Network({"d0": mbps, "d1": mbps, "requester": mbps})
    cluster = Cluster("pair", [Device("d0", "fast"), Device("d1", "slow")], net)
    return g, Simulator(g, cluster, profiles={"fast": fast, "slow": slow})


def test_tiny_graph_shape():
    g = tiny_graph()
    assert g.num_units == 2 and g.head is not None
    assert [u.kind for u in g.units] == ["conv", "conv"]


def test_hand_computed_latency():
    # 8 Mbps: one byte takes exactly 1 us. Rows of the 1x8x8 input are 32 B, of unit 0 64 B.
    g, sim = two_device_sim()
    part = [(0, 0), (1, 1)]
    cuts = np.array([[0, 4, 8], [0, 4, 8]])
    plan = Plan.from_volumes("hand", g, sim.cluster, part, cuts)
    bd = sim.simulate(plan)
    # volume 0: each part needs 5 input rows (halo 1, border padded) = 160 B = 160 us
    np.testing.assert_allclose(bd.T[0], [160e-6 + 4e-3, 160e-6 + 8e-3])
    # volume 1: d0 waits for row 4 from d1 (64 us after d1 finishes at 8.16 ms), d1 has row 3 early
    np.testing.assert_allclose(bd.T[1], [8.16e-3 + 64e-6 + 4e-3, 8.16e-3 + 8e-3])
    # head on d0 (ties -> first): gathers d1's 4 rows (256 B), runs 0.5 ms, returns 3 floats (12 B)
    assert bd.head_device == "d0"
    expected = 16.16e-3 + 256e-6 + 0.5e-3 + 12e-6
    assert bd.latency == pytest.approx(expected, rel=1e-12)
    assert bd.ips == pytest.approx(1 / expected)
    assert sim.score(part, cuts) == pytest.approx(expected, rel=1e-12)
    vols = {(t["volume"], t["src"], t["dst"]): t["bytes"] for t in bd.transfers}
    assert vols[(0, "requester", "d0")] == 160 and vols[(1, "d1", "d0")] == 64
    assert vols[(1, "d0", "d1")] == 64 and vols[(2, "d1", "d0")] == 256 and vols[(2, "d0", "requester")] == 12
    # fused volume: halo rows recomputed = (5 + 5) - 8 rows of unit 0
    fused = sim.simulate(Plan.from_volumes("fused", g, sim.cluster, [(0, 1)], [[0, 4, 8]]))
    assert fused.halo_rows.tolist() == [2]


def test_offload_is_single_device_latency():
    g, sim = two_device_sim()
    part = [(0, 1)]
    cuts = np.array([[0, 8, 8]])  # everything on d0, d1 empty
    bd = sim.simulate(Plan.from_volumes("offload", g, sim.cluster, part, cuts))
    expected = 8 * 32e-6 + 2 * 8 * 1e-3 + 0.5e-3 + 12e-6
    assert bd.latency == pytest.approx(expected, rel=1e-12)
    assert bd.T[0, 1] == 0.0  # the idle device never starts
    assert bd.peak_memory[1] == 0.0
    assert bd.peak_memory[0] >= (g.units[0].params + g.units[1].params + g.head.params) * 4


def test_empty_part_keeps_accumulated_latency():
    g, sim = two_device_sim()
    bd = sim.simulate(Plan.from_volumes("p", g, sim.cluster, [(0, 0), (1, 1)], [[0, 4, 8], [0, 8, 8]]))
    assert bd.T[1, 1] == bd.T[0, 1]


@pytest.fixture(scope="module")
def db_sim(vgg16: ModelGraph) -> Simulator:
    return Simulator(vgg16, Cluster.from_config("DB", 300))


def test_batched_scores_equal_individual_simulations(vgg16: ModelGraph, db_sim: Simulator):
    rng = np.random.default_rng(1)
    part = named_partition("stages", vgg16)
    batch = np.stack([np.stack([random_cuts(rng, vgg16.units[l].height, 4) for _, l in part]) for _ in range(25)])
    scores = db_sim.score(part, batch)
    for b in range(len(batch)):
        plan = Plan.from_volumes("r", vgg16, db_sim.cluster, part, batch[b])
        assert db_sim.simulate(plan).latency == pytest.approx(scores[b], rel=1e-12)


def test_more_bandwidth_never_slower(vgg16: ModelGraph):
    rng = np.random.default_rng(2)
    part = named_partition("stages", vgg16)
    batch = np.stack([np.stack([random_cuts(rng, vgg16.units[l].height, 4) for _, l in part]) for _ in range(50)])
    slow = Simulator(vgg16, Cluster.from_config("DB", 50)).score(part, batch)
    fast = Simulator(vgg16, Cluster.from_config("DB", 300)).score(part, batch)
    assert (fast <= slow + 1e-12).all() and (fast < slow).any()


def test_equal_split_beats_worst_random_and_fast_devices_matter(vgg16: ModelGraph, db_sim: Simulator):
    plan = run_planner("equal", vgg16, db_sim.cluster, partition="stages")
    equal = db_sim.simulate(plan).latency
    part = plan.partition
    # all work on a Xavier vs all on a Nano: the derived profiles make the Xavier faster
    on_xavier = np.stack([[0, h, h, h, h] for h in [vgg16.units[l].height for _, l in part]])
    on_nano = np.stack([[0, 0, 0, h, h] for h in [vgg16.units[l].height for _, l in part]])
    assert db_sim.score(part, on_xavier) < db_sim.score(part, on_nano)
    assert equal > 0


def test_time_varying_network_changes_latency(vgg16: ModelGraph):
    trace = BandwidthTrace((0.0, 60.0), (300.0, 20.0))
    base = Cluster.from_config("DB", 300)
    net = Network(base.network.caps_mbps, traces={n: trace for n in base.names})
    sim = Simulator(vgg16, Cluster("DB", base.devices, net))
    plan = run_planner("equal", vgg16, sim.cluster, partition="stages")
    early = sim.score(plan.partition, plan.cuts)
    sim.set_time(70.0)
    late = sim.score(plan.partition, plan.cuts)
    assert late > early


def test_simulate_rejects_inconsistent_plan(vgg16: ModelGraph, db_sim: Simulator):
    other = Cluster.from_config("DA", 300)
    plan = run_planner("equal", vgg16, other)
    with pytest.raises(PlanError, match="devices"):
        db_sim.simulate(plan)
    good = run_planner("equal", vgg16, db_sim.cluster)
    bad = good.model_copy(update={"volumes": good.volumes[:-1]})
    with pytest.raises(PlanError, match="volumes"):
        db_sim.simulate(bad)
