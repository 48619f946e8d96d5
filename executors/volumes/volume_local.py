"""The in-process executor: run a volume plan's split-parts for real, in one Python process.

:func:`build_stages` turns a :class:`Plan` into one :class:`Part` per (volume, device): the
:class:`SlicedSegment` that computes the device's output rows ``[rows[i], rows[i+1])`` (all
columns) of the volume's last unit, or ``None`` when the part is empty, plus the head on the head
device. :class:`LocalExecutor` runs them in the plan's order, feeding every part exactly the input
rows it needs, assembled from the parts of the previous volume that own them (the requester's
image for the first volume), and returns the head's output: the same numbers as the unsplit model
up to floating-point reassociation (slices may pick other convolution algorithms).

Several logical devices may share one CPU, so parts run one after another. :meth:`run_timed`
measures each part's compute alone; :func:`compose_latency` then composes those times along the
plan's schedule exactly as the simulator does (device k starts volume l when its own part of l-1
is done and every slice it needs has arrived; the head runs on the device with the largest share
of the last volume, ties to the first, or ``plan.head_device``), with free transfers unless a link
model is given (:func:`network_transfer` is the simulator's).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.cluster import REQUESTER
from splitgym.costmodels.errors import ConfigError, PlanError
from splitgym.costmodels.graph import ModelGraph, graph_on
from splitgym.costmodels.network import transfer_seconds
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.slicing import Region, SlicedSegment

__all__ = [
    "Part",
    "build_stages",
    "LocalExecutor",
    "compose_latency",
    "network_transfer",
    "resolve_devices",
    "head_index",
    "strict_fp32",
]

TransferFn = Callable[[str, str, float], float]


@dataclass
class Part:
    """One device's share of one volume (or the head, with ``volume == len(plan.volumes)``)."""

    device: str
    volume: int
    module: SlicedSegment | None  # None: the part is empty
    rows: tuple[int, int]  # output rows of the volume's last unit ([0, 1) for the head)
    torch_device: torch.device

    @property
    def empty(self) -> bool:
        return self.module is None

    @property
    def in_region(self) -> Region:
        """The input rows and columns this part must be fed."""
        assert self.module is not None, "an empty part takes no input"
        return self.module.in_region


# -- checks ----------------------------------------------------------------------------------
def _torch_device(name: str, spec: str) -> torch.device:
    try:
        dev = torch.device(spec)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device: {spec!r} (for {name}) is not a torch device (use cpu or cuda:i)") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        idx = 0 if dev.index is None else dev.index
        if idx >= count:
            raise ConfigError(
                f"device: {spec} is not available (for {name}; this machine has "
                f"{count} CUDA device{'s' if count != 1 else ''})"
            )
        return torch.device("cuda", idx)
    raise ConfigError(f"device: {spec} is not available (for {name}; the local executor runs on cpu or cuda:i)")


def resolve_devices(plan: Plan, devices: Mapping[str, str] | None) -> dict[str, torch.device]:
    """Plan device name -> torch device (default ``cpu``); one :class:`ConfigError` line on a bad one."""
    names = [d.name for d in plan.devices]
    devices = dict(devices or {})
    unknown = [k for k in devices if k not in names]
    if unknown:
        raise ConfigError(f"devices: unknown plan device {unknown[0]!r} (plan devices: {', '.join(names)})")
    return {n: _torch_device(n, str(devices.get(n, "cpu"))) for n in names}


def head_index(plan: Plan) -> int:
    """The head's device, as the simulator picks it: ``plan.head_device`` or the largest share of
    the last volume (ties to the first)."""
    names = [d.name for d in plan.devices]
    if plan.head_device:
        return names.index(plan.head_device)
    rows = np.diff(np.asarray(plan.volumes[-1].rows))
    return int(np.argmax(rows))


def _check(plan: Plan, graph: ModelGraph) -> None:
    plan.check(graph)
    if not plan.volumes:
        raise PlanError("volumes: this plan has no volumes; the local executor runs volume plans")


def build_stages(plan: Plan, graph: ModelGraph, devices: Mapping[str, str] | None = None) -> list[list[Part]]:
    """One list of :class:`Part` per volume (one per plan device, in plan order), then, when the
    model has a head, a last list holding the head's part alone."""
    _check(plan, graph)
    tdev = resolve_devices(plan, devices)
    names = [d.name for d in plan.devices]
    graphs: dict[torch.device, ModelGraph] = {}
    stages: list[list[Part]] = []
    for v, vol in enumerate(plan.volumes):
        width = graph.units[vol.last].out_shape[2]
        parts = []
        for k, name in enumerate(names):
            r0, r1 = vol.rows[k], vol.rows[k + 1]
            mod = None
            if r1 > r0:
                g = graph_on(graph, tdev[name], graphs)
                mod = SlicedSegment(
                    g,
                    vol.first,
                    vol.last,
                    Region(r0, r1, 0, width),
                    name=f"volume {v} units[{vol.first}..{vol.last}] on {name}",
                )
            parts.append(Part(name, v, mod, (r0, r1), tdev[name]))
        stages.append(parts)
    if graph.head is not None:
        name = names[head_index(plan)]
        g = graph_on(graph, tdev[name], graphs)
        head = SlicedSegment(g, graph.num_units, graph.num_units, name=f"head on {name}")
        stages.append([Part(name, len(plan.volumes), head, (0, 1), tdev[name])])
    return stages


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """TF32 off for cuDNN convolutions and CUDA matmuls inside the block, restored after: with it
    on (cuDNN's default) a GPU part differs from the CPU's fp32 by ~1e-3, which is rounding, not a
    wrong split; exactness checks compare under this."""
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


