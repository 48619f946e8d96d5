"""Start one process per rank, wait with a deadline, and leave nothing running: the launch the
distributed, tile and MS-MDI ring executors share.

Each worker runs inside :func:`_guarded`, which turns any failure into ``error-<rank>.txt`` in the
run folder (the time, one line, the traceback) and exits at once without interpreter teardown, so a
blocked gloo peer cannot hang it. :func:`launch` polls the processes until they finish or the
deadline passes; on a failure it reads those files (:func:`worker_errors`, the earliest first: the
others usually fail because it left) and hands them, with the exit codes, to the caller, which
writes the one-line message; whatever happens, every process is terminated and joined (killed if
it does not stop).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import SplitgymError

__all__ = [
    "launch",
    "stop_on_signals",
    "worker_errors",
    "WorkerError",
    "check_images",
    "free_port",
    "init_group",
    "listening_socket",
]

#: (time of failure, rank, one-line message)
WorkerError = tuple[float, int, str]
Work = Callable[[int, dict[str, Any]], None]


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM, SIGHUP and SIGINT raise ``KeyboardInterrupt`` in the block, so that its clean-up
    (workers terminated, network namespaces deleted) runs instead of the default death that left
    them behind; SIGINT too where the process was started with it ignored (a background job of a
    non-interactive shell). Previous handlers come back after the block. Main thread only (Python
    delivers signals there); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    before = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def check_images(images: int, warmup: int) -> None:
    """At least one recorded image and no negative warm-up (every executor's run options)."""
    if images < 1 or warmup < 0:
        raise SplitgymError(f"images: need at least 1 image and warmup >= 0, got {images} and {warmup}")


def _guarded(rank: int, work: Work, cfg: dict[str, Any]) -> None:
    try:
        work(rank, cfg)
    except BaseException as exc:  # noqa: BLE001  (every failure becomes one line for the parent)
        line = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        atomic_write(Path(cfg["dir"], f"error-{rank}.txt"), f"{time.time()!r}\n{line}\n{traceback.format_exc()}")
        os._exit(1)  # no interpreter teardown: a blocked gloo peer must not hang this process


def worker_errors(folder: str | Path) -> list[WorkerError]:
    """The failures workers wrote into ``folder``, earliest first."""
    errors = []
    for f in Path(folder).glob("error-*.txt"):
        lines = f.read_text().splitlines()
        with contextlib.suppress(ValueError, IndexError):
            errors.append((float(lines[0]), int(f.stem.split("-")[1]), lines[1]))
    return sorted(errors)


def launch(
    work: Work,
    cfg: dict[str, Any],
    nprocs: int,
    *,
    timeout_s: float,
    timeout_message: str,
    failure: Callable[[BaseException, list[WorkerError], list[int | None]], str],
    start_method: str = "spawn",
    on_start: Callable[[list[int]], None] | None = None,
) -> float:
    """Run ``work(rank, cfg)`` in ``nprocs`` processes (``cfg["dir"]`` is the run folder); returns
    the wall seconds. A run past ``timeout_s`` raises ``SplitgymError(timeout_message)``; a failed
    worker raises ``SplitgymError(failure(exc, worker_errors, exit_codes))``."""
    import torch.multiprocessing as mp

    # torch logs a warning per process it stops after a failure; the failure is the caller's line
    spawn_log = logging.getLogger("torch.multiprocessing.spawn")
    level = spawn_log.level
    spawn_log.setLevel(logging.ERROR)
    with stop_on_signals():  # a signal still stops and joins every worker (the finally below)
        t0 = time.perf_counter()
        ctx = mp.start_processes(_guarded, args=(work, cfg), nprocs=nprocs, join=False, start_method=start_method)
        if on_start is not None:
            on_start([p.pid for p in ctx.processes])
        # feedback on a terminal (tqdm disables itself elsewhere): a run can take minutes in silence
        bar = tqdm(
            total=nprocs,
            desc=f"{nprocs} processes",
            unit="proc",
            disable=None,
            leave=False,
            bar_format="{desc}: {n}/{total} finished, {elapsed} elapsed",
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not ctx.join(timeout=0.2):
                bar.update(sum(not p.is_alive() for p in ctx.processes) - bar.n)
                if time.monotonic() > deadline:
                    raise SplitgymError(timeout_message)
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
            raise SplitgymError(failure(exc, worker_errors(cfg["dir"]), [p.exitcode for p in ctx.processes])) from None
        finally:
            bar.close()
            spawn_log.setLevel(level)
            for p in ctx.processes:
                if p.is_alive():
                    p.terminate()
            for p in ctx.processes:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join()
        return time.perf_counter() - t0


def _loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return addr == "localhost"


def listening_socket(addr: str, port: int) -> socket.socket:
    """A TCP socket listening on ``addr:port`` only (not on every interface), reusable at once
    after the last run (SO_REUSEADDR: no wait for TIME_WAIT); a busy port is one line."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
    except OSError as exc:
        s.close()
        raise SplitgymError(
            f"port: {addr}:{port} is not free for the rendezvous ({exc.strerror}); pick another or leave it out"
        ) from None
    s.listen(128)
    return s


def init_group(rank: int, world_size: int, cfg: dict[str, Any]) -> None:
    """Form the gloo group of a run with no listener beyond ``cfg["addr"]`` (default 127.0.0.1).

    Why: ``init_method="env://"`` makes rank 0's TCPStore listen on every interface, without
    authentication, whatever ``MASTER_ADDR`` says. Here rank 0 binds the store's socket itself to
    the address (loopback for a single-host run, the interface the user names otherwise) and hands
    it to the store (``master_listen_fd``); on loopback gloo's own pair sockets are put on ``lo``
    too (``GLOO_SOCKET_IFNAME``), unless the run's network namespace already named a veth."""
    import torch.distributed as dist

    addr, port = str(cfg.get("addr", "127.0.0.1")), int(cfg["port"])
    if _loopback(addr):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    timeout = datetime.timedelta(seconds=float(cfg["timeout_s"]))
    if rank == 0:
        sock = listening_socket(addr, port)
        store = dist.TCPStore(addr, port, world_size, True, timeout, master_listen_fd=sock.detach())
    else:
        store = dist.TCPStore(addr, port, world_size, False, timeout)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=timeout)


def free_port(addr: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])
