"""The distributed executor: one process per device over gloo gives the unsplit model's output for
equal and uneven cuts (empty parts included) and a residual model; emulated links make the
measured latency at least the plan's link time; a failing worker or a busy port is one line and
leaves no process behind; ``splitgym execute`` runs both backends and rejects bad input.

Every distributed run starts 3 processes (2 devices + the requester) that import torch and build
the model (several seconds on a shared CPU), so the default tests start only three such runs."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import Cluster, Device
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import Network
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.executors import LocalExecutor, build_stages, compose_latency, network_transfer
from splitgym.executors.volumes import volume_distributed as dx
from splitgym.experiments.cli import main

SIZE = 64


def cluster(n: int = 2, mbps: float = 300.0, latency_ms: float = 0.0, overhead_ms: float = 0.0) -> Cluster:
    boards = ["nano", "xavier", "tx2"]
    devices = [Device(f"{b}-0", b) for b in boards[:n]]
    caps = {d.name: mbps * (1 + i) for i, d in enumerate(devices)} | {"requester": mbps}
    return Cluster(f"test{n}", devices, Network(caps, latency_ms / 1e3, overhead_ms / 1e3))


@functools.cache
def graph(name: str) -> ModelGraph:
    return ModelGraph.from_torchvision(name, SIZE)


def uneven_plan(n: int = 2, **net: float) -> Plan:
    """vgg11 in its 'stages' volumes, cut unevenly, one device idle in two volumes."""
    g = graph("vgg11")
    part = named_partition("stages", g)
    cuts = []
    for v, (_, last) in enumerate(part):
        h = g.units[last].height
        inner = sorted(int(h * f) for f in np.linspace(0.3, 0.8, n - 1))
        c = [0, *inner, h]
        if v in (1, len(part) - 1):  # an empty part: device 0 sits this volume out
            c[1] = 0
        cuts.append(c)
    return Plan.from_volumes("uneven", g, cluster(n, **net), part, cuts)


def equal_plan(name: str = "vgg11", n: int = 2, partition: str = "single") -> Plan:
    return run_planner("equal", graph(name), cluster(n), partition=partition)


def assert_exact(err: float, ref_max: float) -> None:
    assert err <= 1e-5 * max(1.0, ref_max) + 1e-4 * ref_max, (err, ref_max)


def spawned_children() -> list[int]:
    """Live processes whose parent is this one and that multiprocessing spawned."""
    me, found = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z" and b"spawn_main" in cmd:
            found.append(int(pid))
    return found


# -- the schedule (no processes) ------------------------------------------------------------------
@pytest.mark.parametrize("plan_fn", [uneven_plan, equal_plan])
def test_schedule_feeds_each_part_its_rows_device_to_device(plan_fn) -> None:
    plan = plan_fn()
    g = graph("vgg11")
    N = len(plan.devices)
    sched = dx.schedule(plan, g, result_shape=(1, 1000))
    stages = build_stages(plan, g)
    assert len(sched) == len(stages) + 1
    for s, (steps, parts) in enumerate(zip(sched, stages)):
        nonempty = [p for p in parts if not p.empty]
        assert [st.rank for st in steps] == [[d.name for d in plan.devices].index(p.device) for p in nonempty]
        for st, p in zip(steps, nonempty):
            assert sum(pc.r1 - pc.r0 for pc in st.pieces) == p.in_region.rows
            # only the first volume reads from the requester; later rows go device to device
            assert all((pc.src == N) == (s == 0) for pc in st.pieces)
    (final,) = sched[-1]
    assert final.rank == N and [pc.src for pc in final.pieces] == [sched[-2][0].rank]


# -- distributed runs -----------------------------------------------------------------------------
def test_distributed_equal_cuts_are_exact_and_measured() -> None:
    plan = equal_plan("vgg11", 2, "stages")
    res = dx.run_distributed(plan, images=2, links="none", timeout_s=120)
    assert_exact(res.max_abs_error, res.ref_max_abs)
    assert len(res.latency_s) == 2 and all(t > 0 for t in res.latency_s)
    assert res.ips == pytest.approx(1 / np.mean(res.latency_s))
    assert all(res.compute_s[n] > 0 for n in res.devices)
    assert all(v == 0 for v in res.link_s.values())
    # the bytes each device sends are the local executor's
    _, times = LocalExecutor(plan, graph("vgg11")).run_timed(torch.zeros(1, 3, SIZE, SIZE), warmup=0)
    for n in res.devices + ["requester"]:
        assert res.bytes_sent[n] == sum(t["bytes"] for t in times["transfers"] if t["src"] == n), n
    # where each rank's time went: its messages are the schedule's, its compute the one measured,
    # and on the common clock its first input comes after the image left and its last output
    # leaves before the result is back
    brk = res.meta["breakdown"]
    sched = dx.schedule(plan, graph("vgg11"), result_shape=(1, 1000))
    for rank, n in enumerate(res.devices + ["requester"]):
        sent = [pc for steps in sched for st in steps for pc in st.pieces if pc.src == rank and st.rank != rank]
        assert brk[n]["messages"] == len(sent), n
        assert brk[n]["image"] > 0 and brk[n]["other"] >= -1e-6, n
    for n in res.devices:
        assert brk[n]["compute"] == pytest.approx(res.compute_s[n])
        assert 0 < brk[n]["first_in"] < brk[n]["last_out"] < brk["requester"]["result"]
    assert brk["requester"]["result"] == pytest.approx(res.latency_mean_s)
    assert not spawned_children()


@pytest.mark.parametrize("at", ["start", pytest.param("run", marks=pytest.mark.slow)])
def test_worker_failure_is_one_line_and_leaves_no_process(at: str) -> None:
    """At start the others are still starting; at run they are connected and wait on the failed rank."""
    with pytest.raises(SplitgymError) as exc:
        dx.run_distributed(equal_plan(), images=1, fail_rank=1, fail_at=at, timeout_s=120)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("distributed: worker rank 1 (xavier-0) failed: RuntimeError: injected failure")
    assert msg.endswith(f"at {at}")
    assert dx.LAST_PIDS and not spawned_children()
    for pid in dx.LAST_PIDS:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_busy_port_and_bad_links_fail_in_one_line_before_starting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(SplitgymError, match=rf"^port: 127.0.0.1:{port} is not free"):
            dx.run_distributed(equal_plan(), port=port)
    with pytest.raises(SplitgymError, match=r"^links: 'netns' needs the distributed backend"):
        dx.run_local(equal_plan(), links="netns")
    with pytest.raises(SplitgymError, match=r"^links: unknown link mode 'tc'"):
        dx.run_distributed(equal_plan(), links="tc")
    assert not spawned_children()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,n,partition", [("vgg11", 3, "single"), ("resnet18", 2, "stages"), ("resnet18", 3, "stages")]
)
def test_distributed_more_devices_and_residual_blocks_are_exact(name: str, n: int, partition: str) -> None:
    res = dx.run_distributed(equal_plan(name, n, partition), images=2, timeout_s=300)
    assert_exact(res.max_abs_error, res.ref_max_abs)


@pytest.mark.slow
def test_distributed_uneven_three_devices_is_exact() -> None:
    res = dx.run_distributed(uneven_plan(3), images=1, timeout_s=300)
    assert_exact(res.max_abs_error, res.ref_max_abs)


# -- the execute verb -----------------------------------------------------------------------------
def _run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_execute_distributed_emulated_links_is_exact_and_pays_the_links(tmp_path, capsys) -> None:
    # slow links (20 Mbps, 5 ms): the link time dominates the compute
    plan = uneven_plan(2, mbps=20.0, latency_ms=5.0, overhead_ms=1.0)
    path = plan.save(tmp_path / "plan.json")
    code, out, err = _run_cli(
        capsys, "execute", str(path), "--backend", "distributed", "--links", "emulated", "--images", "2", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert_exact(data["max_abs_error"], data["ref_max_abs"])
    assert data["backend"] == "distributed" and len(data["latency_s"]) == 2
    # the plan's links alone (zero compute), composed along its schedule: a lower bound
    g = graph("vgg11")
    _, times = LocalExecutor(plan, g).run_timed(torch.zeros(1, 3, SIZE, SIZE), warmup=0)
    links_only = compose_latency(
        dict(times, compute_s=np.zeros_like(times["compute_s"]), head_s=0.0), plan, network_transfer(plan)
    )["latency_s"]
    assert links_only > 0.03
    assert min(data["latency_s"]) >= links_only
    assert data["detail"]["link_s"]["requester"] > 0 and data["detail"]["link_s"]["nano-0"] > 0
    assert not spawned_children()


def test_execute_local_prints_and_is_exact(tmp_path, capsys) -> None:
    path = uneven_plan().save(tmp_path / "plan.json")
    code, out, err = _run_cli(capsys, "execute", str(path), "--images", "2", "--links", "emulated", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["backend"] == "local" and len(data["latency_s"]) == 2
    assert_exact(data["max_abs_error"], data["ref_max_abs"])
    assert data["detail"]["link_s"]["requester"] > 0
    code, out, err = _run_cli(capsys, "execute", str(path), "--backend", "local", "--images", "1")
    assert code == 0, err
    assert "latency per image: mean" in out and "images/s" in out and "max abs error" in out
    assert "nano-0" in out and "xavier-0 (head)" in out


@pytest.mark.parametrize(
    "content,args,pattern",
    [
        (None, [], r"plan: no such file"),
        ("{not json", [], r"not valid JSON"),
        ('{"format": "splitgym.plan", "version": 7}', [], r"version"),
        (
            "PLAN",
            ["--backend", "mpi"],
            r"backend: a 'volumes' plan has no backend 'mpi' \(it has: local, distributed\)",
        ),
        ("PLAN", ["--links", "netns"], r"links: 'netns' needs the distributed backend"),
        ("PLAN", ["--folder", "somewhere"], r"folder: the local backend of a 'volumes' plan takes no 'folder'"),
        ("PLAN", ["--links", "wifi"], r"links: unknown link mode 'wifi'"),
        ("PLAN", ["--images", "0"], r"--images: expected an integer in 1\.\.100000, got 0"),
    ],
)
def test_execute_rejects_bad_input_in_one_line(tmp_path, capsys, content, args, pattern) -> None:
    path = tmp_path / "plan.json"
    if content == "PLAN":
        equal_plan().save(path)
    elif content is not None:
        path.write_text(content)
    code, out, err = _run_cli(capsys, "execute", str(path), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("splitgym execute: error: ")
    assert re.search(pattern, err), err
    assert not spawned_children()


def test_torchrun_entry_checks_its_environment(tmp_path, capsys, monkeypatch) -> None:
    path = equal_plan().save(tmp_path / "plan.json")
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    assert dx._main([str(path)]) == 2
    assert capsys.readouterr().err.startswith("splitgym distributed: error: environment: RANK, WORLD_SIZE")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "5")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert dx._main([str(path)]) == 2
    assert "WORLD_SIZE: the plan needs 3 processes (2 devices and the requester), got 5" in capsys.readouterr().err
