"""A hybrid plan (layer cuts + neuron splits) read as HyPS's sequence of partitions.

A HyPS plan uses three fields of :class:`Plan`: ``stages`` (units ``first..last`` run whole on one
device: HyPS's V-partitions), ``neuron_splits`` (a layer's output neurons divided into parts, each
on a device: H-partitions) and ``head_device`` (the head's layers that are not neuron-split run
there, as one partition). :func:`hybrid_partitions` turns them into the ordered list of
partitions the scorer and the executor walk: every layer span (:func:`neurons.layer_spans`)
belongs to exactly one partition, partitions run one after another (HY L211), and the parts of a
neuron split run in parallel across devices, or one after another on one device.

Checked here, each failure one :class:`PlanError` line naming the field: stages in unit order
without gaps or overlaps (a neuron-split unit is the only allowed gap), neuron parts contiguous
from 0 to the layer's neurons, a ``head_device`` whenever some head span is not split.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.neuron_spans import Span, layer_spans, span_by_layer
from splitgym.costmodels.plan import Plan

__all__ = ["Part", "Partition", "hybrid_partitions"]


@dataclass(frozen=True)
class Part:
    """A device's share of a partition: neurons ``[start, end)`` of its last span (all of them
    for a whole partition)."""

    device: str
    start: int
    end: int


@dataclass(frozen=True)
class Partition:
    """Spans ``first..last`` run in sequence; ``neuron`` when the parts split one span."""

    index: int
    first: int
    last: int
    parts: tuple[Part, ...]
    neuron: bool

    @property
    def devices(self) -> list[str]:
        return sorted({p.device for p in self.parts})


def _neuron_partition(i: int, span: Span, ns_index: int, plan: Plan) -> Partition:
    ns = plan.neuron_splits[ns_index]  # type: ignore[index]
    expect = 0
    for j, p in enumerate(ns.parts):
        if p.start != expect or p.end <= p.start:
            raise PlanError(
                f"neuron_splits.{ns_index}.parts.{j}: expected neurons [{expect}, end > "
                f"{expect}) so parts are contiguous and non-empty (got [{p.start}, {p.end}))"
            )
        expect = p.end
    if expect != span.neurons:
        raise PlanError(
            f"neuron_splits.{ns_index}.parts: end at {expect}, layer {span.name} has {span.neurons} neurons"
        )
    parts = tuple(Part(p.device, p.start, p.end) for p in ns.parts)
    return Partition(i, span.index, span.index, parts, True)


def hybrid_partitions(plan: Plan, graph: ModelGraph, spans: list[Span] | None = None) -> list[Partition]:
    """The partitions of a hybrid plan, in execution order (see the module docstring)."""
    spans = layer_spans(graph) if spans is None else spans
    split_at: dict[int, int] = {}
    for k, ns in enumerate(plan.neuron_splits or []):
        s = span_by_layer(spans, ns.layer)
        if not s.splittable:
            raise PlanError(
                f"neuron_splits.{k}.layer: layer {ns.layer} ({s.kind}) cannot be "
                "neuron-split (it needs one conv or linear layer with element-wise ops only)"
            )
        if s.index in split_at:
            raise PlanError(f"neuron_splits.{k}.layer: layer {ns.layer} is split twice")
        split_at[s.index] = k
    split_units = {spans[i].unit for i in split_at if spans[i].unit is not None}
    stage_of: dict[int, tuple[int, str]] = {}  # unit -> (stage index, device)
    after = 0
    for k, st in enumerate(plan.stages or []):
        if st.first < after or st.last < st.first or st.last >= graph.num_units:
            raise PlanError(
                f"stages.{k}: expected units in order from {after} to at most "
                f"{graph.num_units - 1}, got {st.first}..{st.last}"
            )
        for u in range(st.first, st.last + 1):
            if u in split_units:
                raise PlanError(f"stages.{k}: unit {u} is neuron-split and also in a stage")
            stage_of[u] = (k, st.device)
        after = st.last + 1
    groups: list[tuple[tuple[str, int], str, list[Span]]] = []  # (key, device, spans)
    out: list[Partition] = []
    for s in spans:
        if s.index in split_at:
            groups.append((("neuron", s.index), "", [s]))
            continue
        if s.unit is not None:
            if s.unit not in stage_of:
                raise PlanError(
                    f"stages: unit {s.unit} ({graph.units[s.unit].name}) is in no stage and not neuron-split"
                )
            key, dev = ("stage", stage_of[s.unit][0]), stage_of[s.unit][1]
        else:
            if plan.head_device is None:
                raise PlanError(f"head_device: needed to run head layer {s.name} (not neuron-split)")
            key, dev = ("head", 0), plan.head_device
        if groups and groups[-1][0] == key:
            groups[-1][2].append(s)
        else:
            groups.append((key, dev, [s]))
    for key, dev, members in groups:
        if key[0] == "neuron":
            out.append(_neuron_partition(len(out), members[0], split_at[key[1]], plan))
        else:
            parts = (Part(dev, 0, members[-1].neurons),)
            out.append(Partition(len(out), members[0].index, members[-1].index, parts, False))
    return out
