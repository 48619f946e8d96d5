"""The distributed executor: one process per plan device over ``torch.distributed`` (gloo, CPU).

:func:`run_distributed` launches ``N + 1`` processes on this machine with
``torch.multiprocessing`` (rendezvous through ``MASTER_ADDR``/``MASTER_PORT``): rank ``r < N`` is
plan device ``r``, rank ``N`` is the requester. Every worker builds the model itself
(:func:`build_model` with the plan's name and seed 0, traced with :meth:`ModelGraph.from_module`),
calls :func:`build_stages` and keeps only the parts on its own device. The data flow is a static
schedule every rank derives from the plan (:func:`schedule`): for every non-empty part, the row
slices it needs from each owner of the previous volume's output (the requester's image for the
first volume). Owners send exactly those slices point to point (``isend``/``irecv``, one message
per (owner, consumer) pair and stage); nothing goes through a central process. The head runs on
the head device (:func:`head_index`), which sends the result to the requester.

Images form a stream, as in DistrEdge: the requester sends image ``i + 1`` once the result of
image ``i`` has returned, and records each image's latency (after ``warmup`` unrecorded images).

Links: ``"none"`` sends over the loopback as fast as it goes; ``"emulated"`` makes every send wait
the plan's link time for its bytes first (:func:`network_transfer`: ``min(cap_src, cap_dst)``
Mbps, the plan's latency and overhead), in the worker's sender thread
(:class:`~.volume_sender.Sender`) so that transfers overlap compute and each other, as the
simulator assumes. Every receive of an image is posted when the image starts: gloo moves a
message's bytes only once its receive is posted, so a receive posted when its stage starts would
hold every transfer until the receiver had finished its previous part. ``"netns"``: real shaped links, every rank in its
own network namespace on a bridged LAN whose veths ``tc`` shapes to the devices' caps
(:class:`~splitgym.executors.netns.ShapedLan`); gloo's bytes really cross them, and the sender
thread waits only the plan's latency and per-transfer overhead (no netem on this kernel).

HiDP plans (``Plan.shares`` per volume) run both levels: each node's process splits its parts over
its processors, pinned worker processes of its own (:class:`~.processors.NodeProcessors`), merges
their rows and sends them on (``processors=False`` runs every part in the node process).

Measured in the workers, per device and image (mean over recorded images): ``compute_s``, the
seconds of its parts; ``link_s``, the emulated link seconds of its sends (0 without emulation);
``send_s``, the seconds from each ``isend`` to its completion, summed (gloo completes a send once
the receiver has posted its receive, so this includes a busy receiver); ``recv_wait_s``, the
seconds it waited for its inputs (upstream compute included); ``bytes_sent``; and, in
``meta["breakdown"]``, every rank's main-thread time per image split by kind of work
(:class:`_Spans`: posting receives, waiting, concatenating, compute, slicing, handing to the sender,
the end-of-image flush, bookkeeping) with its sender's time inside ``isend`` and when its first
input came and last output left after the image was sent. The requester compares every
output with the unsplit model built from the same seed (``max_abs_error``).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from splitgym.costmodels.atomic import atomic_torch_save
from splitgym.costmodels.cluster import REQUESTER
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.run_folder import folder_lock
from splitgym.costmodels.slicing import Region
from splitgym.executors.launch import (
    WorkerError,
    _guarded,
    check_images,
    free_port,
    init_group,
    launch,
    listening_socket,
    stop_on_signals,
)
from splitgym.executors.netns import ShapedLan, check_links, enter_netns
from splitgym.executors.nodes.processor_runner import NodeProcessors
from splitgym.executors.resume import ResumeHub
from splitgym.executors.volumes.volume_local import build_stages, network_transfer
from splitgym.executors.volumes.volume_sender import Flushed
from splitgym.executors.volumes.volume_sender import Sender as _Sender

__all__ = [
    "run_distributed",
    "run_local",
    "ExecutionResult",
    "DistributedResult",
    "schedule",
    "Step",
    "Piece",
    "LINKS",
    "free_port",
    "LAST_PIDS",
]

LINKS = ("none", "emulated", "netns")

#: The process ids of the latest run's workers (for tests that check none is left running).
LAST_PIDS: list[int] = []


# -- the static schedule --------------------------------------------------------------------------
@dataclass(frozen=True)
class Piece:
    """Rows ``[r0, r1)`` (relative to the owner's slab) and columns ``[c0, c1)`` that rank ``src``
    holds and a consumer needs; ``shape`` is the slice's shape."""

    src: int
    r0: int
    r1: int
    c0: int
    c1: int
    shape: tuple[int, ...]


@dataclass
class Step:
    """One non-empty part (``stage`` < number of stages) or the requester's final gather
    (``stage`` = number of stages): who runs it and the pieces it is fed, in row order."""

    stage: int
    rank: int
    pieces: list[Piece]
    out_rows: tuple[int, int] = (0, 0)
    module: Any = None


def schedule(
    plan: Plan, graph: ModelGraph, batch: int = 1, result_shape: tuple[int, ...] | None = None
) -> list[list[Step]]:
    """Per stage (volumes, then the head when the model has one, then the requester's receipt of the
    result) the steps that run in it. Ranks: plan device ``k`` is ``k``, the requester ``N``."""
    names = [d.name for d in plan.devices]
    N = len(names)
    stages = build_stages(plan, graph)
    # held: (rank, first row, last row, channels) of the previous stage's output slabs
    c_in, h_in, w_in = graph.input_shape
    held: list[tuple[int, int, int, int]] = [(N, 0, h_in, c_in)]
    out: list[list[Step]] = []

    def pieces_for(want: Region) -> list[Piece]:
        got = []
        for rank, lo, hi, ch in held:
            a, b = max(want.r0, lo), min(want.r1, hi)
            if b > a:
                got.append(Piece(rank, a - lo, b - lo, want.c0, want.c1, (batch, ch, b - a, want.cols)))
        return got

    for s, parts in enumerate(stages):
        steps = []
        nxt = []
        is_head = graph.head is not None and s == len(stages) - 1
        for p in parts:
            if p.module is None:
                continue
            rank = names.index(p.device)
            steps.append(Step(s, rank, pieces_for(p.in_region), p.rows, p.module))
            if not is_head:
                ch = graph.units[plan.volumes[s].last].out_shape[0]
                nxt.append((rank, p.rows[0], p.rows[1], ch))
        out.append(steps)
        held = nxt
    final = len(stages)
    if graph.head is not None:
        head_rank = out[-1][0].rank
        shape = tuple(result_shape) if result_shape is not None else (batch, -1)
        out.append([Step(final, N, [Piece(head_rank, 0, 1, 0, 1, shape)])])
    else:
        c, h, w = graph.units[-1].out_shape
        out.append([Step(final, N, pieces_for(Region(0, h, 0, w)))])
    return out


# -- results ---------------------------------------------------------------------------------------
@dataclass
class ExecutionResult:
    """What :func:`run_distributed` (or :func:`run_local`) measured (seconds; per device: mean per
    recorded image)."""

    devices: list[str]
    links: str
    latency_s: list[float]
    compute_s: dict[str, float]
    link_s: dict[str, float]
    send_s: dict[str, float]
    recv_wait_s: dict[str, float]
    bytes_sent: dict[str, int]
    head_device: str | None
    max_abs_error: float
    ref_max_abs: float
    wall_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_mean_s(self) -> float:
        """(NaN when no whole image ran: every image was already in the hub, or resumed.)"""
        return statistics.fmean(self.latency_s) if self.latency_s else float("nan")

    @property
    def latency_median_s(self) -> float:
        return statistics.median(self.latency_s) if self.latency_s else float("nan")

    @property
    def ips(self) -> float:
        """Images per second of the stream (the next image goes when the previous returns)."""
        return len(self.latency_s) / sum(self.latency_s) if self.latency_s else float("nan")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(latency_mean_s=self.latency_mean_s, latency_median_s=self.latency_median_s, ips=self.ips)
        return d


DistributedResult = ExecutionResult


# -- where a rank's time goes ---------------------------------------------------------------------
class _Spans:
    """Seconds of one image on one rank's main thread, per kind of work, and when its first input
    came and its last output left (``perf_counter``: one clock for every process on a host), so a
    run says where its latency goes beyond compute (README, "Per-message and per-run cost").

    Kinds: ``recv_post`` (receive buffers allocated and ``irecv`` posted), ``recv_wait`` (waiting
    for them: upstream work and the wire), ``assemble`` (pieces concatenated in row order),
    ``compute``, ``hub`` (parts persisted), ``slice`` (output rows cut and made contiguous for a
    consumer), ``put`` (handed to the sender), ``flush`` (the image's sends awaited at its end) and
    ``other`` (the image's wall time less all those: Python bookkeeping)."""

    KINDS = ("recv_post", "recv_wait", "assemble", "compute", "hub", "slice", "put", "flush")

    def __init__(self, t0: float = 0.0) -> None:
        self.t0 = t0
        self.s = dict.fromkeys(self.KINDS, 0.0)
        self.at: dict[str, float] = {}

    def add(self, kind: str, since: float) -> float:
        """Count the seconds since ``since`` as ``kind``; returns now."""
        now = time.perf_counter()
        self.s[kind] += now - since
        return now

    def close(self, sends: Flushed) -> dict[str, float]:
        """The image's record: the kinds, ``other``, ``image`` (wall), the sender's ``issue``
        (inside ``isend``) and ``lag`` (issued late after due) seconds, ``messages``, and the
        absolute times ``t0``, ``first_in``, ``last_out`` and (requester) ``result``."""
        image = time.perf_counter() - self.t0
        out = dict(self.s)
        out.update(other=image - sum(self.s.values()), image=image, issue=sends.issue_s, lag=sends.lag_s)
        out.update(messages=float(sends.messages), t0=self.t0, **self.at)
        return out


# -- the worker ------------------------------------------------------------------------------------
def _images(n: int, shape: tuple[int, ...], seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(1, *shape, generator=gen) for _ in range(n)]


def _work(rank: int, cfg: dict[str, Any]) -> None:
    """One process of a run: rank ``r < N`` is plan device ``r``, rank ``N`` the requester
    (the module doc). The order matters: the network namespace before any socket or thread, the
    hub read before the group forms, no teardown after a failure."""
    import torch.distributed as dist

    torch.set_num_threads(cfg["threads"])
    plan = Plan.model_validate(cfg["plan"])
    names = [d.name for d in plan.devices]
    me = names[rank] if rank < len(names) else REQUESTER
    if cfg["links"] == "netns":  # first, before any socket or thread exists
        enter_netns(cfg["netns"][rank])
        os.environ["GLOO_SOCKET_IFNAME"] = cfg["ifnames"][rank]
    _fault(cfg, rank, me, "start")
    worker = _RankWorker(rank, me, plan, cfg)
    if cfg.get("torchrun"):  # torchrun's agent already serves the store at MASTER_ADDR:MASTER_PORT
        timeout = datetime.timedelta(seconds=cfg["timeout_s"])
        dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=len(names) + 1, timeout=timeout)
    else:
        init_group(rank, len(names) + 1, cfg)  # listens on cfg["addr"] only
    worker.run(dist)


