"""Two hosts for real: the distributed executor's ranks on two "hosts" started with ``torchrun``
exactly as the README's two-host commands, and the executor's per-message overhead against gloo's
own ping-pong between the same two hosts.

    python -m splitgym.experiments.bench_hosts [--mbps 100] [--repeats 5] [--messages 200] [--images 20]

The hosts are two network namespaces joined by one veth pair, each end shaped by tc tbf
(:class:`~splitgym.executors.netns.HostPair`; root and iproute2). Host 0 runs ``torchrun --nnodes 2
--node-rank 0 --nproc-per-node 2 --master-addr <host 0's veth address>`` (plan devices 0 and 1),
host 1 the same with ``--node-rank 1`` (device 2 and the requester, which prints the JSON summary);
the rendezvous and every tensor cross the veth. The plan: ``splitgym plan equal`` of VGG-11 at 64 px
on three TX2s (``tx2x3``).

Per-message overhead: two processes, one per host, join one gloo group and ping-pong ``--messages``
round trips of each size three ways, one after another in every repeat so they see the same load:

- ``gloo``: ``dist.send`` / ``dist.recv`` (gloo's own ping-pong);
- ``isend``: ``dist.isend(...).wait()`` in the calling thread, ``irecv(...).wait()`` to receive;
- ``handoff``: one background thread that takes each message from a queue and sends it
  (``isend(...).wait()``): a hand-off to a sender thread, without a thread per message;
- ``executor``: the distributed executor's own path, its sender
  (:class:`~splitgym.executors.volumes.volume_sender.Sender`: one dispatch thread, one completion
  thread per destination) and ``irecv(...).wait()`` as its ``_gather`` does;
- ``executor-old``: the same with the sender the executor had before (:class:`_WaiterThreadSender`,
  kept here only, for this side-by-side: a waiter thread started per message).

One-way time per message = round trip / 2; reported: the median over repeats of each repeat's
median round trip (a shared CPU preempts some round trips by milliseconds; the mean is kept in the
rows), and ``executor - gloo`` (``executor-old - gloo``) as the executor's own overhead per
message, now (before). The executor's run is repeated
``--repeats`` times (latency: median over images, then median over repeats); ``os.getloadavg()`` is
recorded before and after, since the CPU is shared. ``-o out.json`` also writes ``out.csv``: the
same figures as stamped rows (:func:`csv_rows`), what the README's spans read.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import heapq
import io
import json
import math
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import SplitgymError
from splitgym.executors.netns import HostPair
from splitgym.experiments.results_csv import write_csv

__all__ = ["make_plan", "torchrun_argv", "started", "run_two_hosts", "TwoHostRun", "messages_per_image", "csv_rows"]

PORT = 29500  # each host is its own namespace: no other process listens there
ENTRY = "splitgym.executors.volumes.volume_distributed"
MODES = ("gloo", "isend", "handoff", "executor", "executor-old")


def make_plan(path: Path, model: str = "vgg11", size: int = 64, devices: str = "tx2x3", mbps: float = 100.0) -> Path:
    """``splitgym plan equal --model vgg11 --input 64 --devices tx2x3 --bandwidth 100 -o path``."""
    from splitgym.experiments.cli import main

    argv = ["plan", "equal", "--model", model, "--input", str(size), "--devices", devices]
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main([*argv, "--bandwidth", f"{mbps:g}", "-o", str(path)])
    if rc != 0:
        raise SplitgymError(f"plan: splitgym {' '.join(argv)} failed ({rc})")
    return path


def torchrun_argv(pair: HostPair, host: int, nproc: int, plan: Path, images: int, out: Path) -> list[str]:
    """The README's two-host command for ``host`` (``torchrun`` is ``python -m torch.distributed.run``)."""
    run = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(host)]
    run += ["--nproc-per-node", str(nproc), "--master-addr", pair.addr(0), "--master-port", str(PORT)]
    return [*run, "-m", ENTRY, str(plan), "--links", "none", "--images", str(images), "--out", str(out)]


