"""Graphs traced on the meta device (``from_torchvision(weights=False)``): the same graph as with
weights, and the same seeded weights once something runs it; no ``torch._dynamo`` import for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from splitgym.costmodels.graph import ModelGraph, graph_on
from splitgym.costmodels.models import build_model
from splitgym.costmodels.slicing import Region, SlicedSegment

MODELS = ["vgg16", "resnet50", "mobilenet_v2", "inception_v3", "efficientnet_b0"]


@pytest.mark.parametrize("name", MODELS)
def test_meta_graph_equals_real_graph(name: str) -> None:
    real = ModelGraph.from_torchvision(name)
    meta = ModelGraph.from_torchvision(name, weights=False)
    assert meta.is_meta and not real.is_meta
    assert meta.input_shape == real.input_shape == ((3, 299, 299) if name == "inception_v3" else (3, 224, 224))
    # units (names, kinds, tags, layers, shapes, params, flops, row/col maps), head and every layer
    assert meta.units == real.units
    assert meta.head == real.head
    assert meta.layers == real.layers
    assert meta.summary() == real.summary()
    assert meta.params == real.params and meta.flops == real.flops
    assert meta.is_meta  # none of that needed weights


def test_materialize_gives_the_seeded_weights() -> None:
    real = ModelGraph.from_torchvision("mobilenet_v2")
    meta = ModelGraph.from_torchvision("mobilenet_v2", weights=False)
    assert meta.materialize() is meta and not meta.is_meta
    a, b = real.gm.state_dict(), meta.gm.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    # the modules the ops hold are the ones that got them
    for op in meta.ops.values():
        if op.module is not None:
            assert all(not t.is_meta for t in [*op.module.parameters(), *op.module.buffers()])
    x = torch.randn(1, *real.input_shape)
    with torch.no_grad():
        assert torch.equal(meta.gm(x), real.gm(x))
    assert meta.materialize() is meta  # idempotent


def test_running_a_meta_graph_materializes_it() -> None:
    """``SlicedSegment`` (executors, profiler), ``graph_on`` and ``gm`` give real weights on first use."""
    real = ModelGraph.from_torchvision("resnet18", 96)
    x = torch.randn(1, *real.input_shape)
    meta = ModelGraph.from_torchvision("resnet18", 96, weights=False)
    seg = SlicedSegment(meta, 0, meta.num_units - 1, Region(0, 2, 0, 3))
    assert not meta.is_meta
    ref = SlicedSegment(real, 0, real.num_units - 1, Region(0, 2, 0, 3))
    with torch.no_grad():
        assert torch.equal(seg(x), ref(x))
    meta = ModelGraph.from_torchvision("resnet18", 96, weights=False)
    assert graph_on(meta, "cpu") is meta and not meta.is_meta
    meta = ModelGraph.from_torchvision("resnet18", 96, weights=False)
    with torch.no_grad():
        assert torch.equal(meta.gm(x), real.gm(x))


def test_meta_build_falls_back_to_weights() -> None:
    """RegNet's constructor reads tensor values: it is built with its weights instead."""
    model = build_model("regnet_y_400mf", meta=True)
    assert not any(p.is_meta for p in model.parameters())


def test_meta_graph_does_not_import_dynamo() -> None:
    """torchvision and meta shape propagation run with a stand-in; the real torch._dynamo works after."""
    code = textwrap.dedent(
        """
        import sys
        import torch
        from splitgym.costmodels.graph import ModelGraph
        g = ModelGraph.from_torchvision("resnet18", 64, weights=False)
        assert g.is_meta
        assert "torch._dynamo" not in sys.modules and "_dynamo" not in vars(torch), "dynamo imported"
        import torch._dynamo
        assert torch._dynamo.disable.__module__.startswith("torch._dynamo")
        f = torch.compile(lambda a: a * 2 + 1, backend="eager")
        assert torch.equal(f(torch.ones(3)), torch.full((3,), 3.0))
        from torchvision.ops import roi_align
        assert roi_align(torch.ones(1, 1, 8, 8), torch.tensor([[0, 0.0, 0.0, 4.0, 4.0]]), 2).shape == (1, 1, 2, 2)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
