"""HiDP: hierarchical global/local partitioning (Taufique et al.; HI L128-L158, PAPERS-AUDIT C.5).

**Global partitioner.** For every unit (HiDP's DNN blocks are ranges of units), a *mode*: model
mode on one node (consecutive model-mode units on one node form a pipeline stage, so block widths
come out of the DP), or data mode over the available nodes (the unit's output rows split, the
nodes exchanging the rows they lack: intermediate exchange). The modes are chosen by a dynamic
programme over ``(unit, state)``, state = "model on node j" (m of them) or "data" (1):

    f[u][s] = min_p f[u-1][p] + c(u, p, s),      latency = min_p f[U-1][p] + finish(p)

so there are O(n*m) states, n units and m nodes. :meth:`GlobalDP.solve` relaxes each over all
O(m) predecessors: O(n*m^2) relaxations. :meth:`GlobalDP.solve_linear` reaches the same optimum
with O(n*m) relaxations, the paper's bound (HI L138), because a model-to-model transfer depends on
the pair only through ``min(beta_p, beta_s)``: with the nodes ranked by rate once, the best
model-mode predecessor of model state s is the better of (a) the smallest ``f[p]`` among nodes at
least as fast as s, paying s's rate, a suffix minimum, and (b) the smallest ``f[p] + 8B/beta_p``
among slower nodes, a prefix minimum; both are built in O(m) per unit. Add "stay on s" and "from
data", and the data state's m + 1 predecessors: O(m) relaxations per unit. (Including p = s in
(a) is harmless: it pays a transfer "stay on s" does not.) The 2m data<->model transition costs
per unit are still evaluated one by one (each a max over the nodes exchanging rows, O(m)), so
the arithmetic stays O(n*m^2) where nodes differ; the tests check both solvers against each other
and against exhaustive search. ``c(u, p, s)`` is the concrete cost the paper leaves schematic
(PAPERS-AUDIT B.5 item 43), written down here:

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

from splitgym.agents.planners.nodes.hidp_local import LocalPartitioner, build_plan
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import largest_remainder, water_fill

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
        c[s + 1 :] = self.H[u]
        return c

    def _data_cuts(self, u: int) -> np.ndarray:
        H = self.H[u]
        rb = self.sc.split.input_row_bytes if u == 0 else self.sc.split.row_bytes[u - 1]
        S = max(p.S for p in self.sc.graph.units[u].row_map.paths)
        alpha, beta = np.full(self.m, 1e9), np.ones(self.m)
        for j in np.flatnonzero(self.avail):
            t = self.local.choose(int(j), u, u, 0, H).seconds
            link = (
                0.0
                if j == self.nodes.leader_index
                else 8.0
                * rb
                * S
                / (min(self.nodes.nodes[j].network_mbps, self.nodes.nodes[self.nodes.leader_index].network_mbps) * 1e6)
            )
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
            arrive = max(
                (
                    nodes.transfer_seconds(src, j, nbytes[j, i])
                    for i, src in enumerate(srcs)
                    if nbytes[j, i] > 0 and src != j
                ),
                default=0.0,
            )
            worst = max(worst, arrive + self.local.choose(j, u, u, a, b).seconds)
        self._memo[key] = worst
        return worst

    def finish(self, p: int) -> float:
        sc, nodes = self.sc, self.nodes
        share = np.diff(self.cuts(self.U - 1, p))
        h = int(np.argmax(share))
        gather = max(
            (
                nodes.transfer_seconds(m, h, float(share[m]) * sc.split.row_bytes[-1])
                for m in range(self.m)
                if share[m] > 0
            ),
            default=0.0,
        )
        if sc.graph.head is None:
            return gather + nodes.transfer_seconds(h, nodes.leader_index, float(share[h]) * sc.split.row_bytes[-1])
        return (
            gather
            + self.local.head(h)[1]
            + nodes.transfer_seconds(h, nodes.leader_index, float(sc.graph.head.out_bytes))
        )

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

    def solve_linear(self) -> tuple[float, list[int]]:
        """The same optimum as :meth:`solve` with O(m) relaxations per unit, O(n*m) in all (the
        paper's bound, HI L138; see the module doc for why this is exact)."""
        S, D = self.states, self.m
        model = S[:-1]
        nodes, lat = self.nodes, self.nodes.latency_s
        mbps = np.array([nodes.nodes[j].network_mbps for j in model], dtype=float)
        order = np.argsort(mbps, kind="stable")
        ranked = [model[i] for i in order]  # ascending rate
        rates = mbps[order]
        first_at = {s: int(np.searchsorted(rates, nodes.nodes[s].network_mbps, side="left")) for s in model}
        k = len(model)
        f = {s: self.cost(0, None, s) for s in S}
        back: list[dict[int, int]] = []
        for u in range(1, self.U):
            B = self._full_in[u]
            # slower senders (rate below the receiver's) pay their own rate: prefix minima of
            # f[p] + 8B/beta_p; faster ones pay the receiver's: suffix minima of f[p]
            pre: list[tuple[float, int]] = [(np.inf, -1)]
            for i, p in enumerate(ranked):
                pre.append(min(pre[-1], (f[p] + 8.0 * B / (rates[i] * 1e6), p)))
            suf: list[tuple[float, int]] = [(np.inf, -1)] * (k + 1)
            for i in range(k - 1, -1, -1):
                suf[i] = min(suf[i + 1], (f[ranked[i]], ranked[i]))
            g: dict[int, float] = {}
            arg: dict[int, int] = {}
            for s in model:
                comp = self.local.choose(s, u, u, 0, self.H[u]).seconds
                cands = [(f[s] + comp, s), (f[D] + self.cost(u, D, s), D)]
                if B > 0:
                    i = first_at[s]
                    if suf[i][1] >= 0:
                        cands.append(
                            (suf[i][0] + lat + 8.0 * B / (nodes.nodes[s].network_mbps * 1e6) + comp, suf[i][1])
                        )
                    if pre[i][1] >= 0:
                        cands.append((pre[i][0] + lat + comp, pre[i][1]))
                else:
                    cands.append((suf[0][0] + comp, suf[0][1]))
                g[s], arg[s] = min(cands)
            g[D], arg[D] = min((f[p] + self.cost(u, p, D), p) for p in S)
            f = g
            back.append(arg)
        total, end = min((f[p] + self.finish(p), p) for p in S)
        seq = [end]
        for arg in reversed(back):
            seq.append(arg[seq[-1]])
        return float(total), seq[::-1]


def plan_hidp(
    graph: ModelGraph,
    cluster: Cluster,
    nodes: str | NodeCluster | None = None,
    local: str = "hidp",
    at: float = 0.0,
    method: str = "hidp",
    processor_profiles: Mapping[tuple[str, str], DeviceProfile] | None = None,
    profiles: Mapping[str, DeviceProfile] | None = None,
    solver: str = "linear",
) -> Plan:
    """HiDP's plan: global modes by the DP, local partitions per node part; ``processor_profiles``
    per (node, processor) replace the derived ones (e.g. measured cores); ``solver`` ``"linear"``
    (O(n*m) relaxations) or ``"quadratic"`` (O(n*m^2)), the same optimum."""
    if solver not in ("linear", "quadratic"):
        raise ConfigError(f"solver: expected 'linear' or 'quadratic', got {solver!r}")
    import time

    t0 = time.perf_counter()
    nc = node_cluster(cluster, nodes)
    scorer = HiDPScorer(graph, nc, processor_profiles, profiles)
    t1 = time.perf_counter()
    dp = GlobalDP(scorer, LocalPartitioner(scorer, local), at)
    predicted, seq = dp.solve_linear() if solver == "linear" else dp.solve()
    t2 = time.perf_counter()
    vols = [(u, u) for u in range(graph.num_units)]
    cuts = [dp.cuts(u, s) for u, s in enumerate(seq)]
    return build_plan(
        method,
        graph,
        nc,
        vols,
        cuts,
        dp.local,
        {
            "predicted_latency_s": predicted,
            "dp_seconds": t2 - t1,
            "setup_seconds": t1 - t0,
            "states": ["data" if s == nc.size else nc.names[s] for s in seq],
            "at": at,
            "solver": solver,
        },
    )
