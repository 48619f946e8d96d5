"""A real MS-MDI run: one process per ring worker over ``torch.distributed`` (gloo, CPU).

Two modes. ``live`` (the default, :mod:`mdi_live`): every worker keeps its own queues and decides
at each slot with the policy from its real queue lengths and the lengths its peers report; the
decisions are logged with the state they saw (:func:`check_decisions` asks the policy again).
``replay``: the policy decides in the queueing simulator (:class:`QueueSim` with ``record``), and
every worker executes, in the simulator's order, the services it was given; kept because its
message pattern is static (each receive knows its sender and shape), which isolates the cost of
the model blocks and links from that of the decisions.

In both, the AR-MDI allocation is the simulator's on this machine's measured profile (board
``local-cpu``), images arrive at the sources at the simulator's Poisson arrival times for the same
seed (real time from the common start), a local image runs the whole model on its source, an MDI
item runs units ``first..last`` of the real model (:class:`SlicedSegment`, the head with the last
unit) and its activation goes point to point to the next stage; the final output goes back to the
source, which checks it against the unsplit model (``max_abs_error``). Reported: each image's
measured completion time (seconds from the common start, ``time.monotonic`` shared by the
processes of one machine) next to the simulator's for the same arrivals and policy, the two total
processing times and per-worker compute seconds. Links are the loopback (no emulation); the
simulator is given a fast network (``mbps``) to match.

Replay's deadlock freedom: a worker's receive always matches a send of a service that started
earlier in the simulator's order, so the globally earliest pending service can always run.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.slicing import SlicedSegment
from splitgym.costmodels.stages.queue_policies import get_scheduler
from splitgym.costmodels.stages.queue_sim import Policy, QueueResult, QueueSim, QueueSystem
from splitgym.executors.launch import free_port, init_group, launch
from splitgym.executors.stages.mdi_live import image as _image
from splitgym.executors.stages.mdi_live import work_live
from splitgym.executors.stages.mdi_view import RingLayout, check_decisions

__all__ = [
    "PolicyLoader",
    "sim_policy",
    "RingTask",
    "ring_tasks",
    "local_system",
    "run_mdi_ring",
    "RingResult",
    "MODES",
]

MODES = ("live", "replay")
#: ``(run or policy.zip, mean full-model seconds, total images) -> policy``: how a learned policy is built.
PolicyLoader = Callable[[str | Path, float, int], Any]


@dataclass(frozen=True)
class RingTask:
    """One service: ``worker`` runs units ``first..last`` (the head too when last is the last
    unit) of image ``item``; input from worker ``src`` (itself: the image is there), output to
    ``dst`` (-1: the image is finished; its output goes to its source ``home``)."""

    worker: int
    item: int
    first: int
    last: int
    src: int
    dst: int
    home: int


def ring_tasks(system: QueueSystem, policy: Policy, seed: int = 0) -> tuple[QueueResult, list[list[RingTask]]]:
    """Run the simulator with the policy; every worker's services in the order it ran them."""
    if system.events:
        raise ConfigError("events: the real ring run replays a fixed set of workers; drop the joins/leaves")
    sim = QueueSim(system, seed=seed, record=True)
    res = sim.run(policy)
    per_item: dict[int, list[tuple[float, int, int, int]]] = {}
    for t, n, k, a, b, _ in sim.trace:
        per_item.setdefault(k, []).append((t, n, a, b))
    tasks: list[list[tuple[float, RingTask]]] = [[] for _ in range(system.N)]
    for k, svc in per_item.items():
        home = system.sources[int(res.source[k])]
        for i, (t, n, a, b) in enumerate(svc):
            src = home if i == 0 else svc[i - 1][1]
            dst = svc[i + 1][1] if i + 1 < len(svc) else -1
            tasks[n].append((t, RingTask(n, k, a, b, src, dst, home)))
    return res, [[task for _, task in sorted(lst, key=lambda p: (p[0], p[1].item))] for lst in tasks]


def local_system(
    model: str,
    input_size: int,
    workers: int,
    sources: list[int],
    rates: list[float],
    images: list[int],
    mbps: float = 10_000.0,
    **kwargs: Any,
) -> tuple[ModelGraph, QueueSystem]:
    """A ring of ``workers`` copies of this machine (board ``local-cpu``, measured profile)."""
    graph = ModelGraph.from_torchvision(model, input_size)
    cluster = Cluster.from_config(
        {
            "name": f"local-cpu-x{workers}",
            "devices": [{"name": f"cpu-{i}", "board": "local-cpu"} for i in range(workers)],
        },
        mbps,
    )
    return graph, QueueSystem.from_graph(graph, cluster, sources, rates, images, **kwargs)


