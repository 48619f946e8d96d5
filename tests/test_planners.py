"""The classical planners: valid plans, the behaviour each paper describes, and none beating the
exact optimum on its grid and partition."""

from __future__ import annotations

import inspect
import itertools
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from splitgym.agents.planners import PLANNERS, VOLUME_PLANNERS, run_planner
from splitgym.agents.planners.volumes.exact import count_candidates, grid_cuts, plan_exact
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.linear_model import (
    LinearModel,
    equal_cuts,
    largest_remainder,
    water_fill,
)
from splitgym.costmodels.volumes.partition_search import brute_force_partitions, price_volumes, search_partitions
from splitgym.costmodels.volumes.partitions import from_starts, named_partition, starts_of
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments import cli

from .helpers import synthetic_profile

VOLUME = sorted((*VOLUME_PLANNERS, "exact"))  # the DistrEdge family: volume plans

# -- a small custom model on three unequal devices with unequal links ----------------------------


def small_graph() -> ModelGraph:
    """conv(6 rows) -> conv(6) -> maxpool(3) -> conv(3) -> head: 4 units."""
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    return ModelGraph.from_module(m, (1, 6, 6), name="small")


def small_setup(n: int = 3) -> tuple[ModelGraph, Cluster, dict]:
    """Boards fast/mid/slow (1, 2, 5 ms per row; slow has a 1 ms fixed cost) on links of 0.8, 1.6
    and 0.4 Mbps (a 96-byte conv row then takes about as long to send as to compute)."""
    g = small_graph()
    profiles = {
        "fast": synthetic_profile(g, 1e-3, head=0.5e-3, name="fast"),
        "mid": synthetic_profile(g, 2e-3, head=1e-3, name="mid"),
        "slow": synthetic_profile(g, 5e-3, head=2e-3, name="slow", fixed=1e-3),
    }
    boards = ["fast", "mid", "slow"][:n]
    caps = [0.8, 1.6, 0.4][:n]
    names = [f"d{i}" for i in range(n)]
    net = Network({**dict(zip(names, caps, strict=True)), "requester": 1.6})
    return g, Cluster("small", [Device(d, b) for d, b in zip(names, boards, strict=True)], net), profiles


def plan_with(name: str, graph: ModelGraph, cluster: Cluster, profiles: dict | None, **opts) -> Plan:
    if profiles is not None and "profiles" in inspect.signature(PLANNERS[name]).parameters:
        opts["profiles"] = profiles
    return run_planner(name, graph, cluster, **opts)


@pytest.fixture(scope="module")
def small():
    g, cluster, profiles = small_setup()
    return g, cluster, profiles, Simulator(g, cluster, profiles=profiles)


@pytest.fixture(scope="module")
def db() -> Cluster:
    return Cluster.from_config("DB", 300)


@pytest.fixture(scope="module")
def db_sim(vgg16: ModelGraph, db: Cluster) -> Simulator:
    return Simulator(vgg16, db)


# -- every planner: a valid plan with a finite latency --------------------------------------------


@pytest.mark.parametrize("name", VOLUME)
def test_valid_plan_on_vgg16_db(name: str, vgg16: ModelGraph, db: Cluster, db_sim: Simulator):
    plan = run_planner(name, vgg16, db)
    plan.check(vgg16)
    assert plan.method == name
    latency = db_sim.simulate(plan).latency
    assert math.isfinite(latency) and latency > 0
    Plan.parse(json.loads(plan.model_dump_json()))  # meta is JSON and the plan reloads


@pytest.mark.parametrize("name", VOLUME)
def test_valid_plan_on_small_model(name: str, small):
    g, cluster, profiles, sim = small
    plan = plan_with(name, g, cluster, profiles)
    plan.check(g)
    latency = sim.simulate(plan).latency
    assert math.isfinite(latency) and latency > 0


def test_unknown_or_mistyped_option_is_one_line():
    g, cluster, _ = small_setup()
    with pytest.raises(ConfigError, match="takes no option 'partition'"):
        run_planner("offload", g, cluster, partition="stages")
    with pytest.raises(ConfigError, match="grid: planner 'exact' expects int"):
        run_planner("exact", g, cluster, grid="fine")


# -- what each baseline is ------------------------------------------------------------------------


def rows_per_device(plan: Plan) -> np.ndarray:
    """(V, N) rows of every volume's output each device computes."""
    return np.diff(plan.cuts, axis=1)


