"""HyPS's runtime: a manager, workers under real memory limits, and a hub that persists every map.

The paper's architecture (HY L216-L256, PAPERS-AUDIT C.4 item 7) as processes on this machine:

* **Manager + hub** (this process, the "safe zone"): it alone holds the whole model and the
  image. It walks the plan's partitions (:func:`hybrid.hybrid_partitions`) in order and, for each
  part, sends the worker of that part's device the part's *structure* (the partition module with
  meta tensors: code and shapes, no values), its *weights* (the partition's state_dict, a neuron
  part's slice only) and its *input* (an intermediate feature map), and gets the output back. The
  hub writes every output to the run folder (``torch.save`` to a temporary file, then an atomic
  rename) and appends a line to ``journal.jsonl`` (fsync'd) once it is safe on disk.
* **Resume.** A run started on a folder with a journal skips every part and partition the journal
  records and reads their outputs from disk: a run killed at any point (a worker, or the manager)
  restarts from the last finished part, and nothing already finished is computed again. A part
  whose worker died had written nothing, so it is computed once, on the resumed run.
* **Workers** (``multiprocessing`` spawn, one per plan device) are reactive: they compute when a
  job arrives. They never see the model or the image: the first layer runs in the safe zone (the
  manager), so every worker's input is an intermediate map (HY L248: workers "only have
  intermediate feature maps"). ``sent.jsonl`` records what each worker was sent.
* **Memory limits, for real.** Each worker sets ``RLIMIT_AS`` on itself after importing torch and
  warming it up: its address space may grow by its device's usable budget (``memory_mb -
  reserved_mb``, :mod:`neurons`) and no more. Why this and not a cgroup: this machine mounts cgroup
  v1 controllers that belong to the sandbox that runs us (we must not touch them), and v2 is not
  delegated; RLIMIT_AS needs no privilege. Importing torch maps ~3.2 GB of address space (0.5 GB
  resident) before any weight exists, so the limit is *relative*: measured baseline + budget. The
  weights arrive straight into one preallocated buffer and become tensors without a copy, so a
  part needs its weights once plus its activations. An allocation over the budget fails in the
  worker (``MemoryError``), which reports it; the manager raises one :class:`MemoryBudgetError`
  line naming the device, the layers and the budget.

Why pipes (``multiprocessing``) and not ``torch.distributed`` as :mod:`distributed` uses: a killed
gloo rank breaks the whole process group (every peer's next collective fails or times out), while
here a lost worker is one dead pipe the manager notices (its process sentinel) and a resumed run
simply starts new workers; and the weights go through a pipe straight into the worker's one
preallocated buffer, so the memory a part needs is what the budget is checked against.

Timings: every part's job is split into weights, feature-map transfers, load, compute and persist
(:mod:`hub_timing`; ``HubResult.parts``/``partitions`` and ``timings.jsonl`` in the folder), and
``links="emulated"`` makes the feature maps wait the plan's link time (the cost model's
:mod:`hyps_cost` is the prediction). ``delay_s`` makes each job wait that long first, so tests can
kill a worker mid-run.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import torch

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.hybrid_partitions import Partition, hybrid_partitions
from splitgym.costmodels.neurons.hyps_cost import plan_memory
from splitgym.costmodels.neurons.neuron_spans import Span, layer_spans
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.run_folder import code_version, digest, folder_lock, stamp_fingerprint
from splitgym.executors.neurons.hub_timing import part_record, partition_record
from splitgym.executors.neurons.hyps_worker import worker_main, write_all
from splitgym.executors.neurons.neuron_modules import (
    concat_parts,
    partition_module,
    structure_only,
    weights_only,
)

__all__ = ["Hub", "HubResult", "run_hyps", "MemoryBudgetError", "WorkerLost", "Workers", "send_job", "collect", "LINKS"]

#: ``links`` modes of the hub: free pipes, or the plan's link time on every feature map.
LINKS = ("none", "emulated")


class MemoryBudgetError(SplitgymError):
    """A partition does not fit in its worker's memory budget."""


class WorkerLost(SplitgymError):
    """A worker process died during a run; the run folder lets it resume."""


