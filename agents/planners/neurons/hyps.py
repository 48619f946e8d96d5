"""HyPS: memory-limited hybrid partitioning, layer cuts plus neuron splits (Mrad et al.).

The method (PAPERS-AUDIT A.4, B.4 items 36-40, C.4; HY L160-L211): walk the model's layers; a
layer whose parameters exceed the device's *threshold* (the most parameters it can hold) gets a
*mandatory* cut before and after it, and is split by neurons into as few parts as make each part
fit (Algorithm 1, whose printed form is degenerate: its content is in the prose). Pooling layers
are *optional* cut points, used only when the devices or the memory call for more partitions,
preferring those near the output (the smallest feature maps). Partitions run one after another;
the parts of a split layer run in parallel across devices, or in turn on one.

Choices where the paper is silent:

* **Threshold.** ``threshold`` (parameters) when given; otherwise derived from the smallest
  usable memory among the devices (:func:`neurons.param_threshold`), so every partition fits on
  every device. A layer is also mandatory when its parameters are under the threshold but its
  weights and activations together do not fit.
* **Parts.** The fewest equal neuron ranges whose largest part fits (``parts`` forces a number,
  at least that minimum: the experiments sweep it).
* **Optional cuts.** Between mandatory cuts, a stretch that does not fit is cut at pool outputs
  into the fewest pieces that fit, and among those the pieces moving the fewest bytes (a small
  dynamic programme). Then, while there are fewer partitions than ``partitions`` (default: the
  number of devices, as in the paper's Fig. 5 where 4 devices get 4 partitions; 0 = only what
  memory needs), one more pool cut is added, the one whose output is smallest (HY L200, L303).
  The head always starts a partition (the Plan runs it as ``head_device``), so a model whose head
  is not split is cut at its last pool, the optional point nearest the output.
* **Devices.** Partitions go to the devices in turn (partition i on device i mod N), and the
  parts of a split layer too (part j on device j mod N), so on one device everything runs in
  sequence (the paper's single-Pi experiments) and on four, the fc6 parts in parallel (Fig. 5).

The plan records the threshold, each device's budget and the score (:mod:`hyps_score`) in meta.
"""

from __future__ import annotations

from collections.abc import Mapping

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.hyps_cost import score_hybrid
from splitgym.costmodels.neurons.neuron_spans import (
    Span,
    device_memory,
    equal_parts,
    fewest_parts,
    layer_spans,
    param_threshold,
    partition_bytes,
)
from splitgym.costmodels.plan import (
    NeuronPart,
    NeuronSplit,
    Plan,
    PlanDevice,
    PlanModel,
    PlanNetwork,
    Stage,
)
from splitgym.costmodels.profiles import DeviceProfile

__all__ = ["plan_hyps", "pieces_that_fit"]


def _fits(spans: list[Span], usable: int | None) -> bool:
    if usable is None:
        return True
    return partition_bytes(spans) <= usable


def pieces_that_fit(spans: list[Span], usable: int | None, cuts_allowed: set[int]) -> list[list[Span]] | None:
    """Cut a stretch of spans after spans in ``cuts_allowed`` (span indices) into the fewest
    pieces that fit, fewest bytes moved between them on ties; None when no cut set works."""
    n = len(spans)
    INF = (10**9, 0)
    best: list[tuple[int, int]] = [INF] * (n + 1)  # best[i]: (pieces, bytes) covering spans[:i]
    back = [0] * (n + 1)
    best[0] = (0, 0)
    for i in range(1, n + 1):
        if i < n and spans[i - 1].index not in cuts_allowed:
            continue  # cannot end a piece here
        for j in range(i):
            if best[j] == INF or not _fits(spans[j:i], usable):
                continue
            cand = (best[j][0] + 1, best[j][1] + (spans[i - 1].out_bytes if i < n else 0))
            if cand < best[i]:
                best[i], back[i] = cand, j
    if best[n] == INF:
        return None
    out, i = [], n
    while i > 0:
        out.append(spans[back[i] : i])
        i = back[i]
    return out[::-1]