def test_modnn_gives_xaviers_more_rows(vgg16: ModelGraph, db: Cluster):
    rows = rows_per_device(run_planner("modnn", vgg16, db))  # xavier-0, xavier-1, nano-0, nano-1
    assert (rows[:, :2].min(axis=1) >= rows[:, 2:].max(axis=1)).all()
    assert rows[:, :2].sum() > 3 * rows[:, 2:].sum()


@pytest.mark.parametrize("network", ["NA", "ND"])
def test_coedge_sees_the_network_modnn_does_not(vgg16: ModelGraph, network: str):
    cluster = Cluster.from_config("all-nano", network)
    coedge = run_planner("coedge", vgg16, cluster)
    modnn = run_planner("modnn", vgg16, cluster)
    assert coedge.partition == modnn.partition
    assert not np.array_equal(coedge.cuts, modnn.cuts)
    # identical boards: MoDNN splits equally; CoEdge gives the best-linked device more rows
    caps = [cluster.network.cap(d) for d in cluster.names]
    rows = rows_per_device(coedge)
    assert rows[0, int(np.argmax(caps))] > rows[0, int(np.argmin(caps))]
    assert np.ptp(rows_per_device(modnn), axis=1).max() <= 1


def test_mednn_differs_from_modnn_on_per_unit_models():
    g, cluster, profiles = small_setup()
    # a board twice as fast as "fast" on the convs of rows 0..1 but slower on the last conv
    profiles = dict(profiles, mid=synthetic_profile(g, [0.5e-3, 0.5e-3, 0.5e-3, 4e-3], name="mid"))
    mednn = rows_per_device(plan_with("mednn", g, cluster, profiles))
    modnn = rows_per_device(plan_with("modnn", g, cluster, profiles))
    assert mednn[0, 1] > mednn[0, 0] and mednn[3, 1] < mednn[3, 0]  # follows each unit
    assert not np.array_equal(mednn, modnn)


def test_deepthings_one_volume_equal_rows(vgg16: ModelGraph, db: Cluster):
    plan = run_planner("deepthings", vgg16, db)
    assert plan.partition == [(0, vgg16.num_units - 1)]
    assert np.ptp(rows_per_device(plan)) <= 1


def test_deeperthings_stages_equal_rows(vgg16: ModelGraph, db: Cluster):
    plan = run_planner("deeperthings", vgg16, db)
    assert plan.partition == named_partition("stages", vgg16) and len(plan.volumes) == 5
    assert (np.ptp(rows_per_device(plan), axis=1) <= 1).all()


def test_offload_picks_a_xavier(vgg16: ModelGraph, db: Cluster, db_sim: Simulator):
    plan = run_planner("offload", vgg16, db)
    rows = rows_per_device(plan)
    assert (rows > 0).sum() == 1 and plan.meta["device"].startswith("xavier")
    alone = plan.meta["alone_latency_s"]
    assert db_sim.simulate(plan).latency == pytest.approx(min(alone.values()), rel=1e-12)


# -- AOFL: brute force on its own model -----------------------------------------------------------


def dp_partition_cost(tau: np.ndarray, max_volumes: int | None = None) -> float:
    """Cheapest partition by dynamic programming over (units covered, volumes used): an
    independent check of the vectorised brute force."""
    U = tau.shape[0]
    V = max_volumes or U
    best = np.full((U + 1, V + 1), np.inf)
    best[0, 0] = 0.0
    for end in range(1, U + 1):
        for v in range(1, V + 1):
            best[end, v] = min(best[start, v - 1] + tau[start, end - 1] for start in range(end))
    return float(best[U].min())


@pytest.mark.parametrize("max_volumes", [None, 1, 3])
def test_brute_force_equals_dynamic_programming(max_volumes):
    rng = np.random.default_rng(0)
    U = 9
    tau = np.triu(rng.uniform(0.5, 2.0, (U, U))) + np.tril(np.full((U, U), np.inf), -1)
    mask, cost, seen = brute_force_partitions(tau, max_volumes, chunk=37)  # chunks that do not divide
    assert search_partitions(tau, max_volumes) == (mask, cost, seen)
    assert cost == pytest.approx(dp_partition_cost(tau, max_volumes), rel=1e-12)
    assert seen == sum(math.comb(U - 1, k) for k in range(min(max_volumes or U, U)))
    starts = [0] + [i for i in range(1, U) if mask >> (i - 1) & 1]
    assert len(starts) <= (max_volumes or U)
    part = from_starts(starts, U)
    assert sum(tau[first, last] for first, last in part) == pytest.approx(cost, rel=1e-12)


