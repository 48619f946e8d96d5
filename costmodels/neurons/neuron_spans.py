"""Layers as HyPS sees them, their memory, and the cost of splitting one by neurons.

HyPS (PAPERS-AUDIT A.4, C.4) reasons about a list of *layers* (VGG-16: 13 conv + 5 pool + 3 fc =
21, fc6 = L19) with their parameter counts and feature-map sizes, and about a device *threshold*:
the most parameters a device can hold. This module gives that list for any traced
:class:`ModelGraph`, the memory a partition of it needs, and the cost of a *neuron split* (HyPS's
"horizontal partition": one layer's output neurons or channels divided into parts, each part
computing its slice from the full input).

Choices where the paper is silent (each one a constant or a function below):

* **Layers (spans).** Every spatial unit of the graph is one span (a conv or pool with its
  element-wise ops). The head is cut into spans at every layer with parameters: a span is a
  Linear/Conv2d with the element-wise ops after it; parameter-free ops before the head's first
  such layer (VGG's adaptive pooling and flatten) join that layer's span, so every part of a split
  fc6 runs them itself (they are free of parameters and cheap). VGG-16 gives 18 + 3 = 21 spans,
  the paper's 21 layers (HY L278).
* **Splittable.** A span can be neuron-split when it holds exactly one Conv2d (groups = 1) or
  Linear and otherwise only element-wise ops (BatchNorm included: its per-channel parameters are
  sliced with the channels). Blocks (residual, inception) are not.
* **Memory of a partition on a device**: the worker's footprint, measured and fitted
  (:class:`MemoryModel`, ``costmodels/data/hyps_memory.json``, written by
  ``python -m splitgym.experiments.hyps_memory``): ``a`` x its weight bytes (the hub worker holds
  them once: they arrive in one buffer that becomes the tensors; a ``torch.load`` of the same
  bytes measured 2.0 copies) + the largest, over its spans, of ``b`` x the live activations (the
  span's input and output, and the partition's input, which the worker holds to the end) plus
  what the kind of layer allocates for itself (a convolution: oneDNN's reordered copy of its
  weights and its blocked output; a max pool: its int64 indices) + a constant. Conservative by
  construction: the constant is raised until the model bounds every measured case. A device runs
  its partitions one after another, loading each and dropping it when done (HyPS's "distributed
  over time", HY L209), so its peak is the largest of its partitions, not their sum.
* **Budget.** usable bytes = ``memory_mb - reserved_mb`` of the device (an optional per-device
  ``memory_mb``/``reserved_mb`` in ``conf/devices/*.yaml``; by default the board's memory and
  nothing reserved). The *parameter threshold* of HyPS's Algorithm 1 is derived from it:
  ``(usable - constant - activation) / (a * 4 bytes)``.
* **Compute.** A unit span costs its profiled latency at full height; a head span costs the
  profile's head seconds times its share of the head's FLOPs (profiles time the head as one
  piece). A neuron part costs its span's seconds times its share of the output neurons (the work
  of a conv or linear layer is linear in its output channels).
* **Communication** of a neuron split: every part receives the span's whole input (a broadcast)
  and returns its slice of the output, over the link between its device and the hub (HyPS's
  communication hub holds every feature map, HY L233); each message pays the link's latency and
  overhead (:mod:`network`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from torch import nn
from torch.fx import Node

from splitgym.costmodels.boards import BOARDS
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, PlanError
from splitgym.costmodels.graph import DTYPE_BYTES, Layer, ModelGraph, _shape
from splitgym.costmodels.network import Link
from splitgym.costmodels.ops import OpKind
from splitgym.costmodels.profiles import DeviceProfile

__all__ = [
    "Span",
    "layer_spans",
    "span_by_layer",
    "MEMORY_FILE",
    "MemoryModel",
    "memory_model",
    "DeviceMemory",
    "device_memory",
    "partition_bytes",
    "span_terms",
    "param_threshold",
    "fewest_parts",
    "equal_parts",
    "span_seconds",
    "NeuronCost",
    "neuron_split_cost",
]

#: The worker's measured memory model (:mod:`splitgym.experiments.hyps_memory` writes it).
MEMORY_FILE = Path(__file__).parent.parent / "data" / "hyps_memory.json"

_SLICEABLE = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class Span:
    """One HyPS layer: a unit, or a stretch of the head around one layer with parameters."""

    index: int
    name: str  # the node a neuron split slices (conv/linear), else the unit's first node
    kind: str  # "conv" | "maxpool" | "linear" | ... (the main op's kind)
    unit: int | None  # unit index of a spatial span; None in the head
    nodes: tuple[str, ...]
    params: int
    flops: int
    in_bytes: int
    out_bytes: int
    neurons: int  # output channels (4-D output) or features (2-D output)
    splittable: bool

    @property
    def param_bytes(self) -> int:
        return self.params * DTYPE_BYTES

    @property
    def act_bytes(self) -> int:
        """Input + output activation bytes (fp32, batch 1)."""
        return self.in_bytes + self.out_bytes

    @property
    def pool(self) -> bool:
        """A pooling layer's output: an optional cut point of HyPS (HY L192)."""
        return self.kind in ("maxpool", "avgpool", "adaptive_pool")