def _fault(cfg: dict[str, Any], rank: int, me: str, at: str) -> None:
    """Raise where the run's test asked this rank to fail (``fail_rank``, ``fail_at``)."""
    if cfg["fail_rank"] == rank and cfg["fail_at"] == at:
        raise RuntimeError(f"injected failure in rank {rank} ({me}) at {at}")


def _link_cost(plan: Plan, links: str) -> Callable[[str, str, int], float] | None:
    """What a send waits before it goes (source, destination, bytes -> seconds): the plan's whole
    link time when emulated; only its latency and I/O overhead over netns, whose wire is shaped;
    None over free links."""
    link = network_transfer(plan) if links == "emulated" else None
    if links == "netns":  # the wire is shaped; only the latency and I/O overhead are waited
        fixed = plan.network.latency_ms / 1e3 + plan.network.overhead_ms / 1e3
        link = lambda src, dst, nbytes: fixed  # noqa: E731
    return link


def _sends_of(sched: list[list[Step]], rank: int) -> dict[int, list[tuple[Step, Piece]]]:
    """What ``rank`` sends after stage ``s`` (its consumers are in stage ``s + 1``); ``s = -1``:
    the requester's image."""
    sends: dict[int, list[tuple[Step, Piece]]] = {}
    for steps in sched:
        for st in steps:
            for pc in st.pieces:
                if pc.src == rank and st.rank != rank:
                    sends.setdefault(st.stage - 1, []).append((st, pc))
    return sends


