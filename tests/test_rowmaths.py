"""Property tests of the row maths and of sliced execution against real torch.

The contract the executors rely on: running units ``first..last`` of a model on just the input
region that :class:`SlicedSegment` asks for yields exactly the requested region of the unsplit
output, and the cheap vectorised unit maps agree with the node-level region propagation.

Models are random stacks of convolutions (any kernel, stride, padding, dilation, groups), max and
average pooling (ceil mode, count_include_pad), batch norm, ReLU, residual blocks and channel
concatenation blocks, traced at random small input sizes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.fx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.rowmap import AxisMap, UnitMap
from splitgym.costmodels.slicing import Region, SlicedSegment
from splitgym.costmodels.traffic import SplitMaths

from .helpers import intermediates

# even 'same' kernels make torch copy the padded input: fine here
pytestmark = [pytest.mark.filterwarnings("ignore:Using padding='same'"), pytest.mark.usefixtures("one_thread")]

SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------------------------
# random models
# ---------------------------------------------------------------------------------------------


class Residual(nn.Module):
    """``shortcut(x) + branch(x)`` (shortcut = identity when None)."""

    def __init__(self, branch: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.shortcut is None else self.shortcut(x)
        return s + self.branch(x)


class Concat(nn.Module):
    """``torch.cat([a(x), b(x)], dim=1)`` (an empty Sequential branch passes ``x`` through)."""

    def __init__(self, a: nn.Module, b: nn.Module, kwarg: bool) -> None:
        super().__init__()
        self.a, self.b, self.kwarg = a, b, kwarg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kwarg:
            return torch.cat([self.a(x), self.b(x)], dim=1)
        return torch.cat([self.a(x), self.b(x)], 1)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def conv_spec(draw, c_in: int) -> tuple:
    """Any Conv2d the brief allows (per axis: kernel 1..5, stride 1..3, dilation 1..2, padding
    0..k). Padding >= the span d*(k-1)+1 makes output rows that read only padding: they need no
    input rows (an empty range)."""
    ks, ss, ps, ds = [], [], [], []
    for axis in ("h", "w"):
        k = draw(st.integers(1, 5), label=f"k_{axis}")
        d = draw(st.integers(1, 2), label=f"dilation_{axis}")
        ks.append(k)
        ds.append(d)
        ss.append(draw(st.integers(1, 3), label=f"stride_{axis}"))
        ps.append(draw(st.integers(0, k), label=f"padding_{axis}"))
    g = draw(st.sampled_from(_divisors(c_in)), label="groups")
    c_out = g * draw(st.integers(1, 2), label="channels per group")
    if draw(st.booleans(), label="square"):
        ks[1], ss[1], ps[1], ds[1] = ks[0], ss[0], ps[0], ds[0]
    return ("conv", c_in, c_out, tuple(ks), tuple(ss), tuple(ps), tuple(ds), g)


@st.composite
def pool_spec(draw) -> tuple:
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    if kind == "maxpool":
        return ("maxpool", k, s, p, draw(st.integers(1, 2)), ceil)
    return ("avgpool", k, s, p, ceil, draw(st.booleans()))


@st.composite
def same_spec(draw, c: int) -> tuple:
    """A layer that keeps height and width (for residual and concat branches)."""
    kind = draw(st.sampled_from(["conv_odd", "conv_same", "maxpool", "avgpool", "bn", "relu"]))
    if kind == "conv_odd":
        k, d = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 2))
        g = draw(st.sampled_from(_divisors(c)))
        return ("conv", c, c, k, 1, d * (k - 1) // 2, d, g)
    if kind == "conv_same":  # even kernel: torch pads asymmetrically
        k, d = draw(st.sampled_from([2, 4])), draw(st.integers(1, 2))
        return ("conv", c, c, k, 1, "same", d, 1)
    if kind == "maxpool":
        return ("maxpool", 3, 1, 1, 1, draw(st.booleans()))
    if kind == "avgpool":
        k = draw(st.sampled_from([3, 5]))
        return ("avgpool", k, 1, k // 2, draw(st.booleans()), draw(st.booleans()))
    return (kind, c)


@st.composite
def block_spec(draw, c: int) -> tuple:
    kind = draw(st.sampled_from(["res", "res_strided", "cat", "cat_strided", "pair"]))
    if kind == "res":
        return ("res", c, tuple(draw(st.lists(same_spec(c), min_size=1, max_size=3))))
    if kind == "res_strided":  # ResNet downsampling block: 3x3/s2 branch, 1x1/s2 shortcut
        c2 = draw(st.integers(1, 4))
        rest = tuple(draw(st.lists(same_spec(c2), max_size=2)))
        return ("res_strided", c, c2, rest)
    if kind == "cat":
        a = tuple(draw(st.lists(same_spec(c), max_size=2)))
        b = tuple(draw(st.lists(same_spec(c), min_size=1, max_size=3)))
        return ("cat", c, a, b, draw(st.booleans()))
    if kind == "pair":  # two convs of any padding whose outputs always match in size
        ka, pa, kb, pb = [], [], [], []
        for axis in ("h", "w"):
            k1 = draw(st.integers(1, 5), label=f"pair k_a_{axis}")
            p1 = draw(st.integers(0, k1), label=f"pair p_a_{axis}")
            # same 2p - k: floor((H + 2p - k) / s) + 1 agrees for every H and stride s
            options = [(k2, p2) for k2 in range(1, 6) for p2 in range(0, k2 + 1) if 2 * p2 - k2 == 2 * p1 - k1]
            k2, p2 = draw(st.sampled_from(options), label=f"pair b_{axis}")
            ka.append(k1)
            pa.append(p1)
            kb.append(k2)
            pb.append(p2)
        stride = tuple(draw(st.integers(1, 3), label=f"pair stride_{axis}") for axis in "hw")
        pre = tuple(draw(st.lists(same_spec(c), max_size=1), label="before conv b"))
        return (
            "pair",
            c,
            tuple(ka),
            tuple(pa),
            tuple(kb),
            tuple(pb),
            stride,
            draw(st.sampled_from(["add", "cat"])),
            pre,
        )
    other = draw(st.sampled_from(["maxpool", "avgpool", "conv1"]))
    return ("cat_strided", c, other, draw(st.booleans()))


@st.composite
def model_spec(draw) -> tuple:
    c_img = c = draw(st.integers(1, 3), label="image channels")
    h = draw(st.integers(8, 40), label="height")
    w = draw(st.integers(8, 40), label="width")
    layers = []
    for _ in range(draw(st.integers(1, 5), label="depth")):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "bn", "relu", "block", "block"]))
        if kind == "conv":
            spec = draw(conv_spec(c))
        elif kind == "pool":
            spec = draw(pool_spec())
        elif kind == "block":
            spec = draw(block_spec(c))
        else:
            spec = (kind, c)
        layers.append(spec)
        c = _out_channels(spec, c)
    return (c_img, h, w, tuple(layers), draw(st.integers(0, 2**16), label="seed"))


def _out_channels(spec: tuple, c: int) -> int:
    kind = spec[0]
    if kind == "conv":
        return spec[2]
    if kind == "res_strided":
        return spec[2]
    if kind == "cat":
        return c + c
    if kind == "cat_strided":
        return c + c
    if kind == "pair" and spec[7] == "cat":
        return c + c
    return c


def _layer(spec: tuple) -> nn.Module:
    kind = spec[0]
    if kind == "conv":
        _, c_in, c_out, k, s, p, d, g = spec
        return nn.Conv2d(c_in, c_out, k, s, p, d, g)
    if kind == "maxpool":
        _, k, s, p, d, ceil = spec
        return nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
    if kind == "avgpool":
        _, k, s, p, ceil, cip = spec
        return nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=cip)
    if kind == "bn":
        bn = nn.BatchNorm2d(spec[1])
        with torch.no_grad():  # non-trivial eval-mode statistics and affine parameters
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_()
            bn.bias.normal_()
        return bn
    if kind == "relu":
        return nn.ReLU()
    if kind == "res":
        return Residual(nn.Sequential(*map(_layer, spec[2])))
    if kind == "res_strided":
        _, c, c2, rest = spec
        branch = nn.Sequential(nn.Conv2d(c, c2, 3, 2, 1), *map(_layer, rest))
        return Residual(branch, nn.Conv2d(c, c2, 1, 2, 0))
    if kind == "cat":
        _, _, a, b, kw = spec
        return Concat(nn.Sequential(*map(_layer, a)), nn.Sequential(*map(_layer, b)), kw)
    if kind == "pair":
        _, c, ka, pa, kb, pb, stride, how, pre = spec
        a = nn.Conv2d(c, c, ka, stride, pa)
        b = nn.Sequential(*map(_layer, pre), nn.Conv2d(c, c, kb, stride, pb))
        return Residual(b, a) if how == "add" else Concat(a, b, True)
    if kind == "cat_strided":
        _, c, other, kw = spec
        b = {"maxpool": nn.MaxPool2d(3, 2, 1), "avgpool": nn.AvgPool2d(3, 2, 1), "conv1": nn.Conv2d(c, c, 1, 2)}[other]
        return Concat(nn.Conv2d(c, c, 3, 2, 1), b, kw)
    raise AssertionError(spec)


def build(spec: tuple) -> tuple[nn.Module, torch.Tensor, ModelGraph]:
    """The model, an input image and the graph; rejects stacks torch itself refuses."""
    c_img, h, w, layers, seed = spec
    torch.manual_seed(seed)
    model = nn.Sequential(*map(_layer, layers)).eval()
    x = torch.randn(1, c_img, h, w)
    try:
        with torch.no_grad():
            y = model(x)
    except RuntimeError:  # an output of size <= 0 and the like: torch rejects the model
        assume(False)
    assume(y.shape[-1] >= 1 and y.shape[-2] >= 1)
    return model, x, ModelGraph.from_module(model, tuple(x.shape[1:]))


def unit_input(graph: ModelGraph, values: dict, first: int) -> torch.Tensor:
    return values[graph.input_node if first == 0 else graph.unit_nodes[first - 1][-1]]


def unit_output(graph: ModelGraph, values: dict, last: int) -> torch.Tensor:
    return values[graph.unit_nodes[last][-1]]


def draw_range(data: st.DataObject, n: int, label: str) -> tuple[int, int]:
    a = data.draw(st.integers(0, n - 1), label=f"{label} start")
    b = data.draw(st.integers(a + 1, n), label=f"{label} end")
    return a, b


def draw_volume(data: st.DataObject, graph: ModelGraph) -> tuple[int, int]:
    first = data.draw(st.integers(0, graph.num_units - 1), label="first unit")
    last = data.draw(st.integers(first, graph.num_units - 1), label="last unit")
    return first, last


def assert_exact(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.shape == ref.shape
    atol = 1e-5 * max(1.0, float(ref.abs().max())) if ref.numel() else 1e-5
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=atol)


def run_region(
    graph: ModelGraph, values: dict, first: int, last: int, region: Region
) -> tuple[torch.Tensor, torch.Tensor, SlicedSegment]:
    seg = SlicedSegment(graph, first, last, region)
    full_in = unit_input(graph, values, first)
    r = seg.in_region
    with torch.no_grad():
        out = seg(full_in[:, :, r.r0 : r.r1, r.c0 : r.c1])
    ref = unit_output(graph, values, last)[:, :, region.r0 : region.r1, region.c0 : region.c1]
    return out, ref, seg


# ---------------------------------------------------------------------------------------------
# real torchvision graphs, for the pure row maths
# ---------------------------------------------------------------------------------------------

REAL = {"resnet18": 64, "inception_v3": 139, "efficientnet_b0": 64, "mobilenet_v2": 48}


@functools.cache
def real_graph(name: str) -> ModelGraph:
    return ModelGraph.from_torchvision(name, REAL[name])


graph_sources = st.one_of(
    model_spec().map(lambda s: ("random", s)),
    st.sampled_from(sorted(REAL)).map(lambda n: ("real", n)),
)


def source_graph(src: tuple) -> ModelGraph:
    return build(src[1])[2] if src[0] == "random" else real_graph(src[1])


def is_empty(r: tuple[int, int]) -> bool:
    return r[1] <= r[0]


def out_size(graph: ModelGraph, unit: int, axis: int) -> int:
    return graph.units[unit].out_shape[1 + axis]


def in_size(graph: ModelGraph, unit: int, axis: int) -> int:
    return graph.units[unit].in_shape[1 + axis]


# ---------------------------------------------------------------------------------------------
# the executor's contract: a sliced segment computes exactly its region
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, **SETTINGS)
@given(spec=model_spec(), data=st.data())
def test_sliced_segment_equals_region_of_unsplit_output(spec, data):
    model, x, graph = build(spec)
    values = intermediates(graph, x)
    # the traced module itself is the model
    with torch.no_grad():
        assert_exact(values[next(n for n in graph.gm.graph.nodes if n.op == "output").args[0]], model(x))
    first, last = draw_volume(data, graph)
    _, h, w = graph.units[last].out_shape
    (a, b), (c0, c1) = draw_range(data, h, "rows"), draw_range(data, w, "cols")
    out, ref, seg = run_region(graph, values, first, last, Region(a, b, c0, c1))
    assert_exact(out, ref)
    # it is fed no more than the volume's input (never the padding, never outside the tensor);
    # nothing at all when the region reads only zero padding
    _, hi, wi = graph.units[first].in_shape
    r = seg.in_region
    assert 0 <= r.r0 <= r.r1 <= hi and 0 <= r.c0 <= r.c1 <= wi


@settings(max_examples=30, **SETTINGS)
@given(spec=model_spec(), data=st.data())
def test_row_parts_of_a_volume_stitch_to_the_unsplit_output(spec, data):
    """What an executor does: split the output rows (and columns) into consecutive parts, run
    each part on its own input slice, and concatenate."""
    _, x, graph = build(spec)
    values = intermediates(graph, x)
    first, last = draw_volume(data, graph)
    _, h, w = graph.units[last].out_shape
    rcuts = sorted(set(data.draw(st.lists(st.integers(1, h - 1), max_size=3), label="row cuts") if h > 1 else []))
    ccuts = sorted(set(data.draw(st.lists(st.integers(1, w - 1), max_size=2), label="col cuts") if w > 1 else []))
    rows = list(zip([0, *rcuts], [*rcuts, h], strict=False))
    cols = list(zip([0, *ccuts], [*ccuts, w], strict=False))
    stitched = torch.cat(
        [
            torch.cat([run_region(graph, values, first, last, Region(a, b, c0, c1))[0] for c0, c1 in cols], dim=3)
            for a, b in rows
        ],
        dim=2,
    )
    assert_exact(stitched, unit_output(graph, values, last))


@st.composite
def pair_model_spec(draw) -> tuple:
    """A model of one or two two-conv blocks (``pair``) whose convs may pad more than they read."""
    c = draw(st.integers(1, 2), label="channels")
    layers = []
    for _ in range(draw(st.integers(1, 2), label="blocks")):
        layers.append(draw(block_spec(c).filter(lambda b: b[0] == "pair"), label="pair"))
        c = _out_channels(layers[-1], c)
    return (
        layers[0][1],
        draw(st.integers(6, 20)),
        draw(st.integers(6, 20)),
        tuple(layers),
        draw(st.integers(0, 2**16), label="seed"),
    )


def covers(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """An empty inner range is covered by anything; else outer must contain it."""
    return inner[1] <= inner[0] or (outer[0] <= inner[0] and inner[1] <= outer[1])


def border_ranges(n: int) -> list[tuple[int, int]]:
    """The ranges where padding-only rows live: one or two rows at either border, and all."""
    return sorted({(0, 1), (0, min(2, n)), (n - 1, n), (max(0, n - 2), n), (0, n)})


@settings(max_examples=30, **SETTINGS)
@given(spec=pair_model_spec())
def test_branches_reading_only_padding_slice_exactly(spec):
    """Blocks of two parallel convs of any padding, at every border region: one branch may read
    only padding along one axis while the other reads real rows, and the part must still be
    exact, with the node-level regions matching the unit maps."""
    _, x, graph = build(spec)
    values = intermediates(graph, x)
    first, last = 0, graph.num_units - 1
    _, h, w = graph.units[last].out_shape
    for a, b in border_ranges(h):
        for c0, c1 in border_ranges(w):
            out, ref, seg = run_region(graph, values, first, last, Region(a, b, c0, c1))
            assert_exact(out, ref)
            rows = graph.volume_input_range(first, last, a, b, axis=0)[-1]
            cols = graph.volume_input_range(first, last, c0, c1, axis=1)[-1]
            # the unit maps may claim more than the nodes need where a path reads only padding
            # (composed maps do not see the empty range in between), never less
            assert covers(rows, (seg.in_region.r0, seg.in_region.r1)), (a, b, c0, c1)
            assert covers(cols, (seg.in_region.c0, seg.in_region.c1)), (a, b, c0, c1)


# ---------------------------------------------------------------------------------------------
# the vectorised maths against the scalar maths and the node-level propagation
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, **SETTINGS)
@given(src=graph_sources, data=st.data())
def test_vectorised_unit_map_equals_scalar_range(src, data):
    graph = source_graph(src)
    u = data.draw(st.integers(0, graph.num_units - 1), label="unit")
    axis = data.draw(st.integers(0, 1), label="axis")
    m = graph.units[u].row_map if axis == 0 else graph.units[u].col_map
    n = out_size(graph, u, axis)
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n), st.integers(0, n)), min_size=1, max_size=40), label="ranges"
    )  # includes empty and reversed
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    start, end = m(a, b)
    assert start.shape == end.shape == a.shape
    expected = [m.range(int(i), int(j)) for i, j in pairs]
    assert list(zip(start.tolist(), end.tolist(), strict=False)) == expected
    for (i, j), (s, e) in zip(pairs, expected, strict=False):
        if j > i:
            assert 0 <= s <= e <= in_size(graph, u, axis)
            if src[0] == "real":  # no padding-only rows in torchvision models
                assert s < e
        else:
            assert (s, e) == (0, 0)


@settings(max_examples=50, **SETTINGS)
@given(src=graph_sources, data=st.data())
def test_composed_unit_maps_equal_node_level_regions(src, data):
    graph = source_graph(src)
    first, last = draw_volume(data, graph)
    _, h, w = graph.units[last].out_shape
    (a, b), (c0, c1) = draw_range(data, h, "rows"), draw_range(data, w, "cols")
    seg = SlicedSegment(graph, first, last, Region(a, b, c0, c1))
    rows = graph.volume_input_range(first, last, a, b, axis=0)
    cols = graph.volume_input_range(first, last, c0, c1, axis=1)
    assert len(rows) == len(cols) == last - first + 2
    # at every unit boundary inside the volume, and at its input; a region that reads only
    # padding (empty along either axis) is not needed at all, whatever its coordinates
    nodes = [graph.unit_nodes[u][-1] for u in range(last, first - 1, -1)] + [seg.inp]
    for k, node in enumerate(nodes):
        need = seg.need.get(node, Region(0, 0, 0, 0))
        if is_empty(rows[k]) or is_empty(cols[k]):
            assert need.empty, f"{node.name}: {need} vs {rows[k]} x {cols[k]}"
        else:
            assert ((need.r0, need.r1), (need.c0, need.c1)) == (rows[k], cols[k]), node.name
    assert seg.in_region.empty or seg.in_region == Region(*rows[-1], *cols[-1])


# ---------------------------------------------------------------------------------------------
# empty ranges, monotonicity, covering
# ---------------------------------------------------------------------------------------------


@settings(max_examples=30, **SETTINGS)
@given(src=graph_sources, data=st.data())
def test_empty_ranges_map_to_nothing(src, data):
    graph = source_graph(src)
    first, last = draw_volume(data, graph)
    axis = data.draw(st.integers(0, 1), label="axis")
    n = out_size(graph, last, axis)
    a = data.draw(st.integers(0, n), label="a")
    b = data.draw(st.integers(0, a), label="b <= a")
    assert graph.volume_input_range(first, last, a, b, axis) == [(0, 0)] * (last - first + 2)
    for u in range(first, last + 1):
        m = graph.units[u].row_map if axis == 0 else graph.units[u].col_map
        assert m.range(a, b) == (0, 0)
        s, e = m(np.array([a]), np.array([b]))
        assert (int(s[0]), int(e[0])) == (0, 0)
    # an empty region needs no input and yields an empty tensor
    seg = SlicedSegment(graph, first, last, Region(a, b, 0, graph.units[last].out_shape[2]))
    assert seg.in_region.empty
    assert seg(torch.empty(1, graph.units[first].in_shape[0], 0, 0)).numel() == 0


@settings(max_examples=50, **SETTINGS)
@given(src=graph_sources, data=st.data())
def test_sub_range_never_needs_more_input(src, data):
    graph = source_graph(src)
    first, last = draw_volume(data, graph)
    axis = data.draw(st.integers(0, 1), label="axis")
    a, b = draw_range(data, out_size(graph, last, axis), "outer")
    a2 = data.draw(st.integers(a, b - 1), label="inner start")
    b2 = data.draw(st.integers(a2 + 1, b), label="inner end")
    outer = graph.volume_input_range(first, last, a, b, axis)
    inner = graph.volume_input_range(first, last, a2, b2, axis)
    for (s, e), (s2, e2) in zip(outer, inner, strict=False):
        assert s2 >= e2 or s <= s2 < e2 <= e  # empty (only padding) or inside


@settings(max_examples=50, **SETTINGS)
@given(src=graph_sources, data=st.data())
def test_consecutive_parts_cover_what_the_whole_needs(src, data):
    graph = source_graph(src)
    first, last = draw_volume(data, graph)
    axis = data.draw(st.integers(0, 1), label="axis")
    a, b = draw_range(data, out_size(graph, last, axis), "whole")
    cuts = sorted(set(data.draw(st.lists(st.integers(a + 1, b - 1), max_size=4), label="cuts") if b - a > 1 else []))
    parts = list(zip([a, *cuts], [*cuts, b], strict=False))
    whole = graph.volume_input_range(first, last, a, b, axis)[-1]
    every = [graph.volume_input_range(first, last, p, q, axis)[-1] for p, q in parts]
    needs = [r for r in every if not is_empty(r)]  # parts that read only padding need nothing
    if is_empty(whole):
        assert not needs
        return
    # the first and last parts are computed as the whole's edges are, so they match it; but when
    # the first (last) part reads only padding it drops out, and the whole's hull, clipped at the
    # image's edge, can start (end) on a row that a stride skips: then the parts start later (end
    # sooner), never earlier (found by hypothesis: a 1x1/s2 conv with padding 1 over rows [0, 2))
    lo, hi = min(s for s, _ in needs), max(e for _, e in needs)
    assert lo == whole[0] if not is_empty(every[0]) else lo >= whole[0]
    assert hi == whole[1] if not is_empty(every[-1]) else hi <= whole[1]
    for (s, e), (s2, e2) in zip(needs, needs[1:], strict=False):
        assert s <= s2 and e <= e2  # parts further down need input further down
    # (the union may have gaps: a window with stride > span, e.g. a 1x1/s2 pool, skips rows)


# ---------------------------------------------------------------------------------------------
# hand-checkable halos
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg_pair():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 1, 1), nn.ReLU()).eval()
    graph = ModelGraph.from_module(model, (3, 32, 32))
    return model, graph


def test_vgg_pair_is_two_units(vgg_pair):
    _, graph = vgg_pair
    assert graph.num_units == 2
    assert [u.kind for u in graph.units] == ["conv", "conv"]
    assert [u.kernel for u in graph.units] == [3, 3]
    assert [u.stride for u in graph.units] == [1, 1]


@pytest.mark.parametrize("h", [1, 4, 7])
def test_halo_of_two_3x3_convs(vgg_pair, h):
    """Vertical-Splitting Law h_in = (h_out - 1) * S + F, applied twice: h -> h+2 -> h+4."""
    model, graph = vgg_pair
    mid = graph.volume_input_range(0, 1, 10, 10 + h)
    assert mid == [(10, 10 + h), (9, 11 + h), (8, 12 + h)]
    assert mid[-1][1] - mid[-1][0] == h + 4
    top = graph.volume_input_range(0, 1, 0, h)
    assert top == [(0, h), (0, h + 1), (0, h + 2)]  # the image border is zero-padded instead
    bottom = graph.volume_input_range(0, 1, 32 - h, 32)
    assert bottom == [(32 - h, 32), (31 - h, 32), (30 - h, 32)]
    # and running those parts reproduces the unsplit rows
    x = torch.randn(1, 3, 32, 32)
    values = intermediates(graph, x)
    for a, b in [(10, 10 + h), (0, h), (32 - h, 32)]:
        out, ref, seg = run_region(graph, values, 0, 1, Region(a, b, 0, 32))
        assert seg.in_region == Region(max(0, a - 2), min(32, b + 2), 0, 32)
        assert_exact(out, ref)


@pytest.mark.parametrize("k,s", [(3, 1), (3, 2), (5, 2), (7, 3), (2, 2), (1, 4)])
def test_vertical_splitting_law_single_window(k, s):
    graph = ModelGraph.from_module(nn.Sequential(nn.Conv2d(1, 1, k, s)).eval(), (1, 64, 64))
    h_out = graph.units[0].out_shape[1]
    assert h_out == (64 - k) // s + 1
    for a in range(0, h_out - 1):
        for b in range(a + 1, h_out + 1):
            s_in, e_in = graph.volume_input_range(0, 0, a, b)[-1]
            assert (s_in, e_in) == (a * s, (b - 1) * s + k)
            assert e_in - s_in == (b - a - 1) * s + k


def test_axis_map_composition_matches_applying_in_turn():
    """after() is exact composition, clipping included (hand example: two 3x3/s2/p1 convs, whose
    receptive field is 3 + (3-1)*2 = 7 rows)."""
    m1 = AxisMap(S=2, P=1, C=0, hi=32)  # 3x3/s2/p1 on 32 rows: C = span - S - P = 3-2-1
    m2 = AxisMap(S=2, P=1, C=0, hi=16)
    comp = m1.after(m2)
    assert comp == AxisMap(S=4, P=3, C=0, hi=32)
    assert comp.range(3, 4) == (9, 16)  # 7 rows for one row away from the border
    assert comp.range(0, 1) == (0, 4)  # 3 of them are padding at the top
    for a in range(8):
        for b in range(a + 1, 9):
            assert comp.range(a, b) == m1.range(*m2.range(a, b))
    both = UnitMap((m2, AxisMap.identity(16)))  # a residual block: hull of the two paths
    assert both.range(3, 5) == (3, 10)
    assert both.range(0, 1) == (0, 2)
    assert both.stride == 2


# ---------------------------------------------------------------------------------------------
# padding-only output rows (padding >= the kernel span): regressions for bugs these tests found;
# the first two are fixed in 1fcdf34, the ones after them still fail there
# ---------------------------------------------------------------------------------------------


def test_output_rows_entirely_in_conv_padding():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 1, padding=1)).eval()
    graph = ModelGraph.from_module(model, (1, 8, 8))
    values = intermediates(graph, torch.randn(1, 1, 8, 8))
    out, ref, _ = run_region(graph, values, 0, 1, Region(0, 1, 0, 10))
    assert_exact(out, ref)  # row 0 of the output is the bias only


def test_bottom_rows_entirely_in_conv_padding():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 1, padding=2)).eval()  # 8 rows -> 12 rows
    graph = ModelGraph.from_module(model, (1, 8, 8))
    s, e = graph.units[0].row_map.range(11, 12)
    values = intermediates(graph, torch.randn(1, 1, 8, 8))
    out, ref, _ = run_region(graph, values, 0, 0, Region(11, 12, 0, 12))
    assert s <= e
    assert_exact(out, ref)


@pytest.mark.parametrize(
    "pad,region",
    [
        ((1, 0), Region(0, 1, 1, 3)),  # rows: only padding
        ((0, 1), Region(1, 3, 0, 1)),
    ],  # cols: only padding
    ids=["rows", "cols"],
)
def test_padding_only_part_at_the_segment_input(pad, region):
    """The segment's own input is needed along one axis only: it gets a 0-row (or 0-column)
    slice of the input region's columns (rows), which the window must cut at those offsets."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 1, padding=pad)).eval()
    graph = ModelGraph.from_module(model, (1, 8, 8))
    values = intermediates(graph, torch.randn(1, 1, 8, 8))
    out, ref, seg = run_region(graph, values, 0, 0, region)
    assert seg.in_region.empty
    assert_exact(out, ref)


