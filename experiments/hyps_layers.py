"""HyPS's layer-wise experiment (HY Figs. 7-9): VGG-16 cut into its 21 layers, one partition each.

    python -m splitgym.experiments.hyps_tables layers             # model + persisted sizes
    python -m splitgym.experiments.hyps_tables layers --measured  # and a real hub run

The paper cuts VGG-16 after every layer (21 V-partitions, HY L278), runs them one after another
on a Pi with the hub in between, and plots per partition the communication overhead (Fig. 8) and
the output feature map size it measured (Fig. 9); fc6 could not run on the Pi and was offloaded to
a PC, its values ignored (HY L292). The text gives no values, only the shape: communication falls
with depth, follows the feature-map size, has local minima at the pooling layers (Fig. 9's orange
arrows), and the parameter count does not drive it (HY L294-L303). So the paper's column holds
those statements, and the claims rows check them on ours.

Ours, per layer: parameters, output shape and fp32 bytes; ``saved_bytes``, the size of the file
the hub persists for that map (``torch.save``, what crosses to and sits in the hub); the modelled
output transfer on ``pi-lan`` and compute on a derived Pi 3B+ (:mod:`hyps_cost`, the same
layer-wise plan). With ``--measured``, the plan runs on the real hub executor (one worker, no
memory limit: fc6 runs whole, as on the paper's PC; ``--links emulated`` on ``pi-lan``) and each
partition's measured communication and compute (:mod:`hub_timing`) join the row.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any

import torch

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.hyps_cost import score_hybrid
from splitgym.costmodels.neurons.neuron_spans import Span, layer_spans
from splitgym.costmodels.plan import NeuronPart, NeuronSplit, Plan, Stage

__all__ = ["layerwise_plan", "vgg_names", "table_layers", "layer_claims"]


def vgg_names(spans: list[Span]) -> list[str]:
    """The paper's names of VGG's layers: conv1_1 .. pool5, fc6 .. fc8."""
    names, block, i, fc = [], 1, 1, 6
    for s in spans:
        if s.unit is None:
            names.append(f"fc{fc}")
            fc += 1
        elif s.pool:
            names.append(f"pool{block}")
            block, i = block + 1, 1
        else:
            names.append(f"conv{block}_{i}")
            i += 1
    return names


def layerwise_plan(base: Plan, graph: ModelGraph) -> Plan:
    """``base``'s first device running every layer as its own partition: one stage per unit and
    every head layer as a one-part neuron split (a partition of its own)."""
    dev = base.devices[0].name
    spans = layer_spans(graph)
    stages = [Stage(device=dev, first=u, last=u) for u in range(graph.num_units)]
    splits = [
        NeuronSplit(layer=s.name, parts=[NeuronPart(device=dev, start=0, end=s.neurons)])
        for s in spans
        if s.unit is None
    ]
    return base.evolve(stages=stages, neuron_splits=splits, head_device=None)


def _saved_bytes(t: torch.Tensor) -> int:
    buf = io.BytesIO()
    torch.save(t.clone(), buf)
    return buf.getbuffer().nbytes


def _hub_rows(plan: Plan, graph: ModelGraph) -> dict[int, dict[str, Any]]:
    """Per partition index, the real hub run's breakdown (no memory limit, emulated links)."""
    from splitgym.executors.neurons.hyps_hub import run_hyps

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        res = run_hyps(
            plan, graph, torch.randn(1, 3, 224, 224), d, budgets_mb={plan.devices[0].name: None}, links="emulated"
        )
    return {r["partition"]: r for r in res.partitions}


def table_layers(graph: ModelGraph, base: Plan, measured: bool = False) -> list[dict[str, Any]]:
    """One row per layer (the module docstring says what each column is)."""
    spans = layer_spans(graph)
    plan = layerwise_plan(base, graph)
    score = score_hybrid(plan, graph)
    hub = _hub_rows(plan, graph) if measured else {}
    torch.manual_seed(0)
    y = torch.randn(1, 3, 224, 224)
    rows = []
    with torch.no_grad():
        from splitgym.executors.neurons.neuron_modules import partition_module

        for s, name, p in zip(spans, vgg_names(spans), score.partitions):
            y = partition_module(graph, spans, s.index, s.index)(y)
            row = {
                "layer": f"L{s.index + 1}",
                "name": name,
                "kind": s.kind,
                "params": s.params,
                "output_shape": "x".join(str(v) for v in y.shape[1:]),
                "output_bytes": s.out_bytes,
                "saved_bytes": _saved_bytes(y),
                "model_output_transfer_s": p["out_s"],
                "model_compute_s": p["compute_s"],
                "paper": _paper_note(s, name),
            }
            if measured:
                h = hub.get(p["partition"], {})
                row.update(
                    hub_output_s=h.get("output_s"),
                    hub_communication_s=h.get("communication_s"),
                    hub_compute_s=h.get("compute_s"),
                )
            rows.append(row)
    return rows


