"""Score a hybrid (HyPS) plan: compute, communication, latency and peak memory per device.

The volume simulator (:mod:`simulator`) scores row splits; a HyPS plan is a sequence of whole
partitions and neuron splits (:mod:`hybrid`), so it gets this scorer. Its timing model, with the
choices the paper leaves open (PAPERS-AUDIT B.4 items 38-40, C.4):

* **Through the hub.** HyPS's communication hub stores every intermediate feature map (HY L233);
  the hub is the plan's requester (it holds the image and gets the result). Each partition
  receives its input from the hub and returns its output to the hub, even when the next partition
  runs on the same device: that is what makes a run resumable, and it is what the paper measured
  on a single Pi (HY L325-L338).
* **Sequence.** Partitions run one after another (HY L211): a partition starts when the previous
  one's output is at the hub.
* **Neuron parts.** Each part receives the layer's whole input and returns its slice
  (:func:`neurons.neuron_split_cost`). Parts on different devices run in parallel; parts on one
  device run one after another (receive, compute, return); the partition ends with the last one.
  The hub sends to several devices at once without contention (the network module's rule).
* **Totals.** ``compute_s`` and ``communication_s`` are sums over every transfer and computation
  (the paper's computation and communication times); ``latency_s`` is the critical path.
* **Memory.** Per device, the largest of its partitions (:func:`neurons.partition_bytes`): a device
  loads a partition, runs it and drops it. ``fits`` compares it with the device's usable budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network
from splitgym.costmodels.neurons.hybrid_partitions import Partition, hybrid_partitions
from splitgym.costmodels.neurons.neuron_spans import (
    DeviceMemory,
    Span,
    layer_spans,
    neuron_split_cost,
    partition_bytes,
    span_seconds,
)
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile, profile_for

__all__ = ["HybridScore", "score_hybrid", "plan_memory"]


@dataclass
class HybridScore:
    """Where the time and memory of a hybrid plan go."""

    latency_s: float
    compute_s: float
    communication_s: float
    partitions: list[dict[str, Any]]
    peak_bytes: dict[str, float]
    usable_bytes: dict[str, int | None]
    devices: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return all(u is None or self.peak_bytes[d] <= u for d, u in self.usable_bytes.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "compute_s": self.compute_s,
            "communication_s": self.communication_s,
            "fits": self.fits,
            "per_device": [
                {
                    "device": d,
                    "peak_memory_mb": self.peak_bytes[d] / 2**20,
                    "usable_mb": None if self.usable_bytes[d] is None else self.usable_bytes[d] / 2**20,
                }
                for d in self.devices
            ],
            "partitions": self.partitions,
        }


def plan_memory(plan: Plan) -> dict[str, DeviceMemory]:
    """The memory budgets a HyPS plan records in ``meta["memory"]`` (unlimited when absent)."""
    mem = plan.meta.get("memory", {})
    return {
        d.name: DeviceMemory(
            d.name, mem.get(d.name, {}).get("total_bytes"), mem.get(d.name, {}).get("reserved_bytes", 0)
        )
        for d in plan.devices
    }


def _whole(
    p: Partition, spans: list[Span], graph: ModelGraph, prof: DeviceProfile, net: Network, hub: str
) -> tuple[float, float, float, float, int, int]:
    dev = p.parts[0].device
    members = spans[p.first : p.last + 1]
    link = net.link(hub, dev)
    back = net.link(dev, hub)
    comp = sum(span_seconds(s, graph, prof) for s in members)
    b_in, b_out = members[0].in_bytes, members[-1].out_bytes
    peak = partition_bytes(members)
    return comp, link.seconds(b_in), back.seconds(b_out), peak, b_in, b_out


def _score_layers(
    p: Partition,
    spans: list[Span],
    graph: ModelGraph,
    prof: dict[str, DeviceProfile],
    net: Network,
    hub: str,
    peak: dict[str, float],
    start: float,
) -> tuple[float, float, float, dict[str, Any]]:
    """A whole partition (consecutive layers on one device): its duration, compute and
    communication seconds and its report row; raises ``peak`` of its device to the partition's."""
    dev = p.parts[0].device
    c, s_in, s_out, pk, b_in, b_out = _whole(p, spans, graph, prof[dev], net, hub)
    peak[dev] = max(peak[dev], pk)
    row = {
        "partition": p.index,
        "kind": "layers",
        "spans": [p.first, p.last],
        "layers": [s.name for s in spans[p.first : p.last + 1]],
        "device": dev,
        "start_s": start,
        "compute_s": c,
        "communication_s": s_in + s_out,
        "in_s": s_in,
        "out_s": s_out,
        "bytes_in": b_in,
        "bytes_out": b_out,
        "device_compute_s": {dev: c},
        "peak_memory_mb": pk / 2**20,
    }
    return s_in + c + s_out, c, s_in + s_out, row