def test_padding_only_columns_inside_a_segment():
    """Like test_output_rows_entirely_in_conv_padding, with the columns as the padding-only axis."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 1, padding=(0, 1))).eval()
    graph = ModelGraph.from_module(model, (1, 8, 8))
    values = intermediates(graph, torch.randn(1, 1, 8, 8))
    out, ref, _ = run_region(graph, values, 0, 1, Region(2, 4, 0, 1))  # col 0 reads padding only
    assert_exact(out, ref)


class _TwoBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 1, (1, 5), stride=2, padding=(1, 2))  # row 0: padding only
        self.b = nn.Conv2d(1, 1, (3, 1), stride=2, padding=(2, 0))  # same output size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + self.b(x)


def test_padding_only_branch_beside_a_real_one():
    """Output row 0 of branch a reads only padding, yet a still reads input columns 2..7 (its
    0-row slice must be that wide) while branch b reads columns 4..5 of row 0."""
    torch.manual_seed(0)
    model = _TwoBranch().eval()
    graph = ModelGraph.from_module(model, (1, 12, 12))
    assert graph.num_units == 1
    assert graph.volume_input_range(0, 0, 0, 1) == [(0, 1), (0, 1)]
    assert graph.volume_input_range(0, 0, 2, 3, axis=1) == [(2, 3), (2, 7)]
    values = intermediates(graph, torch.randn(1, 1, 12, 12))
    out, ref, seg = run_region(graph, values, 0, 0, Region(0, 1, 2, 3))
    assert_exact(out, ref)
    assert seg.in_region == Region(0, 1, 2, 7)  # what the unit maps say


def test_unit_map_of_a_path_through_padding_only_rows():
    """Inside one block, path shortcut = conv3x3/p1 then conv1x1/p1: output row 0 of the 1x1
    reads only padding, so nothing of the 3x3 (nor of the input) is needed for it; the other path
    (conv1x1/p1) needs nothing either. The part is exact and reads nothing; the composed path map
    (an upper bound: it does not see the empty range in between) may claim row 0, never more."""
    torch.manual_seed(0)
    block = Residual(
        nn.Conv2d(1, 1, 1, padding=1), nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 1, padding=1))
    )
    graph = ModelGraph.from_module(nn.Sequential(block).eval(), (1, 8, 8))
    assert graph.num_units == 1
    values = intermediates(graph, torch.randn(1, 1, 8, 8))
    out, ref, seg = run_region(graph, values, 0, 0, Region(0, 1, 0, 10))
    assert_exact(out, ref)  # the biases only
    assert seg.in_region.empty
    lo, hi = graph.volume_input_range(0, 0, 0, 1)[-1]
    assert hi - lo <= 1  # the path map's over-estimate is bounded by the padding-only row


@settings(max_examples=40, **SETTINGS)
@given(spec=st.one_of(model_spec(), pair_model_spec()))
def test_tabulated_unit_maps_equal_the_maps_on_every_range(spec):
    """SplitMaths' lookup tables give every unit's input range exactly as the unit map does, for
    every (a, b) with 0 <= a, b <= height (empty and padding-only parts included)."""
    _, _, graph = build(spec)
    maths = SplitMaths(graph)
    for i, u in enumerate(graph.units):
        a, b = (g.ravel() for g in np.meshgrid(np.arange(u.height + 1), np.arange(u.height + 1)))
        (lo, hi), (want_lo, want_hi) = maths.ranges(i, i, np.stack([a, b], axis=1))[1], u.row_map(a, b)
        np.testing.assert_array_equal(lo[:, 0], want_lo)
        np.testing.assert_array_equal(hi[:, 0], want_hi)
