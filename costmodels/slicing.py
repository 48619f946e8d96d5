"""Run a stretch of a traced model on a region: the contract every split relies on.

``SlicedSegment`` is the module one device runs for one split-part: units ``first..last`` of a
:class:`ModelGraph`, fed only the input region that part needs, producing exactly the requested
region of the unsplit output. Each node computes just the region its consumers need (the
node-level form of the row maths in :mod:`rowmap`); window ops slice their input and pad only
where the slice touches the tensor's true border; global ops get (and are given) everything.

The profiler times these modules, the property tests check them against the unsplit model, and
the executors run them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.fx import Node
from torch.fx.node import map_arg

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph, _shape, node_input_maps, tensor_inputs
from splitgym.costmodels.ops import OpKind, run_window

__all__ = ["Region", "SlicedSegment", "needed_regions", "segment_nodes"]


class Region(NamedTuple):
    """Rows [r0, r1) and columns [c0, c1) of a feature map."""

    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def empty(self) -> bool:
        return self.r1 <= self.r0 or self.c1 <= self.c0

    @property
    def rows(self) -> int:
        return max(0, self.r1 - self.r0)

    @property
    def cols(self) -> int:
        return max(0, self.c1 - self.c0)

    def hull(self, other: Region) -> Region:
        """Axis by axis: an empty range (rows read only padding) yields to a non-empty one."""

        def axis(a0: int, a1: int, b0: int, b1: int) -> tuple[int, int]:
            if a1 <= a0:
                return (b0, b1) if b1 > b0 else (a0, a1)
            return (a0, a1) if b1 <= b0 else (min(a0, b0), max(a1, b1))

        return Region(*axis(self.r0, self.r1, other.r0, other.r1), *axis(self.c0, self.c1, other.c0, other.c1))


EMPTY = Region(0, 0, 0, 0)


def _full(node: Node) -> Region:
    s = _shape(node)
    return Region(0, s[2], 0, s[3]) if len(s) == 4 else Region(0, 1, 0, 1)


def segment_nodes(graph: ModelGraph, first: int, last: int) -> tuple[Node, list[Node]]:
    """The input node and the nodes of units ``first..last``; ``last = num_units`` means the head."""
    if not 0 <= first <= last <= graph.num_units:
        raise PlanError(f"volume: units {first}..{last} outside 0..{graph.num_units - 1}")
    inp = graph.input_node if first == 0 else graph.unit_nodes[first - 1][-1]
    nodes = [n for u in range(first, min(last, graph.num_units - 1) + 1) for n in graph.unit_nodes[u]]
    if last == graph.num_units:
        nodes += graph.head_nodes
    return inp, nodes


def needed_regions(graph: ModelGraph, inp: Node, nodes: list[Node], out: Region) -> dict[Node, Region]:
    """The region of every node's output (and of ``inp``) needed for region ``out`` of the last
    node: the hull over consumers, propagated backwards."""
    need: dict[Node, Region] = {nodes[-1]: out}
    inside = set(nodes) | {inp}
    for n in reversed(nodes):
        r = need.get(n, EMPTY)
        if r.empty:
            continue
        col_maps = node_input_maps(n, graph.ops[n], 1)
        for src, mr in node_input_maps(n, graph.ops[n], 0).items():
            if src not in inside:
                continue
            mc = col_maps[src]
            rr, cc = mr.range(r.r0, r.r1), mc.range(r.c0, r.c1)
            here = Region(rr[0], rr[1], cc[0], cc[1])
            need[src] = need[src].hull(here) if src in need else here
    return need


@dataclass
class _Step:
    node: Node
    kind: OpKind
    # for window ops: the input node, its slice (relative to what is held) and border pads
    src: Node | None = None
    cut: tuple[int, int, int, int] | None = None
    pads: tuple[int, int, int, int] | None = None
    # for the others: per input node the slice to take (None = take it whole)
    cuts: dict[Node, tuple[int, int, int, int] | None] | None = None
    # for FULL ops: the part of the full output to keep
    keep: tuple[int, int, int, int] | None = None


class SlicedSegment(nn.Module):
    """Units ``first..last`` of ``graph`` computing region ``out`` of the last unit's output.

    ``forward`` takes the input region given by :attr:`in_region` (rows and columns of the
    segment's input tensor) and returns a tensor holding exactly ``out`` of the unsplit output.
    ``last = graph.num_units`` includes the head (which needs the full input).
    """

    def __init__(
        self, graph: ModelGraph, first: int, last: int, out: Region | None = None, name: str | None = None
    ) -> None:
        super().__init__()
        self.graph = graph.materialize()  # it runs the graph's modules: a meta-built graph gets its weights
        self.first, self.last = first, last
        self.stage_name = name or f"units[{first}..{last}]"
        self.inp, self.nodes = segment_nodes(graph, first, last)
        full_out = _full(self.nodes[-1])
        out = full_out if out is None else out
        if not out.empty and (out.r0 < 0 or out.c0 < 0 or out.r1 > full_out.r1 or out.c1 > full_out.c1):
            raise PlanError(f"region: {tuple(out)} outside the output {tuple(full_out)} of {self.stage_name}")
        self.out_region = out
        self.need = needed_regions(graph, self.inp, self.nodes, out) if not out.empty else {}
        self.in_region: Region = self.need.get(self.inp, EMPTY)
        self.in_shape = _shape(self.inp)
        self.out_channels = _shape(self.nodes[-1])[1]
        self.steps: list[_Step] = []
        self._zero_rows: set[Node] = set()
        self._modules_used = nn.ModuleDict()
        if not out.empty:
            self._plan_steps()

    # -- build ----------------------------------------------------------------------------------
    def _held(self, n: Node) -> Region:
        return self.need[n]

    def _plan_steps(self) -> None:
        for n in self.nodes:
            if n not in self.need:
                continue  # not needed for this part (e.g. a branch that only feeds other rows)
            r = self.need[n]
            if r.empty:  # its consumers read only padding here: a zero-size tensor will do
                self._zero_rows.add(n)
                continue
            op = self.graph.ops[n]
            if op.module is not None:
                self._modules_used[str(n.target).replace(".", "__")] = op.module
            if op.kind is OpKind.WINDOW:
                self.steps.append(self._window_step(n, r))
            elif op.kind is OpKind.POINTWISE:
                cuts = {}
                for src in tensor_inputs(n):
                    held = self._held(src)
                    if len(_shape(src)) != 4 or (_shape(src)[2] == 1 and _shape(n)[2] != 1):
                        cuts[src] = None  # broadcast operand: used whole
                    else:
                        cuts[src] = (r.r0 - held.r0, r.r1 - held.r0, r.c0 - held.c0, r.c1 - held.c0)
                self.steps.append(_Step(n, op.kind, cuts=cuts))
            else:
                full = _full(n)
                keep = None if r == full or len(_shape(n)) != 4 else (r.r0, r.r1, r.c0, r.c1)
                self.steps.append(_Step(n, op.kind, cuts={s: None for s in tensor_inputs(n)}, keep=keep))

    def _window_step(self, n: Node, r: Region) -> _Step:
        w = self.graph.ops[n].window
        assert w is not None
        src = tensor_inputs(n)[0]
        held = self._held(src)
        _, _, h, wd = _shape(src)
        lo = [r.r0 * w.stride[0] - w.pad_lo[0], r.c0 * w.stride[1] - w.pad_lo[1]]
        hi = [(r.r1 - 1) * w.stride[0] - w.pad_lo[0] + w.span(0), (r.c1 - 1) * w.stride[1] - w.pad_lo[1] + w.span(1)]
        pads, cut = [], []
        for ax, (size, off) in enumerate(((h, held.r0), (wd, held.c0))):
            # the real rows [s, e) inside the tensor; the window's other rows are border padding
            s = min(max(lo[ax], 0), size)
            e = max(s, min(hi[ax], size))
            before = min(max(0, -lo[ax]), hi[ax] - lo[ax])
            pads += [before, hi[ax] - lo[ax] - before - (e - s)]
            cut += [s - off, e - off]
        return _Step(n, OpKind.WINDOW, src=src, cut=tuple(cut), pads=tuple(pads))

    # -- run ------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_region.empty:
            return x.new_empty((x.shape[0], self.out_channels, 0, 0))
        want = (self.in_region.rows, self.in_region.cols)
        if x.dim() != 4 or tuple(x.shape[-2:]) != want or x.shape[1] != self.in_shape[1]:
            raise PlanError(
                f"{self.stage_name}: expected input rows {self.in_region.r0}..{self.in_region.r1} "
                f"x cols {self.in_region.c0}..{self.in_region.c1} with {self.in_shape[1]} channels "
                f"(shape [N, {self.in_shape[1]}, {want[0]}, {want[1]}]), got {list(x.shape)}"
            )
        env: dict[Node, torch.Tensor] = {self.inp: x}
        for n in self._zero_rows:
            r = self.need[n]
            env[n] = x.new_zeros((x.shape[0], _shape(n)[1], r.rows, r.cols))
        for st in self.steps:
            env[st.node] = self._run(st, env)
        return env[self.nodes[-1]]

    def _run(self, st: _Step, env: dict[Node, Any]) -> torch.Tensor:
        n = st.node
        op = self.graph.ops[n]
        if st.kind is OpKind.WINDOW:
            a0, a1, b0, b1 = st.cut  # type: ignore[misc]
            x = env[st.src][:, :, a0:a1, b0:b1]  # type: ignore[index]
            return run_window(op.window, None, op.module, x, st.pads)  # type: ignore[arg-type]
        vals = {}
        for src, cut in (st.cuts or {}).items():
            v = env[src]
            vals[src] = v if cut is None else v[:, :, cut[0] : cut[1], cut[2] : cut[3]]
        args = map_arg(n.args, lambda a: vals[a])
        kwargs = map_arg(n.kwargs, lambda a: vals[a])
        if n.op == "call_module":
            out = op.module(*args, **kwargs)  # type: ignore[misc]
        elif n.op == "call_function":
            out = n.target(*args, **kwargs)  # type: ignore[operator]
        else:
            out = getattr(args[0], str(n.target))(*args[1:], **kwargs)
        if st.keep is not None:
            r0, r1, c0, c1 = st.keep
            out = out[:, :, r0:r1, c0:c1]
        return out
