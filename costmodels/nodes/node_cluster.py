"""Nodes with processors: HiDP's two-level view of a cluster (HI L110-L126, PAPERS-AUDIT C.5.1).

A :class:`Node` is an edge board with several processors (CPU clusters, GPU; figures in
``node_processors.py``, derived), an intra-node transfer rate (HiDP's mu), its network rate (beta, Mbps)
and an availability that can change over time (HiDP's alpha_j in {0, 1}, Eq. 4). A
:class:`NodeCluster` is a :class:`Cluster` (the boards on their network) refined by the nodes and the
*leader*, the node the request arrives at: it holds the input and wants the result (HI L146-L158),
so unlike DistrEdge's requester it also computes.

Configs: ``conf/devices/hidp-*.yaml`` are ordinary device groups (``splitgym plan hidp --devices
hidp-5`` works like any other group) with optional HiDP keys: ``leader``, ``network_mbps``,
``latency_ms`` and per device ``availability: [[t_s, 0|1], ...]`` (steps, from t = 0 available).

Profiles (:func:`processor_profiles`): each processor gets its own profile, derived like
:func:`profiles.derive` does for a board: a CPU processor (and a Pi's GL GPU) the local measured
profile's per-unit linear fit scaled by (local effective FLOP/s on this model) / (processor peak x
efficiency); a Jetson GPU the GPU wave model (:mod:`gpu_shape`) on its board's SM figures at fp32
and the processor's efficiency; all labelled derived. When
no local profile of the model is shipped or cached (ResNet-152 is not), the base is *FLOP-scaled*:
every unit takes ``flops x rows / height / rate`` with ``rate`` the local effective FLOP/s of the
closest shipped model (ResNet-50 for ResNets, else VGG-19), labelled so; nothing is measured here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from omegaconf import DictConfig

from splitgym.costmodels.boards import BOARDS
from splitgym.costmodels.boards import board as lookup_board
from splitgym.costmodels.cluster import REQUESTER, Cluster, Device, load_conf, plain_config
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.gpu_shape import MODEL_NAME as GPU_MODEL_NAME
from splitgym.costmodels.gpu_shape import GpuShapeParams, GpuSpec, gpu_tables
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network, link_seconds
from splitgym.costmodels.nodes.node_processors import (
    INTRA_OVERHEAD_S,
    PROCESSOR_BOARDS,
    ProcessorSpec,
    board_processors,
)
from splitgym.costmodels.profiles import (
    PROFILE_VERSION,
    SHIPPED_PROFILES,
    DeviceProfile,
    UnitTable,
    profile_dir,
    profile_for,
)

__all__ = ["Availability", "Node", "NodeCluster", "processor_profiles", "local_base"]


@dataclass(frozen=True)
class Availability:
    """Piecewise-constant availability: ``steps`` are ``(t_s, available)``, sorted; available
    before the first step."""

    steps: tuple[tuple[float, bool], ...] = ()

    def at(self, t: float) -> bool:
        state = True
        for ts, ok in self.steps:
            if t >= ts:
                state = ok
        return state


@dataclass(frozen=True)
class Node:
    name: str
    board: str
    processors: tuple[ProcessorSpec, ...]
    default: str
    idle_w: float
    intra_gbps: float
    network_mbps: float
    availability: Availability = field(default_factory=Availability)
    intra_overhead_s: float = INTRA_OVERHEAD_S
    #: the default processor also gets its input and returns its output through a hand-off (a node
    #: whose memory is a process of its own, as in this machine's executor); False on the boards
    default_handoff: bool = False

    def pays_handoff(self, processor: str) -> bool:
        """Whether work on ``processor`` pays the hand-offs in and out of the node's memory."""
        return processor != self.default or self.default_handoff

    def processor(self, name: str) -> ProcessorSpec:
        for p in self.processors:
            if p.name == name:
                return p
        raise ConfigError(
            f"processor: node {self.name} has no processor {name!r} "
            f"(it has {', '.join(p.name for p in self.processors)})"
        )

    @property
    def rate_gflops(self) -> float:
        """Lambda_j (HI Eq. 2): the sum of its processors' effective rates."""
        return sum(p.effective_gflops for p in self.processors)

    def intra_seconds(self, nbytes: float) -> float:
        """One hand-off of ``nbytes`` between two processors of this node (0 bytes: free)."""
        return 0.0 if nbytes <= 0 else self.intra_overhead_s + nbytes / (self.intra_gbps * 1e9)