def test_aofl_partition_beats_deeperthings_on_its_own_model(vgg16: ModelGraph, db: Cluster, db_sim: Simulator):
    plan = run_planner("aofl", vgg16, db)
    assert plan.meta["candidates"] == 2 ** (vgg16.num_units - 1)
    model = LinearModel.build(vgg16, db)
    tau, _ = price_volumes(model, vgg16.num_units)
    aofl = sum(tau[first, last] for first, last in plan.partition)
    stages = sum(tau[first, last] for first, last in named_partition("stages", vgg16))
    assert aofl <= stages and aofl == pytest.approx(plan.meta["model_latency_s"], rel=1e-9)
    # the model's number is the one it chose on; the simulator's is reported beside it
    assert db_sim.simulate(plan).latency == pytest.approx(plan.meta["simulated_latency_s"], rel=1e-12)
    few = run_planner("aofl", vgg16, db, max_volumes=3)
    assert len(few.volumes) <= 3 and few.meta["model_latency_s"] >= aofl


# -- the linear maths -----------------------------------------------------------------------------


def test_water_fill_is_the_min_max_optimum():
    rng = np.random.default_rng(3)
    for _ in range(20):
        alpha, beta = rng.uniform(0, 5, 4), rng.uniform(0.1, 2, 4)
        rows, tau = water_fill(alpha, beta, 10.0)
        assert rows.sum() == pytest.approx(10.0) and (rows >= 0).all()
        active = rows > 1e-12
        np.testing.assert_allclose((alpha + beta * rows)[active], tau)
        assert (alpha[~active] >= tau - 1e-12).all()
        # no random feasible split does better
        other = rng.dirichlet(np.ones(4), 200) * 10.0
        worst = np.where(other > 0, alpha + beta * other, 0.0).max(axis=1)
        assert (worst >= tau - 1e-9).all()


def test_largest_remainder():
    assert largest_remainder([1, 1, 1], 7).tolist() == [0, 3, 5, 7]
    assert largest_remainder([0.0, 2.5, 0.5], 6).tolist() == [0, 0, 5, 6]
    assert largest_remainder([3, 1], 0).tolist() == [0, 0, 0]


# -- the exact optimum ----------------------------------------------------------------------------


def test_exact_equals_independent_brute_force():
    g, cluster, profiles = small_setup(n=2)
    sim = Simulator(g, cluster, profiles=profiles)
    part = named_partition("layers", g)
    heights = [g.units[last].height for _, last in part]
    best = np.inf
    for inner in itertools.product(*[range(h + 1) for h in heights]):  # 7*7*4*4 plans, one by one
        cuts = [[0, x, h] for x, h in zip(inner, heights, strict=True)]
        best = min(best, sim.simulate(Plan.from_volumes("b", g, cluster, part, cuts)).latency)
    plan = plan_exact(g, cluster, partition="layers", grid=0, profiles=profiles, chunk=100)
    assert plan.meta["candidates"] == 7 * 7 * 4 * 4
    assert plan.meta["latency_s"] == pytest.approx(best, rel=1e-12)
    assert sim.simulate(plan).latency == pytest.approx(best, rel=1e-12)


def test_no_planner_beats_the_exact_optimum(small):
    """On the small model every row is on the grid (grid=0), so every planner's plan lies in the
    exact search of its own partition: none may be faster."""
    g, cluster, profiles, sim = small
    for name in VOLUME:
        plan = plan_with(name, g, cluster, profiles)
        latency = sim.simulate(plan).latency
        starts = ",".join(map(str, starts_of(plan.partition)))
        exact = plan_exact(g, cluster, partition=starts, grid=0, profiles=profiles)
        assert exact.partition == plan.partition
        assert exact.meta["latency_s"] <= latency + 1e-12, name


