"""Both HiDP levels in one distributed run: node rows over torch.distributed, and inside every node
its processor shares on pinned worker processes; the output equals the unsplit model's."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from splitgym.agents.planners.nodes.hidp_local import LocalChoice, LocalPartitioner, build_plan
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.executors.nodes.processor_runner import worker_map
from splitgym.executors.volumes.volume_distributed import run_distributed
from splitgym.experiments.cli import main

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")


class _Split(LocalPartitioner):
    """Every node part split over the node's two processors, 40/60 (local data mode)."""

    def _choose(self, j: int, first: int, last: int, a: int, b: int) -> LocalChoice:
        names = [p.name for p in self.scorer.nodes.nodes[j].processors][:2]
        return LocalChoice(0.0, tuple(names), (0.4, 0.6), "data")


def two_level_plan(model: str) -> Plan:
    """Two nodes with two processors each (Pi 5 and Pi 4: CPU + GPU); units alternate between data
    mode over both nodes and model mode on the second node, every node part split locally."""
    g = ModelGraph.from_torchvision(model, 64)
    nc = NodeCluster.from_config("hidp-2")
    sc = HiDPScorer(g, nc)
    cuts = [
        np.array([0, u.height // 2, u.height]) if i % 2 == 0 else np.array([0, 0, u.height])
        for i, u in enumerate(g.units)
    ]
    plan = build_plan("two-level", g, nc, [(u, u) for u in range(g.num_units)], cuts, _Split(sc, "hidp"))
    assert set(plan.modes) == {"model", "data"}
    assert all(len(s.shares) == 2 for s in plan.shares if s.volume < len(plan.volumes))
    return plan


def _spawned() -> set[int]:
    """Processes started by multiprocessing's spawn from this worktree (any parent)."""
    here, found = os.getcwd(), set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"spawn_main" in cmd and cwd == here and state != "Z":
            found.add(int(pid))
    return found


def _left(before: set[int], wait_s: float = 30.0) -> set[int]:
    deadline = time.monotonic() + wait_s
    while (left := _spawned() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_worker_map_keeps_a_processor_on_one_worker() -> None:
    plan = two_level_plan("vgg11")
    assert worker_map(plan, "pi5", 2) == {"cpu": 0, "gpu": 1}
    assert worker_map(plan, "pi4", 1) == {"cpu": 0, "gpu": 0}
    assert worker_map(plan, "nobody", 2) == {}


def test_execute_distributed_runs_node_and_processor_shares(tmp_path, capsys) -> None:
    """``splitgym execute HIDPPLAN --backend distributed``: one process per node (and the requester),
    each node's parts split over its two pinned processor workers."""
    path = two_level_plan("resnet18").save(tmp_path / "plan.json")
    before = _spawned()
    code = main(["execute", str(path), "--backend", "distributed", "--images", "1", "--warmup", "0", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["max_abs_error"] <= 1e-4 * max(1.0, data["ref_max_abs"])
    per = data["detail"]["meta"]["processors"]
    assert set(per) == {"pi5", "pi4"}
    assert all(set(p) == {"cpu", "gpu"} and all(t > 0 for t in p.values()) for p in per.values())
    assert not _left(before)  # ranks and their processor workers are gone


@pytest.mark.slow  # VGG-11's 133 M weights in 7 processes, three runs: ~2 min on 2 shared cores
def test_vgg_both_levels_exact_and_a_failed_node_leaves_no_worker() -> None:
    plan = two_level_plan("vgg11")
    before = _spawned()
    res = run_distributed(plan, images=1, warmup=0, timeout_s=240)
    assert res.max_abs_error <= 1e-4 * max(1.0, res.ref_max_abs)
    assert set(res.meta["processors"]) == {"pi5", "pi4"}
    # without processor workers the same plan runs every part in the node process: same output
    plain = run_distributed(plan, images=1, warmup=0, timeout_s=240, processors=False)
    assert "processors" not in plain.meta and plain.max_abs_error <= 1e-4 * max(1.0, plain.ref_max_abs)
    with pytest.raises(SplitgymError, match=r"rank 0 \(pi5\) failed: RuntimeError: injected failure"):
        run_distributed(plan, images=1, warmup=0, timeout_s=240, fail_rank=0, fail_at="run")
    assert not _left(before)
