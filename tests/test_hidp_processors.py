"""Processor-level shares run for real: two pinned worker processes compute parts of one node's
rows at once; the merged output equals the unsplit model's."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from splitgym.agents.planners.nodes.hidp_local import LocalChoice, LocalPartitioner, build_plan
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster, make_node, processor_profiles
from splitgym.costmodels.profiles import load_or_measure
from splitgym.executors.nodes.processor_runner import ProcessorPool, run_shares


class _Half(LocalPartitioner):
    """Every node part split 50/50 over the node's first two processors (local data mode)."""

    def _choose(self, j: int, first: int, last: int, a: int, b: int) -> LocalChoice:
        names = [p.name for p in self.scorer.nodes.nodes[j].processors][:2]
        return LocalChoice(0.0, tuple(names), (0.5, 0.5), "data")


@pytest.mark.slow  # two spawned workers import torch and trace the model: ~25 s on 2 shared cores
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_processor_shares_run_in_parallel_and_match_unsplit():
    g = ModelGraph.from_torchvision("vgg11", 64)
    nc = NodeCluster("two", [make_node("orin", "orin-nx", 80), make_node("nano", "nano", 80)], "orin")
    base = load_or_measure(g)
    sc = HiDPScorer(g, nc, processor_profiles(g, nc, base))
    cuts = []
    for u, unit in enumerate(g.units):  # alternate: data mode over both nodes, model mode on nano
        h = unit.height
        cuts.append(np.array([0, h // 2, h]) if u % 2 == 0 else np.array([0, 0, h]))
    plan = build_plan("test", g, nc, [(u, u) for u in range(g.num_units)], cuts, _Half(sc, "hidp"))
    assert set(plan.modes) == {"model", "data"}
    torch.manual_seed(1)
    x = torch.randn(1, *g.input_shape)
    with torch.inference_mode():
        ref = g.gm(x)
    with ProcessorPool(g.name, g.input_shape, cores=[0, 1]) as pool:
        res = run_shares(plan, g, x, pool, profile=base)
    torch.testing.assert_close(res.output, ref, rtol=1e-4, atol=1e-4)
    split = [p for p in res.parts if sum(r1 > r0 for r0, r1 in p.proc_rows) == 2]
    assert split and all(p.cores == [[0], [1]] for p in split)  # two processors, two cores
    assert all(p.wall_s > 0 and all(c > 0 for c in p.compute_s) for p in res.parts)
    assert all(np.isfinite(p.predicted_wall_s) and p.predicted_wall_s > 0 for p in res.parts)
