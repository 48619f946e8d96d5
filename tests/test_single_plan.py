"""The single-plan fast path equals the batched numpy path: scores, breakdowns and env rollouts.

Every comparison forces the batched path on the same simulator (``sim.fast = False``) and asks for
equality to the last bit: the fast path does the same double operations in the same order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import BandwidthTrace, Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes import single_plan
from splitgym.costmodels.volumes.single_plan import FAST_MAX_N
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.envs.distredge import DistrEdgeEnv

from .helpers import synthetic_profile

PLANS = 40  # random decisions per (model, N, network)


def headless_graph() -> ModelGraph:
    """Convolutions only, no fully connected head: every part returns its rows to the requester."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1))
    return ModelGraph.from_module(m, (3, 20, 20), name="headless")


@pytest.fixture(scope="module")
def graphs(vgg16: ModelGraph) -> dict[str, ModelGraph]:
    return {
        "vgg16": vgg16,
        "resnet18": ModelGraph.from_torchvision("resnet18", input_size=64),
        "headless": headless_graph(),
    }


def make_sim(graph: ModelGraph, n: int, seed: int, traced: bool = False, medium: str = "switched") -> Simulator:
    """N heterogeneous synthetic devices, different caps, nonzero latency and overhead, and
    (``traced``) a time-varying cap on every other device; ``medium`` of the network."""
    rng = np.random.default_rng(seed)
    names = [f"d{k}" for k in range(n)]
    profiles = {
        f"b{k}": synthetic_profile(
            graph,
            rng.uniform(1e-5, 1e-3, graph.num_units).tolist(),
            head=float(rng.uniform(1e-4, 1e-3)),
            name=f"b{k}",
            fixed=float(rng.uniform(0, 1e-4)),
        )
        for k in range(n)
    }
    caps = {name: float(rng.uniform(5, 500)) for name in names + ["requester"]}
    traces = (
        {name: BandwidthTrace.synthetic(seed + k, duration_s=600) for k, name in enumerate(names) if k % 2}
        if traced
        else {}
    )
    net = Network(
        caps,
        latency_s=float(rng.uniform(0, 2e-3)),
        overhead_s=float(rng.uniform(0, 1e-3)),
        traces=traces,
        medium=medium,
    )
    return Simulator(graph, Cluster(f"c{n}", [Device(d, f"b{k}") for k, d in enumerate(names)], net), profiles=profiles)


def random_partition(rng: np.random.Generator, units: int) -> list[tuple[int, int]]:
    """Contiguous volumes with random boundaries (one volume up to one per unit)."""
    k = int(rng.integers(0, units))
    cuts = sorted(rng.choice(np.arange(1, units), size=k, replace=False).tolist()) if units > 1 else []
    bounds = [0] + cuts + [units]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]


def random_decisions(rng: np.random.Generator, graph: ModelGraph, part: list, n: int, batch: int) -> np.ndarray:
    """(batch, V, n+1) cuts: uniform sorted cut rows (many empty parts at large N), plus a plan
    that runs everything on one device (all other parts empty)."""
    vols = []
    for _, last in part:
        h = graph.units[last].height
        x = np.sort(rng.integers(0, h + 1, size=(batch, n - 1)), axis=1)
        vols.append(np.concatenate([np.zeros((batch, 1), np.int64), x, np.full((batch, 1), h)], axis=1))
    cuts = np.stack(vols, axis=1)
    k = int(rng.integers(0, n))
    cuts[0, :, : k + 1] = 0
    cuts[0, :, k + 1 :] = cuts[0, :, -1:]
    return cuts


def both_paths(sim: Simulator, fn, *args):
    """``fn(*args)`` on the fast path, then forced onto the batched path."""
    assert sim.single is not None, "the fast path is not in use"
    fast = fn(*args)
    sim.fast = False
    try:
        assert sim.single is None
        batched = fn(*args)
    finally:
        sim.fast = True
    return fast, batched


CASES = [(m, n) for m in ("vgg16", "resnet18", "headless") for n in (1, 2, 3, 4, 7, 16)]


@pytest.mark.parametrize("traced", [False, True], ids=["static", "traced"])
@pytest.mark.parametrize("model,n", CASES)
def test_score_equals_batched(graphs: dict[str, ModelGraph], model: str, n: int, traced: bool):
    g = graphs[model]
    sim = make_sim(g, n, seed=n, traced=traced)
    rng = np.random.default_rng(100 + n)
    for t in [0.0, 95.0, 333.0] if traced else [0.0]:
        sim.set_time(t)
        part = random_partition(rng, g.num_units)
        cuts = random_decisions(rng, g, part, n, PLANS)
        head = None if t == 0.0 else int(rng.integers(0, n))
        ref = sim.score(part, cuts, head)  # a batch: always the numpy path
        fast, one = both_paths(sim, lambda p, cs, h: [sim.score(p, c, h) for c in cs], part, cuts, head)
        np.testing.assert_array_equal(np.array(fast), ref)
        np.testing.assert_array_equal(np.array(one), ref)
        np.testing.assert_array_equal(sim.score(part, cuts[:1], head), ref[:1])  # a batch of one