class _RankWorker:
    """One rank's share of the run: its steps of the static schedule, what it sends after each,
    the images still to run (a hub resumes a killed run) and the stats it writes for the launcher.
    Built before the process group forms (so every rank reads the same hub); :meth:`run` after."""

    def __init__(self, rank: int, me: str, plan: Plan, cfg: dict[str, Any]) -> None:
        self.rank, self.me, self.cfg = rank, me, cfg
        self.N = N = len(plan.devices)
        model = build_model(plan.model.name, seed=0)
        graph = ModelGraph.from_module(model, tuple(plan.model.input), name=plan.model.name)
        self.images = _images(cfg["images"] + cfg["warmup"], tuple(plan.model.input), cfg["seed"])
        self.refs: list[torch.Tensor] = []
        if rank == N:
            with torch.inference_mode():
                self.refs = [model(x) for x in self.images]
        result_shape = tuple(self.refs[0].shape) if self.refs else None
        sched = schedule(plan, graph, batch=1, result_shape=result_shape)
        self.S = len(sched)  # stages including the final receipt
        self.link = _link_cost(plan, cfg["links"])
        self.rank_name = [d.name for d in plan.devices] + [REQUESTER]
        self.sends = _sends_of(sched, rank)
        self.mine = {st.stage: st for steps in sched for st in steps if st.rank == rank}
        # with a hub: skip finished images, restart the others after their last complete stage (read
        # before the group forms, so every rank sees the same hub; see resume.py)
        self.hub = ResumeHub(cfg["hub"], cfg["plan"], cfg["seed"]) if cfg.get("hub") else None
        stage_ranks = [[st.rank for st in steps] for steps in sched[:-1]]
        self.start = {
            i: (self.hub.resume_stage(i, stage_ranks) if self.hub else -1)
            for i in range(len(self.images))
            if self.hub is None or not self.hub.done(i)
        }
        # a HiDP plan's processor shares: this node's pinned processor workers (processors.py)
        self.procs = (
            NodeProcessors(plan, graph, me, timeout_s=cfg["timeout_s"], module=model)
            if rank < N and cfg.get("processors", True) and NodeProcessors.wanted(plan, me)
            else None
        )
        self.stats: dict[str, Any] = {
            "compute_s": [],
            "link_s": [],
            "send_s": [],
            "recv_wait_s": [],
            "bytes_sent": 0,
            "latency_s": [],
            "max_abs_error": 0.0,
            "ref_max_abs": 0.0,
            "resumed": {},
            "skipped": len(self.images) - len(self.start),
            "spans": [],  # per recorded image: seconds per kind of work (see _Spans)
        }
        self.span = _Spans()

    def run(self, dist: Any) -> None:
        """Every image to run, then the stats; on a failure, no teardown: closing the connections
        now would make the peers fail first and hide this, the root cause (the caller writes it
        down and exits at once)."""
        self.dist = dist
        self.sender = _Sender(dist)
        try:
            _fault(self.cfg, self.rank, self.me, "run")  # the others are connected and blocked on this rank
            with torch.inference_mode():
                for img, first in self.start.items():
                    self._image(img, first)
            if self.procs is not None:
                self.procs.close()
            atomic_torch_save(self.stats, Path(self.cfg["dir"]) / f"stats-{self.rank}.pt")
            dist.barrier()
            self.sender.close()
            dist.destroy_process_group()
        except BaseException:
            self.sender.closed = True
            raise

    def _image(self, img: int, first: int) -> None:
        """Image ``img``, from stage ``first`` on (-1: from the start), and its stats."""
        t0 = time.perf_counter()
        self.span = _Spans(t0)
        self.posted = self._post_all(img, first)
        if self.rank == self.N:
            compute, wait, sent = self._request(img, first, t0)
        else:
            compute, wait, sent = self._parts(img, first)
        tf = time.perf_counter()
        sends = self.sender.flush()
        self.span.add("flush", tf)
        per_proc = self.procs.take() if self.procs is not None else {}
        if img >= self.cfg["warmup"]:
            self.stats["compute_s"].append(compute)
            if per_proc:
                self.stats.setdefault("processor_s", []).append(per_proc)
            self.stats["link_s"].append(sends.link_s)
            self.stats["send_s"].append(sends.send_s)
            self.stats["spans"].append(self.span.close(sends))
            self.stats["recv_wait_s"].append(wait)
            self.stats["bytes_sent"] = sent

    def _request(self, img: int, first: int, t0: float) -> tuple[float, float, int]:
        """The requester: send the image (unless resumed past it), wait for the result, check it
        against the unsplit model; returns (compute, receive wait, bytes sent)."""
        sent = 0
        if first < 0:
            sent += self._emit(-1, self.images[img], img)
        else:
            self.stats["resumed"][img] = first
        t_send = time.perf_counter()
        y = self._gather(self.mine[self.S - 1], None)
        latency = time.perf_counter() - t0
        wait = time.perf_counter() - t_send
        self.span.at["result"] = t0 + latency
        if self.hub is not None:
            self.hub.save_result(img, y)
        if img >= self.cfg["warmup"]:
            if first < 0:  # a resumed image's latency is not an image's latency
                self.stats["latency_s"].append(latency)
            ref = self.refs[img]
            err = (y.reshape(ref.shape) - ref).abs().max().item()
            self.stats["max_abs_error"] = max(self.stats["max_abs_error"], err)
            self.stats["ref_max_abs"] = max(self.stats["ref_max_abs"], ref.abs().max().item())
        return 0.0, wait, sent

    def _parts(self, img: int, first: int) -> tuple[float, float, int]:
        """A device: its part of every stage in turn (a resumed image sends its persisted part of
        stage ``first`` on); returns (compute, receive wait, bytes sent)."""
        compute = wait = 0.0
        sent = 0
        own: torch.Tensor | None = None
        for s in range(self.S - 1):
            st = self.mine.get(s)
            if st is None or s < first:
                own = None
                continue
            if s == first:  # persisted by the run that died: send it on
                assert self.hub is not None
                own = self.hub.load(img, s, self.rank)
                sent += self._emit(s, own, img)
                continue
            if self.cfg["fail_rank"] == self.rank and self.cfg["fail_at"] == f"kill:{img}:{s}":
                os.kill(os.getpid(), signal.SIGKILL)  # a real, abrupt death (tests)
            tw = time.perf_counter()
            inp = self._gather(st, own)
            tc = time.perf_counter()
            wait += tc - tw
            self.span.at.setdefault("first_in", tc)
            if self.procs is not None and self.procs.handles(s):
                own = self.procs.run(s, st.module, st.out_rows, inp)
            else:
                own = st.module(inp)
            t = self.span.add("compute", tc)
            compute += t - tc
            if self.hub is not None:
                self.hub.save_part(img, s, self.rank, own)
                self.span.add("hub", t)
            sent += self._emit(s, own, img)
            self.span.at["last_out"] = time.perf_counter()
        return compute, wait, sent

    def _emit(self, after: int, y: torch.Tensor, img: int) -> int:
        """Queue the slices of ``y`` (this rank's output of stage ``after``) for their consumers;
        returns the bytes queued."""
        nbytes = 0
        for st, pc in self.sends.get(after, []):
            t = time.perf_counter()
            piece = (y[:, :, pc.r0 : pc.r1, pc.c0 : pc.c1] if y.dim() == 4 else y).contiguous()
            b = piece.numel() * piece.element_size()
            nbytes += b
            cost = self.link(self.me, self.rank_name[st.rank], b) if self.link is not None else 0.0
            t = self.span.add("slice", t)
            self.sender.put(piece, st.rank, img * (self.S + 1) + st.stage, cost)
            self.span.add("put", t)
        return nbytes

    def _post_all(self, img: int, first: int) -> dict[int, list[tuple[Piece, torch.Tensor, Any]]]:
        """Post now the receive of every piece this rank gets in image ``img`` (stages after
        ``first``), each into a buffer of its own: gloo moves a message's bytes only once its
        receive is posted (until then the sender only announces it), so a receive posted when the
        stage starts would keep every transfer from overlapping this rank's compute."""
        t = time.perf_counter()
        posted: dict[int, list[tuple[Piece, torch.Tensor, Any]]] = {}
        for s, st in self.mine.items():
            if s <= first:  # a resumed image: stage ``first``'s part is persisted, not received
                continue
            got = []
            for pc in st.pieces:
                if pc.src != self.rank:
                    buf = torch.empty(pc.shape)
                    got.append((pc, buf, self.dist.irecv(buf, src=pc.src, tag=img * (self.S + 1) + st.stage)))
            posted[s] = got
        self.span.add("recv_post", t)
        return posted

    def _gather(self, st: Step, own: torch.Tensor | None) -> torch.Tensor:
        """The input of step ``st``: its pieces, received (posted by :meth:`_post_all`) or
        (``own``) already here, in row order."""
        t = time.perf_counter()
        received = iter(self.posted.pop(st.stage, []))
        bufs = []
        for pc in st.pieces:
            if pc.src == self.rank:
                assert own is not None
                bufs.append(own[:, :, pc.r0 : pc.r1, pc.c0 : pc.c1])
            else:
                _, buf, work = next(received)
                work.wait()
                bufs.append(buf)
        t = self.span.add("recv_wait", t)
        if not bufs:  # only padding is read
            return torch.empty(1, 0, 0, 0)
        out = bufs[0] if len(bufs) == 1 else torch.cat(bufs, dim=2)
        self.span.add("assemble", t)
        return out