def _bytes(node: Node) -> int:
    return math.prod(_shape(node)) * DTYPE_BYTES


def _module(graph: ModelGraph, node: Node) -> nn.Module | None:
    return graph.ops[node].module


def _has_params(graph: ModelGraph, node: Node) -> bool:
    m = _module(graph, node)
    return m is not None and any(True for _ in m.parameters())


def _splittable(graph: ModelGraph, nodes: list[Node]) -> tuple[bool, Node | None]:
    """Whether a span of nodes can be neuron-split, and the node a split slices."""
    main = [n for n in nodes if isinstance(_module(graph, n), _SLICEABLE)]
    if len(main) != 1:
        return False, None
    m = _module(graph, main[0])
    if isinstance(m, nn.Conv2d) and m.groups != 1:
        return False, main[0]
    after = nodes[nodes.index(main[0]) + 1 :]
    for n in after:
        op = graph.ops[n]
        mod = op.module
        elementwise = op.kind is OpKind.POINTWISE and len([a for a in n.all_input_nodes]) == 1
        if not elementwise or (
            mod is not None and _has_params(graph, n) and not isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d))
        ):
            return False, main[0]
    before = nodes[: nodes.index(main[0])]
    if any(_has_params(graph, n) for n in before):
        return False, main[0]
    return True, main[0]


def _span(
    graph: ModelGraph, index: int, nodes: list[Node], inp: Node, unit: int | None, by_name: dict[str, Layer]
) -> Span:
    ok, main = _splittable(graph, nodes)
    kind = graph.ops[main].layer_kind if main is not None else graph.ops[nodes[0]].layer_kind
    if unit is not None:
        kind = graph.units[unit].kind if graph.units[unit].kind != "block" else "block"
    out = _shape(nodes[-1])
    return Span(
        index=index,
        name=(main or nodes[0]).name,
        kind=kind,
        unit=unit,
        nodes=tuple(n.name for n in nodes),
        params=sum(by_name[n.name].params for n in nodes),
        flops=sum(by_name[n.name].flops for n in nodes),
        in_bytes=_bytes(inp),
        out_bytes=_bytes(nodes[-1]),
        neurons=out[1] if len(out) >= 2 else 1,
        splittable=ok,
    )


def layer_spans(graph: ModelGraph) -> list[Span]:
    """The model as HyPS's list of layers: one span per unit, then the head's spans."""
    by_name = {layer.name: layer for layer in graph.layers}
    spans: list[Span] = []
    prev = graph.input_node
    for u, nodes in enumerate(graph.unit_nodes):
        spans.append(_span(graph, len(spans), nodes, prev, u, by_name))
        prev = nodes[-1]
    groups: list[list[Node]] = []
    current: list[Node] = []
    seen_param = False
    for n in graph.head_nodes:
        if _has_params(graph, n) and seen_param:
            groups.append(current)
            current = []
        seen_param = seen_param or _has_params(graph, n)
        current.append(n)
    if current:
        groups.append(current)
    for nodes in groups:
        spans.append(_span(graph, len(spans), nodes, prev, None, by_name))
        prev = nodes[-1]
    return spans


