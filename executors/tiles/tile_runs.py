"""The ``tiles`` kind's runners: every tile in this process (``local``: per-device compute timed
alone, halos assembled between layers) or one gloo process per device (``distributed``)."""

from __future__ import annotations

import torch

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.tiles.tile_cost import score_tiles
from splitgym.executors.run import Run, register_runner
from splitgym.executors.tiles.tile_runner import TileExecutor, run_tiles_distributed

__all__ = ["run_tiles_local", "run_tiles"]


def _graph(plan: Plan) -> ModelGraph:
    return ModelGraph.from_torchvision(plan.model.name, tuple(plan.model.input[1:]))


@register_runner("tiles", "local")
def run_tiles_local(plan: Plan, images: int = 5, threads: int = 1) -> Run:
    """Each device's compute timed alone (median of ``images`` repeats); the latency is the slowest
    device's compute, with free links (the cost model adds the halo messages)."""
    torch.set_num_threads(threads)
    g = _graph(plan)
    ex = TileExecutor(plan, g)
    x = torch.randn(1, *plan.model.input, generator=torch.Generator().manual_seed(1))
    _, out = ex.run(x)
    with torch.inference_mode():
        ref = g.gm(x)
    err = float((out - ref).abs().max()) if out is not None else 0.0
    measured = ex.run_timed(x, repeats=max(1, images))
    names = [d.name for d in plan.devices]
    sc = score_tiles(g, rects=plan)
    detail = {
        "per_device": [
            {"device": n, "measured_ms": m * 1e3, "predicted_ms": p * 1e3, "halo_KB": b / 1024}
            for n, m, p, b in zip(sc.devices, measured, sc.compute, sc.comm_bytes)
        ],
        "moved_bytes": int(sum(ex.moved_bytes)),
        "modelled_bytes": int(sc.total_bytes),
    }
    return Run(
        plan.kind,
        "local",
        plan.method,
        [max(measured)],
        dict(zip(names, measured)),
        dict.fromkeys(names, 0.0),
        int(sum(ex.moved_bytes)),
        err,
        float(ref.abs().max()),
        detail,
    )


@register_runner("tiles", "distributed")
def run_tiles(
    plan: Plan,
    images: int = 5,
    links: str = "none",
    warmup: int = 0,
    threads: int = 1,
    port: int | None = None,
    timeout_s: float = 300.0,
) -> Run:
    res = run_tiles_distributed(
        plan, timeout_s=timeout_s, port=port, links=links, images=images, warmup=warmup, threads=threads
    )
    sc = score_tiles(_graph(plan), rects=plan)
    detail = res.to_json() | {"predicted_s": sc.end_to_end, "modelled_bytes": int(sc.total_bytes)}
    return Run(
        plan.kind,
        "distributed",
        plan.method,
        list(res.latency_s),
        dict(res.compute_s),
        dict.fromkeys(res.devices, 0.0),
        int(sum(res.bytes_sent.values())),
        max(res.feature_error, res.output_error),
        0.0,
        detail,
    )
