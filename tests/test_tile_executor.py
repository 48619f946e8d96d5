"""Tile execution with per-layer halo exchange equals the unsplit model (in-process and gloo)."""

from __future__ import annotations

import pytest
import torch

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_cost import score_tiles, tile_plan
from splitgym.costmodels.tiles.tile_layouts import (
    ROWS,
    Cut,
    equal_strips,
    grid,
    multilevel,
    t_layout,
)
from splitgym.executors.tiles.tile_runner import (
    TileExecutor,
    assemble,
    reference_features,
    run_tiles_distributed,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _cluster(n: int) -> Cluster:
    return Cluster.from_config(
        {"name": f"c{n}", "devices": [{"name": f"d{i}", "board": "local-cpu"} for i in range(n)]}, 4.0
    )


def _check(graph: ModelGraph, rects: list[Region], seed: int = 0) -> TileExecutor:
    plan = tile_plan("test", graph, _cluster(len(rects)), rects)
    ex = TileExecutor(plan, graph)
    x = torch.randn(1, *graph.input_shape, generator=torch.Generator().manual_seed(seed))
    feats, out = ex.run(x)
    torch.testing.assert_close(feats, reference_features(graph, x))
    with torch.inference_mode():
        torch.testing.assert_close(out, graph.gm(x))
    return ex


@pytest.fixture(scope="module")
def vgg11_64() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg11", 64)


@pytest.mark.parametrize("layout", ["strips", "t", "grid", "multilevel", "slivers"])
def test_tiles_equal_the_unsplit_model_and_move_the_modelled_halo(vgg11_64, layout):
    rects = {
        "strips": equal_strips(64, 64, 3),
        "t": t_layout(64, 64, 21, 30),
        "grid": grid(64, 64, [0, 27, 64], [0, 33, 64]),
        "multilevel": multilevel(64, 64, [Cut(ROWS, 13, 1), Cut(1, 5, 0), Cut(ROWS, 20, 0)]),
        "slivers": multilevel(64, 64, [Cut(1, 1, 0), Cut(ROWS, 3, 1)]),  # tiles vanish on deep layers
    }[layout]
    ex = _check(vgg11_64, rects)
    modelled = score_tiles(vgg11_64, rects=ex.plan).layer_bytes
    assert ex.moved_bytes == [int(b) for b in modelled]
    assert sum(ex.moved_bytes) > 0


def test_tiles_at_224_equal_the_unsplit_model():
    g = ModelGraph.from_torchvision("vgg11", 224)
    _check(g, t_layout(224, 224, 75, 101))


def test_assemble_rejects_gaps():
    like = torch.zeros(1, 2, 4, 4)
    with pytest.raises(PlanError, match="pieces cover 4 of the 16 cells"):
        assemble(Region(0, 4, 0, 4), [(Region(0, 2, 0, 2), torch.zeros(1, 2, 2, 2))], like)


@pytest.mark.slow
def test_vgg16_at_2048_tiles_equal_the_unsplit_model():
    g = ModelGraph.from_torchvision("vgg16", 2048)
    _check(g, t_layout(2048, 2048, 700, 1000))


@pytest.mark.slow
def test_distributed_tiles_exchange_halos_and_equal_the_unsplit_model(vgg11_64):
    rects = t_layout(64, 64, 21, 30)
    plan = tile_plan("test", vgg11_64, _cluster(3), rects)
    res = run_tiles_distributed(plan, seed=2, timeout_s=300)
    assert res.feature_error < 1e-4 and res.output_error < 1e-4
    modelled = score_tiles(vgg11_64, rects=plan)
    assert sum(res.bytes_sent.values()) == int(modelled.total_bytes)
    assert all(v > 0 for v in res.bytes_sent.values())


def test_measured_compute_is_near_the_local_profile(vgg11_64):
    """Timed alone, each device's part costs about what the local-cpu profile predicts (shared
    machine: a loose band)."""
    from splitgym.costmodels.tiles.tile_cost import TileCostModel

    rects = t_layout(64, 64, 32, 32)
    plan = tile_plan("test", vgg11_64, _cluster(3), rects)
    measured = TileExecutor(plan, vgg11_64).run_timed(torch.randn(1, 3, 64, 64), repeats=3)
    predicted = TileCostModel(vgg11_64, _cluster(3)).score(rects).compute
    assert all(m > 0 for m in measured)
    ratio = sum(measured) / float(predicted.sum())
    assert 0.2 < ratio < 5.0, (measured, predicted.tolist())
