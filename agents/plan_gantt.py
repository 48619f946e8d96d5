"""A volume plan's schedule as a Gantt chart (devices x time, compute and transfers).

TensorBoard shows it under ``best/plan`` whenever training finds a better plan: a latency number
says *that* a plan improved, the chart says *why* (which device idles, which transfer it waits
for). The bars come from the simulator's :class:`Breakdown`, under its own schedule (README,
Simulator): a part's compute ends at its accumulated latency ``T[v, k]`` and lasts ``compute[v,
k]``; a sender starts a transfer when its part of the previous volume is done (the requester at
t = 0), transfers overlapping each other; the head gathers after the last volume and sends the
result to the requester.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in tests

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from splitgym.costmodels.volumes.volume_simulator import Breakdown  # noqa: E402

__all__ = ["gantt_bars", "plan_gantt"]


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


def plan_gantt(b: Breakdown, title: str = "") -> Figure:
    """The chart: one row per device (and the requester when it receives the result); compute as
    full bars, transfers as thin hatched bars just under their receiver's compute."""
    bars = gantt_bars(b)
    rows = list(b.devices) + sorted({x["row"] for x in bars} - set(b.devices))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.4), dpi=80)
    for x in bars:
        y = rows.index(x["row"])
        start_ms, width_ms = x["start_s"] * 1e3, x["seconds"] * 1e3
        if x["kind"] == "compute":
            ax.barh(y, width_ms, left=start_ms, height=0.5, color="tab:blue", edgecolor="black", linewidth=0.4)
        else:
            ax.barh(y + 0.38, width_ms, left=start_ms, height=0.2, color="tab:orange", hatch="//", linewidth=0)
    ax.axvline(b.latency * 1e3, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title(title or f"best plan: {b.latency * 1e3:.2f} ms")
    ax.legend(
        handles=[Patch(color="tab:blue", label="compute"), Patch(color="tab:orange", hatch="//", label="transfer in")],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
    )
    fig.tight_layout()
    return fig
