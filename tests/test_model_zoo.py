"""DistrEdge's detection and pose models (costmodels/zoo): each traces into units and a head as its
module says, splits exactly by rows, and the operations written for the row maths (YOLOv2's reorg,
OpenPose's carried features, SSD's static head layout) equal the originals bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module

from splitgym.costmodels.errors import UnsupportedModelError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import DEFAULT_INPUT, available_models, build_model, torchvision_module
from splitgym.costmodels.zoo import ZOO
from splitgym.costmodels.zoo.openpose import channel_select
from splitgym.costmodels.zoo.ssd import ANCHORS, CLASSES, head_outputs
from splitgym.costmodels.zoo.yolov2 import reorg
from tests.helpers import intermediates
from tests.test_graph import assert_exact, grid_split
from tests.test_own_model import _cli

#: name -> (units, last unit's output (C, H, W), head output or None) at the paper's input
SHAPES = {
    "yolov2": (20, (425, 13, 13), (845, 85)),
    "ssd300_vgg16": (13, (512, 38, 38), (8732, 4 + CLASSES)),
    "ssd300_resnet50": (15, (1024, 38, 38), (8732, 4 + CLASSES)),
    "openpose": (21, (57, 46, 46), None),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_units_and_head_at_the_papers_input(name: str):
    graph = ModelGraph.from_torchvision(name, weights=False)  # meta: shapes only
    units, last, head = SHAPES[name]
    assert graph.input_shape[1] == DEFAULT_INPUT[name]
    assert graph.num_units == units
    assert graph.units[-1].out_shape == last
    assert (graph.head.out_shape if graph.head else None) == head
    for u, v in zip(graph.units, graph.units[1:]):
        assert u.out_shape == v.in_shape


def test_yolov2_passthrough_is_one_block_split_by_rows():
    graph = ModelGraph.from_torchvision("yolov2", weights=False)
    block = graph.units[17]
    assert (block.kind, block.in_shape, block.out_shape) == ("block", (512, 26, 26), (1024 + 2048, 13, 13))
    # 13x13 path: maxpool (2/2), then five 3x3 convs (and two 1x1) spanning 11 pooled rows, i.e.
    # 2 * 10 + 2 = 22 input rows; the reorg's 2 rows lie inside them
    assert (block.stride, block.kernel) == (2, 2 * (1 + 2 * 5 - 1) + 2)
    assert graph.volume_input_range(17, 17, 0, 1)[-1][0] == 0


def test_openpose_stages_are_chained_units():
    graph = ModelGraph.from_torchvision("openpose", weights=False)
    stages = [u for u in graph.units if u.name.startswith("stages.")]
    assert len(stages) == 6 and all(u.kind == "block" for u in stages)
    assert [u.kernel for u in stages] == [7, 31, 31, 31, 31, 31]  # 3 3x3 convs; 5 7x7 convs
    assert [u.out_shape[0] for u in stages] == [185] * 5 + [57]


def test_reorg_equals_pixel_unshuffle():
    x = torch.randn(2, 8, 6, 4)
    assert torch.equal(reorg(8)(x), F.pixel_unshuffle(x, 2))


def test_channel_select_equals_the_slice():
    x = torch.randn(1, 185, 5, 7)
    assert torch.equal(channel_select(185, 57, 128)(x), x[:, 57:])


def test_ssd_head_layout_equals_torchvision_ssdhead():
    torch.manual_seed(0)
    sizes = [(8, 5), (16, 3), (8, 2), (4, 2), (4, 1), (4, 1)]
    head = torchvision_module("models.detection.ssd").SSDHead([c for c, _ in sizes], ANCHORS, CLASSES).eval()
    maps = [torch.randn(2, c, s, s) for c, s in sizes]
    with torch.no_grad():
        ref, ours = head(maps), head_outputs(head, maps)
    assert torch.equal(ours, torch.cat([ref["bbox_regression"], ref["cls_logits"]], -1))


def test_ssd_vgg16_is_torchvisions_network():
    ours = build_model("ssd300_vgg16", meta=True)
    with torch.device("meta"):
        tv = torchvision_module("models.detection").ssd300_vgg16(weights=None, weights_backbone=None)
    n_tv = sum(p.numel() for p in tv.backbone.parameters()) + sum(p.numel() for p in tv.head.parameters())
    assert sum(p.numel() for p in ours.parameters()) == n_tv


@pytest.mark.parametrize(("name", "size"), [("yolov2", 64), ("openpose", 32)])
def test_row_split_equals_unsplit_at_a_small_input(name: str, size: int, one_thread: None):
    graph = ModelGraph.from_torchvision(name, size)
    torch.manual_seed(3)
    x = torch.randn(1, 3, size, size)
    values = intermediates(graph, x)
    last = graph.num_units - 1
    assert_exact(grid_split(graph, values, 0, last, 2, 1), values[graph.unit_nodes[last][-1]])
    mid = graph.num_units // 2
    assert_exact(grid_split(graph, values, mid, last, 2, 2), values[graph.unit_nodes[last][-1]])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ssd300_vgg16", "ssd300_resnet50"])
def test_ssd_backbone_row_split_equals_unsplit(name: str, one_thread: None):
    graph = ModelGraph.from_torchvision(name)
    torch.manual_seed(4)
    x = torch.randn(1, 3, 300, 300)
    values = intermediates(graph, x)
    last = graph.num_units - 1
    assert_exact(grid_split(graph, values, 0, last, 4, 1), values[graph.unit_nodes[last][-1]])


def test_zoo_names_are_listed_and_configured():
    assert set(ZOO) <= set(available_models())
    for name in ZOO:
        with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
            cfg = compose(config_name="train", overrides=[f"model={name}"])
        assert cfg.model.name == name and cfg.model.input is None


def test_voxelnet_is_refused_in_one_line():
    with pytest.raises(UnsupportedModelError) as info:
        build_model("voxelnet")
    assert str(info.value).startswith("model: VoxelNet is not supported") and "\n" not in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "size"), [("yolov2", 64), ("openpose", 32)])
def test_zoo_model_through_every_cli_verb_and_training(tmp_path: Path, name: str, size: int):
    """graph, profile, plan (AOFL and the LC-PSS pilot), simulate, execute local and distributed
    (output equal to the unsplit model), and a short DistrEdge training run, by the model's name."""
    graph = json.loads(_cli(tmp_path, "graph", name, "--input", str(size), "--json").stdout)
    assert len(graph["units"]) == SHAPES[name][0] and graph["input"] == [3, size, size]
    _cli(tmp_path, "profile", "--model", name, "--input", str(size))
    for method in ("aofl", "lcpss-pilot"):
        plan_file = f"{method}.json"
        _cli(tmp_path, "plan", method, "--model", name, "--input", str(size), "--devices", "DB", "-o", plan_file)
        sim = json.loads(_cli(tmp_path, "simulate", plan_file, "--json").stdout)
        assert sim["latency_s"] > 0
    for backend in ("local", "distributed"):
        # a shared CI machine: 5 processes on few cores may pass the default 300 s of a distributed run
        wait = ("--timeout", "580") if backend == "distributed" else ()
        run = json.loads(
            _cli(tmp_path, "execute", "aofl.json", "--backend", backend, "--images", "2", *wait, "--json").stdout
        )
        assert run["max_abs_error"] <= 1e-5 * max(1.0, run["ref_max_abs"]), backend
    train = ["train", f"model={name}", f"model.input={size}", "network=bw50", "episodes=5"]
    _cli(tmp_path, *train, f"hydra.run.dir={tmp_path / 'run'}")
    trained = json.loads((tmp_path / "run" / "export" / "plan.json").read_text())
    assert trained["model"]["name"] == name