def test_exact_on_vgg16_grid_beats_on_grid_heuristics(vgg16: ModelGraph, db: Cluster, db_sim: Simulator):
    # two volumes, cuts on multiples of H/4: 35 cut vectors per volume for 4 devices
    exact = run_planner("exact", vgg16, db, partition="0,10", grid=4)
    assert exact.meta["candidates"] == 35**2 == count_candidates([28, 7], 4, 4)
    latency = db_sim.simulate(exact).latency
    assert latency == pytest.approx(exact.meta["latency_s"], rel=1e-12)
    table = {tuple(c) for c in grid_cuts(28, 4, 4)}
    assert tuple(equal_cuts(28, 4)) in table  # the equal split lies on the grid
    equal = run_planner("equal", vgg16, db, partition="0,10")
    assert latency <= db_sim.simulate(equal).latency
    alone = np.array([[0, 28, 28, 28, 28], [0, 7, 7, 7, 7]])
    assert latency <= db_sim.score(exact.partition, alone)


def test_exact_refuses_a_search_too_large(vgg16: ModelGraph, db: Cluster):
    with pytest.raises(ConfigError, match="max_candidates"):  # enumeration: refused before it starts
        run_planner("exact", vgg16, db, partition="stages", grid=8, method="enumerate")
    with pytest.raises(ConfigError, match="max_candidates"):  # branch and bound: once over budget
        run_planner("exact", vgg16, db, partition="stages", grid=8, max_candidates=10_000)


def test_cli_set_passes_options(capsys):
    rc = cli.main(
        [
            "plan",
            "exact",
            "--model",
            "vgg16",
            "--devices",
            "DB",
            "--bandwidth",
            "300",
            "--partition",
            "0,10",
            "--set",
            "grid=2",
            "--json",
        ]
    )
    assert rc == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["meta"]["grid"] == 2 and len(plan["volumes"]) == 2
    assert cli.main(["plan", "exact", "--set", "grid"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("max_volumes", [None, 1, 2, 4])
def test_the_dp_breaks_ties_as_the_brute_force_does(max_volumes):
    """Integer volume costs make many partitions tie: the DP must pick the brute force's one (the
    numerically smallest mask) every time, not just an optimum."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        U = int(rng.integers(1, 12))
        tau = np.triu(rng.integers(1, 4, (U, U)).astype(float)) + np.tril(np.full((U, U), np.inf), -1)
        assert search_partitions(tau, max_volumes) == brute_force_partitions(tau, max_volumes)


def test_the_dp_searches_a_100_unit_chain():
    rng = np.random.default_rng(3)
    U = 100
    length = np.arange(U)[None, :] - np.arange(U)[:, None] + 1
    tau = np.where(length > 0, length * rng.uniform(1.0, 2.0, (U, U)), np.inf)
    tau[np.arange(U), np.arange(U)] = 0.5  # every unit alone is cheapest
    mask, cost, seen = search_partitions(tau)
    assert mask == (1 << (U - 1)) - 1 and cost == pytest.approx(0.5 * U) and seen == 2 ** (U - 1)


def test_aofl_plans_what_the_brute_force_finds(vgg16: ModelGraph, db: Cluster):
    tau, _ = price_volumes(LinearModel.build(vgg16, db), vgg16.num_units)
    for k in (None, 3):
        mask, cost, _ = brute_force_partitions(tau, k)
        plan = run_planner("aofl", vgg16, db, **({} if k is None else {"max_volumes": k}))
        starts = [0] + [i for i in range(1, vgg16.num_units) if mask >> (i - 1) & 1]
        assert plan.meta["partition"] == ",".join(map(str, starts)) and plan.meta["model_latency_s"] == cost


def test_lcpss_volume_terms_equal_the_row_maths(vgg16: ModelGraph):
    """The per-volume store gives what summing the row maths over the partition gives."""
    from splitgym.costmodels.volumes.lcpss import LCPSS

    lc = LCPSS(vgg16, 4, alpha=0.5, samples=20)
    part = [(0, 3), (4, 9), (10, 17)]
    m, T, O, prev = lc.maths, np.zeros(20), np.zeros(20), None
    for first, last in part:
        cuts = lc.cuts(int(m.heights[last]))
        ranges = m.ranges(first, last, cuts)
        if prev is not None:
            lo, hi = ranges[-1]
            T += m.received_bytes(first, lo, hi, prev).sum(axis=(1, 2))
        O += m.operations(first, last, ranges)
        prev = cuts
    t, o = lc.traffic_and_ops(part)
    assert np.array_equal(t, T) and np.array_equal(o, O) and T.sum() > 0
