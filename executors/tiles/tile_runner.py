"""Run an NPTP tile plan for real: each device keeps its tile at every layer and exchanges halos.

The schedule is the cost model's (:func:`costmodels.tiles.exchanges`): at unit ``l`` device ``d``
owns a rectangle of the unit's output (the ownership rule of :func:`tile_layouts.layer_rects`) and
needs the input region the unit's row and column maps give; the parts of it other devices own
(the *halo*) are sent to it by those devices after unit ``l-1`` (exchanged, never recomputed).
Each device's part of a unit is a :class:`SlicedSegment` (padding only at the image's true border).
After the last unit the owned blocks are gathered on the head device (the cost model's choice), which
runs the head.

* :class:`TileExecutor` runs every device in this process, one after another, and counts the
  bytes of every halo message (they equal the cost model's, a test checks it).
* :func:`run_tiles_distributed` runs one process per device over ``torch.distributed`` (gloo,
  spawned as in :mod:`executors.distributed`): every process builds the model from seed 0 and the
  image from the run's seed, keeps only its tile, and sends/receives halos point to point
  (``isend``/``irecv``, one message per (sender, receiver, unit)). The head device compares the
  feature map and the output with the unsplit model and reports the max abs errors, and its
  latency per image (start barrier to the head's output: the cost model's ``end_to_end``).
  Links as in :mod:`executors.distributed`: ``"none"``; ``"emulated"`` (our choice for tiles: a
  receive completes no earlier than the cost model's time for its messages after it was posted,
  i.e. the receiver pays the additive Eq. 9 time; a gather send waits its link time first);
  ``"netns"`` (the same :class:`~splitgym.executors.netns.ShapedLan` and launcher as volume plans:
  a namespace per device, ``tc tbf`` at the device's cap on both sides of its veth, so the halo
  bytes really cross shaped links; only the plan's latency and per-message overhead are waited).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx

from splitgym.costmodels.atomic import atomic_torch_save
from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.slicing import Region, SlicedSegment
from splitgym.costmodels.tiles.tile_cost import (
    Exchange,
    exchanges,
    intersect,
    plan_rects,
    score_tiles,
)
from splitgym.executors.launch import check_images, init_group, launch
from splitgym.executors.netns import ShapedLan, check_links, enter_netns
from splitgym.executors.volumes.volume_local import network_transfer

__all__ = ["TileExecutor", "run_tiles_distributed", "TileRunResult", "assemble", "reference_features"]


def _crop(t: torch.Tensor, held: Region, want: Region) -> torch.Tensor:
    """The part ``want`` of a tensor holding region ``held``."""
    return t[:, :, want.r0 - held.r0 : want.r1 - held.r0, want.c0 - held.c0 : want.c1 - held.c0]


def assemble(want: Region, pieces: list[tuple[Region, torch.Tensor]], like: torch.Tensor) -> torch.Tensor:
    """A tensor of region ``want`` from pieces ``(region, tensor)`` that cover it exactly."""
    channels = next(t.shape[1] for _, t in pieces) if pieces else like.shape[1]
    out = like.new_empty((like.shape[0], channels, want.rows, want.cols))
    covered = 0
    for r, t in pieces:
        if tuple(t.shape[-2:]) != (r.rows, r.cols):
            raise PlanError(f"halo: piece {tuple(r)} arrived with shape {list(t.shape)}")
        out[:, :, r.r0 - want.r0 : r.r1 - want.r0, r.c0 - want.c0 : r.c1 - want.c0] = t
        covered += r.rows * r.cols
    if covered != want.rows * want.cols:
        raise PlanError(f"halo: pieces cover {covered} of the {want.rows * want.cols} cells of {tuple(want)}")
    return out


def reference_features(graph: ModelGraph, x: torch.Tensor) -> torch.Tensor:
    """The unsplit model's feature map (the last unit's output) on ``x``."""
    last = graph.unit_nodes[-1][-1]
    seen: dict[str, torch.Tensor] = {}

    class _Stop(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            v = super().run_node(n)
            if n is last:
                seen["v"] = v
            return v

    with torch.inference_mode():
        _Stop(graph.gm).run(x)
    return seen["v"]


def _segments(graph: ModelGraph, ex: list[Exchange], devices: list[int]) -> dict[tuple[int, int], SlicedSegment]:
    """Per (unit, device): the module computing the device's owned region; it must need no more
    than the cost model's needed region (the halo the schedule delivers)."""
    segs = {}
    for x in ex:
        for d in devices:
            o = x.owned[d]
            if o.empty:
                continue
            seg = SlicedSegment(graph, x.unit, x.unit, o, name=f"unit {x.unit} on device {d}")
            need, got = x.needed[d], seg.in_region
            if not (need.r0 <= got.r0 and got.r1 <= need.r1 and need.c0 <= got.c0 and got.c1 <= need.c1):
                raise PlanError(f"halo: unit {x.unit} device {d} needs {tuple(got)}, the schedule gives {tuple(need)}")
            segs[(x.unit, d)] = seg
    return segs


