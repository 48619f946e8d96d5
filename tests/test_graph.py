"""ModelGraph on real torchvision CNNs: units, tags, counts, and exact sliced execution."""

from __future__ import annotations

import functools
import json
import time
from collections import Counter

import pytest
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from splitgym.costmodels.errors import PlanError, SplitgymError, UnsupportedModelError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.slicing import Region, SlicedSegment

from .helpers import intermediates


@pytest.fixture(autouse=True, scope="module")
def _few_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def make(name: str, size: int) -> tuple[nn.Module, ModelGraph]:
    """The seeded torchvision model and its graph (traced from that very module)."""
    model = build_model(name, seed=0)
    return model, ModelGraph(name, model, (3, size, size))


def assert_exact(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.shape == ref.shape
    atol = 1e-5 * max(1.0, float(ref.abs().max()))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=atol)


def parts(n: int, k: int) -> list[tuple[int, int]]:
    """``n`` split into at most ``k`` consecutive non-empty parts of (nearly) equal size."""
    cuts = sorted({round(i * n / k) for i in range(k + 1)})
    return list(zip(cuts, cuts[1:], strict=False))


def grid_split(graph: ModelGraph, values: dict, first: int, last: int, rows: int, cols: int) -> torch.Tensor:
    """Run units first..last as a rows x cols grid of sliced parts and stitch the outputs."""
    full_in = values[graph.input_node if first == 0 else graph.unit_nodes[first - 1][-1]]
    _, h, w = graph.units[last].out_shape
    out_rows = []
    for a, b in parts(h, rows):
        row = []
        for c0, c1 in parts(w, cols):
            seg = SlicedSegment(graph, first, last, Region(a, b, c0, c1))
            r = seg.in_region
            with torch.no_grad():
                row.append(seg(full_in[:, :, r.r0 : r.r1, r.c0 : r.c1]))
        out_rows.append(torch.cat(row, dim=3))
    return torch.cat(out_rows, dim=2)


def check_chain(graph: ModelGraph) -> None:
    """Units tile the model: shapes chain, every layer is in one place, params add up."""
    assert graph.units[0].in_shape == graph.input_shape
    for u, v in zip(graph.units, graph.units[1:], strict=False):
        assert u.out_shape == v.in_shape
    assert [u.index for u in graph.units] == list(range(graph.num_units))
    assert len({u.name for u in graph.units}) == graph.num_units  # names identify units
    assert graph.head is not None
    assert tuple(graph.head.in_shape) == graph.units[-1].out_shape
    names = [n for u in graph.units for n in u.layers] + list(graph.head.layers)
    assert sorted(names) == sorted(layer.name for layer in graph.layers)
    assert len(set(names)) == len(names)
    assert sum(u.params for u in graph.units) + graph.head.params == graph.params
    assert graph.params == sum(p.numel() for p in graph.gm.parameters())
    json.dumps(graph.summary())  # JSON-ready


# ---------------------------------------------------------------------------------------------
# VGG
# ---------------------------------------------------------------------------------------------

VGG_CONVS = {"vgg11": 8, "vgg13": 10, "vgg16": 13, "vgg19": 16}


@pytest.fixture(scope="module")
def vgg16_224():
    return make("vgg16", 224)


@pytest.fixture(scope="module", params=["vgg11", "vgg13", "vgg19"])
def vgg_small(request):
    return request.param, make(request.param, 64)[1]  # final maps 4x4: no border effects


def _check_vgg_units(graph: ModelGraph, convs: int) -> None:
    kinds = Counter(u.kind for u in graph.units)
    assert kinds == {"conv": convs, "maxpool": 5}
    assert graph.num_units == convs + 5
    for u in graph.units:
        assert u.tags == ()
        assert (u.kernel, u.stride) == ((3, 1) if u.kind == "conv" else (2, 2))
    assert [layer.kind for layer in graph.layers if layer.split == "window"] == [u.kind for u in graph.units]
    # the classifier is the head: 3 linear layers, never split
    assert [layer.kind for layer in graph.layers if layer.unit == -1].count("linear") == 3
    assert all(layer.split == "full" for layer in graph.layers if layer.kind == "linear")


def test_vgg_units_count_convs_and_pools(vgg_small):
    name, graph = vgg_small
    _check_vgg_units(graph, VGG_CONVS[name])
    check_chain(graph)