# -- the launcher ----------------------------------------------------------------------------------
def _check_port(addr: str, port: int) -> None:
    listening_socket(addr, port).close()  # a busy port is one line here, before any process starts


def _failure(names: list[str], exc: BaseException, errors: list[WorkerError], exitcodes: list[int | None]) -> str:
    who = lambda r: names[r] if r < len(names) else REQUESTER  # noqa: E731
    # a rank killed by a signal wrote nothing: it is the root cause, the others lost their peer
    killed = [(r, -c) for r, c in enumerate(exitcodes) if c is not None and c < 0 and -c != signal.SIGTERM]
    if killed:
        r, sig = killed[0]
        return f"distributed: worker rank {r} ({who(r)}) was killed by {signal.Signals(sig).name}"
    if errors:
        _, rank, line = errors[0]  # the first to fail: the others fail because it left
        return f"distributed: worker rank {rank} ({who(rank)}) failed: {line}"
    rank = getattr(exc, "error_index", None)
    code = getattr(exc, "exit_code", None)
    where = f"worker rank {rank} ({who(rank)})" if isinstance(rank, int) else "a worker"
    return f"distributed: {where} died" + (f" with exit code {code}" if code is not None else "")


def run_distributed(
    plan: Plan,
    images: int = 1,
    links: str = "none",
    *,
    warmup: int = 1,
    seed: int = 1,
    threads: int = 1,
    addr: str = "127.0.0.1",
    port: int | None = None,
    timeout_s: float = 120.0,
    start_method: str = "spawn",
    hub: str | Path | None = None,
    fail_rank: int | None = None,
    fail_at: str = "start",
    processors: bool = True,
) -> ExecutionResult:
    """Run ``plan`` with one process per device and one for the requester (see the module doc).

    ``images`` recorded images after ``warmup`` unrecorded ones (random, seeded by ``seed``);
    ``threads`` torch threads per process; ``port`` the rendezvous port (default: a free one);
    ``timeout_s`` bounds the whole run; ``fail_rank`` makes that rank raise (tests) at ``fail_at``
    (``"start"``; ``"run"``: connected, before the first image; ``"kill:I:S"``: SIGKILLs itself
    before computing stage ``S`` of image ``I``). ``hub``: a folder that persists every finished
    part and result, so that running again with the same hub resumes a killed run
    (:class:`ResumeHub`; outputs in ``hub/img*/result.pt``). ``processors``: a node whose plan
    shares name processors (HiDP) splits its parts over pinned processor workers
    (:class:`~splitgym.executors.nodes.processor_runner.NodeProcessors`; per-processor compute seconds in
    ``meta["processors"]``); ``False`` runs every part in the node process. Any failure
    is one :class:`SplitgymError` line and no worker is left running (and with ``links="netns"``
    no namespace is left either).
    """
    check_links(links, LINKS, "waits the plan's link time before each send")
    check_images(images, warmup)
    if not plan.volumes:
        raise SplitgymError("volumes: this plan has no volumes; the distributed executor runs volume plans")
    # check the plan here, in one line, before any process starts
    graph = ModelGraph.from_module(build_model(plan.model.name, seed=0), tuple(plan.model.input), name=plan.model.name)
    plan.check(graph)
    names = [d.name for d in plan.devices]
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals())  # SIGTERM/SIGHUP/SIGINT: namespaces and workers go too
        extra: dict[str, Any] = {}
        if links == "netns":  # fresh namespaces: any port is free there
            caps = [d.bandwidth_mbps for d in plan.devices] + [plan.network.requester_mbps]
            lan = stack.enter_context(ShapedLan(caps))
            addr, port = lan.addr(0), port or 29500
            extra = {
                "netns": [lan.ns(r) for r in range(len(caps))],
                "ifnames": [lan.ifname(r) for r in range(len(caps))],
            }
        elif port is None:
            port = free_port(addr)
        else:
            _check_port(addr, port)
        if hub is not None:
            stack.enter_context(folder_lock(hub, "folder"))  # a second run on it fails here, at once
            ResumeHub(hub, plan.model_dump(mode="json"), seed)  # a hub of another run fails here, in one line
            extra["hub"] = str(hub)
        extra["processors"] = processors
        return _launch(
            plan,
            graph,
            names,
            images,
            links,
            warmup,
            seed,
            threads,
            addr,
            port,
            timeout_s,
            start_method,
            fail_rank,
            fail_at,
            extra,
        )


