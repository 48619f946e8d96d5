"""A HyPS worker process: runs the partitions it is sent, inside its memory budget.

Started by :mod:`hub` (``multiprocessing`` spawn). It imports torch, warms it up (a small conv and
linear layer, so the thread pools and allocator caches exist before the limit), reads its address
space size from ``/proc/self/status`` and sets ``RLIMIT_AS`` to that baseline plus its budget.
Then, per job: the header (structure with meta tensors, the weights' names, dtypes, shapes and
offsets, the input's shape), one preallocated buffer for all weights and one for the input (the
manager sends the raw bytes only after the worker says it could allocate them), the weights
become tensors that share that buffer (``torch.frombuffer``, no copy), and the output goes back as
raw bytes. Everything is dropped after the job, as HyPS unloads a partition once it has run.

Each reply carries the job's timings (``load_s``: weights become tensors; ``compute_s``: the
forward pass; ``link_in_s``/``link_out_s``: the emulated link seconds it waited, see below) and
the process's memory high-water marks (``vm_peak``: VmPeak, the largest address space so far, the
quantity ``RLIMIT_AS`` bounds; ``vm_hwm``: VmHWM, the peak resident set), so a fresh worker that
ran one job tells what that job needed (:mod:`splitgym.experiments.hyps_memory` fits the memory
model on them).

Emulated links: a job may carry ``link`` = ``{"in": [mbps, latency_s, overhead_s], "out": [...]}``
(the plan's hub -> device and device -> hub links); the worker then waits the link time of the
input's bytes once they have arrived and of the output's bytes before it sends them, as if they
had crossed that link. Waiting in the worker, not in the hub, keeps parts on different devices
overlapping as the cost model assumes (the hub sends to several devices at once).
"""

from __future__ import annotations

import ctypes
import gc
import resource
import time
from multiprocessing.connection import Connection
from typing import Any

# At import, so before the worker reads its base: an import under the limit would count against it.
from splitgym.costmodels.network import link_seconds

__all__ = ["worker_main", "address_space_bytes", "memory_marks", "read_into", "write_all"]


def read_into(conn: Connection, buf: memoryview) -> None:
    """Fill ``buf`` with raw bytes from the pipe (no framing, no intermediate copy: the
    ``Connection.recv_bytes_into`` of the standard library reads into a BytesIO first)."""
    import os

    fd, got = conn.fileno(), 0
    while got < len(buf):
        n = os.readv(fd, [buf[got:]])
        if n == 0:
            raise EOFError("pipe closed")
        got += n


def write_all(conn: Connection, data: memoryview) -> None:
    """Write raw bytes to the pipe (the other end reads them with :func:`read_into`)."""
    import os

    fd, sent = conn.fileno(), 0
    data = data.cast("B")
    while sent < len(data):
        sent += os.write(fd, data[sent:])


def memory_marks() -> dict[str, int]:
    """This process's VmSize, VmPeak, VmRSS and VmHWM (bytes) from ``/proc/self/status``."""
    keys = {"VmSize:": "vm_size", "VmPeak:": "vm_peak", "VmRSS:": "vm_rss", "VmHWM:": "vm_hwm"}
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(maxsplit=1)[0] if line.strip() else ""
            if key in keys:
                out[keys[key]] = int(line.split()[1]) * 1024
    if "vm_size" not in out:
        raise RuntimeError("VmSize not in /proc/self/status")
    return out


def address_space_bytes() -> int:
    """This process's virtual memory size (VmSize) in bytes."""
    return memory_marks()["vm_size"]


def _link_wait(link: dict[str, Any] | None, direction: str, nbytes: int) -> float:
    """Sleep the emulated link time of ``nbytes`` (nothing without a link); the seconds waited."""
    if not link:
        return 0.0
    secs = link_seconds(nbytes, *link[direction])
    time.sleep(secs)
    return secs


def _warm_up() -> None:
    import torch

    torch.set_num_threads(1)
    with torch.no_grad():
        torch.nn.Conv2d(3, 8, 3, padding=1)(torch.randn(1, 3, 16, 16)).relu()
        torch.nn.Linear(64, 8)(torch.randn(1, 64))
        torch.nn.functional.max_pool2d(torch.randn(1, 3, 8, 8), 2)