def _score_neurons(
    p: Partition,
    spans: list[Span],
    graph: ModelGraph,
    prof: dict[str, DeviceProfile],
    net: Network,
    hub: str,
    peak: dict[str, float],
    start: float,
) -> tuple[float, float, float, dict[str, Any]]:
    """A neuron-split layer: its duration (the busiest device: parts on one device run one after
    another), compute and communication seconds and its report row; raises ``peak`` per device."""
    span = spans[p.first]
    cost = neuron_split_cost(
        span,
        [(q.start, q.end) for q in p.parts],
        graph,
        [prof[q.device] for q in p.parts],
        [net.link(hub, q.device) for q in p.parts],
    )
    back = [net.link(q.device, hub).seconds(b) for q, b in zip(p.parts, cost.bytes_out)]
    busy: dict[str, float] = {}
    own: dict[str, float] = {}
    for q, c, s_in, s_out, pk in zip(p.parts, cost.compute_s, cost.send_s, back, cost.peak_bytes):
        busy[q.device] = busy.get(q.device, 0.0) + s_in + c + s_out
        own[q.device] = own.get(q.device, 0.0) + c
        peak[q.device] = max(peak[q.device], pk)
    row = {
        "partition": p.index,
        "kind": "neurons",
        "spans": [p.first, p.first],
        "layers": [span.name],
        "parts": len(p.parts),
        "devices": p.devices,
        "start_s": start,
        "compute_s": cost.compute_total_s,
        "communication_s": sum(cost.send_s) + sum(back),
        "in_s": sum(cost.send_s),
        "out_s": sum(back),
        "bytes_in": sum(cost.bytes_in),
        "bytes_out": sum(cost.bytes_out),
        "device_compute_s": own,
        "peak_memory_mb": max(cost.peak_bytes) / 2**20,
    }
    return max(busy.values()), cost.compute_total_s, sum(cost.send_s) + sum(back), row


def score_hybrid(
    plan: Plan,
    graph: ModelGraph,
    profiles: dict[str, DeviceProfile] | None = None,
    memory: dict[str, DeviceMemory] | None = None,
) -> HybridScore:
    """Score ``plan`` on ``graph`` with per-board ``profiles`` (derived when missing)."""
    plan.check(graph)
    spans = layer_spans(graph)
    parts = hybrid_partitions(plan, graph, spans)
    cluster = plan.cluster()
    net, hub = cluster.network, cluster.requester
    cache = dict(profiles or {})
    prof = {d.name: profile_for(d.spec, graph, cache) for d in cluster.devices}
    memory = plan_memory(plan) if memory is None else memory
    peak = {d: 0.0 for d in cluster.names}
    t = compute = comm = 0.0
    rows: list[dict[str, Any]] = []
    for p in parts:  # in sequence: a partition starts when the previous one's output is at the hub
        score = _score_neurons if p.neuron else _score_layers
        dur, c, s, row = score(p, spans, graph, prof, net, hub, peak, t)
        compute += c
        comm += s
        rows.append(row)
        t += dur
        rows[-1]["end_s"] = t
    return HybridScore(
        t,
        compute,
        comm,
        rows,
        peak,
        {d: memory[d].usable_bytes if d in memory else None for d in cluster.names},
        cluster.names,
    )
