"""HiDP: hierarchical global/local partitioning (Taufique et al.; HI L128-L158, PAPERS-AUDIT C.5).

**Global partitioner.** For every unit (HiDP's DNN blocks are ranges of units), a *mode*: model
mode on one node (consecutive model-mode units on one node form a pipeline stage, so block widths
come out of the DP), or data mode over the available nodes (the unit's output rows split, the
nodes exchanging the rows they lack: intermediate exchange). The modes are chosen by a dynamic
programme over ``(unit, state)``, state = "model on node j" (m of them) or "data" (1):

    f[u][s] = min_p f[u-1][p] + c(u, p, s),      latency = min_p f[U-1][p] + finish(p)

so there are O(n*m) states, n units and m nodes, each relaxed over O(m) predecessors: O(n*m^2)
work (the paper's "O(n*m)", HI L138, counts the states). ``c(u, p, s)`` is the concrete cost the
paper leaves schematic (PAPERS-AUDIT B.5 item 43), written down here:

* node j's compute for its rows = its **local partition**'s time (:class:`LocalPartitioner`:
  the same model/data choice over its processors, HI Alg. 1 lines 8-10);
* transfers: the rows node j lacks, from the nodes holding the previous unit's output (the
  leader's image for unit 0), at ``latency + 8 bytes / min(beta)``;
* ``c`` = the slowest busy node's (arrival + compute): a barrier after every unit, so the DP's
  latency is an upper bound of :class:`HiDPScorer`'s (which lets nodes run ahead) and equal to it
  when no two nodes work on one unit;
* data-mode rows of unit u: water-filling over the available nodes of the linear model
  ``a_j + b_j r`` (``b_j`` = node j's local time for all rows / rows + the input bytes per row over
  its link, ``a_j`` the link latency), fixed before the DP (the proportional split "following the
  resource heterogeneity", HI L138);
* finish: gather at the node with the largest share, head on its fastest processor, result to the
  leader.

The paper's "start with the largest blocks and back-propagate block by block" (HI L138) is a
description of a search; the DP above is exact over its space, which the tests check against
exhaustive search. Unavailable nodes (availability at ``at``) get no rows. ``local="default"``
gives DisNet as HiDP implements it (``disnet.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.hidp_score import HiDPScorer
from splitgym.costmodels.nodes import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile

from .hidp_local import LocalPartitioner, build_plan
from .linear import largest_remainder, water_fill

__all__ = ["plan_hidp", "GlobalDP", "node_cluster"]


def node_cluster(cluster: Cluster, nodes: str | NodeCluster | None) -> NodeCluster:
    """The nodes: a ``conf/devices`` HiDP group by name, a :class:`NodeCluster` (experiments: any
    leader, subsets) or, by default, the cluster's boards with the first device as leader."""
    if nodes is None:
        return NodeCluster.from_cluster(cluster)
    nc = nodes if isinstance(nodes, NodeCluster) else NodeCluster.from_config(nodes)
    if nc.names != cluster.names:
        raise ConfigError(f"nodes: group {nodes!r} has nodes {nc.names}, the cluster {cluster.names}")
    return nc