@pytest.mark.parametrize("model,n", [("vgg16", 4), ("vgg16", 16), ("resnet18", 5), ("headless", 3)])
def test_simulate_breakdown_equals_batched(graphs: dict[str, ModelGraph], model: str, n: int):
    g = graphs[model]
    sim = make_sim(g, n, seed=7 * n, traced=True)
    sim.set_time(200.0)
    rng = np.random.default_rng(n)
    for i in range(6):
        part = random_partition(rng, g.num_units)
        cuts = random_decisions(rng, g, part, n, 1)[0]
        extra = {"head_device": f"d{int(rng.integers(0, n))}"} if i % 2 and g.head is not None else {}
        plan = Plan.from_volumes("r", g, sim.cluster, part, cuts, **extra)
        fast, batched = both_paths(sim, sim.simulate, plan)
        assert fast.to_json() == batched.to_json()
        for field in ("compute", "T", "peak_memory", "halo_rows"):
            np.testing.assert_array_equal(getattr(fast, field), getattr(batched, field))
        assert fast.latency == sim.score(part, cuts, fast.devices.index(fast.head_device) if extra else None)


@pytest.mark.parametrize(
    "model,n,traced",
    [("vgg16", 1, False), ("vgg16", 4, True), ("resnet18", 7, False), ("headless", 3, True), ("vgg16", 16, False)],
)
def test_shared_medium_fast_path_equals_batched(graphs: dict[str, ModelGraph], model: str, n: int, traced: bool):
    """On a shared medium too, scores and breakdowns of the two paths are equal to the last bit
    (and the medium changes them: contention only adds time)."""
    g = graphs[model]
    sim = make_sim(g, n, seed=3 * n, traced=traced, medium="shared")
    alone = make_sim(g, n, seed=3 * n, traced=traced)
    rng = np.random.default_rng(50 + n)
    for t in [0.0, 95.0] if traced else [0.0]:
        sim.set_time(t)
        alone.set_time(t)
        part = random_partition(rng, g.num_units)
        cuts = random_decisions(rng, g, part, n, PLANS)
        ref = sim.score(part, cuts)
        fast, one = both_paths(sim, lambda p, cs: [sim.score(p, c) for c in cs], part, cuts)
        np.testing.assert_array_equal(np.array(fast), ref)
        np.testing.assert_array_equal(np.array(one), ref)
        switched = alone.score(part, cuts)
        assert np.all(ref >= switched - 1e-12)
        assert n == 1 or np.any(ref > switched)
        plan = Plan.from_volumes("r", g, sim.cluster, part, cuts[0])
        fast_b, batched_b = both_paths(sim, sim.simulate, plan)
        assert fast_b.to_json() == batched_b.to_json()


def test_the_comparison_catches_a_wrong_fast_path(graphs: dict[str, ModelGraph], monkeypatch: pytest.MonkeyPatch):
    """One row of halo missing in the fast path's row maths must fail the equality above."""
    g = graphs["vgg16"]
    sim = make_sim(g, 4, seed=1)
    part = random_partition(np.random.default_rng(0), g.num_units)
    cuts = random_decisions(np.random.default_rng(1), g, part, 4, 20)
    ref = sim.score(part, cuts)
    real = single_plan._map_range
    monkeypatch.setattr(
        single_plan, "_map_range", lambda paths, a, b: (lambda r: (r[0], max(r[0], r[1] - 1)))(real(paths, a, b))
    )
    fast = np.array([sim.score(part, c) for c in cuts])
    assert not np.array_equal(fast, ref)


def test_many_devices_use_the_batched_path(graphs: dict[str, ModelGraph]):
    sim = make_sim(graphs["headless"], FAST_MAX_N + 1, seed=3)
    assert sim.single is None
    part = [(0, 1)]
    cuts = random_decisions(np.random.default_rng(0), graphs["headless"], part, FAST_MAX_N + 1, 3)
    np.testing.assert_array_equal([sim.score(part, c) for c in cuts], sim.score(part, cuts))


def rollout(env: DistrEdgeEnv, episodes: int, seed: int) -> list:
    """Observations, rewards, flags and latencies of a seeded random rollout."""
    rng = np.random.default_rng(seed)
    out = []
    obs, _ = env.reset(seed=seed)
    out.append(obs)
    for _ in range(episodes):
        done = False
        while not done:
            obs, reward, done, trunc, info = env.step(rng.uniform(-1.2, 1.2, env.action_space.shape))
            out += [obs, reward, done, trunc, info.get("latency"), info.get("clock")]
        obs, _ = env.reset()
        out.append(obs)
    return out


@pytest.mark.parametrize(
    "scenario,kwargs",
    [
        ("vgg11-DB-300-small", {}),
        ("vgg16-DB-300", {"reward": "relative"}),
        ("vgg16-dynamic-nano", {"time_per_episode": 60.0}),
        ("vgg11-DB-300-small", {"action": "shares"}),
    ],
)
def test_env_rollout_unchanged(scenario: str, kwargs: dict):
    fast_env = DistrEdgeEnv(scenario, **kwargs)
    slow_env = DistrEdgeEnv(scenario, **kwargs)
    slow_env.sim.fast = False
    assert fast_env.sim.single is not None and slow_env.sim.single is None
    fast, slow = rollout(fast_env, 12, seed=5), rollout(slow_env, 12, seed=5)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast_env.last_cuts, slow_env.last_cuts)
    assert fast_env.breakdown().to_json() == slow_env.breakdown().to_json()