@dataclass(init=False)
class NodeCluster(Cluster):
    """A :class:`Cluster` whose devices are HiDP nodes: it *is* the board-level cluster (one device
    per node, each capped at the node's rate, the requester with the leader at the leader's rate,
    the cluster's latency and no per-transfer overhead), so it goes wherever a cluster does (volume
    planners, baselines, plans, executors), and it adds what HiDP's two levels need: the nodes'
    processors, the leader and availability over time."""

    nodes: list[Node]
    leader: str
    latency_s: float

    def __init__(self, name: str, nodes: list[Node], leader: str, latency_s: float = 0.0) -> None:
        names = [n.name for n in nodes]
        if not names or len(set(names)) != len(names):
            raise ConfigError(f"nodes: need unique node names, got {names}")
        if leader not in names:
            raise ConfigError(f"leader: {leader!r} is not a node ({', '.join(names)})")
        self.nodes, self.leader, self.latency_s = list(nodes), leader, latency_s
        caps = {n.name: n.network_mbps for n in self.nodes}
        caps[REQUESTER] = caps[leader]
        super().__init__(name, [Device(n.name, n.board) for n in self.nodes], Network(caps, latency_s, 0.0))

    @property
    def leader_index(self) -> int:
        return self.names.index(self.leader)

    def available(self, t: float = 0.0) -> list[bool]:
        """HiDP's availability vector A (Eq. 4) at time ``t``; the leader is always available."""
        return [n.availability.at(t) or n.name == self.leader for n in self.nodes]

    def link_mbps(self, a: int, b: int) -> float:
        """Rate between nodes ``a`` and ``b``: the slower end (the project's pair rule)."""
        return min(self.nodes[a].network_mbps, self.nodes[b].network_mbps)

    def transfer_seconds(self, a: int, b: int, nbytes: float) -> float:
        """One message from node ``a`` to node ``b`` (by index): the network's link time, none
        within a node."""
        if a == b:
            return 0.0
        return link_seconds(nbytes, self.link_mbps(a, b), self.network.latency_s, self.network.message_s)

    def subset(self, k: int) -> NodeCluster:
        """The first ``k`` nodes (the leader must be among them)."""
        return NodeCluster(f"{self.name}[:{k}]", self.nodes[:k], self.leader, self.latency_s)

    def to_cluster(self) -> Cluster:
        """The board-level view alone, as a plain :class:`Cluster` (same devices and network); a
        node cluster already is one, this is for code that wants exactly that type."""
        return Cluster(self.name, list(self.devices), self.network, self.requester)

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        devices: str | Mapping[str, Any] | DictConfig,
        network: str | float | Mapping[str, Any] | DictConfig | None = None,
        efficiency: Mapping[str, float] | None = None,
    ) -> NodeCluster:
        """From a device group's HiDP keys (rates, leader, latency, availability). A ``network``
        (as :meth:`Cluster.from_config` takes it) replaces the group's rates and latency by its
        own caps and latency; leader and availability stay the group's. ``efficiency``: fractions
        of peak per processor kind over ``EFFICIENCY`` (sensitivity runs)."""
        cfg = load_conf("devices", devices) if isinstance(devices, str) else plain_config(devices)
        devs = cfg.get("devices") or []
        if not devs:
            raise ConfigError(f"devices: group {cfg.get('name', '?')} has no devices")
        default_mbps = float(cfg.get("network_mbps", 80.0))
        latency_s = float(cfg.get("latency_ms", 2.0)) / 1e3
        net = None if network is None else Cluster.from_config(cfg, network).network
        nodes = []
        for i, d in enumerate(devs):
            if "name" not in d or "board" not in d:
                raise ConfigError(f"devices.{i}: needs a name and a board, got {d}")
            steps = tuple((float(t), bool(ok)) for t, ok in (d.get("availability") or []))
            mbps = float(d.get("network_mbps", default_mbps)) if net is None else net.cap(str(d["name"]))
            nodes.append(make_node(str(d["name"]), str(d["board"]), mbps, Availability(steps), efficiency))
        leader = str(cfg.get("leader", nodes[0].name))
        return cls(str(cfg.get("name", "custom")), nodes, leader, latency_s if net is None else net.latency_s)

    @property
    def efficiency(self) -> dict[str, float]:
        """The processor kinds whose fraction of peak was overridden (a sensitivity run), so that
        plans can record it and be scored again on the same figures."""
        return {p.kind: p.efficiency for n in self.nodes for p in n.processors if p.efficiency is not None}

    @classmethod
    def from_cluster(
        cls, cluster: Cluster, leader: str | None = None, efficiency: Mapping[str, float] | None = None
    ) -> NodeCluster:
        """Nodes for a board-level cluster: processors from the board, rates from its network; a
        board without processor figures becomes a node with one processor, the board itself. A
        node cluster is returned as it is (with ``leader`` as its leader, if given): its nodes,
        availability and rates are already the refinement."""
        if isinstance(cluster, NodeCluster):
            if leader is None or leader == cluster.leader:
                return cluster
            return cls(cluster.name, cluster.nodes, leader, cluster.latency_s)
        net = cluster.network
        nodes = [
            make_node(d.name, d.board, net.cap(d.name), efficiency=efficiency)
            if d.board in PROCESSOR_BOARDS
            else board_node(d.name, d.board, net.cap(d.name))
            for d in cluster.devices
        ]
        return cls(cluster.name, nodes, leader or nodes[0].name, net.latency_s)