@contextlib.contextmanager
def started(pair: HostPair, argvs: list[list[str]], logs: Path) -> Iterator[list[subprocess.Popen]]:
    """Start ``argvs[h]`` on host ``h`` (output in ``logs/host<h>.log``); on exit, whatever happened,
    stop every process on both hosts (torchrun's workers run in sessions of their own, so the
    namespaces, not the process groups, say what is ours) and reap the commands."""
    procs: list[subprocess.Popen] = []
    logs.mkdir(parents=True, exist_ok=True)
    try:
        for h, argv in enumerate(argvs):
            with open(logs / f"host{h}.log", "w") as log:
                procs.append(subprocess.Popen(pair.exec_argv(h, argv), stdout=log, stderr=subprocess.STDOUT))
        yield procs
    finally:
        pair.stop()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _wait(pair: HostPair, procs: list[subprocess.Popen], timeout_s: float, seen: set[int]) -> list[int | None]:
    """Exit codes once all finished, None for those still running at the deadline; ``seen``
    collects every process id that ran on either host meanwhile."""
    deadline = time.monotonic() + timeout_s
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        seen.update(pair.pids())
        time.sleep(0.2)
    return [p.poll() for p in procs]


def _tail(logs: Path, n: int = 6) -> str:
    out = []
    for f in sorted(logs.glob("host*.log")):
        lines = [ln for ln in f.read_text(errors="replace").splitlines() if ln.strip()]
        out.append(f"{f.name}: " + " | ".join(lines[-n:]))
    return "; ".join(out)


@dataclass
class TwoHostRun:
    """A two-host run: the requester's JSON summary, the exit codes, every process id seen."""

    summary: dict[str, Any]
    returncodes: list[int | None]
    pids: set[int] = field(default_factory=set)
    wall_s: float = 0.0


def run_two_hosts(
    pair: HostPair,
    plan: Path,
    folder: Path,
    *,
    nprocs: tuple[int, int] = (2, 2),
    images: int = 5,
    timeout_s: float = 240.0,
    argvs: list[list[str]] | None = None,
    seen: set[int] | None = None,
) -> TwoHostRun:
    """Run the README's two torchrun commands (or ``argvs``) on the pair and return the summary
    host 1's requester prints; a failure or a run past ``timeout_s`` raises with the logs' tails.
    ``seen`` (when given) collects every process id that ran on either host."""
    argvs = argvs or [torchrun_argv(pair, h, nprocs[h], plan, images, folder / f"out{h}") for h in (0, 1)]
    seen = set() if seen is None else seen
    t0 = time.perf_counter()
    with started(pair, argvs, folder) as procs:
        codes = _wait(pair, procs, timeout_s, seen)
    wall = time.perf_counter() - t0
    if None in codes:
        raise SplitgymError(f"two hosts: timed out after {timeout_s:g} s (exit codes {codes}); {_tail(folder)}")
    if any(codes):
        raise SplitgymError(f"two hosts: exit codes {codes}; {_tail(folder)}")
    lines = [ln for ln in (folder / "host1.log").read_text().splitlines() if ln.startswith("{")]
    if not lines:
        raise SplitgymError(f"two hosts: no JSON summary from host 1; {_tail(folder)}")
    return TwoHostRun(json.loads(lines[-1]), codes, seen, wall)


def messages_per_image(plan_path: Path) -> tuple[int, int, int]:
    """(messages, bytes, stages) of one image under the executor's static schedule: what moves
    between ranks, and how many stages (each waits for its input messages) run one after another."""
    from splitgym.costmodels.graph import ModelGraph
    from splitgym.costmodels.models import build_model
    from splitgym.costmodels.plan import load_plan
    from splitgym.executors.volumes.volume_distributed import schedule

    plan = load_plan(plan_path)
    model = build_model(plan.model.name, seed=0)
    graph = ModelGraph.from_module(model, tuple(plan.model.input), name=plan.model.name)
    sched = schedule(plan, graph, result_shape=(1, 1000))
    pieces = [pc for steps in sched for st in steps for pc in st.pieces if pc.src != st.rank]
    nbytes = sum(4 * math.prod(pc.shape) for pc in pieces)  # float32
    return len(pieces), nbytes, len(sched)


