"""The live MS-MDI ring: every worker process keeps its own queues and decides each slot.

One process per worker over ``torch.distributed`` (gloo, CPU). A source's images arrive in real
time (the Poisson arrival times of the simulator's stream for the same seed) into its reservoir.
Each worker loops over *slots*: it takes in what its peers sent, moves arrived images into the
reservoir, admits (a source: at every ``slot_s`` boundary since its last admission, one decision
per ``admit_per_slot`` images), then, being free, asks the policy which queue to serve and runs it:
a local image through the whole model, or an MDI item through its stage for that source (the
AR-MDI allocation of the simulator, :class:`RingLayout`). An MDI output goes to the worker owning
the next unit; a finished image's output goes back to its source, which records the completion
time. With nothing to do a worker sleeps for one slot. One difference from the simulator, where a
source admits every slot even while it computes: here a source process admits between services,
so the slots that passed while it computed are made up at once (one decision each, each on the
queues as they are after the previous one).

Decisions are taken by the policy itself (:mod:`splitgym.costmodels.stages.queue_policies`, or
:class:`LearnedAdmission`) on the worker's :class:`RingView`: its own queues exactly, the others'
as they last reported them. Each decision is logged with the view it saw (every admission, every
service started, and an idle choice whenever the view differs from the last idle one), so
:func:`check_decisions` can ask the policy again.

Messages (all on the same gloo group). Every message is a small int64 *header*
``[kind, item, source, unit, admitted_at_us, *row]`` with tag 0, where ``row`` is the sender's
report row (queue lengths, busy, admitted count: :data:`ROW`); a ``DATA`` (an activation entering
``unit``) or ``RESULT`` (a finished image's output) header is followed by its tensor with tag 1.
Whenever a worker's row changes it sends a ``STATE`` header to every peer, so reports travel as
control messages beside the data, in both directions of the ring (back-pressure needs the
*downstream* worker's queue, i.e. against the data's direction; the learned admission observes
every queue, so rows go to every peer, not only to the ring neighbour; N is small). Why a thread:
gloo's ``irecv`` work never reports completion without a blocking ``wait`` (``is_completed``
stays false), so a receiver thread per process does blocking any-source receives of headers (then
the tensor from that sender) and hands them to the deciding loop through a queue; pairs deliver in
order per tag, so a header and its tensor stay together. A source whose images have all returned
sends ``DONE`` to everyone; once every source is done each worker sends ``FIN`` to every peer, and
its receiver stops after one ``FIN`` per peer (nothing follows a ``FIN``).

The simulator and the ring share the policy, the allocation and the arrivals, not the clock:
completion times are measured (``time.monotonic``, one start broadcast to all processes).
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import torch

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.slicing import SlicedSegment
from splitgym.costmodels.stages.queue_sim import IDLE, LOCAL
from splitgym.executors.launch import init_group
from splitgym.executors.stages.mdi_view import (
    ADM_F,
    BUSY_F,
    LOCAL_F,
    RES_F,
    ROW,
    RingLayout,
    RingView,
)

__all__ = ["STATE", "DATA", "RESULT", "DONE", "FIN", "image", "work_live", "make_policy"]

STATE, DATA, RESULT, DONE, FIN = range(5)
HEAD_TAG, BODY_TAG = 0, 1
HDR = 5  # header fields before the row


def image(seed: int, k: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Image k of a run (the same tensor in every process)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + k)
    return torch.randn((1, *shape), generator=g)


def make_policy(cfg: dict[str, Any]) -> Any:
    """The policy a worker decides with: a scheduler by name, or the learned admission built by the
    loader the caller passed (pickled by reference into this process)."""
    from splitgym.costmodels.stages.queue_policies import get_scheduler

    if cfg["policy"] != "learned":
        return get_scheduler(cfg["policy"])
    pol = cfg["loader"](cfg["learned"], cfg["ref_s"], cfg["total"])
    pol.check_dims(cfg["layout"]["N"], len(cfg["layout"]["sources"]))
    return pol


def _receiver(
    inbox: queue.Queue, peers: int, H: int, in_shape: list[tuple[int, ...]], out_shape: tuple[int, ...]
) -> None:
    import torch.distributed as dist

    fins = 0
    while fins < peers:
        h = torch.empty(H, dtype=torch.int64)
        src = dist.recv(h, src=None, tag=HEAD_TAG)
        hdr = h.tolist()
        body = None
        if hdr[0] in (DATA, RESULT):
            body = torch.empty(in_shape[hdr[3]] if hdr[0] == DATA else out_shape)
            dist.recv(body, src=src, tag=BODY_TAG)
        elif hdr[0] == FIN:
            fins += 1
        inbox.put((src, hdr, body))


class _Worker:
    """One process's queues, view, policy, log; :meth:`run` is the slot loop."""

    def __init__(self, rank: int, cfg: dict[str, Any]) -> None:
        self.rank, self.cfg = rank, cfg
        self.L = L = RingLayout.from_json(cfg["layout"])
        self.N, self.S, self.U = L.N, L.S, L.U
        self.view = RingView(L, rank)
        self.policy = make_policy(cfg)
        self.model = build_model(cfg["model"], seed=0)
        self.shape = tuple(cfg["input"])
        self.graph = ModelGraph.from_module(self.model, self.shape, name=cfg["model"])
        self.in_shape = [(1, *self.graph.units[u].in_shape) for u in range(self.U)]
        g = self.graph
        self.out_shape = (1, *g.head.out_shape) if g.head is not None else (1, *g.units[-1].out_shape)
        self.blocks: dict[tuple[int, int], SlicedSegment] = {}
        self.me_s = self.view.src_of[rank]
        arrive, offset = cfg["arrive"], cfg["offset"]
        self.mine = list(range(offset[self.me_s], offset[self.me_s + 1])) if self.me_s >= 0 else []
        self.arrivals = deque((k, arrive[k]) for k in self.mine)
        self.reservoir: deque[int] = deque()
        self.local: deque[int] = deque()
        self.mdi: list[deque[tuple[int, int, torch.Tensor | None, float]]] = [deque() for _ in range(self.S)]
        self.admitted = 0
        self.busy = False
        self.results: dict[int, torch.Tensor] = {}
        self.done_t: dict[int, float] = {}
        self.decisions: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.sent: list[Any] = []
        self.sent_row: list[int] | None = None
        self.done_sources: set[int] = set()
        self.last_idle: dict[str, Any] | None = None
        self.compute_s = 0.0
        self.messages = 0

    # -- state and messages -----------------------------------------------------------------------
    def row(self) -> list[int]:
        r = [0] * (len(ROW) + self.S)
        r[LOCAL_F], r[RES_F], r[BUSY_F], r[ADM_F] = len(self.local), len(self.reservoir), int(self.busy), self.admitted
        for s in range(self.S):
            r[len(ROW) + s] = len(self.mdi[s])
        return r

    def sync(self, now: float) -> None:
        """Put the exact own row into the view and report it to every peer if it changed."""
        r = self.row()
        self.view.rows[self.rank] = r
        self.view.heads = [(q[0][0], q[0][3]) if q else None for q in self.mdi]
        self.view.t = now
        if r != self.sent_row:
            self.sent_row = r
            for p in range(self.N):
                if p != self.rank:
                    self.send(p, STATE)

    def send(
        self,
        dst: int,
        kind: int,
        item: int = -1,
        source: int = -1,
        unit: int = -1,
        adm: float = 0.0,
        body: torch.Tensor | None = None,
    ) -> None:
        import torch.distributed as dist

        h = torch.tensor([kind, item, source, unit, int(round(adm * 1e6)), *self.row()], dtype=torch.int64)
        self.sent.append((dist.isend(h, dst=dst, tag=HEAD_TAG), h))
        if body is not None:
            body = body.contiguous()
            self.sent.append((dist.isend(body, dst=dst, tag=BODY_TAG), body))
        self.messages += 1

    def take(self, inbox: queue.Queue, now: float) -> None:
        while True:
            try:
                src, hdr, body = inbox.get_nowait()
            except queue.Empty:
                return
            kind, k, s, u, adm_us = hdr[:HDR]
            self.view.rows[src] = hdr[HDR:]
            if kind == DATA:
                self.mdi[s].append((k, u, body, adm_us / 1e6))
            elif kind == RESULT:
                self.finish(k, body, now)
            elif kind == DONE:
                self.done_sources.add(s)

    def finish(self, k: int, y: torch.Tensor, now: float) -> None:
        if k in self.results:
            raise RuntimeError(f"mdi live: image {k} returned twice to source worker {self.rank}")
        self.results[k] = y
        self.done_t[k] = now
        if len(self.results) == len(self.mine):
            self.done_sources.add(self.me_s)
            for p in range(self.N):
                if p != self.rank:
                    self.send(p, DONE, source=self.me_s)

    # -- decisions ----------------------------------------------------------------------------------
    def decide(self, kind: str, now: float) -> int:
        v = self.view
        v.decision += 1
        choice = int(self.policy.admit(v, self.me_s)) if kind == "admit" else int(self.policy.serve(v, self.rank))
        snap = v.snapshot()
        if kind == "serve" and choice == IDLE:
            key = {"rows": snap["rows"], "heads": snap["heads"]}
            if key == self.last_idle:
                return choice
            self.last_idle = key
        self.decisions.append({"kind": kind, "worker": self.rank, "choice": choice, "view": snap})
        return choice

    def admit(self, now: float, ticks: int) -> None:
        L = self.L
        for _ in range(ticks):
            if not self.reservoir:
                return
            self.sync(now)
            local = self.decide("admit", now)
            for _ in range(min(L.admit_per_slot, len(self.reservoir))):
                k = self.reservoir.popleft()
                self.admitted += 1
                if local:
                    self.local.append(k)
                else:
                    dest = L.owner[self.me_s][0]
                    if dest == self.rank:
                        self.mdi[self.me_s].append((k, 0, None, now))
                    else:
                        self.send(dest, DATA, k, self.me_s, 0, now, image(self.cfg["seed"], k, self.shape))

    def block(self, first: int, last: int) -> SlicedSegment:
        if (first, last) not in self.blocks:
            self.blocks[(first, last)] = SlicedSegment(self.graph, first, self.U if last == self.U - 1 else last)
        return self.blocks[(first, last)]

    def serve(self, now: float, start: float) -> bool:
        self.sync(now)
        c = self.decide("serve", now)
        if c == IDLE:
            return False
        seed = self.cfg["seed"]
        if c == LOCAL:
            k = self.local.popleft()
            s, first, last, x = self.me_s, 0, self.U - 1, image(seed, k, self.shape)
        else:
            s = c
            k, first, x, _adm = self.mdi[s].popleft()
            last = self.L.stage_end[s][self.rank]
            if x is None:
                x = image(seed, k, self.shape)
        self.busy = True
        self.sync(now)
        t0 = time.monotonic()
        y = self.block(first, last)(x)
        t1 = time.monotonic()
        self.compute_s += t1 - t0
        self.busy = False
        self.services.append(
            {
                "worker": self.rank,
                "item": k,
                "source": s,
                "first": first,
                "last": last,
                "local": c == LOCAL,
                "t0": t0 - start,
                "t1": t1 - start,
            }
        )
        now = t1 - start
        if last == self.U - 1:
            home = self.L.sources[s]
            if home == self.rank:
                self.finish(k, y, now)
            else:
                self.send(home, RESULT, k, s, self.U, body=y)
        else:
            dest = self.L.owner[s][last + 1]
            if dest == self.rank:
                self.mdi[s].append((k, last + 1, y, _adm))
            else:
                self.send(dest, DATA, k, s, last + 1, _adm, y)
        return True

    # -- the loop -----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        import torch.distributed as dist

        cfg = self.cfg
        H = HDR + len(ROW) + self.S
        init_group(self.rank, self.N, cfg)  # on loopback only
        inbox: queue.Queue = queue.Queue()
        rx = threading.Thread(target=_receiver, args=(inbox, self.N - 1, H, self.in_shape, self.out_shape), daemon=True)
        t0 = torch.tensor([time.monotonic() + 0.5], dtype=torch.float64)
        dist.broadcast(t0, src=0)  # one start for everyone (the monotonic clock is machine-wide)
        rx.start()
        start = float(t0.item())
        while time.monotonic() < start:
            time.sleep(0.001)
        slot = self.L.slot_s
        last_tick = -1
        if not self.mine:
            self.finish_empty()
        with torch.inference_mode():
            while len(self.done_sources) < self.S:
                loop_t = time.monotonic()
                now = loop_t - start
                self.take(inbox, now)
                while self.arrivals and self.arrivals[0][1] <= now:
                    self.reservoir.append(self.arrivals.popleft()[0])
                tick = math.floor(now / slot) if slot > 0 else last_tick + 1
                if self.me_s >= 0 and self.reservoir:
                    self.admit(now, max(tick - last_tick, 1))
                last_tick = tick
                if not self.serve(time.monotonic() - start, start):
                    self.sync(time.monotonic() - start)
                    time.sleep(max(slot - (time.monotonic() - loop_t), 1e-4))
            for p in range(self.N):
                if p != self.rank:
                    self.send(p, FIN)
            for w, _ in self.sent:
                w.wait()
            rx.join(timeout=cfg["timeout_s"])
            err, ref_max = 0.0, 0.0
            for k, y in self.results.items():
                ref = self.model(image(cfg["seed"], k, self.shape))
                err = max(err, float((y.reshape(ref.shape) - ref).abs().max()))
                ref_max = max(ref_max, float(ref.abs().max()))
        out = {
            "done": self.done_t,
            "compute_s": self.compute_s,
            "max_abs_error": err,
            "ref_max_abs": ref_max,
            "returned": sorted(self.results),
            "decisions": self.decisions,
            "services": self.services,
            "messages": self.messages,
        }
        dist.barrier()
        dist.destroy_process_group()
        return out

    def finish_empty(self) -> None:
        """A source with no images is done from the start."""
        if self.me_s >= 0:
            self.done_sources.add(self.me_s)
            for p in range(self.N):
                if p != self.rank:
                    self.send(p, DONE, source=self.me_s)


def work_live(rank: int, cfg: dict[str, Any]) -> None:
    """The worker process (launched by :func:`splitgym.executors.launch.launch`)."""
    torch.set_num_threads(cfg["threads"])
    out = _Worker(rank, cfg).run()
    atomic_write(Path(cfg["dir"], f"rank-{rank}.json"), json.dumps(out))