def span_by_layer(spans: list[Span], layer: str) -> Span:
    """The span a neuron split names by its layer (node) name; a :class:`PlanError` line if none."""
    for s in spans:
        if s.name == layer:
            return s
    names = [s.name for s in spans if s.splittable]
    raise PlanError(
        f"neuron_splits.layer: no layer {layer!r} in the model (splittable: "
        f"{', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
    )


# -- memory -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceMemory:
    """A device's memory budget: ``usable = total - reserved`` bytes (None: unlimited)."""

    device: str
    total_bytes: int | None
    reserved_bytes: int = 0

    @property
    def usable_bytes(self) -> int | None:
        return None if self.total_bytes is None else self.total_bytes - self.reserved_bytes

    @property
    def usable_mb(self) -> float | None:
        u = self.usable_bytes
        return None if u is None else u / 2**20


def device_memory(cluster: Cluster) -> dict[str, DeviceMemory]:
    """Per device: ``memory_mb``/``reserved_mb`` from its config, else its board's memory."""
    out = {}
    for d in cluster.devices:
        total_mb = getattr(d, "memory_mb", None)
        if total_mb is None and d.board in BOARDS:
            total_mb = BOARDS[d.board].memory_gb * 1024
        reserved_mb = getattr(d, "reserved_mb", None) or 0.0
        if total_mb is not None and not 0 <= reserved_mb < total_mb:
            raise ConfigError(
                f"devices.{d.name}.reserved_mb: must be in [0, memory_mb={total_mb:g}), got {reserved_mb:g}"
            )
        out[d.name] = DeviceMemory(
            d.name, None if total_mb is None else int(total_mb * 2**20), int(reserved_mb * 2**20)
        )
    return out


@dataclass(frozen=True)
class MemoryModel:
    """Bytes a worker needs for a partition, per byte of each term (see the module docstring)."""

    weights: float  # x every weight byte of the partition (held once)
    activations: float  # x the live input + output bytes of a span
    conv_weights: float  # x a convolution's weight bytes (oneDNN's reordered copy, per call)
    conv_output: float  # x a convolution's output bytes (its blocked output before the reorder)
    pool_output: float  # x a max pool's output bytes (its int64 indices)
    constant_bytes: float  # the worker's own, raised to bound every measured case

    TERMS = ("weights", "activations", "conv_weights", "conv_output", "pool_output")


@lru_cache(maxsize=1)
def memory_model() -> MemoryModel:
    """The fitted model in :data:`MEMORY_FILE`; a missing file is one line naming the command."""
    try:
        data = json.loads(MEMORY_FILE.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"memory model: {MEMORY_FILE} is missing; python -m splitgym.experiments.hyps_memory writes it"
        ) from None
    return MemoryModel(**{f.name: float(data[f.name]) for f in fields(MemoryModel)})


def span_terms(span: Span, share: float = 1.0, live_input: int = 0) -> dict[str, float]:
    """A span's transient terms (all but ``weights``) for a ``share`` of its neurons, with
    ``live_input`` bytes of the partition's input still held."""
    out = span.out_bytes * share
    conv, pool = span.kind == "conv", span.kind == "maxpool"
    return {
        "activations": span.in_bytes + out + live_input,
        "conv_weights": span.param_bytes * share if conv else 0.0,
        "conv_output": out if conv else 0.0,
        "pool_output": out if pool else 0.0,
    }


def partition_bytes(spans: list[Span], share: float = 1.0, model: MemoryModel | None = None) -> float:
    """Peak bytes of a worker running ``spans`` as one partition (a ``share`` of one span's
    neurons for a neuron part), by the fitted :class:`MemoryModel`."""
    m = model or memory_model()
    peak = 0.0
    for i, s in enumerate(spans):
        terms = span_terms(s, share, spans[0].in_bytes if i else 0)
        peak = max(peak, sum(getattr(m, k) * v for k, v in terms.items()))
    return m.weights * sum(s.param_bytes for s in spans) * share + peak + m.constant_bytes


