"""Measure the executors' real transport and write a link table (bytes x bandwidth -> seconds).

    splitgym profile-links [--where loopback|netns|both] [--caps 50,300] [--sizes 4,65536,1048576]
        [--messages 40] [--repeats 3] [-o links.json]

Two processes join one gloo group and ping-pong messages the distributed executor's way: its
``_Sender`` (a sender thread per process) and ``irecv(...).wait()``, as
:mod:`~splitgym.experiments.bench_hosts` times them (``executor`` mode), while ``--busy``
processes compute (default 1: a distributed run's other device). One-way seconds = the *mean*
round trip / 2 (a message's cost is bimodal on a shared CPU: ~0.2 ms when a core is free, a
scheduler tick of 2-4 ms when not, and it is the mean that adds up along a plan); a row per
(cap, size) holds the median over ``--repeats``. (Heavy imports wait inside the functions: the
CLI builds this verb's parser on every call.)

- ``loopback``: both processes on 127.0.0.1 (no cap: ``mbps`` null), gloo's bare per-message cost;
- ``netns`` (root, iproute2): the processes on two network namespaces joined by one veth pair
  shaped by tc tbf at each ``--caps`` value (:class:`~splitgym.executors.netns.HostPair`), what
  ``--links netns`` runs cross.

The table is fitted with :func:`~splitgym.costmodels.link_table.fit_links` (one per-message
overhead for all caps, an effective rate per cap) and written as a self-describing JSON (machine,
torch, load before and after, the rows, the fit). A network YAML names it with ``links: file.json``
(relative to the YAML): the fitted overhead is then charged on every transfer by the cost models
(the network's ``transport_ms``) but never waited by the executors, which pay it for real.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.experiments.cli_args import bounded_int

__all__ = ["measure", "table", "main"]

PORT = 29500  # inside a HostPair each host is its own namespace: nothing else listens there


def _worker(args: argparse.Namespace) -> int:
    """One side of the ping-pong; rank 0 writes one-way seconds per (size, repeat) to ``--out``."""
    import torch
    import torch.distributed as dist

    from splitgym.experiments.bench_hosts import _roundtrips

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR=args.addr, MASTER_PORT=str(args.port))
    dist.init_process_group("gloo", rank=args.rank, world_size=2, timeout=datetime.timedelta(seconds=120))
    for size in args.sizes:  # warm-up: connections and buffers of every size
        _roundtrips(dist, "executor", args.rank, size, 5)
    rows = []
    for rep in range(args.repeats):
        for size in args.sizes:
            dist.barrier()
            rtt = _roundtrips(dist, "executor", args.rank, size, args.messages)
            rows.append({"repeat": rep, "bytes": size, "one_way_s": statistics.fmean(rtt) / 2})
    dist.barrier()
    if args.rank == 0:
        atomic_write(Path(args.out), json.dumps(rows))
    dist.destroy_process_group()
    return 0


def _pair(argvs: list[list[str]], out: Path, env: dict[str, str] | None, timeout_s: float) -> list[dict[str, Any]]:
    """Run both sides (each argv one process), wait, and read rank 0's rows."""
    procs = [subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for a in argvs]
    try:
        logs = [p.communicate(timeout=timeout_s)[0].decode(errors="replace") for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        raise SplitgymError(f"profile-links: the ping-pong took over {timeout_s:g} s") from None
    if any(p.returncode for p in procs):
        tail = " | ".join(line for log in logs for line in log.strip().splitlines()[-2:])
        raise SplitgymError(f"profile-links: ping-pong exit codes {[p.returncode for p in procs]}: {tail}")
    return json.loads(out.read_text())


def _argv(addr: str, port: int, rank: int, sizes: list[int], messages: int, repeats: int, out: Path) -> list[str]:
    return [
        sys.executable,
        *("-m", "splitgym.experiments.profile_links", "worker", "--addr", addr, "--port", str(port)),
        *("--rank", str(rank), "--sizes", ",".join(map(str, sizes))),
        *("--messages", str(messages), "--repeats", str(repeats), "--out", str(out)),
    ]


def measure(
    where: str, sizes: list[int], messages: int, repeats: int, cap: float | None = None, timeout_s: float = 600.0
) -> list[dict[str, Any]]:
    """Rows (``where``, bytes, mbps, repeat, one_way_s) of one ping-pong: on loopback (``cap``
    None) or between two namespaces shaped at ``cap`` Mbps."""
    from splitgym.executors.launch import free_port
    from splitgym.executors.netns import HostPair

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        if where == "loopback":
            port = free_port()
            argvs = [_argv("127.0.0.1", port, r, sizes, messages, repeats, out) for r in (0, 1)]
            rows = _pair(argvs, out, {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}, timeout_s)
        else:
            with HostPair(float(cap or 0.0)) as pair:
                argvs = [pair.exec_argv(h, _argv(pair.addr(0), PORT, h, sizes, messages, repeats, out)) for h in (0, 1)]
                rows = _pair(argvs, out, None, timeout_s)
    return [{"where": where, "mbps": cap, **r} for r in rows]


BUSY = (
    "import torch\ntorch.set_num_threads(1)\nx = torch.randn(1, 64, 56, 56)\n"
    "conv = torch.nn.Conv2d(64, 64, 3, padding=1)\n"
    "with torch.inference_mode():\n    while True:\n        conv(x)\n"
)


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    """``n`` processes computing a convolution at 1 thread for as long as the block runs: the
    load a message meets in a distributed run, where the other devices compute meanwhile."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def table(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (where, cap, bytes): the median one-way seconds over repeats."""
    keys = list(dict.fromkeys((r["where"], r["mbps"], r["bytes"]) for r in raw))
    out = []
    for where, mbps, nbytes in keys:
        got = [r["one_way_s"] for r in raw if (r["where"], r["mbps"], r["bytes"]) == (where, mbps, nbytes)]
        out.append({"where": where, "bytes": nbytes, "mbps": mbps, "seconds": statistics.median(got), "repeats": got})
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="splitgym profile-links", description=__doc__.splitlines()[0])
    p.add_argument("verb", nargs="?", default="profile", choices=["profile", "worker"])
    add_profile_links_args(p)
    p.add_argument("--rank", type=int, default=0)  # worker: this side's rank
    p.add_argument("--addr", default="127.0.0.1")  # worker: rank 0's address
    p.add_argument("--port", type=bounded_int(1, 65535), default=PORT)  # worker: rendezvous port
    p.add_argument("--out", default="")  # worker: rank 0's rows
    return p


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0 or max(values) > 1 << 30:
        raise argparse.ArgumentTypeError(f"expected byte counts in 1..{1 << 30}, got {text!r}")
    return values