def plan_hyps(
    graph: ModelGraph,
    cluster: Cluster,
    threshold: int | None = None,
    parts: int | None = None,
    partitions: int | None = None,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    """HyPS's plan for ``graph`` on ``cluster`` (the method and its choices: the module doc).

    The four steps of the method read top to bottom here; each step's detail is in its helper."""
    spans = layer_spans(graph)
    memory = device_memory(cluster)
    budgets = [m.usable_bytes for m in memory.values() if m.usable_bytes is not None]
    usable = min(budgets) if budgets else None
    _check_counts(threshold, parts, partitions)
    thr = threshold if threshold is not None else (param_threshold(usable) if usable is not None else None)

    # 1. mandatory cut points: layers over the threshold, or that do not fit whole
    mandatory = _mandatory_cuts(spans, thr, usable, parts)

    # 2. stretches between mandatory cuts (the head always starts one), cut at pools if needed
    pools = {s.index for s in spans if s.pool}
    pieces = [piece for st in _stretches(spans, mandatory) for piece in _cut_to_fit(st, mandatory, usable, pools)]

    # 3. optional cuts for the device count: the smallest pool output first
    want = cluster.size if partitions is None else partitions
    pieces = _optional_cuts(pieces, mandatory, pools, want)

    # 4. devices in turn; the plan's fields
    stages, splits, head_device = _assign_devices(pieces, mandatory, cluster.names)
    net = cluster.network
    plan = Plan(
        kind="neurons",
        method="hyps",
        model=PlanModel(name=graph.name, input=graph.input_shape),
        devices=[PlanDevice.from_device(d, net.cap(d.name)) for d in cluster.devices],
        network=PlanNetwork.of(net, cluster.requester),
        stages=stages or None,
        neuron_splits=splits or None,
        head_device=head_device,
        meta={
            "cluster": cluster.name,
            "threshold_params": thr,
            "memory": {
                m.device: {"total_bytes": m.total_bytes, "reserved_bytes": m.reserved_bytes} for m in memory.values()
            },
            "mandatory": [spans[i].name for i in mandatory],
            "partitions": [[s.name for s in p] for p in pieces],
        },
    )
    score = score_hybrid(plan, graph, profiles=dict(profiles or {}), memory=memory)
    return plan.model_copy(update={"meta": {**plan.meta, "score": score.to_json()}})


def _check_counts(threshold: int | None, parts: int | None, partitions: int | None) -> None:
    """Reject impossible knobs in one line each, before any of them shapes a cut."""
    if threshold is not None and threshold < 1:
        raise ConfigError(f"threshold: expected a number of parameters >= 1, got {threshold}")
    if parts is not None and parts < 1:
        raise ConfigError(f"parts: expected >= 1 neuron parts, got {parts}")
    if partitions is not None and partitions < 0:
        raise ConfigError(f"partitions: expected >= 0 partitions, got {partitions}")


def _mandatory_cuts(spans: list[Span], thr: int | None, usable: int | None, parts: int | None) -> dict[int, int]:
    """Step 1: span index -> number of neuron parts, for every layer over the threshold or too
    big to fit whole; the fewest parts that fit unless ``parts`` forces a (feasible) number."""
    mandatory: dict[int, int] = {}
    for s in spans:
        over = thr is not None and s.params > thr
        if not over and _fits([s], usable):
            continue
        if not s.splittable:
            raise ConfigError(
                f"memory: layer {s.name} ({s.kind}, {s.params:,} parameters) exceeds the "
                f"device budget and cannot be neuron-split"
            )
        k = max(-(-s.params // thr) if thr else 1, fewest_parts(s, usable) if usable is not None else 1)
        if parts is not None:
            if parts < k:
                raise ConfigError(f"parts: layer {s.name} needs at least {k} neuron parts to fit, got {parts}")
            if parts > s.neurons:
                raise ConfigError(f"parts: layer {s.name} has {s.neurons} neurons, got {parts}")
            k = parts
        mandatory[s.index] = k
    return mandatory


def _stretches(spans: list[Span], mandatory: Mapping[int, int]) -> list[list[Span]]:
    """Step 2a: the spans in runs cut at every mandatory layer (each alone in its run) and where
    the head starts, since the Plan runs the head as a partition of its own."""
    stretches: list[list[Span]] = []
    current: list[Span] = []
    for s in spans:
        starts = s.index in mandatory or (s.unit is None and current and current[-1].unit is not None)
        if starts and current:
            stretches.append(current)
            current = []
        if s.index in mandatory:
            stretches.append([s])
        else:
            current.append(s)
    if current:
        stretches.append(current)
    return stretches


def _cut_to_fit(
    stretch: list[Span], mandatory: Mapping[int, int], usable: int | None, pools: set[int]
) -> list[list[Span]]:
    """Step 2b: a stretch as the pieces that fit (cut at pools only); a mandatory layer, which its
    neuron split makes fit, stays whole."""
    if stretch[0].index in mandatory:
        return [stretch]
    got = pieces_that_fit(stretch, usable, pools)
    if got is None:
        raise ConfigError(
            f"memory: layers {stretch[0].name}..{stretch[-1].name} do not fit in "
            f"{(usable or 0) / 2**20:.1f} MiB with cuts at pooling layers only"
        )
    return got


def _optional_cuts(
    pieces: list[list[Span]], mandatory: Mapping[int, int], pools: set[int], want: int
) -> list[list[Span]]:
    """Step 3: cut at pools until there are ``want`` partitions, the smallest pool output first
    (HY L200, L303), or no pool is left to cut at."""
    pieces = list(pieces)
    while len(pieces) < want:
        cands = [
            (p[i].out_bytes, -p[i].index, k, i)
            for k, p in enumerate(pieces)
            if p[0].index not in mandatory
            for i in range(len(p) - 1)
            if p[i].index in pools
        ]
        if not cands:
            break
        _, _, k, i = min(cands)
        pieces[k : k + 1] = [pieces[k][: i + 1], pieces[k][i + 1 :]]
    return pieces


def _assign_devices(
    pieces: list[list[Span]], mandatory: Mapping[int, int], names: list[str]
) -> tuple[list[Stage], list[NeuronSplit], str | None]:
    """Step 4: partition ``i`` on device ``i mod N`` and part ``j`` of a split layer on the next
    devices in turn; returns the Plan's stages, neuron splits and head device."""
    stages: list[Stage] = []
    splits: list[NeuronSplit] = []
    head_device = None
    for turn, p in enumerate(pieces):
        if p[0].index in mandatory:
            s = p[0]
            ranges = equal_parts(s.neurons, mandatory[s.index])
            splits.append(
                NeuronSplit(
                    layer=s.name,
                    parts=[
                        NeuronPart(device=names[(turn + j) % len(names)], start=a, end=b)
                        for j, (a, b) in enumerate(ranges)
                    ],
                )
            )
        else:
            dev = names[turn % len(names)]
            units = [s.unit for s in p if s.unit is not None]
            if units:
                stages.append(Stage(device=dev, first=units[0], last=units[-1]))
            if any(s.unit is None for s in p):
                head_device = dev
    return stages, splits, head_device