@dataclass
class RingResult:
    """One real run. ``decisions``/``services``/``returned``/``messages`` are filled by the live mode:
    every logged decision, every service run (worker, item, units, start/end seconds), the images
    each source worker got back, and the headers each worker sent."""

    measured_done_s: np.ndarray
    simulated_done_s: np.ndarray
    max_abs_error: float
    ref_max_abs: float
    compute_s: list[float]
    wall_s: float
    mode: str = "replay"
    policy: str = ""
    layout: RingLayout | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    returned: dict[int, list[int]] = field(default_factory=dict)
    messages: int = 0

    @property
    def measured_total_s(self) -> float:
        return float(self.measured_done_s.max())

    @property
    def simulated_total_s(self) -> float:
        return float(self.simulated_done_s.max())

    def to_json(self) -> dict[str, Any]:
        return {
            "measured_total_s": self.measured_total_s,
            "simulated_total_s": self.simulated_total_s,
            "ratio_measured_to_simulated": self.measured_total_s / self.simulated_total_s,
            "median_abs_diff_s": float(np.median(np.abs(self.measured_done_s - self.simulated_done_s))),
            "max_abs_error": self.max_abs_error,
            "ref_max_abs": self.ref_max_abs,
            "compute_s": self.compute_s,
            "wall_s": self.wall_s,
            "mode": self.mode,
            "policy": self.policy,
            "decisions": len(self.decisions),
            "services": len(self.services),
            "messages": self.messages,
        }

    def check(self, policy: Any) -> list[str]:
        """Live runs: the logged decisions the policy does not give for their logged view."""
        if self.layout is None:
            return []
        return check_decisions(self.layout, policy, self.decisions)


def _work_replay(rank: int, cfg: dict[str, Any]) -> None:
    import torch.distributed as dist

    torch.set_num_threads(cfg["threads"])
    model = build_model(cfg["model"], seed=0)
    shape = tuple(cfg["input"])
    graph = ModelGraph.from_module(model, shape, name=cfg["model"])
    U = graph.num_units
    tasks = [RingTask(*t) for t in cfg["tasks"][rank]]
    blocks = {}
    for t in tasks:
        if (t.first, t.last) not in blocks:
            blocks[(t.first, t.last)] = SlicedSegment(graph, t.first, U if t.last == U - 1 else t.last)
    in_shape = [(1, *graph.units[u].in_shape) for u in range(U)]
    out_shape = (1, *graph.head.out_shape) if graph.head is not None else (1, *graph.units[-1].out_shape)
    arrive = cfg["arrive"]
    init_group(rank, cfg["N"], cfg)  # on loopback only
    t0 = torch.tensor([time.monotonic() + 0.5], dtype=torch.float64)
    dist.broadcast(t0, src=0)  # one start for everyone (the monotonic clock is machine-wide)
    start = float(t0.item())
    while time.monotonic() < start:
        time.sleep(0.001)
    pending: list[Any] = []
    results: dict[int, torch.Tensor] = {}
    done: dict[int, float] = {}
    compute = 0.0
    with torch.inference_mode():
        for t in tasks:
            if t.first == 0 and t.src == rank:  # the image is here once it has arrived
                wait = start + arrive[t.item] - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                x = _image(cfg["seed"], t.item, shape)
            else:
                x = torch.empty(in_shape[t.first])
                dist.recv(x, src=t.src, tag=t.item)
            c = time.monotonic()
            y = blocks[(t.first, t.last)](x)
            compute += time.monotonic() - c
            if t.dst >= 0:
                y = y.contiguous()
                pending.append((dist.isend(y, dst=t.dst, tag=t.item), y))
            else:
                done[t.item] = time.monotonic() - start
                if t.home == rank:
                    results[t.item] = y
                else:
                    y = y.contiguous()
                    pending.append((dist.isend(y, dst=t.home, tag=t.item), y))
        # results of this source's images finished elsewhere
        for k in cfg["homes"][rank]:
            if k not in results:
                r = torch.empty(out_shape)
                dist.recv(r, tag=k)
                results[k] = r
        for w, _ in pending:
            w.wait()
        err, ref_max = 0.0, 0.0
        for k, y in results.items():
            ref = model(_image(cfg["seed"], k, shape))
            err = max(err, float((y.reshape(ref.shape) - ref).abs().max()))
            ref_max = max(ref_max, float(ref.abs().max()))
    atomic_write(
        Path(cfg["dir"], f"rank-{rank}.json"),
        json.dumps({"done": done, "compute_s": compute, "max_abs_error": err, "ref_max_abs": ref_max}),
    )
    dist.barrier()
    dist.destroy_process_group()


def _policy_name(policy: Policy | str) -> str:
    return policy if isinstance(policy, str) else policy.name