def _launch(
    plan: Plan,
    graph: ModelGraph,
    names: list[str],
    images: int,
    links: str,
    warmup: int,
    seed: int,
    threads: int,
    addr: str,
    port: int,
    timeout_s: float,
    start_method: str,
    fail_rank: int | None,
    fail_at: str,
    extra: dict[str, Any],
) -> ExecutionResult:
    from splitgym.executors.volumes.volume_local import head_index

    head = names[head_index(plan)] if graph.head is not None else None
    with tempfile.TemporaryDirectory(prefix="splitgym-dist-") as tmpdir:
        tmp = Path(tmpdir)
        cfg = {
            "dir": tmpdir,
            "plan": plan.model_dump(mode="json"),
            "images": images,
            "warmup": warmup,
            "seed": seed,
            "links": links,
            "threads": threads,
            "addr": addr,
            "port": port,
            "timeout_s": timeout_s,
            "fail_rank": fail_rank,
            "fail_at": fail_at,
            **extra,
        }
        wall = launch(
            _work,
            cfg,
            len(names) + 1,
            timeout_s=timeout_s,
            start_method=start_method,
            timeout_message=f"distributed: the run took longer than {timeout_s:g} s "
            f"(timeout_s); its {len(names) + 1} processes were stopped",
            failure=functools.partial(_failure, names),
            on_start=lambda pids: LAST_PIDS.__setitem__(slice(None), pids),
        )
        stats = [torch.load(tmp / f"stats-{r}.pt", weights_only=True) for r in range(len(names) + 1)]
    run_meta = {"port": port, "threads": threads, "warmup": warmup, "start_method": start_method, "addr": addr}
    return _distributed_result(stats, names, links, head, wall, run_meta)