def _paper_note(s: Span, name: str) -> str:
    if name == "fc6":
        return "offloaded to a PC (blue star), ignored"
    return "local minimum (orange arrow)" if s.pool else ""


def _local_minima(values: list[float]) -> list[int]:
    """Indices not above either neighbour and below at least one (a plateau's first point counts:
    pool4's 14x14x512 output is as large as conv5_1's)."""
    return [
        i
        for i in range(1, len(values) - 1)
        if max(values[i - 1], values[i + 1]) > values[i] <= min(values[i - 1], values[i + 1])
    ]


def _rank_corr(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (no ties expected to matter here)."""
    ra = torch.tensor(a, dtype=torch.float64).argsort().argsort().double()
    rb = torch.tensor(b, dtype=torch.float64).argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def layer_claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """H11 on the layer-wise table: minima at pools, communication following size, not parameters."""
    runs = [r for r in rows if r["name"] != "fc6"]  # the paper ignores fc6 (offloaded)
    sizes = [r["saved_bytes"] for r in runs]
    pools = [r["name"] for r in runs if r["name"].startswith("pool")]
    minima = [runs[i]["name"] for i in _local_minima(sizes)]
    measured = all(r.get("hub_output_s") is not None for r in runs[1:])  # L1 runs in the manager
    comm_key = "hub_output_s" if measured else "model_output_transfer_s"
    runs = runs[1:] if measured else runs
    size = [r["saved_bytes"] for r in runs]
    comm = [r[comm_key] for r in runs]
    return [
        {
            "claim": "output size has local minima at the pooling layers (H11, Fig. 9)",
            "paper": "yes (orange arrows)",
            "ours": f"minima at {', '.join(minima)} (pools: {', '.join(pools)}; the paper's fc6 left out)",
        },
        {
            "claim": "communication follows the feature-map size (H11, Fig. 8)",
            "paper": "directly correlated",
            "ours": f"Spearman {_rank_corr(size, comm):.2f} ({comm_key})",
        },
        {
            "claim": "parameter count does not drive communication (H11)",
            "paper": "no",
            "ours": f"Spearman {_rank_corr([r['params'] for r in runs], comm):.2f} (params vs {comm_key})",
        },
    ]


def plot_layers(rows: list[dict[str, Any]], out: Any) -> None:
    """Figs. 8/9 side by side: output transfer per layer and the persisted map size, pools marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(14, 4))
    x = list(range(1, len(rows) + 1))
    comm_key = "hub_output_s" if rows[-1].get("hub_output_s") is not None else None
    ax[0].plot(x, [r["model_output_transfer_s"] * 1e3 for r in rows], marker="o", label="model: output to hub (pi-lan)")
    if comm_key:
        got = [(i, r[comm_key] * 1e3) for i, r in zip(x, rows) if r[comm_key] is not None]
        ax[0].plot(*zip(*got), marker="s", label="hub run: output to hub (emulated pi-lan + pipe)")
    ax[0].set(xlabel="layer (V-partition)", ylabel="ms", title="Communication per layer (Fig. 8)", yscale="log")
    ax[1].bar(
        x,
        [r["saved_bytes"] / 2**20 for r in rows],
        color=["tab:orange" if r["name"].startswith("pool") else "tab:blue" for r in rows],
    )
    ax[1].set(
        xlabel="layer (V-partition)",
        ylabel="MiB (torch.save)",
        title="Output feature map size (Fig. 9; pools orange)",
        yscale="log",
    )
    for a in ax:
        a.set_xticks(x, [r["name"] for r in rows], rotation=90, fontsize=7)
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
