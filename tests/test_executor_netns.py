"""Real shaped links (``--links netns``): a namespace per rank on a bridged LAN shaped by tc.

The shaped LAN delivers the simulator's pair rule (``min(cap_a, cap_b)`` Mbps) to a real gloo
transfer; the distributed executor over it is exact and its traffic takes at least the bytes'
wire time; every namespace is gone afterwards, also when a worker fails; without root the
executor says so in one line. These need root and iproute2 (CI runs as root)."""

from __future__ import annotations

import datetime
import os
import subprocess
import time

import pytest
import torch
import torch.multiprocessing as mp

from splitgym.costmodels.errors import SplitgymError
from splitgym.executors import netns
from splitgym.executors.netns import ShapedLan
from splitgym.executors.volumes import volume_distributed as dx

from .test_executor_distributed import uneven_plan

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(netns.netns_available() is not None, reason="needs root and iproute2"),
]

MB = 2_000_000


def _ours() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"sg{os.getpid()}-")]


def _pingpong(rank: int, lan: dict, out: str) -> None:
    netns.enter_netns(lan["ns"][rank])
    os.environ["GLOO_SOCKET_IFNAME"] = lan["if"][rank]
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR=lan["addr"], MASTER_PORT="29500")
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=60))
    x = torch.zeros(MB // 4)
    times = []
    for _ in range(3):
        dist.barrier()
        t = time.perf_counter()
        if rank == 0:
            dist.send(x, 1)
            dist.recv(x[:1], 1)
        else:
            dist.recv(x, 0)
            dist.send(x[:1], 0)
        times.append(time.perf_counter() - t)
    if rank == 0:
        torch.save(times, out)
    dist.destroy_process_group()


def test_shaped_lan_gives_the_min_rule_rate_and_cleans_up(tmp_path) -> None:
    out = str(tmp_path / "times.pt")
    with ShapedLan([40.0, 120.0]) as lan:
        assert len(_ours()) == 3  # two ranks and the bridge
        info = {"ns": [lan.ns(0), lan.ns(1)], "if": [lan.ifname(0), lan.ifname(1)], "addr": lan.addr(0)}
        mp.spawn(_pingpong, args=(info, out), nprocs=2)
    assert _ours() == []
    mbps = MB * 8 / min(torch.load(out)) / 1e6
    assert 0.8 * 40 <= mbps <= 1.05 * 40, f"{mbps:.1f} Mbit/s through a 40/120 Mbit pair"


def test_distributed_over_netns_is_exact_and_pays_the_wire_time() -> None:
    plan = uneven_plan(2, mbps=20.0)  # caps 20 and 40 Mbit, requester 20
    res = dx.run_distributed(plan, images=2, links="netns", timeout_s=240)
    assert res.max_abs_error <= 1e-5 * max(1.0, res.ref_max_abs)
    assert res.links == "netns" and res.meta["addr"].startswith("10.")
    # the requester's image alone crosses a 20 Mbit link: a lower bound of every image's latency
    wire = res.bytes_sent["requester"] * 8 / 20e6
    assert min(res.latency_s) >= wire
    assert _ours() == []


def test_failing_worker_leaves_no_namespace_and_no_process() -> None:
    plan = uneven_plan(2)
    with pytest.raises(SplitgymError, match=r"worker rank 1 .* injected failure"):
        dx.run_distributed(plan, images=1, links="netns", fail_rank=1, fail_at="run", timeout_s=120)
    assert _ours() == []
    for pid in dx.LAST_PIDS:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def test_without_root_the_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(SplitgymError, match=r"^links: 'netns' needs root .*use --links emulated"):
        dx.run_distributed(uneven_plan(2), links="netns")
    with pytest.raises(SplitgymError, match="needs the distributed backend"):
        dx.run_local(uneven_plan(2), links="netns")


def test_stale_namespaces_of_dead_runs_are_removed() -> None:
    dead = 4_194_305  # above the kernel's largest pid_max (2**22): no such process
    subprocess.run(["ip", "netns", "add", f"sg{dead}-0"], check=True)
    assert f"sg{dead}-0" in netns.remove_stale()
    assert f"sg{dead}-0" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