def make_node(
    name: str,
    board: str,
    network_mbps: float,
    availability: Availability | None = None,
    efficiency: Mapping[str, float] | None = None,
) -> Node:
    if not network_mbps > 0:
        raise ConfigError(f"network_mbps: node {name} needs a rate > 0, got {network_mbps}")
    bp = board_processors(board, efficiency)
    return Node(
        name, board, bp.processors, bp.default, bp.idle_w, bp.intra_gbps, network_mbps, availability or Availability()
    )


def board_node(name: str, board: str, network_mbps: float) -> Node:
    """A node whose only processor is the whole board (profile: the board-level one); no power
    figures (energy 0) and no intra-node transfers (one processor)."""
    spec = ProcessorSpec("board", "board", 0.0, 0.0, f"board {board}: board-level profile, no processor figures")
    return Node(name, board, (spec,), "board", 0.0, 1.0, network_mbps)


# -- profiles ---------------------------------------------------------------------------------
def _file(board: str, graph: ModelGraph) -> str:
    return f"{board}_{graph.name}_{'x'.join(map(str, graph.input_shape))}.json"


def _stored(graph: ModelGraph) -> DeviceProfile | None:
    for folder in (profile_dir(), SHIPPED_PROFILES):
        path = folder / _file("local-cpu", graph)
        if path.exists():
            prof = DeviceProfile.load(path)
            prof.check(graph)
            return prof
    return None


_REF_RATE: dict[str, float] = {}


def _reference_rate(ref: str) -> float:
    if ref not in _REF_RATE:
        g = ModelGraph.from_torchvision(ref)
        prof = _stored(g)
        if prof is None:
            raise ConfigError(f"profile: no shipped local profile of {ref} to scale FLOPs by")
        _REF_RATE[ref] = g.flops / prof.fitted("linear").total_seconds()
    return _REF_RATE[ref]