class GlobalDP:
    """The global dynamic programme for one (scorer, local partitioner, time)."""

    def __init__(self, scorer: HiDPScorer, local: LocalPartitioner, at: float = 0.0) -> None:
        self.sc, self.local = scorer, local
        self.nodes = scorer.nodes
        self.m = self.nodes.size
        self.avail = np.array(self.nodes.available(at))
        self.U = scorer.graph.num_units
        self.H = scorer.H
        self.data_cuts = [self._data_cuts(u) for u in range(self.U)]
        self._memo: dict[tuple[int, int, int], float] = {}
        # bytes of input a whole unit reads (model -> model transfers, the fast path of cost())
        self._full_in = []
        for u in range(self.U):
            lo, hi = scorer.split.ranges(u, u, np.array([[0, self.H[u]]]))[-1]
            rb = scorer.split.input_row_bytes if u == 0 else scorer.split.row_bytes[u - 1]
            self._full_in.append(float(hi[0, 0] - lo[0, 0]) * rb)

    # -- states -------------------------------------------------------------------------------
    @property
    def states(self) -> list[int]:
        """0..m-1: model mode on that node (available ones only); m: data mode."""
        return [j for j in range(self.m) if self.avail[j]] + [self.m]

    def cuts(self, u: int, s: int) -> np.ndarray:
        if s == self.m:
            return self.data_cuts[u]
        c = np.zeros(self.m + 1, dtype=np.int64)
        c[s + 1:] = self.H[u]
        return c

    def _data_cuts(self, u: int) -> np.ndarray:
        H = self.H[u]
        rb = self.sc.split.input_row_bytes if u == 0 else self.sc.split.row_bytes[u - 1]
        S = max(p.S for p in self.sc.graph.units[u].row_map.paths)
        alpha, beta = np.full(self.m, 1e9), np.ones(self.m)
        for j in np.flatnonzero(self.avail):
            t = self.local.choose(int(j), u, u, 0, H).seconds
            link = 0.0 if j == self.nodes.leader_index else 8.0 * rb * S / (
                min(self.nodes.nodes[j].network_mbps, self.nodes.nodes[self.nodes.leader_index].network_mbps) * 1e6)
            alpha[j], beta[j] = self.nodes.latency_s, t / H + link
        rows, _ = water_fill(alpha, beta, float(H))
        rows[~self.avail] = 0.0
        return largest_remainder(rows, H)

    # -- costs --------------------------------------------------------------------------------
    def cost(self, u: int, p: int | None, s: int) -> float:
        """Barrier time of unit u in state s after state p (None: u = 0, the leader holds it)."""
        key = (u, -1 if p is None else p, s)
        if key in self._memo:
            return self._memo[key]
        sc, nodes = self.sc, self.nodes
        if s != self.m and (p is None or p != self.m):  # one node after one node: whole input
            src = nodes.leader_index if p is None else p
            t = nodes.transfer_seconds(src, s, self._full_in[u]) + self.local.choose(s, u, u, 0, self.H[u]).seconds
            self._memo[key] = t
            return t
        cuts = self.cuts(u, s)[None]
        lo, hi = sc.split.ranges(u, u, cuts)[-1]
        prev = None if p is None else self.cuts(u - 1, p)[None]
        nbytes = sc.split.received_bytes(u, lo, hi, prev)[0]
        srcs = [nodes.leader_index] if prev is None else list(range(self.m))
        worst = 0.0
        for j in range(self.m):
            a, b = int(cuts[0, j]), int(cuts[0, j + 1])
            if b <= a:
                continue
            arrive = max((nodes.transfer_seconds(src, j, nbytes[j, i]) for i, src in enumerate(srcs)
                          if nbytes[j, i] > 0 and src != j), default=0.0)
            worst = max(worst, arrive + self.local.choose(j, u, u, a, b).seconds)
        self._memo[key] = worst
        return worst

    def finish(self, p: int) -> float:
        sc, nodes = self.sc, self.nodes
        share = np.diff(self.cuts(self.U - 1, p))
        h = int(np.argmax(share))
        gather = max((nodes.transfer_seconds(m, h, float(share[m]) * sc.split.row_bytes[-1])
                      for m in range(self.m) if share[m] > 0), default=0.0)
        if sc.graph.head is None:
            return gather + nodes.transfer_seconds(h, nodes.leader_index, float(share[h]) * sc.split.row_bytes[-1])
        return gather + self.local.head(h)[1] + nodes.transfer_seconds(
            h, nodes.leader_index, float(sc.graph.head.out_bytes))

    def sequence_cost(self, seq: list[int]) -> float:
        """The DP's objective for one state sequence (what exhaustive search enumerates)."""
        total = self.cost(0, None, seq[0])
        for u in range(1, self.U):
            total += self.cost(u, seq[u - 1], seq[u])
        return total + self.finish(seq[-1])

    def solve(self) -> tuple[float, list[int]]:
        """The optimal state per unit and its (barrier) latency."""
        S = self.states
        f = {s: self.cost(0, None, s) for s in S}
        back: list[dict[int, int]] = []
        for u in range(1, self.U):
            g, arg = {}, {}
            for s in S:
                best_p = min(S, key=lambda p: f[p] + self.cost(u, p, s))
                g[s], arg[s] = f[best_p] + self.cost(u, best_p, s), best_p
            f = g
            back.append(arg)
        end = min(S, key=lambda p: f[p] + self.finish(p))
        total = f[end] + self.finish(end)
        seq = [end]
        for arg in reversed(back):
            seq.append(arg[seq[-1]])
        return float(total), seq[::-1]


def plan_hidp(graph: ModelGraph, cluster: Cluster, nodes: str | NodeCluster | None = None, local: str = "hidp",
              at: float = 0.0, method: str = "hidp",
              processor_profiles: Mapping[tuple[str, str], DeviceProfile] | None = None,
              profiles: Mapping[str, DeviceProfile] | None = None) -> Plan:
    """HiDP's plan: global modes by the DP, local partitions per node part; ``processor_profiles``
    per (node, processor) replace the derived ones (e.g. measured cores)."""
    import time

    t0 = time.perf_counter()
    nc = node_cluster(cluster, nodes)
    scorer = HiDPScorer(graph, nc, processor_profiles, profiles)
    t1 = time.perf_counter()
    dp = GlobalDP(scorer, LocalPartitioner(scorer, local), at)
    predicted, seq = dp.solve()
    t2 = time.perf_counter()
    vols = [(u, u) for u in range(graph.num_units)]
    cuts = [dp.cuts(u, s) for u, s in enumerate(seq)]
    return build_plan(method, graph, nc, vols, cuts, dp.local, {
        "predicted_latency_s": predicted, "dp_seconds": t2 - t1, "setup_seconds": t1 - t0,
        "states": ["data" if s == nc.size else nc.names[s] for s in seq], "at": at})
