"""OmniBoost as HiDP describes it: partition points by Monte-Carlo tree search, the blocks
pipelined over the CPUs and GPUs (HI L191; PAPERS-AUDIT B.5 item 49, C.5.8).

OmniBoost (Karatzas et al., DAC 2023) maximises *throughput* on one heterogeneous board by cutting
the model into stages, each on one processor, searched by MCTS with a learned throughput
estimator; HiDP runs it over the cluster. Here:

* **the space**: up to ``max_stages`` consecutive stages, each on a distinct (node, processor) of
  an available node; stage ends are drawn from ``candidates`` cut points at equal steps of the
  cumulative FLOPs (plus the last unit), which keeps the tree small;
* **the estimator** is analytic, not learned (HiDP trained one with Gymnasium on its workloads, HI
  L191; we have no measurements to train one on): a stage's time is its processor's compute
  (derived profile) plus the intra-node hand-offs of a non-default processor, every link's time the
  stage input over ``min(beta)``; throughput = 1 / the slowest stage or link, as a pipeline's;
* **the search**: UCT (c = 1.4) over the stage sequence, ``iterations`` playouts with random
  rollouts (seeded), reward = (single fastest processor's time) / (bottleneck) minus a small
  latency term to break ties; the best complete sequence seen is returned;
* no data partitioning, and no HiDP local partitioning: each stage is one processor (model mode).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

import numpy as np

from splitgym.agents.planners.nodes.hidp import node_cluster
from splitgym.agents.planners.nodes.hidp_local import LocalChoice, LocalPartitioner, build_plan
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile

__all__ = ["plan_omniboost", "StageEstimator"]

Worker = tuple[int, str]
Stages = tuple[tuple[int, Worker], ...]  # (last unit, worker) per stage


class StageEstimator:
    """Throughput and latency of a stage sequence (the analytic stand-in for OmniBoost's model)."""

    def __init__(self, scorer: HiDPScorer) -> None:
        self.sc = scorer
        g = scorer.graph
        self.in_bytes = [scorer.split.input_row_bytes * g.input_shape[1]] + [float(u.out_bytes) for u in g.units[:-1]]
        self.out_bytes = [float(u.out_bytes) for u in g.units]

    def stage_seconds(self, first: int, last: int, w: Worker) -> float:
        j, k = w
        node = self.sc.nodes.nodes[j]
        t = sum(self.sc.unit_seconds(j, k, u, self.sc.H[u]) for u in range(first, last + 1))
        if k != node.default:
            t += node.intra_seconds(self.in_bytes[first]) + node.intra_seconds(self.out_bytes[last])
        return t

    def evaluate(self, stages: Stages) -> tuple[float, float]:
        """(bottleneck seconds, latency seconds)."""
        nodes = self.sc.nodes
        prev_node, first = nodes.leader_index, 0
        worst, total = 0.0, 0.0
        for last, w in stages:
            link = nodes.transfer_seconds(prev_node, w[0], self.in_bytes[first])
            st = self.stage_seconds(first, last, w)
            if last == self.sc.graph.num_units - 1 and self.sc.graph.head is not None:
                st += self.sc.head_seconds(*w)
            worst, total = max(worst, st, link), total + st + link
            prev_node, first = w[0], last + 1
        back = float(self.sc.graph.head.out_bytes) if self.sc.graph.head else self.out_bytes[-1]
        total += nodes.transfer_seconds(prev_node, nodes.leader_index, back)
        return worst, total


def _search(
    est: StageEstimator, workers: list[Worker], ends: list[int], max_stages: int, iterations: int, seed: int
) -> Stages:
    U = est.sc.graph.num_units
    rng = random.Random(seed)
    ref = min(est.evaluate(((U - 1, w),))[0] for w in workers)
    stats: dict[Stages, list[float]] = {}  # prefix -> [visits, total reward]

    def actions(prefix: Stages) -> list[tuple[int, Worker]]:
        pos = prefix[-1][0] + 1 if prefix else 0
        used = {w for _, w in prefix}
        last_only = len(prefix) >= min(max_stages, len(workers)) - 1  # the last stage takes the rest
        return [(e, w) for e in ends if e >= pos and (e == U - 1 or not last_only) for w in workers if w not in used]

    def reward(seq: Stages) -> float:
        worst, lat = est.evaluate(seq)
        return ref / worst - 1e-3 * lat / ref

    best: tuple[float, Stages] = (-math.inf, ())
    for _ in range(iterations):
        prefix: Stages = ()
        path = [prefix]
        while True:  # selection + expansion
            if prefix and prefix[-1][0] == U - 1:
                break
            acts = actions(prefix)
            children = [prefix + (a,) for a in acts]
            fresh = [c for c in children if c not in stats]
            if fresh:
                prefix = rng.choice(fresh)
                path.append(prefix)
                break
            n = stats[prefix][0] if prefix in stats else 1.0
            prefix = max(
                children, key=lambda c: stats[c][1] / stats[c][0] + 1.4 * math.sqrt(math.log(n + 1) / stats[c][0])
            )
            path.append(prefix)
        seq = prefix
        while not seq or seq[-1][0] != U - 1:  # random rollout
            seq = seq + (rng.choice(actions(seq)),)
        r = reward(seq)
        if r > best[0]:
            best = (r, seq)
        for p in path:
            s = stats.setdefault(p, [0.0, 0.0])
            s[0] += 1
            s[1] += r
    return best[1]


class _Fixed(LocalPartitioner):
    """Each unit on the processor its stage was given (no local partitioning)."""

    def __init__(self, scorer: HiDPScorer, proc_of_unit: list[str]) -> None:
        super().__init__(scorer, "default")
        self.proc = proc_of_unit
        self.local = "omniboost-stages"

    def _choose(self, j: int, first: int, last: int, a: int, b: int) -> LocalChoice:
        p = self.proc[first]
        return LocalChoice(self.scorer.part_seconds(j, first, last, a, b, [p], [1.0]), (p,), (1.0,), "model")

    def head(self, j: int) -> tuple[str, float]:
        return self.proc[-1], self.scorer.head_seconds(j, self.proc[-1])


def plan_omniboost(
    graph: ModelGraph,
    cluster: Cluster,
    nodes: str | NodeCluster | None = None,
    at: float = 0.0,
    iterations: int = 2000,
    max_stages: int = 4,
    candidates: int = 12,
    seed: int = 0,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    if iterations < 1 or max_stages < 1 or candidates < 1:
        raise ConfigError(f"iterations/max_stages/candidates: must be >= 1, got {iterations}/{max_stages}/{candidates}")
    nc = node_cluster(cluster, nodes)
    scorer = HiDPScorer(graph, nc, boards=profiles)
    est = StageEstimator(scorer)
    workers = [(j, p.name) for j, n in enumerate(nc.nodes) if nc.available(at)[j] for p in n.processors]
    U = graph.num_units
    cum = np.cumsum([u.flops for u in graph.units]) / sum(u.flops for u in graph.units)
    ends = sorted({int(np.searchsorted(cum, q)) for q in np.linspace(0, 1, candidates + 1)[1:-1]} | {U - 1})
    stages = _search(est, workers, ends, max_stages, iterations, seed)
    proc, cuts, first = [""] * U, [], 0
    for last, (j, k) in stages:
        for u in range(first, last + 1):
            proc[u] = k
            c = np.zeros(nc.size + 1, dtype=np.int64)
            c[j + 1 :] = graph.units[u].height
            cuts.append(c)
        first = last + 1
    worst, lat = est.evaluate(stages)
    return build_plan(
        "omniboost",
        graph,
        nc,
        [(u, u) for u in range(U)],
        cuts,
        _Fixed(scorer, proc),
        {
            "stages": [[last, nc.names[j], k] for last, (j, k) in stages],
            "estimated_bottleneck_s": worst,
            "estimated_latency_s": lat,
            "iterations": iterations,
            "at": at,
        },
    )
