"""A HyPS worker process: runs the partitions it is sent, inside its memory budget.

Started by :mod:`hub` (``multiprocessing`` spawn). It imports torch, warms it up (a small conv and
linear layer, so the thread pools and allocator caches exist before the limit), reads its address
space size from ``/proc/self/status`` and sets ``RLIMIT_AS`` to that baseline plus its budget.
Then, per job: the header (structure with meta tensors, the weights' names, dtypes, shapes and
offsets, the input's shape), one preallocated buffer for all weights and one for the input (the
manager sends the raw bytes only after the worker says it could allocate them), the weights
become tensors that share that buffer (``torch.frombuffer``, no copy), and the output goes back as
raw bytes. Everything is dropped after the job, as HyPS unloads a partition once it has run.
"""

from __future__ import annotations

import gc
import resource
import time
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["worker_main", "address_space_bytes", "read_into", "write_all"]


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


def address_space_bytes() -> int:
    """This process's virtual memory size (VmSize) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmSize not in /proc/self/status")


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


def worker_main(conn: Connection, device: str, budget: int | None, delay_s: float = 0.0) -> None:
    import torch

    _warm_up()
    base = address_space_bytes()
    if budget is not None:
        resource.setrlimit(resource.RLIMIT_AS, (base + budget, base + budget))
    conn.send({"ready": True, "baseline_bytes": base})
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
        try:
            wbuf = bytearray(job["wbytes"])
            xbuf = bytearray(nx)
        except MemoryError as exc:
            refuse(job, f"its {job['wbytes'] / 2**20:.1f} MiB of weights", exc)
            continue
        conn.send({"ok": True})
        views = job["weights"]  # (name, dtype, shape, offset, bytes) per tensor
        mv = memoryview(wbuf)
        read_into(conn, mv)  # all weights, raw, straight into the buffer
        read_into(conn, memoryview(xbuf))
        state = module = x = y = raw = out = None
        try:
            raw = torch.frombuffer(wbuf, dtype=torch.uint8) if job["wbytes"] else torch.empty(0, dtype=torch.uint8)
            state = {
                name: raw[off : off + n].view(getattr(torch, dtype)).reshape(shape)
                for name, dtype, shape, off, n in views
            }
            module = job["structure"]
            module.load_state_dict(state, assign=True, strict=True)
            x = torch.frombuffer(xbuf, dtype=getattr(torch, dtype_x)).reshape(shape_x)
            if delay_s:
                time.sleep(delay_s)
            with torch.no_grad():
                y = module(x).contiguous()
            out = y.view(-1).view(torch.uint8).numpy()
            conn.send({"dtype": str(y.dtype).removeprefix("torch."), "shape": list(y.shape), "nbytes": int(out.nbytes)})
            conn.send_bytes(out)
        except BaseException as exc:  # noqa: BLE001 - memory errors become one line; others re-raise
            if not _too_big(exc):
                raise
            refuse(job, "running it", exc)
        finally:
            job = state = module = x = y = raw = out = None  # noqa: F841 - drop the partition
            mv.release()
            del wbuf, xbuf
            gc.collect()
