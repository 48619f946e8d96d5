"""The ``volumes`` kind's runners: the in-process executor (``local``) and one process per device
over torch.distributed (``distributed``), both returning a :class:`~splitgym.executors.run.Run`.

``stages`` and ``nodes`` plans are volume plans with more to say (whole volumes on one worker;
processor shares inside a node) and register these same runners (``stage_runs``, ``node_runs``).
"""

from __future__ import annotations

from pathlib import Path

from splitgym.costmodels.plan import Plan
from splitgym.executors.run import Run, register_runner
from splitgym.executors.volumes.volume_distributed import (
    ExecutionResult,
    run_distributed,
    run_local,
)

__all__ = ["run_volumes_local", "run_volumes_distributed", "as_run"]


def as_run(plan: Plan, backend: str, res: ExecutionResult) -> Run:
    """The executor's own result as a :class:`Run`: transfer = emulated link wait + send time."""
    names = [*res.devices, "requester"]
    transfer = {n: res.link_s.get(n, 0.0) + res.send_s.get(n, 0.0) for n in names}
    return Run(
        plan.kind,
        backend,
        plan.method,
        list(res.latency_s),
        {n: res.compute_s.get(n, 0.0) for n in names},
        transfer,
        int(sum(res.bytes_sent.values())),
        res.max_abs_error,
        res.ref_max_abs,
        res.to_json(),
    )


@register_runner("volumes", "local")
def run_volumes_local(plan: Plan, images: int = 5, links: str = "none", warmup: int = 1, threads: int = 1) -> Run:
    """Every part timed alone in this process and composed along the plan's schedule."""
    return as_run(plan, "local", run_local(plan, images, links, warmup=warmup, threads=threads))


@register_runner("volumes", "distributed")
def run_volumes_distributed(
    plan: Plan,
    images: int = 5,
    links: str = "none",
    warmup: int = 1,
    threads: int = 1,
    port: int | None = None,
    timeout_s: float = 300.0,
    folder: str | Path | None = None,
) -> Run:
    """One gloo process per device and one for the requester; ``folder`` persists every finished
    part so that a killed run resumes."""
    res = run_distributed(
        plan, images, links, warmup=warmup, threads=threads, port=port, timeout_s=timeout_s, hub=folder
    )
    return as_run(plan, "distributed", res)
