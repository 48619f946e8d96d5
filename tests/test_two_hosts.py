"""The distributed executor across two hosts, for real: the README's two ``torchrun --nnodes 2``
commands, one per "host" (a network namespace; the two joined by a veth pair shaped to 100 Mbit
by tc), the rendezvous and every tensor crossing the veth. The output equals the unsplit model,
and whatever happens (here: one host fails and the other's workers block) no process and no
namespace is left. These need root and iproute2 (CI runs as root)."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from splitgym.costmodels.errors import SplitgymError
from splitgym.executors import netns
from splitgym.executors.netns import HostPair
from splitgym.experiments.bench_hosts import make_plan, run_two_hosts, torchrun_argv
from splitgym.experiments.results_csv import read_csv

_WHY = netns.netns_available()  # None where root, ip and tc are here
pytestmark = [
    pytest.mark.netns,
    pytest.mark.slow,  # six torch processes start per run (about 20 s on 2 cores)
    pytest.mark.skipif(_WHY is not None, reason=f"two hosts as network namespaces: {_WHY}"),
]


def _ours() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"sg{os.getpid()}-h")]


def _alive(pids: set[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has finished)."""
    left = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(pid)
    return left


def _tx_bytes(pair: HostPair, host: int) -> int:
    """Bytes the host's veth has sent."""
    cmd = ["ip", "-n", pair.ns(host), "-s", "-j", "link", "show", pair.ifname(host)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["bytes"])


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``splitgym plan equal --model vgg11 --input 64 --devices tx2x3 --bandwidth 100``."""
    return make_plan(tmp_path_factory.mktemp("plan") / "plan.json")


def test_two_torchrun_hosts_over_a_shaped_veth_equal_the_unsplit_model(plan: Path, tmp_path: Path) -> None:
    with HostPair(mbps=100.0) as pair:
        assert sorted(_ours()) == [pair.ns(0), pair.ns(1)]
        argv = torchrun_argv(pair, 1, 2, plan, 3, tmp_path / "out1")
        assert argv[argv.index("--master-addr") + 1] == pair.addr(0) and "--nnodes" in argv
        run = run_two_hosts(pair, plan, tmp_path, images=3, timeout_s=300)
        sent = _tx_bytes(pair, 1)
    s = run.summary
    assert run.returncodes == [0, 0]
    assert s["max_abs_error"] <= 1e-4 * s["ref_max_abs"], s
    assert len(s["latency_s"]) == 3 and all(math.isfinite(t) and t > 0 for t in s["latency_s"])
    assert s["latency_median_s"] > 0 and s["ips"] > 0
    # both hosts' outputs: ranks 0, 1 on host 0; device 2 and the requester on host 1
    assert sorted(p.name for p in (tmp_path / "out0").glob("stats-*.pt")) == ["stats-0.pt", "stats-1.pt"]
    assert sorted(p.name for p in (tmp_path / "out1").glob("stats-*.pt")) == ["stats-2.pt", "stats-3.pt"]
    # the requester (host 1) sent devices 0 and 1 (host 0) two thirds of each image over the veth
    assert sent >= 4 * (2 / 3) * 3 * 64 * 64 * 4 * 0.9
    assert len(run.pids) >= 6  # two torchrun agents and four workers ran in the namespaces
    assert _ours() == [] and _alive(run.pids) == []


def test_a_failed_host_leaves_no_process_and_no_namespace(plan: Path, tmp_path: Path) -> None:
    """Host 1's workers cannot read their plan and exit; host 0's block in the rendezvous of the
    process group until the deadline: everything on both hosts is stopped and the namespaces go."""
    seen: set[int] = set()
    with HostPair(mbps=100.0, grace_s=2.0) as pair:
        argvs = [
            torchrun_argv(pair, 0, 2, plan, 1, tmp_path / "out0"),
            torchrun_argv(pair, 1, 2, tmp_path / "missing.json", 1, tmp_path / "out1"),
        ]
        with pytest.raises(SplitgymError, match=r"two hosts: timed out after 45 s \(exit codes \[None, 1\]\)"):
            run_two_hosts(pair, plan, tmp_path, timeout_s=45, argvs=argvs, seen=seen)
        assert pair.pids() == []
    assert len(seen) >= 3  # host 0's torchrun and its two blocked workers at least
    assert _ours() == [] and _alive(seen) == []


def test_bench_hosts_writes_its_json_figures_as_stamped_csv_rows(tmp_path: Path) -> None:
    from splitgym.experiments import bench_hosts

    from .test_bench_hosts import check_csv

    argv = ["--repeats", "1", "--images", "1", "--messages", "5", "--sizes", "4"]
    assert bench_hosts.main([*argv, "-o", str(tmp_path / "h.json")]) == 0
    res = json.loads((tmp_path / "h.json").read_text())
    check_csv(res, read_csv(tmp_path / "h.csv"))
    assert not _ours()  # no namespace left
