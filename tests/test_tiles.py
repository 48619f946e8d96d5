"""NPTP's tile geometry and cost model: layouts, ownership per layer, halo volumes, Fig. 2,
compute from profiles, links, memory caps, tile plans."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_cost import (
    TileCostModel,
    exchanges,
    intersect,
    memory_caps,
    plan_rects,
    score_tiles,
    tile_plan,
)
from splitgym.costmodels.tiles.tile_layouts import (
    COLS,
    ROWS,
    Cut,
    all_partitions,
    equal_strips,
    grid,
    is_partition,
    layer_rects,
    multilevel,
    scale_rects,
    shared_boundary,
    strips,
    t_layout,
)

from .helpers import synthetic_profile

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def cluster3(mbps: float = 8.0, latency_ms: float = 0.0, board: str = "local-cpu") -> Cluster:
    return Cluster.from_config(
        {"name": "t3", "devices": [{"name": f"d{i}", "board": board} for i in range(3)]},
        {"name": "n", "bandwidth_mbps": mbps, "latency_ms": latency_ms},
    )


def fig2_graph() -> ModelGraph:
    """Fig. 2: one 3x3 convolution, stride 1, on a 6x6 single-channel map ("same" padding)."""
    return ModelGraph.from_module(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)), (1, 6, 6), name="fig2")


def small_graph() -> ModelGraph:
    """Strides, dilation, odd kernels and pools: boundaries that do not stay aligned."""
    m = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv2d(5, 4, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 3, 1),
    )
    return ModelGraph.from_module(m, (3, 37, 29), name="small")


def model_for(graph: ModelGraph, cluster: Cluster, per_row: float = 1e-3, **kw) -> TileCostModel:
    return TileCostModel(graph, cluster, profiles={"local-cpu": synthetic_profile(graph, per_row)}, **kw)


# -- layouts --------------------------------------------------------------------------------------
def test_layout_builders_and_fig2_shapes():
    assert strips(6, 6, [2, 2, 2]) == [Region(0, 2, 0, 6), Region(2, 4, 0, 6), Region(4, 6, 0, 6)]
    assert equal_strips(7, 5, 3, COLS) == [Region(0, 7, 0, 2), Region(0, 7, 2, 3), Region(0, 7, 3, 5)]
    assert t_layout(6, 6, 3, 3) == [Region(0, 3, 0, 6), Region(3, 6, 0, 3), Region(3, 6, 3, 6)]
    assert grid(4, 4, [0, 2, 4], [0, 1, 4]) == [
        Region(0, 2, 0, 1),
        Region(0, 2, 1, 4),
        Region(2, 4, 0, 1),
        Region(2, 4, 1, 4),
    ]
    # taken from the end: device 1 at the bottom, device 2 on the right of what is left
    assert multilevel(6, 6, [Cut(ROWS, 2, 1), Cut(COLS, 1, 1)]) == [
        Region(4, 6, 0, 6),
        Region(0, 4, 5, 6),
        Region(0, 4, 0, 5),
    ]
    assert shared_boundary(Region(0, 3, 0, 6), Region(3, 6, 0, 3)) == 3
    assert shared_boundary(Region(0, 3, 0, 3), Region(3, 6, 3, 6)) == 0  # corner only


def test_bad_layouts_are_one_line_errors():
    with pytest.raises(PlanError, match="strips: sizes must be >= 0 and sum to 6"):
        strips(6, 6, [2, 2, 3])
    with pytest.raises(PlanError, match=r"cuts.1.size: must lie in 0..6"):
        multilevel(6, 6, [Cut(ROWS, 3), Cut(COLS, 7)])
    with pytest.raises(PlanError, match="grid.col_edges"):
        grid(4, 4, [0, 4], [0, 5])


cut_lists = st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1), st.integers(0, 1)), min_size=0, max_size=5)


def _cuts(h: int, w: int, raw: list[tuple[int, float, int]]) -> list[Cut]:
    rem = [h, w]
    out = []
    for axis, frac, side in raw:
        size = int(frac * rem[axis])
        out.append(Cut(axis, size, side))
        rem[axis] -= size
    return out


@settings(max_examples=80, **SETTINGS)
@given(h=st.integers(1, 40), w=st.integers(1, 40), raw=cut_lists, hl=st.integers(1, 40), wl=st.integers(1, 40))
def test_multilevel_layouts_partition_the_image_and_every_layer(h, w, raw, hl, wl):
    rects = multilevel(h, w, _cuts(h, w, raw))
    assert len(rects) == len(raw) + 1
    assert is_partition(h, w, rects)
    # the ownership rule keeps an exact partition on any smaller (or larger) layer
    assert is_partition(hl, wl, layer_rects(rects, h, w, hl, wl))


@pytest.mark.parametrize("g,n,count", [(2, 2, 2), (2, 3, 4), (2, 4, 1), (3, 2, 4), (3, 9, 1)])
def test_all_partitions_counts_by_hand(g, n, count):
    parts = list(all_partitions(g, g, n))
    assert len(parts) == count
    assert len({tuple(p) for p in parts}) == count
    assert all(is_partition(g, g, p) and len(p) == n for p in parts)


def test_all_partitions_of_three_are_the_multilevel_family():
    """Every partition of a rectangle into 3 rectangles is strips or a T: the multilevel family
    (one piece cut off, then the rest in two) with sides and device orders covers them all."""
    g = 4
    exhaustive = {frozenset(p) for p in all_partitions(g, g, 3)}
    family = set()
    for a1 in (ROWS, COLS):
        for s1 in range(1, g):
            for side1 in (0, 1):
                for a2 in (ROWS, COLS):
                    ext = g - s1 if a2 == a1 else g
                    for s2 in range(1, ext):
                        family.add(frozenset(multilevel(g, g, [Cut(a1, s1, side1), Cut(a2, s2)])))
    assert exhaustive == family
    assert scale_rects([Region(0, 1, 0, 2)], 4, 4, 224, 224) == [Region(0, 56, 0, 112)]


# -- halo exchange ---------------------------------------------------------------------------------
def _fig2_counts(rects):
    g, cl = fig2_graph(), cluster3()
    exact = model_for(g, cl).score(rects)
    edges = model_for(g, cl, counting="edges").score(rects)
    return int(exact.layer_elements.sum()), int(edges.layer_elements.sum())


def test_fig2_strips_share_24_units():
    assert _fig2_counts(strips(6, 6, [2, 2, 2])) == (24, 24)


def test_fig2_t_layout_shares_18_units_without_diagonal_corners():
    """PAPERS-AUDIT A.2: the T layout (A on top 3 rows, B/C bottom-left/right 3x3) needs 18 only
    when diagonal corner elements are not counted; the exact count (what executors move) is 20."""
    assert _fig2_counts(t_layout(6, 6, 3, 3)) == (20, 18)


@settings(max_examples=40, **SETTINGS)
@given(raw=cut_lists)
def test_needed_region_is_own_plus_received_pieces(raw):
    g = small_graph()
    _, h, w = g.input_shape
    rects = multilevel(h, w, _cuts(h, w, raw))
    prev = rects
    for x in exchanges(g, rects):
        u = g.units[x.unit]
        assert is_partition(u.out_shape[1], u.out_shape[2], x.owned)
        for d, need in enumerate(x.needed):
            pieces = [p for s, t, p in x.recv if t == d]
            own = intersect(need, prev[d])
            got = (0 if own.empty else own.rows * own.cols) + sum(p.rows * p.cols for p in pieces)
            assert got == need.rows * need.cols
            assert all(not intersect(p, prev[d]).rows * intersect(p, prev[d]).cols for p in pieces)
        prev = x.owned


def test_one_device_needs_no_halo(vgg16):
    g = ModelGraph.from_torchvision("vgg11", 64)
    cl = Cluster.from_config({"name": "one", "devices": [{"name": "a", "board": "local-cpu"}]}, 8.0)
    s = TileCostModel(g, cl).score([Region(0, 64, 0, 64)])
    assert s.messages == 0 and s.total_bytes == 0 and s.comm_seconds[0] == 0
    assert s.latency == pytest.approx(s.compute[0]) and s.compute[0] > 0


# -- compute, links, memory --------------------------------------------------------------------------
def test_compute_is_the_profile_at_the_equal_area_band():
    g, cl = small_graph(), cluster3()
    per = 1e-3
    m = model_for(g, cl, per_row=per)
    _, h, w = g.input_shape
    rects = t_layout(h, w, 12, 10)
    s = m.score(rects)
    for d, r in enumerate(rects):
        want = 0.0
        for u in g.units:
            o = layer_rects([r], h, w, u.out_shape[1], u.out_shape[2])[0]
            want += per * o.rows * o.cols / u.out_shape[2]  # linear profile: rows of equal area
        assert s.compute[d] == pytest.approx(want)


def test_compute_scales_with_area_across_image_sizes():
    """A profile measured at 64x64 answers for 128x128 by area: the whole image costs 4x."""
    g64 = ModelGraph.from_torchvision("vgg11", 64)
    g128 = ModelGraph.from_torchvision("vgg11", 128)
    cl = Cluster.from_config({"name": "one", "devices": [{"name": "a", "board": "local-cpu"}]}, 8.0)
    s64 = TileCostModel(g64, cl).score([Region(0, 64, 0, 64)])
    s128 = TileCostModel(g128, cl, profiles={"local-cpu": TileCostModel(g64, cl).profiles[0]}).score(
        [Region(0, 128, 0, 128)]
    )
    assert s128.compute[0] == pytest.approx(4 * s64.compute[0])


def test_comm_time_is_bytes_over_the_link_plus_latency_per_message():
    g = small_graph()
    _, h, w = g.input_shape
    rects = equal_strips(h, w, 3)
    s0 = model_for(g, cluster3(mbps=2.0)).score(rects)
    assert s0.total_bytes > 0
    np.testing.assert_allclose(s0.comm_seconds, s0.comm_bytes * 8 / 2e6)
    np.testing.assert_allclose(s0.latency, (s0.compute + s0.comm_seconds).max())
    s1 = model_for(g, cluster3(mbps=2.0, latency_ms=5.0)).score(rects)
    assert s1.comm_seconds.sum() == pytest.approx(s0.comm_seconds.sum() + s1.messages * 5e-3)
    assert s1.messages == s0.messages > 0
    # the middle strip talks to two neighbours, the outer ones to one
    assert s0.comm_bytes[1] > s0.comm_bytes[0] and s0.comm_bytes[1] > s0.comm_bytes[2]


def test_memory_caps_make_plans_infeasible_and_rank_last():
    g = small_graph()
    _, h, w = g.input_shape
    rects = equal_strips(h, w, 3)
    free = model_for(g, cluster3()).score(rects)
    assert free.feasible and not np.isfinite(free.memory_cap).any()
    weights = sum(u.params for u in g.units) * 4
    assert (free.peak_memory > weights).all()
    tight_mb = float(free.peak_memory[0] / 2**20) * 0.99
    s = model_for(g, cluster3(), memory_mb={"d0": tight_mb}).score(rects)
    assert not s.feasible and s.overflow > 0
    assert s.key > free.key and s.key[0] == 1
    with pytest.raises(ConfigError, match="memory_mb: unknown device 'zz'"):
        model_for(g, cluster3(), memory_mb={"zz": 1.0})


def test_memory_caps_come_from_the_device_config():
    caps = memory_caps("nptp3")
    assert caps.mb == {"xavier-0": 8192.0, "tx2-0": 4096.0, "nano-0": 2048.0}
    assert caps.share == {"xavier-0": 0.5, "tx2-0": 0.4, "nano-0": 0.3}
    with pytest.raises(ConfigError, match="memory_mb: must be a number > 0"):
        memory_caps({"devices": [{"name": "a", "board": "nano", "memory_mb": -1}]})
    with pytest.raises(ConfigError, match="activation_share: must be a number > 0"):
        memory_caps({"devices": [{"name": "a", "board": "nano", "activation_share": "x"}]})


def test_activation_share_caps_bind_at_every_size():
    g = small_graph()
    _, h, w = g.input_shape
    cl = cluster3()
    whole = model_for(g, cl).score([Region(0, h, 0, w), Region(0, 0, 0, 0), Region(0, 0, 0, 0)])
    # one device holding everything needs the whole-image activation peak
    share_cap = model_for(g, cl, activation_share={"d0": 0.5})
    assert not share_cap.score([Region(0, h, 0, w), Region(0, 0, 0, 0), Region(0, 0, 0, 0)]).feasible
    assert share_cap.activation_cap[0] == pytest.approx(whole.activation[0] * 0.5)
    assert share_cap.score(equal_strips(h, w, 3)).feasible


def test_t_layout_beats_strips_when_links_dominate():
    g = ModelGraph.from_torchvision("vgg11", 64)
    cl = cluster3(mbps=4.0)
    m = TileCostModel(g, cl)
    strip, tee = m.score(equal_strips(64, 64, 3)), m.score(t_layout(64, 64, 21, 32))
    assert tee.total_bytes < strip.total_bytes
    assert tee.latency < strip.latency
    # the head runs on the device owning most of the last layer and comes after the objective
    assert strip.end_to_end > strip.latency and strip.head_device in cl.names


# -- plans ----------------------------------------------------------------------------------------
def test_tile_plan_round_trip_and_scoring(tmp_path):
    g = ModelGraph.from_torchvision("vgg11", 64)
    cl = cluster3()
    rects = t_layout(64, 64, 20, 30)
    plan = tile_plan("manual", g, cl, rects, memory_mb={"d1": 1e6}, note="x")
    assert plan.problems(g) == []
    from splitgym.costmodels.plan import load_plan

    back = load_plan(plan.save(tmp_path / "p.json"))
    assert plan_rects(back) == rects
    a = score_tiles(g, rects=back)
    b = TileCostModel(g, cl, memory_mb={"d1": 1e6}).score(rects)
    assert a.latency == pytest.approx(b.latency)
    assert a.memory_cap[1] == pytest.approx(1e6 * 2**20)
    bad = tile_plan("manual", g, cl, [Region(0, 20, 0, 64), Region(20, 64, 0, 30), Region(20, 64, 31, 64)])
    assert "gap" in str(bad.problems(g)[0])
    with pytest.raises(PlanError, match="tiles: need one tile per device"):
        TileCostModel(g, cl).score(rects[:2])
