"""A single-host distributed run listens on loopback only, and a busy port is one line."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from pathlib import Path

import pytest

from splitgym.costmodels.errors import SplitgymError
from splitgym.executors.launch import listening_socket
from splitgym.executors.volumes import volume_distributed as dx

from .test_executor_distributed import spawned_children, uneven_plan


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6}'s local address (little-endian 32-bit words) as an address."""
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(words)
    return addr.ipv4_mapped or addr if isinstance(addr, ipaddress.IPv6Address) else addr


def listeners(pids: list[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that one of ``pids`` holds (what
    ``ss -ltnp`` shows, read from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                host, port = f[1].split(":")
                found.add((str(_address(host)), int(port, 16)))
    return found


@pytest.mark.slow
def test_a_single_host_run_listens_on_loopback_only() -> None:
    seen: set[tuple[str, int]] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.update(listeners(spawned_children()))
            stop.wait(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        res = dx.run_distributed(uneven_plan(2), images=1, warmup=0, timeout_s=400)
    finally:
        stop.set()
        watcher.join()
    assert res.max_abs_error < 1e-3
    assert seen, "no listener seen during the run: the watcher saw nothing to check"
    assert {a for a, _ in seen} == {"127.0.0.1"}, seen


def test_a_busy_port_is_one_line_and_a_freed_one_is_reusable_at_once() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SplitgymError, match=rf"port: 127.0.0.1:{port} is not free for the rendezvous") as err:
            dx.run_distributed(uneven_plan(2), images=1, port=port)
        assert "\n" not in str(err.value)
    # a connection left in TIME_WAIT does not block the next run's bind (SO_REUSEADDR)
    server = listening_socket("127.0.0.1", 0)
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server side closes first: its end waits in TIME_WAIT
    client.close()
    server.close()
    listening_socket("127.0.0.1", port).close()
