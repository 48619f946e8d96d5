"""A distributed run stopped by SIGTERM, SIGHUP or SIGINT (also one started with SIGINT ignored,
as a background job is) leaves no worker process and no network namespace behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitgym.executors import netns

ROOT = Path(__file__).resolve().parent.parent
LINKS = "netns" if netns.netns_available() is None else "emulated"

RUN = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
if __name__ == "__main__":
    from tests.test_executor_distributed import uneven_plan
    from splitgym.executors.volumes import volume_distributed as dx
    try:
        dx.run_distributed(uneven_plan(2), images=10000, warmup=0, links={LINKS!r}, timeout_s=600)
    except KeyboardInterrupt as exc:
        print("stopped by", exc, flush=True)
        sys.exit(130)
"""


def _children(pid: int) -> list[int]:
    """Live worker processes (multiprocessing spawn) of ``pid``."""
    out = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmd:
            out.append(int(p))
    return out


def _namespaces(pid: int) -> list[str]:
    folder = Path("/var/run/netns")
    return sorted(e.name for e in folder.iterdir() if e.name.startswith(f"sg{pid}-")) if folder.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "ignore_int"),
    [(signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGHUP", "SIGINT-background"],
)
def test_a_stopped_run_leaves_no_worker_and_no_namespace(sig: signal.Signals, ignore_int: bool) -> None:
    def background() -> None:
        if ignore_int:  # what a non-interactive shell does to a job started with &
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-c", RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=background
    )
    try:
        deadline = time.monotonic() + 300
        while len(_children(proc.pid)) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        workers = _children(proc.pid)
        assert len(workers) >= 3, proc.stderr.read() if proc.poll() is not None else "workers never started"
        if LINKS == "netns":
            assert _namespaces(proc.pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert out.strip() == f"stopped by {sig.name}"
    assert not [w for w in workers if Path(f"/proc/{w}").exists() and _state(w) != "Z"]
    assert _namespaces(proc.pid) == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