def sim_policy(
    policy: Policy | str, learned: str | Path | None, system: QueueSystem, loader: PolicyLoader | None = None
) -> Any:
    """The policy object for a name: a rule scheduler, or ``"learned"`` built by ``loader`` (the
    caller's: executors sit below agents, so the SB3 side is passed in, never imported here)."""
    if not isinstance(policy, str):
        return policy
    if policy == "learned":
        if learned is None:
            raise ConfigError("learned: the learned policy needs a training run (learned=RUN)")
        if loader is None:
            raise ConfigError(
                "loader: the learned policy needs a loader, e.g. "
                "splitgym.agents.learned_admission.LearnedAdmission.load"
            )
        pol = loader(learned, float(np.mean(system.full_s())), sum(system.images))
        pol.check_dims(system.N, len(system.sources))
        return pol
    return get_scheduler(policy)


def run_mdi_ring(
    graph: ModelGraph,
    system: QueueSystem,
    policy: Policy | str,
    seed: int = 0,
    threads: int = 1,
    timeout_s: float = 120.0,
    mode: str = "live",
    learned: str | Path | None = None,
    loader: PolicyLoader | None = None,
) -> RingResult:
    """Run the ring for real with ``policy`` (a scheduler name, ``"learned"`` with ``learned`` a
    training run loaded by ``loader``, or a policy object whose ``name`` is one of those); the
    simulator runs the same policy on the same arrivals for the comparison."""
    if mode not in MODES:
        raise ConfigError(f"mode: must be one of {MODES}, got {mode!r}")
    if system.events:
        raise ConfigError("events: the real ring run has a fixed set of workers; drop the joins/leaves")
    name = _policy_name(policy)
    policy_obj = sim_policy(policy, learned, system, loader)
    if mode == "replay":
        sim_res, tasks = ring_tasks(system, policy_obj, seed)
    else:
        sim = QueueSim(system, seed=seed)
        layout = RingLayout.from_sim(sim)
        sim_res = sim.run(policy_obj)
    homes: list[list[int]] = [[] for _ in range(system.N)]
    for k, s in enumerate(sim_res.source.tolist()):
        homes[system.sources[s]].append(k)
    with tempfile.TemporaryDirectory(prefix="splitgym-mdi-") as tmp:
        cfg: dict[str, Any] = {
            "dir": tmp,
            "port": free_port(),
            "model": graph.name,
            "input": list(graph.input_shape),
            "N": system.N,
            "arrive": sim_res.arrive.tolist(),
            "homes": homes,
            "seed": seed,
            "threads": threads,
            "timeout_s": timeout_s,
        }
        if mode == "replay":
            cfg["tasks"] = [[list(vars(t).values()) for t in lst] for lst in tasks]
            work = _work_replay
        else:
            cfg.update(
                layout=layout.to_json(),
                policy=name,
                offset=[0, *np.cumsum(system.images).tolist()],
                learned=None if learned is None else str(learned),
                loader=loader,
                ref_s=float(np.mean(system.full_s())),
                total=int(sum(system.images)),
            )
            work = work_live
        wall = launch(
            work,
            cfg,
            system.N,
            timeout_s=timeout_s,
            timeout_message=f"mdi ring: the run took longer than {timeout_s:g} s (timeout_s)",
            failure=lambda exc, errors, codes: f"mdi ring: {errors[0][2] if errors else 'a worker process died'}",
        )
        ranks = [json.loads(Path(tmp, f"rank-{r}.json").read_text()) for r in range(system.N)]
    return _ring_result(ranks, sim_res, system, wall, mode, name, layout if mode == "live" else None)


def _ring_result(
    ranks: list[dict[str, Any]],
    sim_res: QueueResult,
    system: QueueSystem,
    wall: float,
    mode: str,
    name: str,
    layout: RingLayout | None,
) -> RingResult:
    """The run's :class:`RingResult` from every rank's report, next to the simulator's times; a live
    run (``layout`` given) adds its decisions, services, returned images and message count."""
    measured = np.full(sim_res.images, np.nan)
    for r in ranks:
        for k, v in r["done"].items():
            measured[int(k)] = v
    res = RingResult(
        measured,
        sim_res.done.copy(),
        max(r["max_abs_error"] for r in ranks),
        max(r["ref_max_abs"] for r in ranks),
        [r["compute_s"] for r in ranks],
        wall,
        mode,
        name,
    )
    if layout is not None:
        res.layout = layout
        res.decisions = [d for r in ranks for d in r["decisions"]]
        res.services = [sv for r in ranks for sv in r["services"]]
        res.returned = {w: r["returned"] for w, r in enumerate(ranks) if w in system.sources}
        res.messages = sum(r["messages"] for r in ranks)
    return res