# -- running ----------------------------------------------------------------------------------
def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


class LocalExecutor:
    """Run a volume plan in this process (see the module docstring).

    Args:
        devices: plan device name -> torch device (``cpu``, ``cuda:i``); missing names run on cpu.
    """

    def __init__(self, plan: Plan, graph: ModelGraph, devices: Mapping[str, str] | None = None) -> None:
        self.plan = plan
        self.graph = graph
        self.stages = build_stages(plan, graph, devices)
        self.names = [d.name for d in plan.devices]
        self.volume_stages = self.stages[: len(plan.volumes)]
        self.head: Part | None = self.stages[-1][0] if graph.head is not None else None

    # the data flow, shared by run and run_timed
    def _gather(
        self,
        want: Region,
        dst: str,
        dst_dev: torch.device,
        held: list[tuple[str, int, torch.Tensor]],
        volume: int,
        transfers: list[dict[str, Any]],
    ) -> torch.Tensor:
        """Rows ``want`` of a tensor held in row slabs ``(owner, first row, slab)``: the overlapping
        slices, moved to ``dst_dev`` where needed, concatenated along rows."""
        pieces = []
        for owner, lo, slab in held:
            a, b = max(want.r0, lo), min(want.r1, lo + slab.shape[2])
            if b <= a:
                continue
            piece = slab[:, :, a - lo : b - lo, want.c0 : want.c1]
            if owner != dst:
                transfers.append(
                    {
                        "volume": volume,
                        "src": owner,
                        "dst": dst,
                        "rows": b - a,
                        "bytes": piece.numel() * piece.element_size(),
                    }
                )
            if piece.device != dst_dev:
                piece = piece.to(dst_dev)
            pieces.append(piece)
        if not pieces:  # only padding is read
            ref = held[0][2]
            return ref.new_empty((ref.shape[0], ref.shape[1], want.rows, want.cols), device=dst_dev)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)

    def _check_input(self, x: torch.Tensor) -> None:
        want = tuple(self.graph.input_shape)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != want:
            got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise PlanError(
                f"input: expected a tensor [N, {', '.join(map(str, want))}] for {self.graph.name}, got {got}"
            )

    def _execute(
        self, x: torch.Tensor, timer: dict[tuple[int, str], float] | None
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        self._check_input(x)
        transfers: list[dict[str, Any]] = []
        held: list[tuple[str, int, torch.Tensor]] = [(REQUESTER, 0, x)]
        for v, parts in enumerate(self.stages):
            out: list[tuple[str, int, torch.Tensor]] = []
            for p in parts:
                if p.module is None:
                    continue
                inp = self._gather(p.module.in_region, p.device, p.torch_device, held, v, transfers)
                if timer is None:
                    y = p.module(inp)
                else:
                    _sync(p.torch_device)
                    t0 = time.perf_counter()
                    y = p.module(inp)
                    _sync(p.torch_device)
                    timer[(v, p.device)] = time.perf_counter() - t0
                out.append((p.device, p.rows[0], y))
            held = out
        if self.head is not None:
            y = held[0][2]
            transfers.append(
                {
                    "volume": len(self.plan.volumes),
                    "src": self.head.device,
                    "dst": REQUESTER,
                    "rows": 1,
                    "bytes": y.numel() * y.element_size(),
                }
            )
            return y, transfers
        # no head: the requester gathers every part's rows
        first_dev = held[0][2].device
        full = self._gather(
            Region(0, self.graph.units[-1].height, 0, self.graph.units[-1].out_shape[2]),
            REQUESTER,
            first_dev,
            held,
            len(self.plan.volumes),
            transfers,
        )
        return full, transfers

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for ``x`` (shape ``[N, C, H, W]`` of the plan's input size)."""
        return self._execute(x, None)[0]

    @torch.inference_mode()
    def run_timed(self, x: torch.Tensor, repeats: int = 1, warmup: int = 1) -> tuple[torch.Tensor, dict[str, Any]]:
        """Run ``warmup`` untimed passes, then ``repeats`` passes timing every part alone
        (perf_counter, CUDA synchronised); per part the median. Returns the output and::

            compute_s      (V, N) seconds of each device's part of each volume (0: empty part)
            head_device    the head's device (None without a head); head_s its seconds
            volumes        per volume: first, last, parts' compute sum and max, finish time
            transfers      every slice moved between logical devices (requester included):
                           volume, src, dst, rows, bytes
            bytes_moved    bytes between plan devices (requester's input and result excluded)
            latency_s      :func:`compose_latency` with free transfers
        """
        for _ in range(warmup):
            self._execute(x, None)
        samples: dict[tuple[int, str], list[float]] = {}
        y, transfers = None, []
        for _ in range(max(1, repeats)):
            timer: dict[tuple[int, str], float] = {}
            y, transfers = self._execute(x, timer)
            for key, s in timer.items():
                samples.setdefault(key, []).append(s)
        V, N = len(self.plan.volumes), len(self.names)
        compute = np.zeros((V, N))
        for (v, dev), s in samples.items():
            if v < V:
                compute[v, self.names.index(dev)] = statistics.median(s)
        head_s = statistics.median(samples[(V, self.head.device)]) if self.head is not None else 0.0
        times: dict[str, Any] = {
            "devices": list(self.names),
            "compute_s": compute,
            "head_device": self.head.device if self.head is not None else None,
            "head_s": head_s,
            "transfers": transfers,
            "bytes_moved": int(sum(t["bytes"] for t in transfers if REQUESTER not in (t["src"], t["dst"]))),
        }
        comp = compose_latency(times, self.plan)
        times["volumes"] = [
            {
                "volume": v,
                "first": vol.first,
                "last": vol.last,
                "compute_sum_s": float(compute[v].sum()),
                "compute_max_s": float(compute[v].max()),
                "finish_s": float(comp["T"][v].max()),
                "bytes_in": int(sum(t["bytes"] for t in transfers if t["volume"] == v)),
            }
            for v, vol in enumerate(self.plan.volumes)
        ]
        times["latency_s"] = comp["latency_s"]
        times["T"] = comp["T"]
        return y, times  # type: ignore[return-value]


# -- composing measured times along the plan's schedule ---------------------------------------
def network_transfer(plan: Plan, at: float = 0.0) -> TransferFn:
    """The simulator's link model for ``plan``'s network: ``(src, dst, bytes) -> seconds``."""
    cluster = plan.cluster()
    names = cluster.names + [cluster.requester]
    bw = cluster.network.matrix(names, at)
    index = {n: i for i, n in enumerate(names)}
    lat, ovh = cluster.network.latency_s, cluster.network.overhead_s

    def fn(src: str, dst: str, nbytes: float) -> float:
        return float(transfer_seconds(nbytes, bw[index[src], index[dst]], lat, ovh))

    return fn


def compose_latency(times: Mapping[str, Any], plan: Plan, transfer: TransferFn | None = None) -> dict[str, Any]:
    """End-to-end latency from per-part compute times, composed like the simulator.

    ``times`` needs ``compute_s`` (V, N), ``head_device``, ``head_s`` and ``transfers`` (as
    :meth:`LocalExecutor.run_timed` returns them). ``transfer(src, dst, bytes)`` gives a slice's
    seconds (default: free). Returns ``latency_s`` and ``T`` (V, N), each device's finish time
    after each volume.
    """
    names = [d.name for d in plan.devices]
    idx = {n: i for i, n in enumerate(names)}
    cost = transfer or (lambda s, d, b: 0.0)
    compute = np.asarray(times["compute_s"], dtype=float)
    V, N = len(plan.volumes), len(names)
    by_volume: dict[int, list[dict[str, Any]]] = {}
    for t in times["transfers"]:
        by_volume.setdefault(t["volume"], []).append(t)
    T_prev = np.zeros(N)
    Ts = []
    for v, vol in enumerate(plan.volumes):
        # per (src, dst): bytes summed (one message per pair, as the simulator sends)
        pair: dict[tuple[str, str], float] = {}
        for t in by_volume.get(v, []):
            pair[(t["src"], t["dst"])] = pair.get((t["src"], t["dst"]), 0.0) + t["bytes"]
        T = T_prev.copy()
        for k, name in enumerate(names):
            if vol.rows[k + 1] <= vol.rows[k]:
                continue
            arrival = 0.0
            for (src, dst), nb in pair.items():
                if dst == name and nb > 0:
                    ready = 0.0 if src == REQUESTER else T_prev[idx[src]]
                    arrival = max(arrival, ready + cost(src, dst, nb))
            T[k] = max(T_prev[k], arrival) + compute[v, k]
        Ts.append(T)
        T_prev = T
    T_end = T_prev
    tail = [t for t in times["transfers"] if t["volume"] == V]
    if times.get("head_device") is None:
        ends = [T_end[idx[t["src"]]] + cost(t["src"], REQUESTER, t["bytes"]) for t in tail if t["bytes"] > 0]
        latency = max(ends) if ends else float(T_end.max())
    else:
        h = times["head_device"]
        gather: dict[str, float] = {}
        result = 0.0
        for t in tail:
            if t["dst"] == h:
                gather[t["src"]] = gather.get(t["src"], 0.0) + t["bytes"]
            elif t["dst"] == REQUESTER:
                result += t["bytes"]
        arrive = max([T_end[idx[s]] + cost(s, h, nb) for s, nb in gather.items() if nb > 0], default=0.0)
        start = max(T_end[idx[h]], arrive)
        latency = start + float(times["head_s"]) + cost(h, REQUESTER, result)
    return {"latency_s": float(latency), "T": np.array(Ts)}