def _too_big(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and any(w in str(exc).lower() for w in ("can't allocate memory", "out of memory", "not enough memory"))
    )


def _fixed_malloc() -> Any:
    """glibc with a fixed mmap threshold (128 KiB): the default one rises to the largest block
    freed, after which blocks that large come from the heap and their address space stays after a
    job (a VGG conv partition left fc6's next part short of its budget). Fixed, every large block
    is unmapped when freed, so each job starts from the base address space the planner assumes.
    Returns libc (None off glibc) for :func:`_trim` after each job."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 128 * 1024)  # M_TRIM_THRESHOLD
    return libc


def worker_main(conn: Connection, device: str, budget: int | None, delay_s: float = 0.0) -> None:
    import torch

    libc = _fixed_malloc()
    _warm_up()
    marks = memory_marks()
    base = marks["vm_size"]
    if budget is not None:
        resource.setrlimit(resource.RLIMIT_AS, (base + budget, base + budget))
    conn.send({"ready": True, "baseline_bytes": base, **{f"ready_{k}": v for k, v in marks.items()}})
    shown = "unlimited" if budget is None else f"{budget / 2**20:.0f} MiB"

    def refuse(job: dict[str, Any], what: str, exc: BaseException) -> None:
        conn.send(
            {
                "error": f"device {device}: layer {job['layers']} does not fit in its memory budget "
                f"of {shown} ({what}: {type(exc).__name__})"
            }
        )

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job.get("stop"):
            return
        dtype_x, shape_x = job["x"]
        nx = torch.Size(shape_x).numel() * torch.empty((), dtype=getattr(torch, dtype_x)).element_size()
        job["held_bytes"] = memory_marks()["vm_size"] - base  # what earlier jobs left mapped
        try:
            wbuf = bytearray(job["wbytes"])
            xbuf = bytearray(nx)
        except MemoryError as exc:
            refuse(job, f"its {job['wbytes'] / 2**20:.1f} MiB of weights", exc)
            continue
        conn.send({"ok": True})
        mv = memoryview(wbuf)
        read_into(conn, mv)  # all weights, raw, straight into the buffer
        read_into(conn, memoryview(xbuf))
        try:
            _run_job(conn, job, wbuf, xbuf, nx, delay_s)
        except BaseException as exc:  # noqa: BLE001 - memory errors become one line; others re-raise
            if not _too_big(exc):
                raise
            refuse(job, "running it", exc)
        finally:
            job = None  # drop the partition
            mv.release()
            del wbuf, xbuf
            gc.collect()
            if libc is not None:
                libc.malloc_trim(0)


def _run_job(conn: Connection, job: dict[str, Any], wbuf: bytearray, xbuf: bytearray, nx: int, delay_s: float) -> None:
    """Weights and input (already in their buffers) become tensors without a copy; run, reply."""
    import torch

    dtype_x, shape_x = job["x"]
    t = {"link_in_s": _link_wait(job.get("link"), "in", nx)}
    t0 = time.perf_counter()
    raw = torch.frombuffer(wbuf, dtype=torch.uint8) if job["wbytes"] else torch.empty(0, dtype=torch.uint8)
    state = {
        name: raw[off : off + n].view(getattr(torch, dtype)).reshape(shape)
        for name, dtype, shape, off, n in job["weights"]  # (name, dtype, shape, offset, bytes) per tensor
    }
    module = job["structure"]
    module.load_state_dict(state, assign=True, strict=True)
    x = torch.frombuffer(xbuf, dtype=getattr(torch, dtype_x)).reshape(shape_x)
    t1 = time.perf_counter()
    if delay_s:
        time.sleep(delay_s)
    t2 = time.perf_counter()
    with torch.no_grad():
        y = module(x).contiguous()
    out = y.view(-1).view(torch.uint8).numpy()
    t.update(load_s=t1 - t0, compute_s=time.perf_counter() - t2)
    t["link_out_s"] = _link_wait(job.get("link"), "out", int(out.nbytes))
    head = {"dtype": str(y.dtype).removeprefix("torch."), "shape": list(y.shape), "nbytes": int(out.nbytes)}
    conn.send({**head, **t, **memory_marks(), "held_bytes": job["held_bytes"]})
    conn.send_bytes(out)