# -- the executor's previous sender, for the before/after comparison -------------------------------
class _WaiterThreadSender:
    """The distributed executor's sender before issue #21 item 7, verbatim but for :meth:`flush`'s
    return type: a dispatch thread (heap by due time) that starts a waiter thread per message to
    learn when gloo completes its ``isend``. Kept only here, to measure the new one beside it."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist
        self.heap: list[tuple[float, int, Any, int, int, float]] = []
        self.cv = threading.Condition()
        self.waiters: list[threading.Thread] = []
        self.link_s = 0.0
        self.send_s = 0.0
        self.error: BaseException | None = None
        self.closed = False
        self.count = 0
        self.busy = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def put(self, tensor: Any, dst: int, tag: int, link_s: float) -> None:
        now = time.perf_counter()
        with self.cv:
            self.count += 1
            self.link_s += link_s
            heapq.heappush(self.heap, (now + link_s, self.count, tensor, dst, tag, now))
            self.cv.notify()

    def _await(self, work: Any, tensor: Any, issued: float) -> None:
        try:
            work.wait()
        except BaseException as exc:
            with self.cv:
                self.error = exc
            return
        with self.cv:
            self.send_s += time.perf_counter() - issued

    def _loop(self) -> None:
        while True:
            with self.cv:
                while not self.heap and not self.closed:
                    self.cv.wait()
                if self.closed and not self.heap:
                    return
                delay = self.heap[0][0] - time.perf_counter()
                if delay > 0:
                    self.cv.wait(timeout=delay)
                    continue
                _, _, tensor, dst, tag, _ = heapq.heappop(self.heap)
                self.busy += 1
            try:
                issued = time.perf_counter()
                work = self.dist.isend(tensor, dst=dst, tag=tag)
                waiter = threading.Thread(target=self._await, args=(work, tensor, issued), daemon=True)
                waiter.start()
            except BaseException as exc:
                with self.cv:
                    self.error = exc
                    self.busy -= 1
                    self.cv.notify_all()
                return
            with self.cv:
                self.waiters.append(waiter)
                self.busy -= 1
                self.cv.notify_all()

    def flush(self) -> Any:
        from splitgym.executors.volumes.volume_sender import Flushed

        with self.cv:
            while (self.heap or self.busy) and self.error is None:
                self.cv.wait(timeout=0.05)
            waiters, self.waiters = self.waiters, []
        for w in waiters:
            w.join()
        with self.cv:
            if self.error is not None:
                raise self.error
            out = Flushed(link_s=self.link_s, send_s=self.send_s)
            self.link_s = self.send_s = 0.0
        return out

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        self.thread.join(timeout=5)


def _lazy_receives(vd: Any) -> None:
    """The executor's receives as they were: each stage's posted when the stage starts."""

    def post_all(self: Any, img: int, first: int) -> dict:
        self.img_now = img
        return {}

    def gather(self: Any, st: Any, own: Any) -> Any:
        import torch

        t = time.perf_counter()
        bufs, works = [], []
        for pc in st.pieces:
            if pc.src == self.rank:
                bufs.append(own[:, :, pc.r0 : pc.r1, pc.c0 : pc.c1])
            else:
                buf = torch.empty(pc.shape)
                works.append(self.dist.irecv(buf, src=pc.src, tag=self.img_now * (self.S + 1) + st.stage))
                bufs.append(buf)
        t = self.span.add("recv_post", t)
        for w in works:
            w.wait()
        self.span.add("recv_wait", t)
        if not bufs:
            return torch.empty(1, 0, 0, 0)
        return bufs[0] if len(bufs) == 1 else torch.cat(bufs, dim=2)

    vd._RankWorker._post_all = post_all
    vd._RankWorker._gather = gather


def work_before(rank: int, cfg: dict[str, Any]) -> None:
    """A distributed run's worker as it was before issue #21 item 7: :class:`_WaiterThreadSender`
    and each stage's receives posted when it starts (spawned processes import it from here)."""
    import splitgym.executors.volumes.volume_distributed as vd

    vd._Sender = _WaiterThreadSender
    _lazy_receives(vd)
    _ORIGINAL_WORK(rank, cfg)


def work_new_sender_only(rank: int, cfg: dict[str, Any]) -> None:
    """The worker with today's sender but each stage's receives posted when it starts."""
    import splitgym.executors.volumes.volume_distributed as vd

    _lazy_receives(vd)
    _ORIGINAL_WORK(rank, cfg)


def _original_work() -> Any:
    import splitgym.executors.volumes.volume_distributed as vd

    return vd._work


_ORIGINAL_WORK = _original_work()
#: the executor's variants for before/after runs: name -> the worker ``run_distributed`` starts
VARIANTS = {"before": work_before, "sender": work_new_sender_only, "after": _ORIGINAL_WORK}


@contextlib.contextmanager
def executor_variant(name: str) -> Iterator[None]:
    """``run_distributed`` in the block runs its workers as :data:`VARIANTS` ``[name]``:
    ``before`` (the previous sender and per-stage receives), ``sender`` (only the sender new),
    ``after`` (the executor as it is)."""
    import splitgym.executors.volumes.volume_distributed as vd

    vd._work = VARIANTS[name]
    try:
        yield
    finally:
        vd._work = _ORIGINAL_WORK