class Hub:
    """The persistent store of a run: one file per feature map, a journal of finished keys."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.journal = self.folder / "journal.jsonl"

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def entries(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        out = []
        for line in self.journal.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: that key is not finished
                continue
        return out

    def done(self) -> set[str]:
        return {e["key"] for e in self.entries() if self._path(e["key"]).exists()}

    def put(self, key: str, t: torch.Tensor, **info: Any) -> None:
        buf = io.BytesIO()
        torch.save(t.detach().clone(), buf)
        data = buf.getvalue()
        atomic_write(self._path(key), data)
        line = json.dumps({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "time": time.time(), **info})
        with self.journal.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def get(self, key: str) -> torch.Tensor:
        return torch.load(self._path(key), weights_only=True)

    def log(self, name: str, record: dict[str, Any]) -> None:
        with (self.folder / name).open("a") as f:
            f.write(json.dumps(record) + "\n")


@dataclass
class HubResult:
    output: torch.Tensor
    folder: Path
    computed: list[str]  # keys computed by this run
    reused: list[str]  # keys read from the hub (a resumed run)
    worker_pids: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    parts: list[dict[str, Any]] = field(default_factory=list)  # per part job: hub_timing.part_record
    partitions: list[dict[str, Any]] = field(default_factory=list)  # hub_timing.partition_record


def _raw(t: torch.Tensor) -> Any:
    return t.detach().contiguous().view(-1).view(torch.uint8).numpy()


class Workers:
    """One worker process per device, started on first use."""

    def __init__(
        self,
        hub: Hub,
        budgets: dict[str, int | None],
        delay_s: float,
        links: dict[str, dict[str, list[float]]] | None = None,
    ) -> None:
        self.ctx = mp.get_context("spawn")
        self.hub, self.budgets, self.delay_s = hub, budgets, delay_s
        self.links = links or {}  # device -> {"in": [mbps, latency_s, overhead_s], "out": [...]}
        self.ready: dict[str, dict[str, Any]] = {}  # device -> its "ready" message (memory marks)
        self.procs: dict[str, Any] = {}
        self.conns: dict[str, Connection] = {}

    def conn(self, device: str) -> Connection:
        if device not in self.procs:
            mine, theirs = self.ctx.Pipe()
            p = self.ctx.Process(
                target=worker_main,
                args=(theirs, device, self.budgets.get(device), self.delay_s),
                name=f"hyps-worker-{device}",
                daemon=True,
            )
            p.start()
            theirs.close()
            self.procs[device], self.conns[device] = p, mine
            pids = {d: q.pid for d, q in self.procs.items()}
            atomic_write(self.hub.folder / "workers.json", json.dumps(pids))
            msg = mine.recv()  # "ready" once the limit is set
            if msg.get("error"):
                raise MemoryBudgetError(f"device {device}: {msg['error']}")
            self.ready[device] = msg
        return self.conns[device]

    def dead(self, device: str) -> bool:
        return not self.procs[device].is_alive()

    def stop(self) -> None:
        for c in self.conns.values():
            try:
                c.send({"stop": True})
            except (BrokenPipeError, OSError):
                pass
        for p in self.procs.values():
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


def send_job(w: Workers, device: str, job: dict[str, Any], module: torch.nn.Module, x: torch.Tensor) -> None:
    try:
        _send(w, device, job, module, x)
    except (EOFError, OSError):
        raise WorkerLost(
            f"device {device}: worker (pid {w.procs[device].pid}) died during {job['key']}; "
            f"run again on {w.hub.folder} to resume"
        ) from None


def _send(w: Workers, device: str, job: dict[str, Any], module: torch.nn.Module, x: torch.Tensor) -> None:
    conn = w.conn(device)
    weights = weights_only(module)
    wmeta, off = [], 0
    for k, v in weights.items():
        n = v.numel() * v.element_size()
        wmeta.append((k, str(v.dtype).removeprefix("torch."), list(v.shape), off, n))
        off += n
    t0 = time.perf_counter()
    conn.send(
        {
            **job,
            "structure": structure_only(module),
            "weights": wmeta,
            "wbytes": off,
            "x": (str(x.dtype).removeprefix("torch."), list(x.shape)),
            "link": w.links.get(device),
        }
    )
    w.hub.log(
        "sent.jsonl",
        {
            "device": device,
            "key": job["key"],
            "weights": [m[0] for m in wmeta],
            "weight_shapes": [m[2] for m in wmeta],
            "input_shape": list(x.shape),
        },
    )
    reply = conn.recv()
    if reply.get("error"):
        raise MemoryBudgetError(reply["error"])
    t_ok = time.perf_counter()  # the worker has rebuilt the structure and allocated its buffers
    for v in weights.values():  # raw, in header order: the worker reads them into one buffer
        write_all(conn, memoryview(_raw(v)))
    t1 = time.perf_counter()
    write_all(conn, memoryview(_raw(x)))
    job["timing"] = {
        "start": t0,
        "setup_s": t_ok - t0,
        "weights_s": t1 - t_ok,
        "input_pipe_s": time.perf_counter() - t1,
    }
    job["bytes"] = {"weights": off, "input": x.numel() * x.element_size()}


def collect(w: Workers, busy: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any], torch.Tensor]:
    """Wait for one busy worker's result (or notice its death)."""
    conns = {w.conns[d]: d for d in busy}
    sentinels = {w.procs[d].sentinel: d for d in busy}
    ready = wait(list(conns) + list(sentinels))
    for r in ready:
        d = conns.get(r) or sentinels[r]  # type: ignore[index]
        try:
            reply = w.conns[d].recv()
            if reply.get("error"):
                raise MemoryBudgetError(reply["error"])
            t0 = time.perf_counter()
            buf = bytearray(reply["nbytes"])
            w.conns[d].recv_bytes_into(buf)
            busy[d]["reply"] = {**reply, "output_pipe_s": time.perf_counter() - t0}
        except (EOFError, OSError):
            raise WorkerLost(
                f"device {d}: worker (pid {w.procs[d].pid}) died during {busy[d]['key']}; "
                f"run again on {w.hub.folder} to resume"
            ) from None
        out = torch.frombuffer(buf, dtype=getattr(torch, reply["dtype"])).reshape(reply["shape"])
        return d, busy.pop(d), out
    raise AssertionError("wait returned nothing")