def param_threshold(usable_bytes: int, act_bytes: int = 0) -> int:
    """HyPS's threshold: the most parameters a device can hold next to ``act_bytes``."""
    m = memory_model()
    return max(0, int((usable_bytes - m.constant_bytes - m.activations * act_bytes) // (m.weights * DTYPE_BYTES)))


def equal_parts(neurons: int, k: int) -> list[tuple[int, int]]:
    """``k`` contiguous neuron ranges as equal as possible (the first ones one larger)."""
    if not 1 <= k <= neurons:
        raise ConfigError(f"parts: need 1 <= parts <= {neurons} neurons, got {k}")
    q, r = divmod(neurons, k)
    bounds = [0]
    for i in range(k):
        bounds.append(bounds[-1] + q + (1 if i < r else 0))
    return list(zip(bounds[:-1], bounds[1:]))


def _part_bytes(span: Span, start: int, end: int) -> float:
    return partition_bytes([span], (end - start) / span.neurons)


def fewest_parts(span: Span, usable_bytes: int) -> int:
    """The fewest equal neuron parts of ``span`` whose largest part fits in ``usable_bytes``."""
    for k in range(1, span.neurons + 1):
        a, b = equal_parts(span.neurons, k)[0]  # the largest part
        if _part_bytes(span, a, b) <= usable_bytes:
            return k
    raise ConfigError(
        f"memory: layer {span.name} does not fit in {usable_bytes / 2**20:.1f} MiB even split into "
        f"{span.neurons} parts (its input alone is {span.in_bytes / 2**20:.1f} MiB)"
    )


# -- time -------------------------------------------------------------------------------------
def span_seconds(span: Span, graph: ModelGraph, profile: DeviceProfile) -> float:
    """Seconds of a whole span on a device (see the module docstring)."""
    if span.unit is not None:
        return float(profile.unit_latency(span.unit, graph.units[span.unit].height))
    head_flops = graph.head.flops if graph.head is not None else 0
    return profile.head_seconds * span.flops / head_flops if head_flops else 0.0


@dataclass(frozen=True)
class NeuronCost:
    """Cost of one neuron split: per part (in plan order) and in total."""

    compute_s: list[float]
    send_s: list[float]  # hub -> part: the whole input
    return_s: list[float]  # part -> hub: its slice of the output
    bytes_in: list[int]
    bytes_out: list[int]
    peak_bytes: list[float]

    @property
    def communication_s(self) -> float:
        return sum(self.send_s) + sum(self.return_s)

    @property
    def compute_total_s(self) -> float:
        return sum(self.compute_s)


def neuron_split_cost(
    span: Span, parts: list[tuple[int, int]], graph: ModelGraph, profiles: list[DeviceProfile], links: list[Link]
) -> NeuronCost:
    """Compute, communication and memory of each part ``(start, end)`` of ``span``; part ``i``
    runs with ``profiles[i]`` and talks to the hub over ``links[i]``."""
    if not span.splittable:
        raise PlanError(
            f"neuron_splits.layer: layer {span.name} ({span.kind}) cannot be neuron-split "
            "(it needs one conv or linear layer with element-wise ops only)"
        )
    comp, send, ret, b_in, b_out, peak = [], [], [], [], [], []
    for (a, b), prof, link in zip(parts, profiles, links, strict=True):
        share = (b - a) / span.neurons
        out_b = int(round(span.out_bytes * share))
        comp.append(span_seconds(span, graph, prof) * share)
        send.append(link.seconds(span.in_bytes))
        ret.append(link.seconds(out_b))
        b_in.append(span.in_bytes)
        b_out.append(out_b)
        peak.append(_part_bytes(span, a, b))
    return NeuronCost(comp, send, ret, b_in, b_out, peak)