def _unit_step(
    seg: SlicedSegment | None,
    x: Exchange,
    d: int,
    held: Region,
    own: torch.Tensor,
    received: list[tuple[Region, torch.Tensor]],
) -> torch.Tensor | None:
    """Device ``d`` runs unit ``x.unit`` on its own block plus the halo it received."""
    if seg is None:
        return None
    need = x.needed[d]
    pieces = list(received)
    mine = intersect(need, held)
    if not mine.empty:
        pieces.append((mine, _crop(own, held, mine)))
    inp = assemble(need, pieces, own)
    return seg(_crop(inp, need, seg.in_region))


class TileExecutor:
    """All devices of a tile plan in this process: ``run(x)`` returns (feature map, output)."""

    def __init__(self, plan: Plan, graph: ModelGraph) -> None:
        plan.check(graph)
        self.plan, self.graph = plan, graph
        self.rects = plan_rects(plan)
        self.N = len(self.rects)
        self.ex = exchanges(graph, self.rects)
        self.segs = _segments(graph, self.ex, list(range(self.N)))
        self.head_device = score_tiles(graph, rects=plan).head_device if graph.head is not None else None
        self.head = SlicedSegment(graph, graph.num_units, graph.num_units, name="head") if graph.head else None
        self.moved_bytes = [0] * graph.num_units  # halo bytes of the last run, per unit

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        _, h, w = self.graph.input_shape
        if x.dim() != 4 or tuple(x.shape[1:]) != tuple(self.graph.input_shape):
            raise PlanError(f"input: expected [B, {', '.join(map(str, self.graph.input_shape))}], got {list(x.shape)}")
        full = Region(0, h, 0, w)
        held = list(self.rects)
        blocks: list[torch.Tensor | None] = [_crop(x, full, r) for r in held]
        self.moved_bytes = [0] * self.graph.num_units
        for step in self.ex:
            inbox: dict[int, list[tuple[Region, torch.Tensor]]] = {d: [] for d in range(self.N)}
            for src, dst, piece in step.recv:  # the halo, sent by its owner after the last unit
                t = _crop(blocks[src], held[src], piece).clone()  # type: ignore[arg-type]
                self.moved_bytes[step.unit] += t.numel() * t.element_size()
                inbox[dst].append((piece, t))
            blocks = [
                _unit_step(self.segs.get((step.unit, d)), step, d, held[d], blocks[d], inbox[d])  # type: ignore[arg-type]
                for d in range(self.N)
            ]
            held = step.owned
        return self._finish(x, held, blocks)

    def _finish(
        self, x: torch.Tensor, held: list[Region], blocks: list[torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        last = self.graph.units[-1].out_shape
        feats = assemble(
            Region(0, last[1], 0, last[2]), [(r, b) for r, b in zip(held, blocks) if b is not None and not r.empty], x
        )
        out = self.head(feats) if self.head is not None else None
        return feats, out

    @torch.inference_mode()
    def run_timed(self, x: torch.Tensor, repeats: int = 3) -> list[float]:
        """Each device's compute seconds for the feature extractor (every unit's part timed alone,
        the median over ``repeats``; halos assembled outside the timing). Devices run one after
        another here, so these are per-device times, composed as the cost model composes them.
        Each unit's part alone (median over the repeats) is left in ``unit_seconds`` (U, N)."""
        _, h, w = self.graph.input_shape
        full = Region(0, h, 0, w)
        times = [[0.0] * self.N for _ in range(repeats)]
        units = np.zeros((repeats, self.graph.num_units, self.N))
        for rep in range(repeats):
            held = list(self.rects)
            blocks: list[torch.Tensor | None] = [_crop(x, full, r) for r in held]
            for step in self.ex:
                inbox: dict[int, list[tuple[Region, torch.Tensor]]] = {d: [] for d in range(self.N)}
                for src, dst, piece in step.recv:
                    inbox[dst].append((piece, _crop(blocks[src], held[src], piece)))  # type: ignore[arg-type]
                new: list[torch.Tensor | None] = []
                for d in range(self.N):
                    seg = self.segs.get((step.unit, d))
                    if seg is None:
                        new.append(None)
                        continue
                    pieces = list(inbox[d])
                    mine = intersect(step.needed[d], held[d])
                    if not mine.empty:
                        pieces.append((mine, _crop(blocks[d], held[d], mine)))  # type: ignore[arg-type]
                    inp = _crop(assemble(step.needed[d], pieces, x), step.needed[d], seg.in_region)
                    t0 = time.perf_counter()
                    new.append(seg(inp))
                    units[rep, step.unit, d] = time.perf_counter() - t0
                    times[rep][d] += units[rep, step.unit, d]
                blocks, held = new, step.owned
        self.unit_seconds = np.median(np.array(units), axis=0)  # (U, N): each unit's part, median
        return [sorted(t[d] for t in times)[repeats // 2] for d in range(self.N)]


# -- torch.distributed ------------------------------------------------------------------------
TILE_LINKS = ("none", "emulated", "netns")


@dataclass
class TileRunResult:
    """What a distributed tile run reports: per device, compute seconds (mean per recorded image)
    and halo bytes sent (one image); per recorded image, the head device's latency from the start
    barrier to the head's output (the cost model's ``end_to_end``)."""

    devices: list[str]
    head_device: str | None
    compute_s: dict[str, float]
    bytes_sent: dict[str, int]
    feature_error: float
    output_error: float
    wall_s: float
    links: str = "none"
    latency_s: list[float] = field(default_factory=list)

    @property
    def latency_median_s(self) -> float:
        return statistics.median(self.latency_s) if self.latency_s else float("nan")

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self)) | {"latency_median_s": self.latency_median_s}


def _wait_until(t: float) -> None:
    left = t - time.perf_counter()
    if left > 0:
        time.sleep(left)


def _tile_work(rank: int, cfg: dict[str, Any]) -> None:
    """One process of a distributed tile run: device ``rank`` of the plan (the module doc). The
    network namespace comes first, before any socket or thread exists."""
    if cfg["links"] == "netns":  # first, before any socket or thread exists
        enter_netns(cfg["netns"][rank])
        os.environ["GLOO_SOCKET_IFNAME"] = cfg["ifnames"][rank]
    import torch.distributed as dist

    torch.set_num_threads(cfg["threads"])
    worker = _TileWorker(rank, cfg, dist)
    init_group(rank, worker.N, cfg)  # listens on cfg["addr"] only
    compute: list[float] = []
    latency: list[float] = []
    sent = 0
    with torch.inference_mode():
        for img in range(cfg["warmup"] + cfg["images"]):
            compute_s, sent_img, latency_s = worker.image(img)
            if latency_s is not None:
                latency.append(latency_s)
            if img == 0:
                sent = sent_img
            if img >= cfg["warmup"]:
                compute.append(compute_s)
    atomic_torch_save(
        {"compute_s": statistics.fmean(compute), "bytes_sent": sent, "latency_s": latency},
        Path(cfg["dir"]) / f"stats-{rank}.pt",
    )
    dist.barrier()
    dist.destroy_process_group()


def _tile_link_cost(plan: Plan, links: str) -> Callable[[int, int, int], float]:
    """The link time a worker waits itself (sender, receiver, bytes -> seconds): emulated, the
    whole modelled message time (receiver side: a message is complete no earlier than its link
    time after the receive was posted); netns, only the plan's latency and per-message overhead
    (the wire is shaped by tc); none, nothing."""
    fixed = plan.network.latency_ms / 1e3 + plan.network.overhead_ms / 1e3
    if links == "emulated":
        link = network_transfer(plan)
        names = [d.name for d in plan.devices]
        return lambda s, d, b: link(names[s], names[d], b)
    if links == "netns":
        return lambda s, d, b: fixed
    return lambda s, d, b: 0.0


class _TileWorker:
    """One device's share of a distributed tile run: its tile at every unit, the halos it trades
    with the others and, on the head device, the gather, the head and the error check."""

    def __init__(self, rank: int, cfg: dict[str, Any], dist: Any) -> None:
        self.rank, self.cfg, self.dist = rank, cfg, dist
        plan = Plan.model_validate(cfg["plan"])
        self.model = build_model(plan.model.name, seed=0)
        self.graph = graph = ModelGraph.from_module(self.model, tuple(plan.model.input), name=plan.model.name)
        self.rects = plan_rects(plan)
        self.N = len(self.rects)
        self.ex = exchanges(graph, self.rects)
        self.segs = _segments(graph, self.ex, [rank])
        self.head = cfg["head"]
        gen = torch.Generator().manual_seed(cfg["seed"])
        self.x = torch.randn(1, *plan.model.input, generator=gen)
        self.cost = _tile_link_cost(plan, cfg["links"])
        self.last = graph.units[-1].out_shape
        self.tag0 = graph.num_units * self.N * self.N  # the gather's tags come after every halo's
        self.head_seg = SlicedSegment(graph, graph.num_units, graph.num_units) if graph.head else None

    def image(self, img: int) -> tuple[float, int, float | None]:
        """Run image ``img`` from the start barrier: every unit of this tile, then the gather on
        the head device. Returns (compute seconds, halo bytes sent, latency: recorded images on
        the head device, else None)."""
        _, h, w = self.graph.input_shape
        held = self.rects[self.rank]
        block: torch.Tensor | None = _crop(self.x, Region(0, h, 0, w), held).contiguous()
        compute_s, sent_img = 0.0, 0
        self.dist.barrier()
        t_start = time.perf_counter()
        for step in self.ex:
            inbox, sent_step = self._halo(step, held, block)
            sent_img += sent_step
            t0 = time.perf_counter()
            block = _unit_step(self.segs.get((step.unit, self.rank)), step, self.rank, held, block, inbox)  # type: ignore[arg-type]
            compute_s += time.perf_counter() - t0
            held = step.owned[self.rank]
        # gather the last blocks on the head device (the sender waits the link's time first)
        if self.rank != self.head:
            self._send_to_head(held, block)
            return compute_s, sent_img, None
        return compute_s, sent_img, self._gather_on_head(img, held, block, t_start)

    def _halo(
        self, step: Exchange, held: Region, block: torch.Tensor | None
    ) -> tuple[list[tuple[Region, torch.Tensor]], int]:
        """Trade the halos of unit ``step.unit``: send what others need of ``block``, receive what
        this tile needs, and wait until the messages are done and their link time has passed.
        Returns (the received pieces, the bytes sent)."""
        N, rank = self.N, self.rank
        works, inbox, link_s, sent = [], [], 0.0, 0
        for src, dst, piece in step.recv:
            tag = step.unit * N * N + src * N + dst
            if src == rank:
                t = _crop(block, held, piece).contiguous()  # type: ignore[arg-type]
                sent += t.numel() * t.element_size()
                works.append(self.dist.isend(t, dst, tag=tag))
            elif dst == rank:
                c = self.graph.units[step.unit].in_shape[0]
                buf = torch.empty(1, c, piece.rows, piece.cols)
                works.append(self.dist.irecv(buf, src, tag=tag))
                inbox.append((piece, buf))
                link_s += self.cost(src, dst, buf.numel() * buf.element_size())
        posted = time.perf_counter()
        for wk in works:
            wk.wait()
        _wait_until((posted if self.cfg["links"] == "emulated" else time.perf_counter()) + link_s)
        return inbox, sent

    def _send_to_head(self, held: Region, block: torch.Tensor | None) -> None:
        """Send this tile's last block to the head device, once its link time has passed."""
        if block is not None and not held.empty:
            blk = block.contiguous()
            time.sleep(self.cost(self.rank, self.head, blk.numel() * blk.element_size()))
            self.dist.send(blk, self.head, tag=self.tag0 + self.rank)

    def _gather_on_head(self, img: int, held: Region, block: torch.Tensor | None, t_start: float) -> float | None:
        """On the head device: assemble the feature map, run the head and, for the first image,
        save the errors against the unsplit model. Returns the latency of a recorded image."""
        pieces = [(held, block)] if block is not None and not held.empty else []
        for src in range(self.N):
            r = self.ex[-1].owned[src]
            if src != self.rank and not r.empty:
                buf = torch.empty(1, self.last[0], r.rows, r.cols)
                self.dist.recv(buf, src, tag=self.tag0 + src)
                pieces.append((r, buf))
        feats = assemble(Region(0, self.last[1], 0, self.last[2]), pieces, self.x)  # type: ignore[arg-type]
        out = self.head_seg(feats) if self.head_seg is not None else feats
        latency = time.perf_counter() - t_start if img >= self.cfg["warmup"] else None
        if img == 0:
            ref = self.model(self.x)
            feat_err = float((feats - reference_features(self.graph, self.x)).abs().max())
            atomic_torch_save(
                {"feature_error": feat_err, "output_error": float((out - ref).abs().max())},
                Path(self.cfg["dir"]) / "errors.pt",
            )
        return latency


def run_tiles_distributed(
    plan: Plan,
    seed: int = 1,
    timeout_s: float = 120.0,
    port: int | None = None,
    on_start: Callable[[list[int]], None] | None = None,
    *,
    links: str = "none",
    images: int = 1,
    warmup: int = 0,
    threads: int = 1,
) -> TileRunResult:
    """Run a tile plan with one process per device (gloo on this machine); see the module doc.

    ``links``: ``"none"`` (loopback, free), ``"emulated"`` (each receive completes no earlier than
    the cost model's message time after it was posted; each gather send waits its link time) or
    ``"netns"`` (one network namespace per device on a LAN shaped by ``tc tbf`` to the devices'
    caps, :class:`~splitgym.executors.netns.ShapedLan`, as the volume executor uses; the workers
    wait only the plan's latency and per-message overhead). ``images`` recorded runs after
    ``warmup`` unrecorded ones (the same image), ``threads`` torch threads per process."""
    from splitgym.executors.launch import free_port, stop_on_signals

    check_links(links, TILE_LINKS, "waits the plan's link time for each message")
    check_images(images, warmup)
    graph = ModelGraph.from_module(build_model(plan.model.name, seed=0), tuple(plan.model.input), name=plan.model.name)
    plan.check(graph)
    names = [d.name for d in plan.devices]
    head_name = score_tiles(graph, rects=plan).head_device
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals())  # SIGTERM/SIGHUP/SIGINT: namespaces and workers go too
        tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="splitgym-tiles-"))
        cfg = {
            "dir": tmpdir,
            "plan": plan.model_dump(mode="json"),
            "seed": seed,
            "timeout_s": timeout_s,
            "addr": "127.0.0.1",
            "port": port or free_port(),
            "head": names.index(head_name),
            "links": links,
            "images": images,
            "warmup": warmup,
            "threads": threads,
        }
        if links == "netns":  # fresh namespaces: any port is free there
            lan = stack.enter_context(ShapedLan([d.bandwidth_mbps for d in plan.devices]))
            cfg |= {
                "addr": lan.addr(0),
                "port": port or 29500,
                "netns": [lan.ns(r) for r in range(len(names))],
                "ifnames": [lan.ifname(r) for r in range(len(names))],
            }
        wall = launch(
            _tile_work,
            cfg,
            len(names),
            timeout_s=timeout_s,
            on_start=on_start,
            timeout_message=f"distributed: the tile run took longer than {timeout_s:g} s (timeout_s)",
            failure=lambda exc, errors, codes: (
                f"distributed: error-{errors[0][1]}: {errors[0][2]}"
                if errors
                else "distributed: worker: a worker died without a message"
            ),
        )
        stats = [torch.load(Path(tmpdir) / f"stats-{r}.pt", weights_only=True) for r in range(len(names))]
        errors = torch.load(Path(tmpdir) / "errors.pt", weights_only=True)
    return TileRunResult(
        devices=names,
        head_device=head_name,
        compute_s={n: float(s["compute_s"]) for n, s in zip(names, stats)},
        bytes_sent={n: int(s["bytes_sent"]) for n, s in zip(names, stats)},
        feature_error=errors["feature_error"],
        output_error=errors["output_error"],
        wall_s=wall,
        links=links,
        latency_s=list(stats[names.index(head_name)]["latency_s"]),
    )
