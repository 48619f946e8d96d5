"""The exact search's branch and bound: the same plan and latency as enumerating every candidate
(ties included), on switched and shared media, volume by volume and device by device, and the
bound it prunes with never exceeds a plan's latency."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from splitgym.agents.planners.volumes import exact_bnb
from splitgym.agents.planners.volumes.exact import plan_exact
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator

from .helpers import random_cuts, synthetic_profile


def chain(stride1x1: bool = False) -> ModelGraph:
    """Five convs on 16 rows (a 1x1 stride-2 one skips every other row when ``stride1x1``)."""
    torch.manual_seed(0)
    down = nn.Conv2d(4, 4, 1, stride=2) if stride1x1 else nn.MaxPool2d(2)
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        down,
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    return ModelGraph.from_module(m, (1, 16, 16), name="chain")


def setup(n: int, medium: str = "switched", stride1x1: bool = False) -> tuple[ModelGraph, Cluster, dict]:
    """n devices of three speeds (one with a fixed cost) on unequal links."""
    g = chain(stride1x1)
    speeds = [(1e-3, 0.0), (2e-3, 0.0), (5e-3, 1e-3), (1.5e-3, 2e-4)]
    profiles = {f"b{i}": synthetic_profile(g, s, head=1e-4, name=f"b{i}", fixed=f) for i, (s, f) in enumerate(speeds)}
    names = [f"d{i}" for i in range(n)]
    caps = {d: [0.8, 1.6, 0.4, 1.2][i % 4] for i, d in enumerate(names)}
    net = Network({**caps, "requester": 1.6}, medium=medium)
    devices = [Device(d, f"b{i % 4}") for i, d in enumerate(names)]
    return g, Cluster("chain", devices, net), profiles


CASES = [
    (2, "switched", "0,2", 0),
    (3, "switched", "0,1,3", 4),
    (3, "shared", "0,2", 8),
    (4, "switched", "0,2", 8),
    (4, "shared", "0,1,2", 4),
]


@pytest.mark.parametrize("n,medium,partition,grid", CASES)
@pytest.mark.parametrize("table_max", [4096, 1])  # volume by volume, and device by device
def test_branch_and_bound_equals_enumeration(monkeypatch, n, medium, partition, grid, table_max) -> None:
    monkeypatch.setattr(exact_bnb, "TABLE_MAX", table_max)
    g, cluster, profiles = setup(n, medium)
    bnb = plan_exact(g, cluster, partition=partition, grid=grid, profiles=profiles)
    full = plan_exact(g, cluster, partition=partition, grid=grid, profiles=profiles, method="enumerate")
    assert bnb.meta["method"] == "branch-and-bound" and full.meta["method"] == "enumerate"
    assert bnb.meta["latency_s"] == full.meta["latency_s"]  # the same float: the same calls
    assert [v.rows for v in bnb.volumes] == [v.rows for v in full.volumes]  # the same tie-break


def test_ties_go_to_the_first_candidate_as_in_enumeration() -> None:
    """Identical devices on identical links: many plans tie; both pick the same one."""
    g = chain()
    prof = {"same": synthetic_profile(g, 1e-3, name="same")}
    net = Network({"a": 1.0, "b": 1.0, "c": 1.0, "requester": 1.0})
    cluster = Cluster("twins", [Device(d, "same") for d in "abc"], net)
    bnb = plan_exact(g, cluster, partition="0,2", grid=4, profiles=prof)
    full = plan_exact(g, cluster, partition="0,2", grid=4, profiles=prof, method="enumerate")
    assert [v.rows for v in bnb.volumes] == [v.rows for v in full.volumes]


def test_a_model_that_skips_rows_falls_back_to_enumeration() -> None:
    """A 1x1 stride-2 conv reads every other row, so a part's clock may not bound the end."""
    g, cluster, profiles = setup(3, stride1x1=True)
    part = named_partition("0,2", g)
    assert not exact_bnb.bound_holds(Simulator(g, cluster, profiles=profiles), part)
    plan = plan_exact(g, cluster, partition="0,2", grid=4, profiles=profiles)
    assert plan.meta["method"] == "enumerate"


def test_the_budget_and_the_method_are_checked() -> None:
    g, cluster, profiles = setup(4)
    with pytest.raises(ConfigError, match="max_candidates"):
        plan_exact(g, cluster, partition="0,2", grid=0, profiles=profiles, max_candidates=100)
    with pytest.raises(ConfigError, match="method"):
        plan_exact(g, cluster, profiles=profiles, method="guess")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 4), shared=st.booleans())
def test_the_bound_never_exceeds_the_latency(seed: int, n: int, shared: bool) -> None:
    """Every device clock after every volume, and the partial-vector bound, are <= the end."""
    g, cluster, profiles = setup(n, "shared" if shared else "switched")
    sim = Simulator(g, cluster, profiles=profiles, fast=False)
    part = named_partition("0,1,3", g)
    rng = np.random.default_rng(seed)
    cuts = np.stack([random_cuts(rng, g.units[last].height, n) for _, last in part])[None]
    end = sim.score(part, cuts)[0]
    T, prev = np.zeros((1, n)), None
    costs = [exact_bnb._part_costs(sim, p, np.arange(g.units[p[1]].height + 1)) for p in part]  # grid 0
    for v, (f, l) in enumerate(part):
        assert exact_bnb._next_volume_bound(costs[v], T)[0] <= end + 1e-12
        rest = exact_bnb._rest_bounds(costs[v])
        for j in range(1, n):  # the unfilled parts empty, as the search bounds a partial vector
            partial = cuts[:, v].copy()
            partial[:, j + 1 :] = partial[:, j : j + 1]
            assert sim.advance(f, l, partial, T, prev).T.max() <= end + 1e-12
            assert T[0, j:].min() + rest[j][cuts[0, v, j]] <= end + 1e-12
        T = sim.advance(f, l, cuts[:, v], T, prev).T
        prev = cuts[:, v]
        assert T.max() <= end + 1e-12