def _store_input(hub: Hub, done: set[str], x: torch.Tensor | None, folder: str | Path) -> None:
    """Put the image in the hub for a new run; for a resumed one, check it is the same image."""
    if "input" in done:
        if x is not None and not torch.equal(hub.get("input"), x):
            raise SplitgymError(f"input: {folder} holds a run on another image; use a new folder")
    elif x is None:
        raise SplitgymError(f"input: {folder} holds no run to resume; give the image")
    else:
        hub.put("input", x)


def _budgets(plan: Plan, budgets_mb: dict[str, float | None] | None) -> dict[str, int | None]:
    """Usable bytes per device: ``budgets_mb`` (MiB) when given, else the plan's ``meta["memory"]``."""
    if budgets_mb is None:
        return {d: m.usable_bytes for d, m in plan_memory(plan).items()}
    return {d: None if v is None else int(v * 2**20) for d, v in budgets_mb.items()}


def _partition_jobs(
    p: Partition, key: str, first: int, graph: ModelGraph, spans: list[Span], done: set[str]
) -> list[tuple[str, dict[str, Any], torch.nn.Module]]:
    """(device, job, module) for every part of partition ``p`` the hub does not hold yet."""
    jobs = []
    for j, q in enumerate(p.parts):
        pk = f"{key}.part{j}" if p.neuron else key
        if pk in done:
            continue
        mod = partition_module(graph, spans, first, p.last, (q.start, q.end) if p.neuron else None)
        layers = f"{spans[first].name}" + (f"..{spans[p.last].name}" if p.last > first else "")
        jobs.append(
            (
                q.device,
                {"key": pk, "layers": layers, "neurons": [q.start, q.end] if p.neuron else None},
                mod,
            )
        )
    return jobs


def _run_jobs(
    workers: Workers,
    hub: Hub,
    jobs: list[tuple[str, dict[str, Any], torch.nn.Module]],
    x_in: torch.Tensor,
    partition: int,
    computed: list[str],
    timings: list[dict[str, Any]],
) -> None:
    """Run ``jobs`` on their devices' workers (one job per worker at a time, devices in parallel),
    putting each output in the hub as it arrives and its timing (:mod:`hub_timing`) in ``timings``
    and ``timings.jsonl``."""
    busy: dict[str, dict[str, Any]] = {}
    while jobs or busy:
        for job in [jb for jb in jobs if jb[0] not in busy]:
            if job[0] in busy:
                continue
            jobs.remove(job)
            send_job(workers, job[0], job[1], job[2], x_in)
            busy[job[0]] = job[1]
        d, info, out = collect(workers, busy)
        t0 = time.perf_counter()
        hub.put(info["key"], out, partition=partition, device=d)
        end = time.perf_counter()
        computed.append(info["key"])
        timings.append(part_record(partition, d, info, end - t0, end))
        hub.log("timings.jsonl", timings[-1])


