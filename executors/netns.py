"""Real shaped links on one machine: a Linux network namespace per device process.

Every rank of the distributed executor (plan devices and the requester) gets its own network
namespace with one veth interface; the other ends of the veths sit on a bridge in a namespace of
their own, so the ranks form a switched LAN that touches nothing of the host's network. Each
device's link is shaped with a ``tc`` token bucket (``tbf``, rate = the device's bandwidth cap) on
both sides of its veth: on its own side (what it sends) and on the bridge side (what it receives).
A transfer from ``a`` to ``b`` thus crosses a ``cap_a`` and a ``cap_b`` shaper and gets
``min(cap_a, cap_b)`` Mbps, the simulator's pair rule
(:class:`~splitgym.costmodels.network.Network`). Choices:

- Latency is not put on the wire: this machine's kernel has no ``sch_netem`` (``tc qdisc add ...
  netem`` answers "Specified qdisc kind is unknown"; tbf and htb exist). The executor's sender
  thread waits the plan's one-way latency and per-transfer overhead before each send instead, so
  only the bandwidth is really shaped; :attr:`ShapedLan.wire_latency` says which is the case.
- tbf's bucket holds 1 ms of traffic at the rate (at least 16 KB, so one 9 KB jumbo frame fits)
  and its queue 8 MB: a whole feature map can be in flight without tail drops, which would turn
  TCP's congestion control, not the rate, into what is measured.
- Addresses 10.<k>.<rank>.<n>/16 with k chosen from the process id, so concurrent runs do not
  collide; namespace names ``sg<pid>-<rank>`` and ``sg<pid>-br``; every namespace (and with it
  every veth) is deleted when the context exits, also after a failure, and namespaces left by a
  killed run of a process that no longer exists are removed on the next start.

Workers enter their namespace with ``setns(2)`` (through libc; ``os.setns`` needs Python 3.12)
as the first thing they do, before any socket exists, and name their veth in
``GLOO_SOCKET_IFNAME`` so that gloo binds to it.
:class:`HostPair` is the two-host case for commands meant for separate machines (``torchrun
--nnodes 2``): two namespaces joined directly by one shaped veth pair, commands started in them
with ``ip netns exec``, and every process left inside them stopped before they are deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from splitgym.costmodels.errors import SplitgymError

__all__ = ["ShapedLan", "HostPair", "netns_pids", "netns_available", "enter_netns", "remove_stale", "check_links"]

_NETNS_DIR = Path("/var/run/netns")
_CLONE_NEWNET = 0x40000000
_NAME = re.compile(r"^sg(\d+)-(\w+)$")


def netns_available() -> str | None:
    """None when real shaped links can be built here, else the one-line reason."""
    if os.geteuid() != 0:
        return "links: 'netns' needs root (CAP_NET_ADMIN) to create network namespaces and shape them with tc"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"links: 'netns' needs the {tool!r} command (iproute2) on PATH"
    return None


def check_links(links: str, known: tuple[str, ...], emulated: str) -> None:
    """The link-mode check every multi-process executor makes before a process starts: a known
    mode, and for ``"netns"`` a machine that can make namespaces (``emulated`` says, in the
    message, what ``--links emulated`` would wait instead)."""
    if links not in known:
        raise SplitgymError(f"links: unknown link mode {links!r} (known: {', '.join(known)})")
    if links == "netns" and (why := netns_available()):
        raise SplitgymError(f"{why}; use --links emulated ({emulated})")


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SplitgymError(f"links: {' '.join(cmd)} failed: {res.stderr.strip() or res.returncode}")


def _tbf(dev: str, ns: str, cap: float) -> None:
    """Shape what ``dev`` (in namespace ``ns``) sends to ``cap`` Mbps (the module doc: bucket, queue)."""
    burst = max(16_000, int(cap * 1e6 / 8 * 1e-3))
    args = ("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", f"{cap:g}mbit", "burst", str(burst))
    _ip(*args, "limit", str(8_000_000), ns=ns)


def remove_stale() -> list[str]:
    """Delete namespaces named by a splitgym run whose process has gone (a killed run)."""
    removed = []
    if not _NETNS_DIR.exists():
        return removed
    for entry in _NETNS_DIR.iterdir():
        m = _NAME.match(entry.name)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            subprocess.run(["ip", "netns", "del", entry.name], capture_output=True)
            removed.append(entry.name)
    return removed


def enter_netns(name: str) -> None:
    """Move the calling thread (call it before any other thread or socket exists) into ``name``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(_NETNS_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise SplitgymError(f"links: cannot enter network namespace {name!r} ({os.strerror(err)})")
    finally:
        os.close(fd)


@dataclass
class ShapedLan:
    """A context manager that builds the namespaces, veths, bridge and shapers for ranks with
    the given caps (Mbps) and one-way latency, and tears all of it down on exit."""

    caps_mbps: list[float]
    tag: str = field(default_factory=lambda: str(os.getpid()))
    namespaces: list[str] = field(default_factory=list)
    wire_latency: ClassVar[bool] = False  # see the module docstring: no netem here, the sender waits

    def __post_init__(self) -> None:
        for r, cap in enumerate(self.caps_mbps):
            if not cap > 0:
                raise SplitgymError(f"links: bandwidth of rank {r} must be > 0 Mbps, got {cap}")
        if len(self.caps_mbps) > 250:
            raise SplitgymError(f"links: at most 250 ranks on one shaped LAN, got {len(self.caps_mbps)}")
        self._subnet = int(self.tag) % 200 + 20

    def ns(self, rank: int) -> str:
        return f"sg{self.tag}-{rank}"

    @property
    def bridge_ns(self) -> str:
        return f"sg{self.tag}-br"

    def ifname(self, rank: int) -> str:
        return f"v{rank}"

    def addr(self, rank: int) -> str:
        return f"10.{self._subnet}.{rank // 250}.{rank % 250 + 1}"

    def __enter__(self) -> ShapedLan:
        why = netns_available()
        if why:
            raise SplitgymError(why)
        remove_stale()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        br = self.bridge_ns
        _ip("ip", "netns", "add", br)
        self.namespaces.append(br)
        _ip("ip", "link", "add", "br0", "type", "bridge", ns=br)
        _ip("ip", "link", "set", "br0", "up", ns=br)
        for r, cap in enumerate(self.caps_mbps):
            ns, dev, peer = self.ns(r), self.ifname(r), f"b{r}"
            _ip("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            _ip("ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name", peer, "netns", br)
            _ip("ip", "addr", "add", f"{self.addr(r)}/16", "dev", dev, ns=ns)
            _ip("ip", "link", "set", dev, "up", ns=ns)
            _ip("ip", "link", "set", "lo", "up", ns=ns)
            _ip("ip", "link", "set", peer, "master", "br0", ns=br)
            _ip("ip", "link", "set", peer, "up", ns=br)
            _tbf(dev, ns, cap)  # what rank r sends
            _tbf(peer, br, cap)  # what rank r receives

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()


def netns_pids(name: str) -> list[int]:
    """The processes inside network namespace ``name`` (``ip netns pids``; none once it is gone)."""
    res = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(p) for p in res.stdout.split()] if res.returncode == 0 else []


@dataclass
class HostPair:
    """Two "hosts" on this machine for multi-host commands (``torchrun --nnodes 2``): namespaces
    ``sg<tag>-h0`` and ``sg<tag>-h1`` joined by one veth pair (interfaces ``h0`` and ``h1``,
    addresses :meth:`addr`), each end shaped by tbf to ``mbps`` (what that host sends), ``lo`` up
    in both. A context manager: on exit every process still inside either namespace (a command
    started with :meth:`exec_argv` and whatever it started, in its own session or not) is stopped,
    SIGTERM first and SIGKILL after ``grace_s``, and then the namespaces are deleted."""

    mbps: float = 100.0
    tag: str = field(default_factory=lambda: str(os.getpid()))
    grace_s: float = 5.0
    namespaces: list[str] = field(default_factory=list)

    def ns(self, host: int) -> str:
        return f"sg{self.tag}-h{host}"

    def ifname(self, host: int) -> str:
        return f"h{host}"

    def addr(self, host: int) -> str:
        return f"10.{int(self.tag) % 200 + 20}.0.{host + 1}"

    def exec_argv(self, host: int, argv: list[str]) -> list[str]:
        """``argv`` run on ``host``, with gloo bound to its veth (``GLOO_SOCKET_IFNAME``)."""
        return ["ip", "netns", "exec", self.ns(host), "env", f"GLOO_SOCKET_IFNAME={self.ifname(host)}", *argv]

    def pids(self) -> list[int]:
        """The processes now running on either host."""
        return [pid for ns in self.namespaces for pid in netns_pids(ns)]

    def __enter__(self) -> HostPair:
        if not self.mbps > 0:
            raise SplitgymError(f"links: bandwidth must be > 0 Mbps, got {self.mbps}")
        why = netns_available()
        if why:
            raise SplitgymError(why)
        remove_stale()
        try:
            for h in (0, 1):
                _ip("ip", "netns", "add", self.ns(h))
                self.namespaces.append(self.ns(h))
            a, b = self.ifname(0), self.ifname(1)
            _ip("ip", "link", "add", a, "netns", self.ns(0), "type", "veth", "peer", "name", b, "netns", self.ns(1))
            for h in (0, 1):
                _ip("ip", "addr", "add", f"{self.addr(h)}/24", "dev", self.ifname(h), ns=self.ns(h))
                _ip("ip", "link", "set", self.ifname(h), "up", ns=self.ns(h))
                _ip("ip", "link", "set", "lo", "up", ns=self.ns(h))
                _tbf(self.ifname(h), self.ns(h), self.mbps)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> list[int]:
        """Stop every process on either host (they are this pair's: nothing else enters its
        namespaces); returns the ones that were running."""
        found = self.pids()
        for sig, wait_s in ((signal.SIGTERM, self.grace_s), (signal.SIGKILL, 5.0)):
            left = self.pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = self.pids()
            if not left:
                break
        return found

    def close(self) -> None:
        self.stop()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()