def add_profile_links_args(p: argparse.ArgumentParser) -> None:
    """The options of ``splitgym profile-links`` (shared with the CLI's verb)."""
    p.add_argument("--where", default="both", choices=["loopback", "netns", "both"], help="default both (netns: root)")
    p.add_argument("--caps", default="50,300", help="netns bandwidth caps, Mbps (default 50,300)")
    p.add_argument("--sizes", type=_ints, default=[4, 16384, 262144, 1048576], help="message bytes, comma-separated")
    p.add_argument(
        "--messages", type=bounded_int(1, 100_000), default=20, help="round trips per size and repeat (default 20)"
    )
    p.add_argument("--repeats", type=bounded_int(1, 1000), default=3, help="repeats; a row is their median (default 3)")
    p.add_argument(
        "--busy",
        type=bounded_int(0, 64),
        default=1,
        help="processes computing meanwhile (default 1: a distributed run's other device on this 2-core machine)",
    )
    p.add_argument("-o", "--output", default=None, help="write the link table JSON here")


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Measure, fit and describe: the link table document (written to ``--output`` if given)."""
    from splitgym.costmodels.link_table import LINKS_FORMAT, fit_links
    from splitgym.executors.netns import netns_available

    try:
        caps = [float(c) for c in str(args.caps).split(",")]
    except ValueError:
        raise ConfigError(f"caps: expected comma-separated Mbps, got {args.caps!r}") from None
    if args.messages < 1 or args.repeats < 1 or not all(0 < c < math.inf for c in caps):
        raise ConfigError(f"messages/repeats/caps: need >= 1, >= 1, > 0; got {args.messages}/{args.repeats}/{caps}")
    wheres = ["loopback", "netns"] if args.where == "both" else [args.where]
    if "netns" in wheres and (why := netns_available()):
        raise ConfigError(f"where: netns needs root and iproute2 ({why}); use --where loopback")
    load_before = os.getloadavg()
    raw = []
    with busy(args.busy):
        for where in wheres:
            for cap in [None] if where == "loopback" else caps:
                raw += measure(where, args.sizes, args.messages, args.repeats, cap)
    rows = table(raw)
    import torch

    doc = {
        "format": LINKS_FORMAT,
        "version": 1,
        "transport": "torch.distributed gloo, the distributed executor's _Sender + irecv; one-way = round trip / 2",
        "where": wheres,
        "machine": {"node": platform.node(), "processor": platform.processor() or platform.machine()},
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "messages": args.messages,
        "busy": args.busy,
        "argv": sys.argv,
        "rows": rows,
        "fit": fit_links(rows).to_json(),
        "fit_per_where": {w: fit_links([r for r in rows if r["where"] == w]).to_json() for w in wheres},
    }
    if args.output:
        atomic_write(Path(args.output), json.dumps(doc, indent=1) + "\n")
    return doc


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "worker":
        return _worker(args)
    doc = profile(args)
    print(json.dumps({k: doc[k] for k in ("fit", "fit_per_where", "loadavg_before", "loadavg_after")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
