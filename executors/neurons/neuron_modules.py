"""Partitions of a traced model as stand-alone modules, and neuron-split layers run for real.

A HyPS partition is a run of layer spans (:func:`neurons.layer_spans`); :func:`partition_module`
builds it as its own ``torch.fx.GraphModule`` holding only that partition's submodules, so it can
be shipped to a worker without the rest of the model. With ``neurons=(start, end)`` the
partition is one span split by neurons: its Conv2d or Linear layer keeps output channels (or
features) ``start..end`` (:func:`slice_layer`: rows of the weight and of the bias), a BatchNorm
after it keeps the same channels, and the element-wise ops run on the slice. Each part reads the
span's whole input; concatenating the parts' outputs along dimension 1 gives the unsplit output
(:func:`concat_parts`), and the parts' parameters together are the original's.

:func:`weights_only` and :func:`structure_only` separate what a worker receives: the state_dict
(the partition's weights, nothing else) and the module with its tensors on the meta device (the
code and shapes, no values).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.fx import Graph, GraphModule, Node

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.neuron_spans import Span

__all__ = ["slice_layer", "partition_module", "concat_parts", "weights_only", "structure_only"]


def slice_layer(module: nn.Module, start: int, end: int) -> nn.Module:
    """A copy of a Conv2d, Linear or BatchNorm keeping output channels/features ``[start, end)``."""
    if isinstance(module, nn.Linear):
        n = module.out_features
    elif isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise PlanError(
                f"neuron split: grouped convolution (groups={module.groups}) cannot be split by output channels"
            )
        n = module.out_channels
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        n = module.num_features
    else:
        raise PlanError(f"neuron split: cannot slice a {type(module).__name__} by neurons")
    if not 0 <= start < end <= n:
        raise PlanError(f"neuron split: neurons [{start}, {end}) outside 0..{n}")
    with torch.device("meta"):
        if isinstance(module, nn.Linear):
            out: nn.Module = nn.Linear(module.in_features, end - start, bias=module.bias is not None)
        elif isinstance(module, nn.Conv2d):
            out = nn.Conv2d(
                module.in_channels,
                end - start,
                module.kernel_size,
                module.stride,
                module.padding,
                module.dilation,
                1,
                module.bias is not None,
                module.padding_mode,
            )
        else:
            out = type(module)(end - start, module.eps, module.momentum, module.affine, module.track_running_stats)
    state = {k: (v[start:end] if v.dim() >= 1 else v).clone() for k, v in module.state_dict().items()}
    out.load_state_dict(state, assign=True)
    return out.train(module.training)


def _nodes(graph: ModelGraph, spans: list[Span], first: int, last: int) -> tuple[Node, list[Node]]:
    nodes = [graph.node_by_name[n] for s in spans[first : last + 1] for n in s.nodes]
    prev = spans[first - 1].nodes[-1] if first > 0 else None
    return (graph.input_node if prev is None else graph.node_by_name[prev]), nodes


def partition_module(
    graph: ModelGraph, spans: list[Span], first: int, last: int, neurons: tuple[int, int] | None = None
) -> GraphModule:
    """Spans ``first..last`` as a module of their own (one span's neurons when ``neurons``)."""
    if not 0 <= first <= last < len(spans):
        raise PlanError(f"partition: spans {first}..{last} outside 0..{len(spans) - 1}")
    graph.materialize()  # slices and runs its modules: a meta-built graph gets its weights
    inp, nodes = _nodes(graph, spans, first, last)
    sliced: dict[str, nn.Module] = {}
    if neurons is not None:
        span = spans[first]
        if first != last or not span.splittable:
            raise PlanError(f"neuron split: span {span.name} ({span.kind}) cannot be split by neurons")
        main = graph.node_by_name[span.name]
        after = False
        for n in nodes:
            m = graph.ops[n].module
            if n is main:
                sliced[str(n.target)] = slice_layer(m, *neurons)  # type: ignore[arg-type]
                after = True
            elif after and isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                sliced[str(n.target)] = slice_layer(m, *neurons)
    sub = Graph()
    env: dict[Node, Node] = {inp: sub.placeholder("x")}
    modules: dict[str, nn.Module] = {}
    for n in nodes:
        for a in n.all_input_nodes:
            if a not in env:
                raise PlanError(f"partition: node {n.name} reads {a.name} from outside spans {first}..{last}")
        env[n] = sub.node_copy(n, lambda a: env[a])
        if n.op == "call_module":
            t = str(n.target)
            modules[t] = sliced.get(t) or graph.gm.get_submodule(t)
        elif n.op == "get_attr":
            raise PlanError(f"partition: node {n.name} reads an attribute; not supported")
    sub.output(env[nodes[-1]])
    return GraphModule(modules, sub, class_name=f"Partition_{spans[first].name}_{spans[last].name}").eval()


def concat_parts(outputs: list[torch.Tensor]) -> torch.Tensor:
    """The unsplit output from the parts' outputs, in neuron order."""
    return torch.cat(outputs, dim=1)


def weights_only(module: nn.Module) -> dict[str, torch.Tensor]:
    """What a worker is sent as values: the partition's state_dict (contiguous tensors)."""
    return {k: v.detach().contiguous() for k, v in module.state_dict().items()}


def structure_only(module: nn.Module) -> nn.Module:
    """The partition with every tensor on the meta device: code and shapes, no values."""
    memo: dict[int, object] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(module, memo)  # the memo stands in meta tensors: no values are copied