def _distributed_result(
    stats: list[dict[str, Any]],
    names: list[str],
    links: str,
    head: str | None,
    wall: float,
    run_meta: dict[str, Any],
) -> ExecutionResult:
    """The run's :class:`ExecutionResult` from every rank's stats (the requester's last): per-device
    means over the recorded images; ``meta`` is ``run_meta`` with the requester's resume record and,
    for HiDP nodes, the per-processor compute seconds."""

    def mean(xs: list[float]) -> float:
        return statistics.fmean(xs) if xs else 0.0

    req = stats[-1]
    per_proc = {
        n: {p: mean([img[p] for img in stats[k]["processor_s"]]) for p in stats[k]["processor_s"][0]}
        for k, n in enumerate(names)
        if stats[k].get("processor_s")
    }
    return ExecutionResult(
        devices=names,
        links=links,
        latency_s=req["latency_s"],
        compute_s={n: mean(stats[k]["compute_s"]) for k, n in enumerate(names)},
        link_s={n: mean(stats[k]["link_s"]) for k, n in enumerate(names + [REQUESTER])},
        send_s={n: mean(stats[k]["send_s"]) for k, n in enumerate(names + [REQUESTER])},
        recv_wait_s={n: mean(stats[k]["recv_wait_s"]) for k, n in enumerate(names + [REQUESTER])},
        bytes_sent={n: int(stats[k]["bytes_sent"]) for k, n in enumerate(names + [REQUESTER])},
        head_device=head,
        max_abs_error=float(req["max_abs_error"]),
        ref_max_abs=float(req["ref_max_abs"]),
        wall_s=wall,
        meta={
            **run_meta,
            "resumed": req["resumed"],
            "skipped_images": req["skipped"],
            "breakdown": _breakdown(stats, names + [REQUESTER]),
            **({"processors": per_proc} if per_proc else {}),
        },
    )


