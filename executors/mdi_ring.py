"""A real MS-MDI run: one process per ring worker over ``torch.distributed`` (gloo, CPU).

The scheduling policy decides in the queueing simulator (:class:`QueueSim` with ``record``),
on this machine's measured profile (board ``local-cpu``), and the run *replays its decisions*:
every worker executes, in the simulator's order, the services it was given (a whole image for a
local item, units ``first..last`` of the real model for an MDI item) on real tensors. An MDI item's
activation goes point to point (``isend``/``recv``, tag = image id) from the worker that ran its
previous stage to the one running its next stage; the final output goes back to the source. Images
arrive at the sources at their Poisson arrival times (real time, from the start of the run), and a
source does not start an image before it has arrived.

Why replay instead of deciding live: the message pattern then is static, so every receive knows
its sender and shape and gloo needs no extra control channel; deciding on the live queue lengths
needs those lengths exchanged between neighbours every slot, which is left for later. The order
of services is the policy's; the *times* are measured: nothing waits for the simulator's clock.
Deadlock freedom: a worker's receive always matches a send of a service that started earlier in
the simulator's order, so the globally earliest pending service can always run.

Each process builds the model from seed 0 and only the blocks it runs (:class:`SlicedSegment`,
the head with the last unit). The source of each image checks the returned output against the
unsplit model (``max_abs_error``). Reported: each image's measured completion time (seconds from
the common start, ``time.monotonic`` shared by the processes of one machine) next to the
simulator's, the two total processing times, and per-worker compute seconds. Links are the
loopback (no emulation); the simulator is given a fast network (``mbps``) to match.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.queueing import Policy, QueueResult, QueueSim, QueueSystem
from splitgym.costmodels.slicing import SlicedSegment

from .distributed import free_port
from .launch import launch

__all__ = ["RingTask", "ring_tasks", "local_system", "run_mdi_ring", "RingResult"]


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


def local_system(model: str, input_size: int, workers: int, sources: list[int], rates: list[float],
                 images: list[int], mbps: float = 10_000.0, **kwargs: Any) -> tuple[ModelGraph, QueueSystem]:
    """A ring of ``workers`` copies of this machine (board ``local-cpu``, measured profile)."""
    graph = ModelGraph.from_torchvision(model, input_size)
    cluster = Cluster.from_config({"name": f"local-cpu-x{workers}",
                                   "devices": [{"name": f"cpu-{i}", "board": "local-cpu"} for i in range(workers)]},
                                  mbps)
    return graph, QueueSystem.from_graph(graph, cluster, sources, rates, images, **kwargs)


@dataclass
class RingResult:
    measured_done_s: np.ndarray
    simulated_done_s: np.ndarray
    max_abs_error: float
    ref_max_abs: float
    compute_s: list[float]
    wall_s: float

    @property
    def measured_total_s(self) -> float:
        return float(self.measured_done_s.max())

    @property
    def simulated_total_s(self) -> float:
        return float(self.simulated_done_s.max())

    def to_json(self) -> dict[str, Any]:
        return {"measured_total_s": self.measured_total_s, "simulated_total_s": self.simulated_total_s,
                "ratio_measured_to_simulated": self.measured_total_s / self.simulated_total_s,
                "median_abs_diff_s": float(np.median(np.abs(self.measured_done_s - self.simulated_done_s))),
                "max_abs_error": self.max_abs_error, "ref_max_abs": self.ref_max_abs,
                "compute_s": self.compute_s, "wall_s": self.wall_s}


def _image(seed: int, k: int, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + k)
    return torch.randn((1, *shape), generator=g)


def _work(rank: int, cfg: dict[str, Any]) -> None:
    import torch.distributed as dist

    torch.set_num_threads(cfg["threads"])
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(cfg["port"])
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
    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=cfg["N"],
                            timeout=datetime.timedelta(seconds=cfg["timeout_s"]))
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
    Path(cfg["dir"], f"rank-{rank}.json").write_text(json.dumps(
        {"done": done, "compute_s": compute, "max_abs_error": err, "ref_max_abs": ref_max}))
    dist.barrier()
    dist.destroy_process_group()


def run_mdi_ring(graph: ModelGraph, system: QueueSystem, policy: Policy, seed: int = 0,
                 threads: int = 1, timeout_s: float = 120.0) -> RingResult:
    """Decide with ``policy`` in the simulator, run the decisions for real, measure."""
    sim_res, tasks = ring_tasks(system, policy, seed)
    homes: list[list[int]] = [[] for _ in range(system.N)]
    for k, s in enumerate(sim_res.source.tolist()):
        homes[system.sources[s]].append(k)
    with tempfile.TemporaryDirectory(prefix="splitgym-mdi-") as tmp:
        cfg = {"dir": tmp, "port": free_port(), "model": graph.name, "input": list(graph.input_shape),
               "N": system.N, "tasks": [[list(vars(t).values()) for t in lst] for lst in tasks],
               "arrive": sim_res.arrive.tolist(), "homes": homes, "seed": seed, "threads": threads,
               "timeout_s": timeout_s}
        wall = launch(_work, cfg, system.N, timeout_s=timeout_s,
                      timeout_message=f"mdi ring: the run took longer than {timeout_s:g} s (timeout_s)",
                      failure=lambda exc, errors, codes: f"mdi ring: {errors[0][2] if errors else 'a worker process died'}")
        ranks = [json.loads(Path(tmp, f"rank-{r}.json").read_text()) for r in range(system.N)]
    measured = np.full(sim_res.images, np.nan)
    for r in ranks:
        for k, v in r["done"].items():
            measured[int(k)] = v
    return RingResult(measured, sim_res.done.copy(), max(r["max_abs_error"] for r in ranks),
                      max(r["ref_max_abs"] for r in ranks), [r["compute_s"] for r in ranks], wall)


def _main(argv: list[str] | None = None) -> None:
    """``python -m splitgym.executors.mdi_ring``: one real run per policy, JSON per line."""
    import argparse

    from splitgym.agents.schedulers import SCHEDULERS, get_scheduler

    ap = argparse.ArgumentParser(description="MS-MDI for real: a ring of gloo processes on this CPU")
    ap.add_argument("--model", default="vgg11")
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sources", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0])
    ap.add_argument("--images", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--policies", nargs="+", default=list(SCHEDULERS), choices=list(SCHEDULERS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    graph, system = local_system(args.model, args.input, args.workers, args.sources, args.rates, args.images)
    for p in args.policies:
        r = run_mdi_ring(graph, system, get_scheduler(p), seed=args.seed)
        print(json.dumps({"policy": p, "model": args.model, "input": args.input, "workers": args.workers,
                          "images": sum(args.images), **r.to_json()}))


if __name__ == "__main__":
    _main()
