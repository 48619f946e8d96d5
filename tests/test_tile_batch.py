"""The tile cost model's numpy path (costmodels/tiles/tile_batch.py) against its Python loop, the
input scatter term and the ops / clock compute mode (NPTP Eqs. 1-3)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import DTYPE_BYTES, ModelGraph
from splitgym.costmodels.tiles import tile_batch
from splitgym.costmodels.tiles.tile_compute import clock_spec
from splitgym.costmodels.tiles.tile_cost import TileCostModel, TileScore
from splitgym.costmodels.tiles.tile_layouts import equal_strips, fraction_cuts, layer_rects, multilevel

from .test_tiles import model_for, small_graph


def cluster(n: int, mbps: float, medium: str = "switched", requester: float | None = None) -> Cluster:
    net = {"name": "n", "bandwidth_mbps": mbps, "latency_ms": 2.0, "overhead_ms": 0.5, "medium": medium}
    if requester is not None:
        net["requester_mbps"] = requester
    return Cluster.from_config(
        {"name": f"t{n}", "devices": [{"name": f"d{i}", "board": "local-cpu"} for i in range(n)]}, net
    )


def random_layouts(rng: np.random.Generator, h: int, w: int, n: int, k: int) -> list:
    out = []
    for _ in range(k):
        cuts = fraction_cuts(h, w, rng.integers(0, 2, n - 1), rng.integers(0, 2, n - 1), rng.uniform(0, 1, n - 1))
        order = rng.permutation(n)
        pieces = multilevel(h, w, cuts)
        out.append([pieces[i] for i in order])
    return out


def close(a: TileScore, b: TileScore) -> None:
    for f in dataclasses.fields(TileScore):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(x, float):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15, err_msg=f.name)
        else:
            assert x == y, f.name


@pytest.mark.parametrize("medium", ["switched", "shared"])
@pytest.mark.parametrize("counting", ["exact", "edges"])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_numpy_path_equals_the_loop_on_random_plans(n, counting, medium):
    g = small_graph()
    m = model_for(
        g,
        cluster(n, 3.0, medium),
        counting=counting,
        memory_mb={"d0": 1.0},
        activation_share={"d1": 0.3},
        scatter=bool(n % 2),
    )
    _, h, w = g.input_shape
    layouts = random_layouts(np.random.default_rng(n), h, w, n, 80)
    for i, rects in enumerate(layouts):
        head = None if i % 3 else f"d{i % n}"
        close(m.score(rects, head), m.score(rects, head, path="python"))
    lat, over = m.score_batch(np.array(layouts))
    ref = [m.score(r, path="python") for r in layouts]
    np.testing.assert_allclose(lat, [s.latency for s in ref], rtol=1e-12)
    np.testing.assert_allclose(over, [s.overflow for s in ref], rtol=1e-12)
    assert (over > 0).any() and (over == 0).any()  # both kinds of plan were drawn


@pytest.mark.parametrize("search_min", [0, 10**12])  # the knot lookup by searchsorted and by comparison
def test_numpy_path_on_a_real_profile_with_interpolation(search_min, monkeypatch):
    """Derived (non-linear) profiles of VGG-11 at 64: interpolation between measured heights."""
    monkeypatch.setattr(tile_batch, "SEARCH_MIN", search_min)
    g = ModelGraph.from_torchvision("vgg11", (64, 64))
    cl = Cluster.from_config("nptp3", 4.0)
    m = TileCostModel(g, cl, scatter=True)
    layouts = random_layouts(np.random.default_rng(0), 64, 64, 3, 40)
    for rects in layouts:
        close(m.score(rects), m.score(rects, path="python"))
    lat, _ = m.score_batch(np.array(layouts))
    np.testing.assert_allclose(lat, [m.score(r, path="python").latency for r in layouts], rtol=1e-12)


def test_scatter_adds_each_tiles_input_on_its_link():
    g = small_graph()
    c, h, w = g.input_shape
    rects = equal_strips(h, w, 3)
    off = model_for(g, cluster(3, 4.0, requester=2.0))
    on = model_for(g, cluster(3, 4.0, requester=2.0), scatter=True)
    a, b = off.score(rects), on.score(rects)
    want = [2e-3 + 0.5e-3 + r.rows * r.cols * c * DTYPE_BYTES * 8 / 2e6 for r in rects]  # min(2, 4) Mbps
    np.testing.assert_allclose(b.scatter_seconds, want)
    np.testing.assert_allclose(b.compute + b.comm_seconds + b.scatter_seconds, a.compute + a.comm_seconds + want)
    assert b.latency == pytest.approx(max(a.compute + a.comm_seconds + want))
    assert a.scatter_seconds is None and b.to_json()["per_device"][0]["scatter_s"] == pytest.approx(want[0])
    shared = model_for(g, cluster(3, 4.0, "shared", requester=2.0), scatter=True).score(rects)
    np.testing.assert_allclose(shared.scatter_seconds, np.cumsum(want))  # one tile at a time


def test_ops_mode_is_flops_over_clock_times_ops_per_cycle():
    g = ModelGraph.from_torchvision("vgg11", (64, 64))
    cl = Cluster.from_config("nptp3", 4.0)
    m = TileCostModel(g, cl, compute="ops")
    s = m.score(equal_strips(64, 64, 3))
    ghz, per_cycle = clock_spec("xavier")
    assert (ghz, per_cycle) == (1.377, 1024.0)
    whole = sum(u.flops for u in g.units) / (ghz * 1e9 * per_cycle)
    assert m.full_seconds(0) == pytest.approx(whole)
    rects = equal_strips(64, 64, 3)
    for d, board in enumerate(("xavier", "tx2", "nano")):
        rate = np.prod(clock_spec(board)) * 1e9
        own = [layer_rects(rects, 64, 64, u.out_shape[1], u.out_shape[2])[d] for u in g.units]
        want = sum(u.flops * o.rows * o.cols / (u.out_shape[1] * u.out_shape[2]) for u, o in zip(g.units, own))
        assert s.compute[d] == pytest.approx(want / rate)  # Eq. 1 shared by area, over Eq. 3's rate
    assert s.compute[2] > s.compute[1] > s.compute[0]  # nano slower than tx2 slower than xavier
    with pytest.raises(ConfigError, match="compute: board 'local-cpu' has no published clock"):
        TileCostModel(g, cluster(2, 4.0), compute="ops")
    with pytest.raises(ConfigError, match="compute: must be one of profile, ops, got 'flops'"):
        TileCostModel(g, cl, compute="flops")