def test_vgg16_units_in_order(vgg16_224):
    _, graph = vgg16_224
    _check_vgg_units(graph, 13)
    assert graph.num_units == 18
    c, p = "conv", "maxpool"
    assert [u.kind for u in graph.units] == [c, c, p, c, c, p, c, c, c, p, c, c, c, p, c, c, c, p]
    assert [u.height for u in graph.units] == [
        224,
        224,
        112,
        112,
        112,
        56,
        56,
        56,
        56,
        28,
        28,
        28,
        28,
        14,
        14,
        14,
        14,
        7,
    ]
    assert [u.out_shape[0] for u in graph.units if u.kind == "conv"] == [
        64,
        64,
        128,
        128,
        256,
        256,
        256,
        512,
        512,
        512,
        512,
        512,
        512,
    ]
    assert graph.units[0].name == "features.0" and graph.unit("features.0") is graph.units[0]
    check_chain(graph)


def test_vgg16_params_and_flops(vgg16_224):
    _, graph = vgg16_224
    assert graph.params == 138_357_544
    assert sum(u.params for u in graph.units) == 14_714_688  # the 13 convs
    fc = [layer for layer in graph.layers if layer.kind == "linear"]
    assert [layer.params for layer in fc] == [102_764_544, 16_781_312, 4_097_000]
    fc6 = fc[0]
    assert (fc6.c_in, fc6.c_out) == (512 * 7 * 7, 4096)
    assert fc6.unit == -1 and fc6.name in graph.head.layers
    assert graph.head.params == 102_764_544 + 16_781_312 + 4_097_000
    conv1 = graph.layers[0]
    assert conv1.kind == "conv" and conv1.unit == 0
    assert conv1.flops == 2 * 64 * 224 * 224 * 3 * 9
    assert conv1.params == 64 * 3 * 9 + 64
    assert graph.units[0].out_bytes == 64 * 224 * 224 * 4
    assert graph.units[0].row_bytes == 64 * 224 * 4


def test_vgg16_at_4096_builds_without_computing():
    """Shape propagation runs on fake tensors: the real forward (about 5 TFLOPs and 4 GiB per
    activation) would take minutes on a CPU."""
    t0 = time.perf_counter()
    graph = ModelGraph.from_torchvision("vgg16", 4096)
    elapsed = time.perf_counter() - t0
    assert graph.units[0].out_shape == (64, 4096, 4096)
    assert graph.units[0].height == 4096
    assert graph.units[-1].height == 128
    assert graph.units[-1].out_shape == (512, 128, 128)
    assert tuple(graph.head.in_shape) == (512, 128, 128)
    assert graph.layers[0].flops == 2 * 64 * 4096 * 4096 * 3 * 9
    assert elapsed < 30, f"building took {elapsed:.1f}s"
    # the row maths at that size, hand-checked: a middle row of the last conv unit's output
    # (256 x 256 here) needs the 3 rows around it from the previous unit's output
    assert graph.volume_input_range(16, 16, 100, 101) == [(100, 101), (99, 102)]


# ---------------------------------------------------------------------------------------------
# block models
# ---------------------------------------------------------------------------------------------

#: name, small input, tags expected somewhere, {(kind, tags): count} expected among units
BLOCK_MODELS = {
    "resnet18": (64, {"residual"}, {("block", ("residual",)): 8}),
    "resnet50": (64, {"residual"}, {("block", ("residual",)): 16}),
    # 17 inverted residuals, 10 of them with a skip connection
    "mobilenet_v2": (64, {"residual", "depthwise"}, {("block", ("residual", "depthwise")): 10}),
    # Mixed_5b .. Mixed_7c
    "inception_v3": (139, {"inception"}, {("block", ("inception",)): 11}),
    # 16 MBConv blocks, each with squeeze-and-excitation; 9 with a skip connection
    "efficientnet_b0": (
        64,
        {"residual", "depthwise", "se"},
        {("block", ("residual", "depthwise", "se")): 9, ("block", ("se",)): 7},
    ),
}


@functools.cache
def _block_model(name: str) -> tuple[nn.Module, ModelGraph]:
    return make(name, BLOCK_MODELS[name][0])


@pytest.fixture(scope="module", params=sorted(BLOCK_MODELS))
def block_model(request):
    name = request.param
    return (name, *_block_model(name))


@pytest.fixture(scope="module")
def resnet18():
    return _block_model("resnet18")[1]


def test_block_models_carry_expected_tags(block_model):
    name, _, graph = block_model
    _, tags, counts = BLOCK_MODELS[name]
    assert {t for u in graph.units for t in u.tags} == tags
    found = Counter((u.kind, u.tags) for u in graph.units)
    for key, n in counts.items():
        assert found[key] == n, key
    # tags are only given to blocks, and blocks always merge branches or hold a global op
    assert all(u.kind == "block" for u in graph.units if u.tags)
    check_chain(graph)