def _breakdown(stats: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, float]]:
    """Per rank (``names``, the requester last): the mean seconds per recorded image of every
    :class:`_Spans` kind, and when its first input came (``first_in``) and its last output left
    (``last_out``), in seconds after the requester sent the image (the same host's clock; only
    where every rank recorded the same images, i.e. not in a resumed run)."""
    out: dict[str, dict[str, float]] = {}
    req = stats[-1].get("spans", [])
    for name, st in zip(names, stats, strict=True):
        spans = st.get("spans", [])
        if not spans:
            continue
        keys = [k for k in spans[0] if k not in ("t0", "first_in", "last_out", "result")]
        row = {k: statistics.fmean(sp.get(k, 0.0) for sp in spans) for k in keys}
        if len(spans) == len(req):
            for k in ("first_in", "last_out", "result"):
                if all(k in sp for sp in spans):
                    row[k] = statistics.fmean(sp[k] - r["t0"] for sp, r in zip(spans, req, strict=True))
        out[name] = row
    return out


def run_local(
    plan: Plan, images: int = 1, links: str = "none", *, warmup: int = 1, seed: int = 1, threads: int = 1
) -> ExecutionResult:
    """The same measurements with :class:`LocalExecutor` in this process: every part timed alone
    (:meth:`LocalExecutor.run_timed`) and composed along the plan's schedule
    (:func:`compose_latency`), with free links or the plan's (``"emulated"``); same images as
    :func:`run_distributed` for the same ``seed``."""
    from splitgym.executors.volumes.volume_local import LocalExecutor, compose_latency

    if links == "netns":
        raise SplitgymError(
            "links: 'netns' needs the distributed backend (one process per device, each in its own network namespace)"
        )
    check_links(links, LINKS, "")
    check_images(images, warmup)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = build_model(plan.model.name, seed=0)
        graph = ModelGraph.from_module(model, tuple(plan.model.input), name=plan.model.name)
        ex = LocalExecutor(plan, graph)
        names = ex.names
        link = network_transfer(plan) if links == "emulated" else None
        t0 = time.perf_counter()
        lat: list[float] = []
        per: dict[str, list[list[float]]] = {n: [[], []] for n in names + [REQUESTER]}
        sent: dict[str, int] = dict.fromkeys(names + [REQUESTER], 0)
        err = ref_max = 0.0
        for i, x in enumerate(_images(images + warmup, tuple(plan.model.input), seed)):
            with torch.inference_mode():
                ref = model(x)
            y, times = ex.run_timed(x, repeats=1, warmup=0)
            if i < warmup:
                continue
            lat.append(compose_latency(times, plan, link)["latency_s"])
            err = max(err, (y.reshape(ref.shape) - ref).abs().max().item())
            ref_max = max(ref_max, ref.abs().max().item())
            pair: dict[tuple[int, str, str], float] = {}
            for t in times["transfers"]:
                key = (t["volume"], t["src"], t["dst"])
                pair[key] = pair.get(key, 0.0) + t["bytes"]
            for n in names + [REQUESTER]:
                k = names.index(n) if n in names else None
                c = float(times["compute_s"][:, k].sum()) if k is not None else 0.0
                if times["head_device"] == n:
                    c += float(times["head_s"])
                per[n][0].append(c)
                per[n][1].append(
                    sum(link(s, d, b) for (_, s, d), b in pair.items() if s == n) if link is not None else 0.0
                )
                sent[n] = int(sum(b for (_, s, _), b in pair.items() if s == n))
    finally:
        torch.set_num_threads(before)

    def mean(xs: list[float]) -> float:
        return statistics.fmean(xs) if xs else 0.0

    return ExecutionResult(
        devices=names,
        links=links,
        latency_s=lat,
        compute_s={n: mean(per[n][0]) for n in names},
        link_s={n: mean(per[n][1]) for n in names + [REQUESTER]},
        send_s=dict.fromkeys(names + [REQUESTER], 0.0),
        recv_wait_s=dict.fromkeys(names + [REQUESTER], 0.0),
        bytes_sent=sent,
        head_device=ex.head.device if ex.head is not None else None,
        max_abs_error=err,
        ref_max_abs=ref_max,
        wall_s=time.perf_counter() - t0,
        meta={
            "threads": threads,
            "warmup": warmup,
            "latency": "measured parts composed along the plan (compose_latency)",
        },
    )


