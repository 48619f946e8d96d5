"""AR-MDI: pipeline stages on a ring, each worker's share of the parameters proportional to its speed.

The method (MS Eq. 1, from AR-MDI [1] of the MS-MDI paper): worker n gets
``rho_n = W (1/g_n) / sum_m (1/g_m)`` of the model's W parameters, rounded to a layer boundary;
source i's chain is i, i+1, ... around the ring and the output returns to i. The maths and every
choice where the paper is silent (the head counted with the last unit, closest-boundary rounding,
empty stages) are in :mod:`splitgym.costmodels.stages.mdi_allocation`.

The plan's ``stages`` are the chain of one source (``source``, default the first device), in
chain order, skipping workers with no unit; the same chain is also written as ``volumes`` (one
per stage, every row on its worker) with the head on the last stage, so the single-image
simulator and the executors run an AR-MDI plan like any other; ``meta["chains"]`` holds the chain of every device as
a source (MS-MDI keeps one partial model per source on every worker), ``meta["shares"]`` the
rho_n / W and ``meta["speeds"]`` 1/g_n = W / (seconds of the whole model on the device alone,
from its measured or derived profile). ``weight="flops"`` balances FLOPs instead of parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

from splitgym.agents.planners.volumes.offload import alone_cuts
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan, Stage
from splitgym.costmodels.profiles import DeviceProfile, profile_for
from splitgym.costmodels.stages.mdi_allocation import allocate, ring_order, shares, unit_weights

__all__ = ["plan_ar_mdi", "ar_mdi_chains"]


def ar_mdi_chains(
    graph: ModelGraph, cluster: Cluster, weight: str = "params", profiles: Mapping[str, DeviceProfile] | None = None
) -> tuple[dict[str, list[tuple[str, int, int]]], list[float]]:
    """Every device's chain as a source: ``{source: [(device, first, last), ...]}`` (inclusive
    units, empty stages dropped), and each device's speed 1/g (parameters per second)."""
    cache = dict(profiles or {})
    w = unit_weights(graph, weight)
    secs = [profile_for(d.spec, graph, cache).total_seconds() for d in cluster.devices]
    speeds = [float(w.sum()) / s for s in secs]
    alive = [True] * cluster.size
    chains = {}
    for i, name in enumerate(cluster.names):
        order = ring_order(i, alive)
        ranges = allocate(w, [speeds[n] for n in order])
        chains[name] = [(cluster.names[n], a, b - 1) for n, (a, b) in zip(order, ranges) if b > a]
    return chains, speeds


def plan_ar_mdi(
    graph: ModelGraph,
    cluster: Cluster,
    source: str | None = None,
    weight: str = "params",
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    src = cluster.names[cluster.index(source)] if source is not None else cluster.names[0]
    chains, speeds = ar_mdi_chains(graph, cluster, weight, profiles)
    chain = chains[src]
    partition = [(a, b) for _, a, b in chain]
    cuts = [alone_cuts(graph.units[b].height, cluster.size, cluster.index(d)) for d, _, b in chain]
    return Plan.from_volumes(
        "ar-mdi",
        graph,
        cluster,
        partition,
        cuts,
        kind="stages",
        head_device=chain[-1][0],
        stages=[Stage(device=d, first=a, last=b) for d, a, b in chain],
        meta={
            "source": src,
            "weight": weight,
            "cluster": cluster.name,
            "speeds": dict(zip(cluster.names, speeds)),
            "shares": dict(zip(cluster.names, shares(speeds).round(6).tolist())),
            "chains": {k: [list(s) for s in v] for k, v in chains.items()},
        },
    )