def local_base(graph: ModelGraph) -> DeviceProfile:
    """The local-cpu profile of ``graph`` if one is shipped or cached, else a FLOP-scaled one."""
    prof = _stored(graph)
    if prof is not None:
        return prof
    ref = "resnet50" if graph.name.startswith("resnet") else "vgg19"
    rate = _reference_rate(ref)
    units = [
        UnitTable(u.name, [1, u.height], [u.out_shape[2]], [[u.flops / u.height / rate], [u.flops / rate]])
        for u in graph.units
    ]
    head = (graph.head.flops if graph.head else 0) / rate
    meta = {
        "version": PROFILE_VERSION,
        "label": f"FLOP-scaled from {ref}'s measured local rate ({rate / 1e9:.2f} GFLOP/s); not measured",
        "reference": ref,
    }
    return DeviceProfile("local-cpu-flops", "local-cpu", "derived", graph.name, graph.input_shape, units, head, meta)


def _gpu_processor_profile(base: DeviceProfile, graph: ModelGraph, node: Node, proc: ProcessorSpec) -> DeviceProfile:
    """A Jetson GPU as :mod:`gpu_shape` runs it (as :func:`profiles.derive` does for a GPU board),
    at fp32 (HiDP's TF with CUDA) and at the processor's efficiency, so a sensitivity run's
    ``efficiency=`` still takes effect."""
    params = GpuShapeParams(efficiency=proc.effective_gflops / proc.peak_gflops)
    spec = GpuSpec.of_board(lookup_board(node.board), "fp32")
    tables, head = gpu_tables(graph, spec, params, [u.widths for u in base.units])
    units = [UnitTable(u.name, hs, ws, t) for u, (hs, ws, t) in zip(graph.units, tables)]
    meta = {
        "widths_from": base.name,
        "node": node.name,
        "board": node.board,
        "processor": proc.name,
        "shape": "gpu",
        "model": GPU_MODEL_NAME,
        "gpu_params": params.to_json(),
        "gpu_spec": asdict(spec),
        "calibrated": False,
        "source": proc.source,
        "label": "derived (processor-level GPU wave model, not measured on the board; uncalibrated)",
    }
    name = f"{node.board}/{proc.name}"
    return DeviceProfile(name, node.board, "derived", base.model, base.input_shape, units, head, meta)


def processor_profile(base: DeviceProfile, graph: ModelGraph, node: Node, proc: ProcessorSpec) -> DeviceProfile:
    """``base`` scaled to one processor (as :func:`profiles.derive` does for a CPU board); a GPU
    with SM figures in :mod:`boards` follows the GPU wave model instead."""
    if proc.kind == "gpu" and node.board in BOARDS and BOARDS[node.board].sm_count is not None:
        return _gpu_processor_profile(base, graph, node, proc)
    src = base.fitted("linear") if base.kind == "measured" else base
    local_rate = graph.flops / max(src.total_seconds(), 1e-12)
    factor = local_rate / (proc.effective_gflops * 1e9)
    units = [UnitTable(u.name, u.heights, u.widths, [[s * factor for s in r] for r in u.seconds]) for u in src.units]
    meta = {
        "derived_from": base.name,
        "node": node.name,
        "board": node.board,
        "processor": proc.name,
        "peak_gflops": proc.peak_gflops,
        "effective_gflops": proc.effective_gflops,
        "scale_factor": factor,
        "source": proc.source,
        "label": "derived (processor-level, not measured on the board)",
    }
    return DeviceProfile(
        f"{node.board}/{proc.name}",
        node.board,
        "derived",
        base.model,
        base.input_shape,
        units,
        src.head_seconds * factor,
        meta,
    )


def processor_profiles(
    graph: ModelGraph,
    nodes: NodeCluster,
    base: DeviceProfile | None = None,
    boards: Mapping[str, DeviceProfile] | None = None,
) -> dict[tuple[str, str], DeviceProfile]:
    """One derived profile per (node, processor); a whole-board processor gets ``boards[board]``
    or the board's own profile (:func:`profiles.profile_for`)."""
    cache = dict(boards or {})
    out = {}
    for n in nodes.nodes:
        for p in n.processors:
            if p.kind == "board":
                out[(n.name, p.name)] = profile_for(n.board, graph, cache)
            else:
                base = base or local_base(graph)
                out[(n.name, p.name)] = processor_profile(base, graph, n, p)
    return out