# -- one rank under torchrun (several hosts) ------------------------------------------------------
def _main(argv: list[str] | None = None) -> int:
    """``python -m splitgym.executors.volumes.volume_distributed plan.json`` as one rank under ``torchrun``, which
    sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``: ranks ``0..N-1`` are the
    plan's devices, rank ``N`` the requester, which prints the run's summary as one JSON line."""
    import argparse
    import json
    import sys

    from splitgym.costmodels.plan import load_plan

    p = argparse.ArgumentParser(
        prog="python -m splitgym.executors.volumes.volume_distributed",
        description="One rank of a distributed run (start it with torchrun).",
    )
    p.add_argument("plan")
    p.add_argument("--links", default="none", choices=["none", "emulated"])  # netns: one host only
    p.add_argument("--images", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--out", default="splitgym-distributed", help="folder for this host's stats and errors")
    args = p.parse_args(argv)
    try:
        plan = load_plan(args.plan)
        missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise SplitgymError(f"environment: {', '.join(missing)} not set (start this with torchrun)")
        rank, world, N = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), len(plan.devices)
        if world != N + 1:
            raise SplitgymError(
                f"WORLD_SIZE: the plan needs {N + 1} processes ({N} devices and the requester), got {world}"
            )
        check_images(args.images, args.warmup)
    except SplitgymError as exc:
        print(f"splitgym distributed: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {
        "dir": str(out),
        "plan": plan.model_dump(mode="json"),
        "images": args.images,
        "warmup": args.warmup,
        "seed": args.seed,
        "links": args.links,
        "threads": args.threads,
        "addr": os.environ["MASTER_ADDR"],
        "port": int(os.environ["MASTER_PORT"]),
        "torchrun": True,
        "timeout_s": args.timeout,
        "fail_rank": None,
        "fail_at": "start",
    }
    _guarded(rank, _work, cfg)  # on failure: error-<rank>.txt in --out and exit status 1
    if rank == N:
        st = torch.load(out / f"stats-{rank}.pt", weights_only=True)
        lat = st["latency_s"]
        print(
            json.dumps(
                {
                    "latency_s": lat,
                    "latency_mean_s": statistics.fmean(lat),
                    "latency_median_s": statistics.median(lat),
                    "ips": len(lat) / sum(lat),
                    "max_abs_error": st["max_abs_error"],
                    "ref_max_abs": st["ref_max_abs"],
                    "stats": f"{out}/stats-<rank>.pt on each host",
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
