"""HiDP's local partitioner and the plan builder the HiDP-style planners share.

**Local partitioner** (HI Alg. 1 lines 8-10): for one node's rows of one volume it makes the same
model/data choice as the global level, over the node's processors instead of the nodes:

* *model mode*: the part runs whole on one processor (every processor is a candidate; a
  non-default one pays the intra-node hand-offs in and out);
* *data mode*: the rows are split among the processors, each computing its range (halo included)
  in parallel. The split is the water-filling optimum of the linear model ``t_k(r) = a_k + b_k r``
  (``b_k`` from the processor's time for all the rows alone, ``a_k`` its hand-off overheads), made
  integer by largest remainder (:func:`..linear.water_fill`).

The cheaper of the candidates, scored exactly by :meth:`HiDPScorer.part_seconds`, wins. Every part
starts and ends in the node's DRAM, so the choice for one part does not constrain the next: the
local "DP" has no carried state and reduces to this per-part minimum (O(k) per part, k
processors). ``local="default"`` is the baselines' TF default (P1, HI L49): the default processor
only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import NodeShares, Plan, ProcessorShare, Stage
from splitgym.costmodels.volumes.linear_model import water_fill

__all__ = ["LocalChoice", "LocalPartitioner", "build_plan"]


@dataclass(frozen=True)
class LocalChoice:
    seconds: float
    processors: tuple[str, ...]
    fractions: tuple[float, ...]
    mode: str  # "model" | "data"


class LocalPartitioner:
    """Memoised local choices for one scorer; ``local`` is ``"hidp"`` or ``"default"``."""

    def __init__(self, scorer: HiDPScorer, local: str = "hidp") -> None:
        if local not in ("hidp", "default"):
            from splitgym.costmodels.errors import ConfigError

            raise ConfigError(f"local: expected 'hidp' or 'default', got {local!r}")
        self.scorer = scorer
        self.local = local
        self._memo: dict[tuple[int, int, int, int, int], LocalChoice] = {}

    def choose(self, j: int, first: int, last: int, a: int, b: int) -> LocalChoice:
        key = (j, first, last, a, b)
        if key not in self._memo:
            self._memo[key] = self._choose(j, first, last, a, b)
        return self._memo[key]

    def _choose(self, j: int, first: int, last: int, a: int, b: int) -> LocalChoice:
        sc, node = self.scorer, self.scorer.nodes.nodes[j]
        if self.local == "default":
            t = sc.part_seconds(j, first, last, a, b, [node.default], [1.0])
            return LocalChoice(t, (node.default,), (1.0,), "model")
        names = [p.name for p in node.processors]
        best = None
        alone = []
        for p in names:
            t = sc.part_seconds(j, first, last, a, b, [p], [1.0])
            alone.append(t)
            if best is None or t < best.seconds:
                best = LocalChoice(t, (p,), (1.0,), "model")
        n = b - a
        if len(names) > 1 and n > 1:
            over = np.array([2 * node.intra_overhead_s if node.pays_handoff(p) else 0.0 for p in names])
            beta = np.maximum((np.array(alone) - over) / n, 1e-12)
            rows, _ = water_fill(over, beta, float(n))
            if (rows > 0.5).sum() > 1:
                fr = [float(r / n) for r in rows]
                t = sc.part_seconds(j, first, last, a, b, names, fr)
                if t < best.seconds:
                    best = LocalChoice(t, tuple(names), tuple(fr), "data")
        assert best is not None
        return best

    def head(self, j: int) -> tuple[str, float]:
        """The processor that runs the head on node j, and its seconds."""
        node = self.scorer.nodes.nodes[j]
        names = [node.default] if self.local == "default" else [p.name for p in node.processors]
        return min(((p, sum(self.scorer.head_detail(j, p))) for p in names), key=lambda x: x[1])


def build_plan(
    method: str,
    graph: ModelGraph,
    nodes: NodeCluster,
    volumes: list[tuple[int, int]],
    cuts: list[np.ndarray],
    local: LocalPartitioner,
    meta: dict | None = None,
) -> Plan:
    """A plan with node rows per volume, modes, merged model-mode stages and processor shares."""
    cluster = nodes.to_cluster()
    base = Plan.from_volumes(method, graph, cluster, volumes, [np.asarray(c) for c in cuts])
    shares, modes = [], []
    for v, ((first, last), c) in enumerate(zip(volumes, cuts)):
        busy = [j for j in range(nodes.size) if c[j + 1] > c[j]]
        modes.append("model" if len(busy) == 1 else "data")
        for j in busy:
            ch = local.choose(j, first, last, int(c[j]), int(c[j + 1]))
            shares.append(
                NodeShares(
                    device=nodes.names[j],
                    volume=v,
                    mode=ch.mode,
                    shares=[
                        ProcessorShare(processor=p, share=round(f, 6)) for p, f in zip(ch.processors, ch.fractions)
                    ],
                )
            )
    last_share = np.diff(np.asarray(cuts[-1]))
    h = int(np.argmax(last_share))
    if graph.head is not None:
        hp, _ = local.head(h)
        shares.append(
            NodeShares(
                device=nodes.names[h],
                volume=len(volumes),
                mode="model",
                shares=[ProcessorShare(processor=hp, share=1.0)],
            )
        )
    stages: list[Stage] = []
    for v, ((first, last), c) in enumerate(zip(volumes, cuts)):
        if modes[v] != "model":
            continue
        dev = nodes.names[int(np.argmax(np.diff(np.asarray(c))))]
        if stages and stages[-1].device == dev and stages[-1].last == first - 1:
            stages[-1] = Stage(device=dev, first=stages[-1].first, last=last)
        else:
            stages.append(Stage(device=dev, first=first, last=last))
    info = {"leader": nodes.leader, "local": local.local, "cluster": nodes.name, **(meta or {})}
    if nodes.efficiency:  # scored again on the same processor figures (node_scoring.plan_nodes)
        info["efficiency"] = nodes.efficiency
    return base.evolve(
        kind="nodes", shares=shares, modes=modes, stages=stages or None, head_device=nodes.names[h], meta=info
    )