def test_full_segment_with_head_equals_model(block_model):
    _, model, graph = block_model
    size = BLOCK_MODELS[block_model[0]][0]
    torch.manual_seed(1)
    x = torch.randn(1, 3, size, size)
    seg = SlicedSegment(graph, 0, graph.num_units)
    assert seg.in_region == Region(0, size, 0, size)
    with torch.no_grad():
        out, ref = seg(x), model(x)
    assert ref.shape == (1, 1000)
    assert_exact(out, ref)


def test_grid_split_equals_unsplit(block_model):
    """All spatial units split into 2 row parts, and a middle volume split into a 2x2 grid,
    stitch back to the unsplit feature maps."""
    _, _, graph = block_model
    size = graph.input_shape[1]
    torch.manual_seed(2)
    x = torch.randn(1, 3, size, size)
    values = intermediates(graph, x)
    last = graph.num_units - 1
    assert_exact(grid_split(graph, values, 0, last, 2, 1), values[graph.unit_nodes[last][-1]])
    first, mid = graph.num_units // 3, 2 * graph.num_units // 3
    assert_exact(grid_split(graph, values, first, mid, 2, 2), values[graph.unit_nodes[mid][-1]])


def test_resnet18_block_receptive_fields(resnet18):
    graph = resnet18
    # a basic block is two 3x3 convs: F = 5; the downsampling one (3x3/s2 then 3x3): F = 7, S = 2
    assert (graph.unit("layer1.0").kernel, graph.unit("layer1.0").stride) == (5, 1)
    assert (graph.unit("layer2.0").kernel, graph.unit("layer2.0").stride) == (7, 2)
    assert (graph.units[0].kernel, graph.units[0].stride) == (7, 2)  # conv1
    assert (graph.unit("maxpool").kernel, graph.unit("maxpool").stride) == (3, 2)
    # hand-checked: one middle row of layer1.0 (16 rows) needs 5 rows, two need 6
    assert graph.volume_input_range(2, 2, 8, 9)[-1] == (6, 11)
    assert graph.volume_input_range(2, 3, 8, 10)[-1] == (4, 14)


def test_unit_kernel_does_not_depend_on_input_size():
    small = ModelGraph.from_torchvision("vgg16", 32)  # the last convs run on 2x2 maps
    assert [u.kernel for u in small.units if u.kind == "conv"] == [3] * 13


@pytest.mark.parametrize("size,final", [(299, 8), (139, 3)])
def test_inception_v3_sizes(size, final):
    graph = ModelGraph.from_torchvision("inception_v3", size)
    assert graph.num_units == 18
    assert Counter(u.kind for u in graph.units) == {"block": 11, "conv": 5, "maxpool": 2}
    assert [u.name for u in graph.units if u.kind == "block"] == [
        "Mixed_5b",
        "Mixed_5c",
        "Mixed_5d",
        "Mixed_6a",
        "Mixed_6b",
        "Mixed_6c",
        "Mixed_6d",
        "Mixed_6e",
        "Mixed_7a",
        "Mixed_7b",
        "Mixed_7c",
    ]
    assert graph.units[-1].out_shape == (2048, final, final)
    assert graph.head is not None and graph.head.out_shape == (1000,)
    check_chain(graph)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.conv(x)
        return -self.conv(x)


def test_untraceable_model_is_unsupported():
    with pytest.raises(UnsupportedModelError) as info:
        ModelGraph.from_module(DataDependent(), (3, 16, 16), name="branchy")
    msg = str(info.value)
    assert isinstance(info.value, SplitgymError)
    assert "\n" not in msg and msg.strip() == msg and msg
    assert "branchy" in msg


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: ModelGraph.from_torchvision("vgg16", 16), id="vgg16@16"),
        pytest.param(lambda: ModelGraph.from_torchvision("inception_v3", 64), id="inception_v3@64"),
        pytest.param(lambda: ModelGraph.from_module(nn.Conv2d(3, 4, 3), (3, 2, 16)), id="conv@2x16"),
        pytest.param(lambda: ModelGraph.from_module(nn.Conv2d(3, 4, 3), (3, 0, 16)), id="zero"),
    ],
)
def test_too_small_input_is_unsupported(build):
    with pytest.raises(UnsupportedModelError) as info:
        build()
    msg = str(info.value)
    assert "\n" not in msg and msg
    assert "input" in msg


def test_unknown_model_name_is_unsupported():
    with pytest.raises(UnsupportedModelError, match="model"):
        ModelGraph.from_torchvision("no_such_net", 32)


# ---------------------------------------------------------------------------------------------
# operations we do not know are unsplittable, never wrong
# ---------------------------------------------------------------------------------------------


