"""A plan's schedule as a Gantt chart (devices x time, compute and transfers).

TensorBoard shows it under ``best/plan`` whenever training finds a better plan: a latency number
says *that* a plan improved, the chart says *why* (which device idles, which transfer it waits
for). The bars come from the simulator's :class:`Breakdown`, under its own schedule (README,
Simulator): a part's compute ends at its accumulated latency ``T[v, k]`` and lasts ``compute[v,
k]``; a sender starts a transfer when its part of the previous volume is done (the requester at
t = 0), transfers overlapping each other; the head gathers after the last volume and sends the
result to the requester. A tile plan (NPTP) follows its cost model, which adds each device's halo
receive time to its compute (one block per device, the per-layer exchanges summed), then the head
gathers the last tiles and runs.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in tests

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from splitgym.costmodels.tiles.tile_cost import TileScore  # noqa: E402
from splitgym.costmodels.volumes.volume_simulator import Breakdown  # noqa: E402

__all__ = ["gantt_bars", "tile_bars", "plan_gantt", "tile_gantt", "draw_gantt"]


def _sent_at(b: Breakdown, t: dict[str, Any]) -> float:
    """When transfer ``t`` leaves its sender: the sender's part of the previous volume is done."""
    v = int(t["volume"])
    if t["src"] not in b.devices:  # the requester holds the image at t = 0
        return 0.0
    k = b.devices.index(t["src"])
    if t["dst"] not in b.devices:  # the result, after the head's compute
        return b.head_start + b.head_seconds
    return float(b.T[v - 1, k]) if v > 0 else 0.0


def gantt_bars(b: Breakdown) -> list[dict[str, Any]]:
    """One bar per part's compute, the head's compute and every transfer (on its receiver's row):
    ``row``, ``kind`` (compute | transfer), ``start_s``, ``seconds``, ``label``."""
    bars = []
    for v in range(len(b.volumes)):
        for k, name in enumerate(b.devices):
            c = float(b.compute[v, k])
            if c > 0:
                bars.append(
                    {"row": name, "kind": "compute", "start_s": float(b.T[v, k]) - c, "seconds": c, "label": f"V{v}"}
                )
    if b.head_device is not None and b.head_seconds > 0:
        bars.append(
            {
                "row": b.head_device,
                "kind": "compute",
                "start_s": b.head_start,
                "seconds": b.head_seconds,
                "label": "head",
            }
        )
    for t in b.transfers:
        bars.append(
            {
                "row": t["dst"],
                "kind": "transfer",
                "start_s": _sent_at(b, t),
                "seconds": float(t["seconds"]),
                "label": f"{t['src']}->{t['dst']}",
            }
        )
    return bars


def tile_bars(s: TileScore) -> list[dict[str, Any]]:
    """A tile plan's bars: per device its halo receive time then its compute (the cost model's
    sum), the head's gather of the last tiles and the head."""
    bars = []
    for k, name in enumerate(s.devices):
        comm, comp = float(s.comm_seconds[k]), float(s.compute[k])
        if comm > 0:
            bars.append({"row": name, "kind": "transfer", "start_s": 0.0, "seconds": comm, "label": "halo"})
        if comp > 0:
            bars.append({"row": name, "kind": "compute", "start_s": comm, "seconds": comp, "label": "tile"})
    ready = s.end_to_end - s.head_seconds
    if s.gather_seconds > 0:
        bars.append(
            {
                "row": s.head_device,
                "kind": "transfer",
                "start_s": ready - s.gather_seconds,
                "seconds": s.gather_seconds,
                "label": "gather",
            }
        )
    if s.head_seconds > 0:
        bars.append(
            {"row": s.head_device, "kind": "compute", "start_s": ready, "seconds": s.head_seconds, "label": "head"}
        )
    return bars


def plan_gantt(b: Breakdown, title: str = "") -> Figure:
    """A volume plan's chart (the simulator's breakdown)."""
    return draw_gantt(gantt_bars(b), list(b.devices), b.latency, title or f"best plan: {b.latency * 1e3:.2f} ms")


def tile_gantt(s: TileScore, title: str = "") -> Figure:
    """A tile plan's chart (the tile cost model's score)."""
    return draw_gantt(tile_bars(s), list(s.devices), s.end_to_end, title or f"best plan: {s.end_to_end * 1e3:.2f} ms")


def draw_gantt(bars: list[dict[str, Any]], devices: list[str], end_s: float, title: str) -> Figure:
    """One row per device (and any other receiver, e.g. the requester); compute as full bars,
    transfers as thin hatched bars just under their receiver's compute; a dashed line at the end."""
    rows = devices + sorted({x["row"] for x in bars} - set(devices))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.4), dpi=80)
    for x in bars:
        y = rows.index(x["row"])
        start_ms, width_ms = x["start_s"] * 1e3, x["seconds"] * 1e3
        if x["kind"] == "compute":
            ax.barh(y, width_ms, left=start_ms, height=0.5, color="tab:blue", edgecolor="black", linewidth=0.4)
        else:
            ax.barh(y + 0.38, width_ms, left=start_ms, height=0.2, color="tab:orange", hatch="//", linewidth=0)
    ax.axvline(end_s * 1e3, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title(title)
    ax.legend(
        handles=[Patch(color="tab:blue", label="compute"), Patch(color="tab:orange", hatch="//", label="transfer in")],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
    )
    fig.tight_layout()
    return fig