# -- the ping-pong (one process per host) -------------------------------------------------------------
class _Handoff:
    """Sends what it is handed from one background thread (``isend``, then wait): the executor's
    ``_Sender`` without its heap, condition and waiter thread per message, to tell the costs apart."""

    def __init__(self, dist: Any) -> None:
        self.dist, self.queue = dist, queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (item := self.queue.get()) is not None:
            tensor, dst, tag = item
            self.dist.isend(tensor, dst=dst, tag=tag).wait()

    def put(self, tensor: Any, dst: int, tag: int, link_s: float) -> None:
        self.queue.put((tensor, dst, tag))

    def flush(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def close(self) -> None:
        pass


def _roundtrips(dist: Any, mode: str, rank: int, nbytes: int, n: int) -> list[float]:
    """Seconds of each of ``n`` round trips of ``nbytes``-byte messages sent the ``mode`` way."""
    import torch

    from splitgym.executors.volumes.volume_sender import Sender

    x = torch.zeros(max(1, nbytes // 4))
    buf = torch.empty_like(x)
    peer = 1 - rank
    kinds = {"executor": Sender, "executor-old": _WaiterThreadSender, "handoff": _Handoff}
    sender = kinds.get(mode, lambda d: None)(dist)

    def send(i: int) -> None:
        if mode == "gloo":
            dist.send(x, peer, tag=i)
        elif mode == "isend":
            dist.isend(x, peer, tag=i).wait()
        else:
            sender.put(x, peer, i, 0.0)

    def recv(i: int) -> None:
        if mode == "gloo":
            dist.recv(buf, peer, tag=i)
        else:
            dist.irecv(buf, src=peer, tag=i).wait()

    times = []
    for i in range(n):
        t = time.perf_counter()
        if rank == 0:
            send(i)
            recv(i)
        else:
            recv(i)
            send(i)
        times.append(time.perf_counter() - t)
    if sender is not None:
        sender.flush()
        sender.close()
    return times


def _pingpong(args: argparse.Namespace) -> int:
    """One side of the ping-pong (run on its host); rank 0 writes the rows to ``--out``."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR=args.addr, MASTER_PORT=str(PORT))
    dist.init_process_group("gloo", rank=args.rank, world_size=2, timeout=datetime.timedelta(seconds=120))
    for size in args.sizes:  # warm-up: first connections and buffers of every size and mode
        for mode in MODES:
            _roundtrips(dist, mode, args.rank, size, 10)
    rows = []
    for rep in range(args.repeats):
        for size in args.sizes:
            k = rep % len(MODES)
            for mode in MODES[k:] + MODES[:k]:  # each mode goes first in some repeat
                dist.barrier()
                rtt = _roundtrips(dist, mode, args.rank, size, args.messages)
                one_way = {"one_way_us": statistics.median(rtt) / 2 * 1e6, "mean_us": statistics.fmean(rtt) / 2 * 1e6}
                rows.append({"repeat": rep, "bytes": size, "mode": mode, **one_way})
    dist.barrier()
    if args.rank == 0:
        atomic_write(Path(args.out), json.dumps(rows))
    dist.destroy_process_group()
    return 0


def pingpong(pair: HostPair, folder: Path, sizes: list[int], messages: int, repeats: int) -> list[dict[str, Any]]:
    """The ping-pong rows (repeat, bytes, mode, one-way microseconds) between the pair's hosts."""
    out = folder / "pingpong.json"
    base = [sys.executable, "-m", "splitgym.experiments.bench_hosts", "pingpong", "--addr", pair.addr(0)]
    base += ["--sizes", ",".join(map(str, sizes)), "--messages", str(messages), "--repeats", str(repeats)]
    argvs = [[*base, "--rank", str(h), "--out", str(out)] for h in (0, 1)]
    with started(pair, argvs, folder) as procs:
        codes = _wait(pair, procs, 600.0, set())
    if codes != [0, 0]:
        raise SplitgymError(f"ping-pong: exit codes {codes}; {_tail(folder)}")
    return json.loads(out.read_text())


# -- the benchmark -------------------------------------------------------------------------------------
def _summarise(rows: list[dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    table = []
    for size in sizes:
        med = {}
        for mode in MODES:
            med[mode] = statistics.median(r["one_way_us"] for r in rows if r["bytes"] == size and r["mode"] == mode)
        table.append({"bytes": size, **{f"{m}_us": round(v, 1) for m, v in med.items()}})
        table[-1]["executor_overhead_us"] = round(med["executor"] - med["gloo"], 1)
        table[-1]["executor_old_overhead_us"] = round(med["executor-old"] - med["gloo"], 1)
    return table


def csv_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (message size, ping-pong mode): the median one-way time as the summary gives it,
    its min and max over repeats, the executor's overhead over gloo (executor modes); then the
    two-host run's figures and the 1-minute load, the same on every row."""
    run = {"mbps": res["mbps"], "messages": res["messages"], "repeats": res["repeats"]}
    run |= {"run_latency_ms": res["executor_latency_median_s"] * 1e3}
    run |= {"run_max_abs_error": res["executor_max_abs_error"]}
    run |= {k: res[k] for k in ("images", "messages_per_image", "bytes_per_image", "stages_per_image")}
    run |= {"load_before": res["loadavg_before"][0], "load_after": res["loadavg_after"][0]}
    over = {"executor": "executor_overhead_us", "executor-old": "executor_old_overhead_us"}
    out = []
    for summary in res["pingpong"]:
        size = summary["bytes"]
        for mode in MODES:
            us = [r["one_way_us"] for r in res["pingpong_rows"] if r["bytes"] == size and r["mode"] == mode]
            row = {"bytes": size, "mode": mode, "one_way_us": summary[f"{mode}_us"], "min_us": min(us)}
            row |= {"max_us": max(us), "overhead_us": summary[over[mode]] if mode in over else None}
            out.append(row | run)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m splitgym.experiments.bench_hosts", description=__doc__.split("\n")[0])
    p.add_argument("verb", nargs="?", default="bench", choices=["bench", "pingpong"])
    p.add_argument("--mbps", type=float, default=100.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[4, 4096, 65536])
    p.add_argument("--images", type=int, default=20)
    p.add_argument("-o", "--output", default=None, help="write the results JSON here")
    p.add_argument("--rank", type=int, default=0)  # pingpong: this side's rank
    p.add_argument("--addr", default="")  # pingpong: host 0's address
    p.add_argument("--out", default="")  # pingpong: rank 0's rows
    return p


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Ping-pong, then ``--repeats`` executor runs, on one pair of hosts."""
    load_before = os.getloadavg()
    with HostPair(args.mbps) as pair, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = make_plan(folder / "plan.json", mbps=args.mbps)
        rows = pingpong(pair, folder / "pingpong", args.sizes, args.messages, args.repeats)
        runs = [run_two_hosts(pair, plan, folder / f"run{i}", images=args.images) for i in range(args.repeats)]
        msgs, nbytes, stages = messages_per_image(plan)
    lat = [r.summary["latency_median_s"] for r in runs]
    return {
        "mbps": args.mbps,
        "messages": args.messages,
        "repeats": args.repeats,
        "pingpong": _summarise(rows, args.sizes),
        "pingpong_rows": rows,
        "executor_latency_median_s": statistics.median(lat),
        "executor_latency_per_repeat_s": lat,
        "executor_max_abs_error": max(r.summary["max_abs_error"] for r in runs),
        "executor_ref_max_abs": max(r.summary["ref_max_abs"] for r in runs),
        "images": args.images,
        "messages_per_image": msgs,
        "bytes_per_image": nbytes,
        "stages_per_image": stages,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "pingpong":
        return _pingpong(args)
    res = bench(args)
    head = f"{'bytes':>8} {'gloo us':>9} {'isend us':>9} {'handoff us':>11} {'executor us':>12} {'old us':>9}"
    print(f"{head} {'overhead us':>12} {'old overhead':>13}")
    for r in res["pingpong"]:
        us = f"{r['gloo_us']:>9} {r['isend_us']:>9} {r['handoff_us']:>11} {r['executor_us']:>12}"
        us += f" {r['executor-old_us']:>9}"
        print(f"{r['bytes']:>8} {us} {r['executor_overhead_us']:>12} {r['executor_old_overhead_us']:>13}")
    print(
        f"executor, VGG-11 64 px on 3 devices over two hosts ({res['mbps']:g} Mbit veth): median latency "
        f"{res['executor_latency_median_s'] * 1e3:.1f} ms over {args.repeats} runs of {args.images} images "
        f"({res['messages_per_image']} messages, {res['bytes_per_image']} bytes per image); load "
        f"{res['loadavg_before'][0]:.2f} -> {res['loadavg_after'][0]:.2f}"
    )
    small = res["pingpong"][0]
    print(
        f"{res['stages_per_image']} stages one after another per image: about {res['stages_per_image']} x "
        f"{small['executor_overhead_us']:g} us = {res['stages_per_image'] * small['executor_overhead_us'] / 1e3:.2f} ms"
        " of each image's latency is the executor's own per-message overhead"
    )
    if args.output:
        atomic_write(Path(args.output), json.dumps(res, indent=1))
        write_csv(Path(args.output).with_suffix(".csv"), csv_rows(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
