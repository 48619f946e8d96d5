"""The ``neurons`` kind's runner: HyPS's manager, memory-limited workers and hub (``hub``), one
image, every feature map persisted in the run folder so that running again resumes.

Per device, ``compute_s`` is its workers' forward passes and ``transfer_s`` the feature maps'
communication (pipes, plus the plan's link time with ``links="emulated"``); ``detail["partitions"]``
is the per-partition breakdown (:mod:`hub_timing`), which the CLI prints."""

from __future__ import annotations

from pathlib import Path

import torch

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.executors.neurons.hyps_hub import Hub, run_hyps
from splitgym.executors.run import Run, register_runner

__all__ = ["run_neurons_hub"]


@register_runner("neurons", "hub")
def run_neurons_hub(plan: Plan, folder: str | Path | None = None, links: str = "none") -> Run:
    if folder is None:
        raise ConfigError("folder: the hub backend needs a run folder (--folder; an existing one resumes)")
    _, h, w = plan.model.input
    g = ModelGraph.from_torchvision(plan.model.name, (h, w))
    resume = "input" in Hub(folder).done()
    x = None if resume else torch.randn(1, *plan.model.input, generator=torch.Generator().manual_seed(0))
    res = run_hyps(plan, g, x, folder, links=links)
    with torch.no_grad():
        ref = g.gm(Hub(folder).get("input"))
    err = float((res.output - ref).abs().max())
    detail = {
        "folder": str(res.folder),
        "resumed": resume,
        "computed": res.computed,
        "reused": res.reused,
        "seconds": res.seconds,
        "links": links,
        "partitions": res.partitions,
    }
    compute = {d.name: 0.0 for d in plan.devices}
    transfer = dict(compute)
    for p in res.parts:
        compute[p["device"]] += p["compute_s"]
        transfer[p["device"]] += p["communication_s"]
    moved = sum(p["input_bytes"] + p["output_bytes"] for p in res.parts)
    latency = [res.seconds] if not resume else []
    return Run(plan.kind, "hub", plan.method, latency, compute, transfer, moved, err, float(ref.abs().max()), detail)