def _run_partition(
    p: Partition,
    key: str,
    x_in: torch.Tensor,
    graph: ModelGraph,
    spans: list[Span],
    hub: Hub,
    workers: Workers,
    done: set[str],
    computed: list[str],
    timings: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Compute partition ``p`` (its parts the hub lacks) from ``x_in`` and put its output under
    ``key``; its timing record (:func:`hub_timing.partition_record`), None when it ran no job."""
    first = max(p.first, 1)
    if first > p.last:  # the partition was only the first layer
        hub.put(key, x_in, partition=p.index)
        computed.append(key)
        return None
    jobs = _partition_jobs(p, key, first, graph, spans, done)
    for device in {j[0] for j in jobs}:  # started before the clock: a worker's start is not the partition's
        workers.conn(device)
    t0, n = time.perf_counter(), len(timings)
    _run_jobs(workers, hub, jobs, x_in, p.index, computed, timings)
    t1 = time.perf_counter()
    if p.neuron:
        outs = [hub.get(f"{key}.part{j}") for j in range(len(p.parts))]
        t1 = time.perf_counter()
        hub.put(key, concat_parts(outs), partition=p.index)
        computed.append(key)
    end = time.perf_counter()
    layers = spans[first].name + (f"..{spans[p.last].name}" if p.last > first else "")
    return partition_record(p.index, layers, timings[n:], end - t0, end - t1)


def run_hyps(
    plan: Plan,
    graph: ModelGraph,
    x: torch.Tensor | None,
    folder: str | Path,
    budgets_mb: dict[str, float | None] | None = None,
    delay_s: float = 0.0,
    links: str = "none",
) -> HubResult:
    """Run a hybrid plan (one image) through the manager, its workers and the hub in ``folder``;
    on a folder holding a finished or interrupted run, resume it (``x`` may then be None).

    ``budgets_mb`` overrides the usable memory per device (MiB; None: unlimited); by default the
    plan's ``meta["memory"]`` (what the hyps planner recorded). The folder is locked while the run
    lasts (a second run on it fails at once) and fingerprinted (plan, model, input size, code
    version): a folder of another plan is refused in one line instead of mixing two runs.
    ``links="emulated"`` makes every feature map wait its link time (the plan's network, hub to
    device and back, as :mod:`hyps_cost` prices it) in the worker; ``"none"``: free pipes.
    """
    if links not in LINKS:
        raise SplitgymError(f"links: the hub backend takes {' or '.join(LINKS)}, got {links!r}")
    plan.check(graph)
    with folder_lock(folder, "folder"):
        fingerprint = {
            "plan": digest(plan.model_dump(mode="json")),
            "model": plan.model.name,
            "input": list(plan.model.input),
            "code": code_version(),
        }
        stamp_fingerprint(folder, fingerprint, "hub")
        return _run_hyps(plan, graph, x, folder, budgets_mb, delay_s, _links(plan) if links == "emulated" else None)


def _run_hyps(
    plan: Plan,
    graph: ModelGraph,
    x: torch.Tensor | None,
    folder: str | Path,
    budgets_mb: dict[str, float | None] | None,
    delay_s: float,
    links: dict[str, dict[str, list[float]]] | None,
) -> HubResult:
    t0 = time.perf_counter()
    spans = layer_spans(graph)
    parts = hybrid_partitions(plan, graph, spans)
    hub = Hub(folder)
    done = hub.done()
    _store_input(hub, done, x, folder)
    budgets = _budgets(plan, budgets_mb)
    computed: list[str] = []
    reused = sorted(done)
    workers = Workers(hub, budgets, delay_s, links)
    timings: list[dict[str, Any]] = []
    partitions: list[dict[str, Any]] = []
    try:
        with torch.no_grad():
            if "safe" not in done:  # the first layer, in the safe zone
                hub.put("safe", partition_module(graph, spans, 0, 0)(hub.get("input")), partition="safe")
                computed.append("safe")
            prev = "safe"
            for p in parts:  # in order, each from the previous one's output in the hub
                key = f"p{p.index}"
                if key not in done:
                    row = _run_partition(p, key, hub.get(prev), graph, spans, hub, workers, done, computed, timings)
                    partitions += [row] if row else []
                prev = key
        out = hub.get(prev)
    finally:
        workers.stop()
    pids = {d: q.pid for d, q in workers.procs.items()}
    return HubResult(out, hub.folder, computed, reused, pids, time.perf_counter() - t0, timings, partitions)


def _links(plan: Plan) -> dict[str, dict[str, list[float]]]:
    """Per device, the plan's hub -> device and device -> hub links as ``[mbps, latency_s,
    overhead_s]`` (:func:`network.link_seconds`' arguments), for the workers to wait."""
    cluster = plan.cluster()
    net, hub = cluster.network, cluster.requester
    out = {}
    for d in cluster.names:
        a, b = net.link(hub, d), net.link(d, hub)
        out[d] = {
            "in": [a.bandwidth_mbps, a.latency_s, a.overhead_s],
            "out": [b.bandwidth_mbps, b.latency_s, b.overhead_s],
        }
    return out