class RollInBlock(nn.Module):
    """A residual block whose branch rolls its feature map: torch.roll is no known op."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv3 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = x + torch.roll(self.conv2(x), shifts=(3, 5), dims=(2, 3))
        x = self.conv3(x)
        return self.fc(torch.flatten(self.pool(x), 1))


class RollInChain(nn.Module):
    """torch.roll between two convs of a plain chain."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(4, 6, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(F.relu(self.conv1(x)))
        return self.conv3(torch.roll(x, shifts=2, dims=2))


@pytest.fixture(scope="module", params=[RollInBlock, RollInChain])
def rolling(request):
    torch.manual_seed(0)
    model = request.param().eval()
    return model, ModelGraph.from_module(model, (3, 20, 24), name=request.param.__name__)


def test_unknown_op_is_full(rolling):
    _, graph = rolling
    roll = [layer for layer in graph.layers if layer.kind == "roll"]
    assert len(roll) == 1 and roll[0].split == "full"


def test_unknown_op_split_equals_unsplit(rolling):
    model, graph = rolling
    torch.manual_seed(3)
    x = torch.randn(1, 3, 20, 24)
    values = intermediates(graph, x)
    with torch.no_grad():
        ref = model(x)
    # with the head
    seg = SlicedSegment(graph, 0, graph.num_units)
    with torch.no_grad():
        assert_exact(seg(x), ref)
    # every volume of spatial units, split in a grid
    for first in range(graph.num_units):
        for last in range(first, graph.num_units):
            out = grid_split(graph, values, first, last, 3, 2)
            assert_exact(out, values[graph.unit_nodes[last][-1]])


def test_unit_with_unknown_op_needs_its_whole_input():
    torch.manual_seed(0)
    graph = ModelGraph.from_module(RollInBlock().eval(), (3, 20, 24))
    (u,) = [u for u in graph.units if any("roll" in n for n in u.layers)]
    assert u.kind == "block" and "residual" in u.tags
    # one output row and column of the block needs its whole input
    assert graph.volume_input_range(u.index, u.index, 10, 11) == [(10, 11), (0, 20)]
    assert graph.volume_input_range(u.index, u.index, 0, 1, axis=1) == [(0, 1), (0, 24)]
    seg = SlicedSegment(graph, u.index, u.index, Region(10, 11, 0, 1))
    assert seg.in_region == Region(0, 20, 0, 24)
    # while the units before it still split by rows
    assert graph.volume_input_range(0, 0, 10, 11) == [(10, 11), (9, 12)]


# ---------------------------------------------------------------------------------------------
# bad requests
# ---------------------------------------------------------------------------------------------


def test_sliced_segment_rejects_bad_volumes_regions_and_inputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)).eval()
    graph = ModelGraph.from_module(model, (3, 16, 16))
    assert graph.num_units == 2
    with pytest.raises(PlanError):
        SlicedSegment(graph, 1, 0)
    with pytest.raises(PlanError):
        SlicedSegment(graph, 0, 3)
    with pytest.raises(PlanError, match="region"):
        SlicedSegment(graph, 0, 1, Region(0, 9, 0, 8))  # the output has 8 rows
    seg = SlicedSegment(graph, 0, 1, Region(2, 5, 0, 8))
    assert seg.in_region == Region(3, 11, 0, 16)
    with pytest.raises(PlanError, match="expected input rows 3..11"):
        seg(torch.randn(1, 3, 16, 16))  # the whole image instead of its rows 3..11
    with pytest.raises(PlanError):
        seg(torch.randn(1, 2, 8, 16))  # wrong channels
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert_exact(seg(x[:, :, 3:11]), model(x)[:, :, 2:5])


class _RollThenConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.roll(self.a(x), 1, dims=2))


def test_global_op_between_windows_is_a_unit_not_the_head():
    torch.manual_seed(0)
    model = _RollThenConv().eval()
    graph = ModelGraph.from_module(model, (2, 10, 10))
    assert graph.head is None and graph.num_units == 3
    assert graph.units[1].kind == "block" and "global" in graph.units[1].tags
    assert graph.volume_input_range(2, 2, 4, 5)[-1] == (3, 6)  # the conv after it still splits
    x = torch.randn(1, 2, 10, 10)
    with torch.no_grad():
        ref = model(x)
        for a, b in [(0, 4), (4, 10)]:
            seg = SlicedSegment(graph, 0, 2, Region(a, b, 0, 10))
            r = seg.in_region
            torch.testing.assert_close(seg(x[:, :, r.r0 : r.r1, r.c0 : r.c1]), ref[:, :, a:b])
