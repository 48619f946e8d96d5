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
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import SplitgymError

__all__ = ["launch", "worker_errors", "WorkerError", "check_images", "free_port"]

#: (time of failure, rank, one-line message)
WorkerError = tuple[float, int, str]
Work = Callable[[int, dict[str, Any]], None]


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


def free_port(addr: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])
