"""ModelGraph: a CNN as a chain of splittable units plus a head, found by tracing.

The graph is read off the module with torch.fx and shape propagation (on fake or meta tensors, so a
4096x4096 VGG costs no compute). A graph traced from a model built on the ``meta`` device (shapes
only, ``ModelGraph.from_torchvision(name, weights=False)``) has the same units, shapes, FLOPs and
parameter counts; its modules get their real, seeded weights (:meth:`ModelGraph.materialize`) the
first time something needs them: ``graph.gm``, :func:`graph_on`, a sliced segment, the profiler.

Its nodes are grouped into *units*: the stretches between *cut points*, nodes through which every
path from input to output passes. In a plain CNN a unit is one layer (a conv or a pool with the
element-wise ops that follow it); in ResNet, MobileNet, Inception or EfficientNet it is a whole
block, whose row maths is composed from its branches.
DistrEdge's "layers", the volumes of a plan and the stages of a pipeline are ranges of units.

The *spatial* units come first; the *head* is the tail after the last window op (adaptive
pooling, flatten, linear): it is never split and runs on one device. A global op between window
ops (an SE gate inside a block, an op we do not know) stays in a unit that needs its whole input.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import torch
from torch import nn
from torch.fx import GraphModule, Node, symbolic_trace
from torch.fx.passes.shape_prop import ShapeProp

from splitgym.costmodels.errors import UnsupportedModelError
from splitgym.costmodels.models import DEFAULT_INPUT, build_model
from splitgym.costmodels.nodynamo import without_dynamo
from splitgym.costmodels.ops import NodeOp, OpKind, classify
from splitgym.costmodels.rowmap import AxisMap, UnitMap

__all__ = ["Layer", "Unit", "Head", "ModelGraph", "graph_on", "node_input_maps", "tensor_inputs"]

DTYPE_BYTES = 4  # fp32 activations, as the executor runs them


@dataclass(frozen=True)
class Layer:
    """One traced operation with the configuration a cost model needs."""

    name: str
    kind: str
    split: str  # "window" | "pointwise" | "full"
    unit: int  # index of its unit; -1 for the head
    c_in: int
    c_out: int
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    padding: tuple[int, int] | None
    dilation: tuple[int, int] | None
    groups: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int
    out_bytes: int


@dataclass(frozen=True)
class Unit:
    """A splittable stretch of the model between two cut points."""

    index: int
    name: str
    kind: str  # "conv" | "maxpool" | "avgpool" | "block" | "pointwise"
    tags: tuple[str, ...]
    layers: tuple[str, ...]
    in_shape: tuple[int, int, int]  # (C, H, W)
    out_shape: tuple[int, int, int]
    params: int
    flops: int
    row_map: UnitMap = field(repr=False)
    col_map: UnitMap = field(repr=False)

    @property
    def height(self) -> int:
        return self.out_shape[1]

    @property
    def out_bytes(self) -> int:
        return math.prod(self.out_shape) * DTYPE_BYTES

    @property
    def row_bytes(self) -> int:
        """Bytes of one output row (all channels, full width)."""
        return self.out_shape[0] * self.out_shape[2] * DTYPE_BYTES

    @property
    def in_row_bytes(self) -> int:
        return self.in_shape[0] * self.in_shape[2] * DTYPE_BYTES

    @property
    def kernel(self) -> int:
        """Effective filter size F along the height (a block's receptive field)."""
        return self.row_map.receptive_field

    @property
    def stride(self) -> int:
        return self.row_map.stride


@dataclass(frozen=True)
class Head:
    """The unsplit tail (global pooling, classifier), run on one device."""

    layers: tuple[str, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int

    @property
    def out_bytes(self) -> int:
        return math.prod(self.out_shape) * DTYPE_BYTES


def _shape(node: Node) -> tuple[int, ...]:
    tm = node.meta.get("tensor_meta")
    if tm is None or not hasattr(tm, "shape"):
        raise UnsupportedModelError(
            f"node {node.name}: output is not a single tensor ({type(tm).__name__}); "
            "splitgym needs a model whose every op returns one tensor"
        )
    return tuple(int(d) for d in tm.shape)


def _spatial(shape: tuple[int, ...], axis: int) -> int:
    """Height (axis 0) or width (axis 1) of a 4-D NCHW shape; 1 for anything else."""
    return shape[2 + axis] if len(shape) == 4 else 1


def tensor_inputs(node: Node) -> list[Node]:
    """The nodes a node reads, in argument order, without duplicates."""
    out: list[Node] = []
    for a in node.all_input_nodes:
        if a not in out:
            out.append(a)
    return out


def node_input_maps(node: Node, op: NodeOp, axis: int) -> dict[Node, AxisMap]:
    """For each input of ``node``: the map from a range of the node's output to the range of that
    input it needs, along ``axis`` (0 = rows, 1 = columns)."""
    out_size = _spatial(_shape(node), axis)
    maps: dict[Node, AxisMap] = {}
    for inp in tensor_inputs(node):
        size_in = _spatial(_shape(inp), axis)
        if op.kind is OpKind.WINDOW:
            assert op.window is not None
            maps[inp] = AxisMap.window(op.window, axis, size_in)
        elif op.kind is OpKind.POINTWISE and (size_in == out_size or size_in != 1):
            maps[inp] = AxisMap.identity(size_in)
        else:  # FULL, or a broadcast (height-1) input of an element-wise op
            maps[inp] = AxisMap.full(size_in)
    return maps


def _flops(node: Node, op: NodeOp, module: nn.Module | None) -> int:
    out = _shape(node)
    numel = math.prod(out)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return 2 * numel * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return 2 * numel * module.in_features
    if op.kind is OpKind.WINDOW and op.window is not None:
        return numel * op.window.kernel[0] * op.window.kernel[1]
    if op.layer_kind == "adaptive_pool":
        return math.prod(_shape(tensor_inputs(node)[0]))
    if op.layer_kind in ("flatten", "dropout", "identity", "stochastic_depth", "concat"):
        return 0
    if op.layer_kind == "batchnorm2d":
        return 2 * numel
    return numel


def _params(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def _layer(node: Node, op: NodeOp, unit: int, root: GraphModule) -> Layer:
    module = op.module
    ins = tensor_inputs(node)
    in_shape = _shape(ins[0]) if ins else ()
    out_shape = _shape(node)
    w = op.window
    groups = module.groups if isinstance(module, nn.Conv2d) else 1
    return Layer(
        name=node.name,
        kind=op.layer_kind,
        split=op.kind.value,
        unit=unit,
        c_in=in_shape[1] if len(in_shape) > 1 else 0,
        c_out=out_shape[1] if len(out_shape) > 1 else 0,
        kernel=w.kernel if w else None,
        stride=w.stride if w else None,
        padding=w.pad_lo if w else None,
        dilation=w.dilation if w else None,
        groups=groups,
        in_shape=in_shape,
        out_shape=out_shape,
        params=_params(module),
        flops=_flops(node, op, module),
        out_bytes=math.prod(out_shape) * DTYPE_BYTES,
    )


def _tensors(gm: GraphModule, named: bool = False) -> list[Any]:
    """Every parameter, buffer and tensor constant (``get_attr``) of ``gm``, or (name, tensor) pairs."""
    pairs = itertools.chain(gm.named_parameters(remove_duplicate=False), gm.named_buffers(remove_duplicate=False))
    out = list(pairs)
    for n in gm.graph.nodes:
        if n.op == "get_attr":
            value = gm
            for part in str(n.target).split("."):
                value = getattr(value, part)
            if isinstance(value, torch.Tensor):
                out.append((str(n.target), value))
    return out if named else [t for _, t in out]


def _propagate_shapes(gm: GraphModule, input_shape: tuple[int, ...], meta: bool) -> None:
    """Record each node's output shape (``tensor_meta``) without computing anything: on meta
    tensors for a meta-built module, else on fake tensors. ShapeProp prints a node's traceback to
    stderr before raising; the caller turns the error into one line, so that text is swallowed."""
    with contextlib.redirect_stderr(io.StringIO()):
        if meta:
            with torch.device("meta"), without_dynamo():  # tensors created inside forward are meta too
                ShapeProp(gm).propagate(torch.empty(1, *input_shape))
            return
        from torch._subclasses.fake_tensor import FakeTensorMode

        ShapeProp(gm, fake_mode=FakeTensorMode(allow_non_fake_inputs=True)).propagate(torch.empty(1, *input_shape))


def _cut_segments(nodes: list[Node]) -> list[list[Node]]:
    """Split a topologically ordered node list at every cut point (a node that is the only live
    value when it is produced)."""
    pos = {n: i for i, n in enumerate(nodes)}
    last_use = [max((pos[u] for u in n.users if u in pos), default=i) for i, n in enumerate(nodes)]
    segments: list[list[Node]] = []
    current: list[Node] = []
    live_until: list[int] = []  # last uses of values produced so far
    for i, n in enumerate(nodes):
        current.append(n)
        live_until = [t for t in live_until if t > i]
        if last_use[i] > i:
            live_until.append(last_use[i])
        if len(live_until) == 1 and last_use[i] > i:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    return segments


def _common_prefix(names: Iterable[str]) -> str:
    parts = [n.split(".") for n in names]
    prefix: list[str] = []
    for group in zip(*parts):
        if len(set(group)) != 1:
            break
        prefix.append(group[0])
    return ".".join(prefix)


class ModelGraph:
    """A traced CNN: its layers, its chain of splittable units, and its head.

    Build it with :meth:`from_torchvision` or :meth:`from_module`; it keeps the traced
    ``GraphModule`` so executors and the profiler run exactly the operations it describes.
    ``weights``: builds ``module`` again with real weights, for a ``module`` built on the meta
    device (see :meth:`materialize`).
    """

    def __init__(
        self,
        name: str,
        module: nn.Module,
        input_shape: tuple[int, int, int],
        weights: Callable[[], nn.Module] | None = None,
    ) -> None:
        self.name = name
        self.input_shape = tuple(int(d) for d in input_shape)
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise UnsupportedModelError(f"input: expected (C, H, W) with positive sizes, got {input_shape}")
        try:
            self._gm: GraphModule = symbolic_trace(module.eval())
        except Exception as exc:  # torch.fx raises many types on untraceable code
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UnsupportedModelError(f"model {name}: torch.fx cannot trace it ({msg})") from exc
        self._weights = weights
        self.is_meta = any(t.is_meta for t in _tensors(self._gm))
        try:
            _propagate_shapes(self._gm, self.input_shape, self.is_meta)
        except Exception as exc:
            root = exc.__cause__ or exc  # ShapeProp wraps the op's own error in "ShapeProp error for: node=..."
            msg = str(root).splitlines()[0] if str(root) else type(root).__name__
            raise UnsupportedModelError(
                f"input: model {name} does not accept an input of shape {self.input_shape} ({msg})"
            ) from exc
        self._build()

    @classmethod
    def from_torchvision(
        cls, name: str, input_size: int | tuple[int, int] | None = None, seed: int = 0, weights: bool = True
    ) -> ModelGraph:
        """Trace a randomly initialised torchvision model at a square or (H, W) input size.

        ``weights=False``: trace it on the meta device (~20x faster, same units, shapes, FLOPs and
        parameters); the seeded weights are built when first needed (:meth:`materialize`)."""
        size = input_size if input_size is not None else DEFAULT_INPUT.get(name, 224)
        h, w = (size, size) if isinstance(size, int) else size
        if weights:
            return cls(name, build_model(name, seed=seed), (3, int(h), int(w)))
        real = partial(build_model, name, seed=seed)
        return cls(name, build_model(name, seed=seed, meta=True), (3, int(h), int(w)), weights=real)

    @classmethod
    def from_module(cls, module: nn.Module, input_shape: tuple[int, int, int], name: str = "custom") -> ModelGraph:
        return cls(name, module, input_shape)

    @property
    def gm(self) -> GraphModule:
        """The traced module, with real weights (a meta-built graph gets them now)."""
        self.materialize()
        return self._gm

    def materialize(self) -> ModelGraph:
        """Give a meta-built graph its real weights, in place: every module of :attr:`gm` (the very
        modules ``ops`` hold, and any copy made after) gets the tensors of ``weights()`` (for
        :meth:`from_torchvision`: ``build_model(name, seed)``, so outputs are bit-identical to a
        graph built with weights). A no-op on a graph that has them; returns ``self``."""
        if not self.is_meta:
            return self
        if self._weights is None:
            raise UnsupportedModelError(
                f"model {self.name}: built on the meta device, with no way to build its weights"
            )
        state = self._weights().state_dict()
        missing, _ = self._gm.load_state_dict(state, strict=False, assign=True)
        left = [k for k, t in _tensors(self._gm, named=True) if t.is_meta]
        if missing or left:
            raise UnsupportedModelError(f"model {self.name}: no real weights for {sorted({*missing, *left})[:5]}")
        self.is_meta = False
        return self

    # -- construction -------------------------------------------------------------------------
    def _build(self) -> None:
        graph_nodes = list(self._gm.graph.nodes)
        placeholders = [n for n in graph_nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise UnsupportedModelError(f"model {self.name}: expected one input, found {len(placeholders)}")
        self.input_node: Node = placeholders[0]
        body = [n for n in graph_nodes if n.op not in ("placeholder", "output")]
        self.ops: dict[Node, NodeOp] = {n: classify(n, self._gm) for n in body}
        segments = _cut_segments([self.input_node, *body])[1:] if body else []
        # the input is its own segment when it is a cut point; otherwise (a model whose input
        # is read twice, far apart) the first segment starts with it
        if segments and segments[0] and segments[0][0] is self.input_node:
            segments[0] = segments[0][1:]
        merged: list[list[Node]] = []
        for seg in segments:
            only_pointwise = all(self.ops[n].kind is OpKind.POINTWISE for n in seg)
            if merged and only_pointwise and len(tensor_inputs(seg[0])) == 1:
                merged[-1].extend(seg)
            else:
                merged.append(list(seg))
        # the head is the tail without window ops (global pooling, flatten, classifier), cut
        # earlier only by a non-spatial tensor; a global op between windows is an unsplittable unit
        with_window = [i for i, seg in enumerate(merged) if any(self.ops[n].kind is OpKind.WINDOW for n in seg)]
        if with_window:
            head_start = with_window[-1] + 1
        else:  # element-wise layers only: they are the units, up to the first global op
            head_start = next(
                (i for i, seg in enumerate(merged) if any(self.ops[n].kind is OpKind.FULL for n in seg)), len(merged)
            )
        for i, seg in enumerate(merged[:head_start]):
            if any(len(_shape(n)) != 4 for n in seg):
                head_start = i
                break
        self.unit_nodes: list[list[Node]] = merged[:head_start]
        head_nodes = [n for seg in merged[head_start:] for n in seg]
        if not self.unit_nodes:
            raise UnsupportedModelError(f"model {self.name}: no spatial layer to split")

        self.layers: list[Layer] = []
        self.units: list[Unit] = []
        prev: Node = self.input_node
        for ui, seg in enumerate(self.unit_nodes):
            for n in seg:
                self.layers.append(_layer(n, self.ops[n], ui, self._gm))
            self.units.append(self._unit(ui, seg, prev))
            prev = seg[-1]
        for n in head_nodes:
            self.layers.append(_layer(n, self.ops[n], -1, self._gm))
        self.head_nodes: list[Node] = head_nodes
        self.head: Head | None = None
        if head_nodes:
            hl = self.layers[-len(head_nodes) :]
            self.head = Head(
                layers=tuple(layer.name for layer in hl),
                in_shape=_shape(prev)[1:],
                out_shape=_shape(head_nodes[-1])[1:],
                params=sum(layer.params for layer in hl),
                flops=sum(layer.flops for layer in hl),
            )

    def _unit(self, index: int, seg: list[Node], inp: Node) -> Unit:
        in_shape = _shape(inp)
        out_shape = _shape(seg[-1])
        if len(in_shape) != 4:
            raise UnsupportedModelError(f"node {inp.name}: a spatial unit needs a 4-D input, got {in_shape}")
        windows = [n for n in seg if self.ops[n].kind is OpKind.WINDOW]
        fulls = [n for n in seg if self.ops[n].kind is OpKind.FULL]
        tags: list[str] = []
        merges = any(len(tensor_inputs(n)) > 1 for n in seg)
        if len(windows) > 1 or fulls or merges:
            kind = "block"
            kinds = [self.ops[n].layer_kind for n in seg]
            if "add" in kinds:
                tags.append("residual")
            if "concat" in kinds:
                tags.append("inception")
            if any(isinstance(self.ops[n].module, nn.Conv2d) and self.ops[n].module.groups > 1 for n in seg):
                tags.append("depthwise")
            if fulls:
                tags.append("se" if "mul" in kinds else "global")
        elif windows:
            kind = self.ops[windows[0]].layer_kind
        else:
            kind = "pointwise"
        targets = [str(n.target) for n in seg if n.op == "call_module"]
        if kind != "block" and windows:
            w = windows[0]
            name = str(w.target) if w.op == "call_module" else w.name
        else:
            name = _common_prefix(targets) if targets else seg[0].name
        if not name or (kind == "block" and len(targets) > 1 and name in targets):
            name = seg[0].name
        params = sum(_params(self.ops[n].module) for n in seg)
        flops = sum(_flops(n, self.ops[n], self.ops[n].module) for n in seg)
        return Unit(
            index=index,
            name=name,
            kind=kind,
            tags=tuple(tags),
            layers=tuple(n.name for n in seg),
            in_shape=in_shape[1:],  # type: ignore[arg-type]
            out_shape=out_shape[1:],  # type: ignore[arg-type]
            params=params,
            flops=flops,
            row_map=self._unit_map(seg, inp, 0),
            col_map=self._unit_map(seg, inp, 1),
        )

    def _unit_map(self, seg: list[Node], inp: Node, axis: int) -> UnitMap:
        """The set of path maps from the unit's output back to its input (dynamic programme)."""
        in_unit = set(seg)
        maps: dict[Node, set[AxisMap]] = {seg[-1]: {AxisMap.identity(_spatial(_shape(seg[-1]), axis))}}
        for n in reversed(seg):
            here = maps.get(n, set())
            for src, m in node_input_maps(n, self.ops[n], axis).items():
                if src in in_unit or src is inp:
                    maps.setdefault(src, set()).update(m.after(inner) for inner in here)
        return UnitMap(tuple(sorted(maps[inp], key=lambda m: (m.S, m.P, m.C, m.hi))))

    # -- queries ------------------------------------------------------------------------------
    @property
    def num_units(self) -> int:
        return len(self.units)

    def unit(self, key: int | str) -> Unit:
        if isinstance(key, int):
            return self.units[key]
        for u in self.units:
            if u.name == key:
                return u
        raise KeyError(key)

    @cached_property
    def node_by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self._gm.graph.nodes}

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self._gm.parameters())

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    def volume_input_range(self, first: int, last: int, a: int, b: int, axis: int = 0) -> list[tuple[int, int]]:
        """Output ranges each unit first..last must compute so that unit ``last`` yields
        ``[a, b)``, followed by the input range of unit ``first``: ``last - first + 2`` pairs,
        from the last unit back to the volume input."""
        out = [(a, b) if b > a else (0, 0)]
        for u in range(last, first - 1, -1):
            m = self.units[u].row_map if axis == 0 else self.units[u].col_map
            out.append(m.range(*out[-1]))
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (what ``splitgym graph`` prints)."""
        return {
            "model": self.name,
            "input": list(self.input_shape),
            "params": self.params,
            "flops": self.flops,
            "units": [
                {
                    "index": u.index,
                    "name": u.name,
                    "kind": u.kind,
                    "tags": list(u.tags),
                    "in_shape": list(u.in_shape),
                    "out_shape": list(u.out_shape),
                    "kernel": u.kernel,
                    "stride": u.stride,
                    "params": u.params,
                    "flops": u.flops,
                    "out_bytes": u.out_bytes,
                    "layers": list(u.layers),
                }
                for u in self.units
            ],
            "head": None
            if self.head is None
            else {
                "layers": list(self.head.layers),
                "in_shape": list(self.head.in_shape),
                "out_shape": list(self.head.out_shape),
                "params": self.head.params,
                "flops": self.head.flops,
            },
            "layers": [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(layer).items()} for layer in self.layers
            ],
        }


def graph_on(
    graph: ModelGraph, device: torch.device | str, cache: dict[torch.device, ModelGraph] | None = None
) -> ModelGraph:
    """``graph`` with its modules on ``device``: the graph itself on cpu (no copy), else a shallow
    copy whose ops hold copies of the modules moved there (the traced nodes are shared).

    Why a copy: ``Module.to`` moves in place, and the graph's modules are the ones every CPU part,
    reference output and later profile uses; moving them would leave those with CUDA weights.
    ``cache`` (device -> copy) lets several parts on one device share one copy."""
    graph.materialize()  # the copies need real weights to move
    dev = torch.device(device)
    if dev.type == "cpu":
        return graph
    cache = {} if cache is None else cache
    if dev not in cache:
        memo: dict[int, Any] = {}
        moved: dict[int, nn.Module] = {}
        ops = {}
        for n, op in graph.ops.items():
            if op.module is not None:
                if id(op.module) not in moved:
                    moved[id(op.module)] = copy.deepcopy(op.module, memo).to(dev)
                op = dataclasses.replace(op, module=moved[id(op.module)])
            ops[n] = op
        g = copy.copy(graph)
        g.ops = ops
        cache[dev] = g
    return cache[dev]
