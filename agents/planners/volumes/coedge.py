"""CoEdge: layer-by-layer row split balancing linear compute and network models per unit.

The method, as DistrEdge describes it (DE L38, L256, L354; PAPERS-AUDIT C.1 item 11): split the
model *layer by layer* (one volume per unit) and choose each layer's split ratio from **linear**
models of the devices (one computing capability each) **and** of the network (transmission time
proportional to the data over the throughput). It is one of the two baselines DistrEdge runs online
in dynamic networks, re-planning from the monitored throughput.

Choices where DistrEdge is silent (CoEdge's own paper minimises energy under a deadline; we keep
only what DistrEdge says it is):

* the models are :class:`..linear.LinearModel`: capability = spatial FLOPs / profiled full-height
  seconds; a part of ``r`` rows costs ``alpha_d + beta_d r``: its compute (halo rows included)
  plus its whole input slice over the device's throughput (from the requester for the first
  layer). The model does not know which input rows a device already holds, so it charges them
  all; no per-transfer latency or I/O overhead (DistrEdge's criticism of CoEdge);
* the objective per layer is the predicted ``max_d (compute + transfer)``; its optimum is closed
  form (:func:`..linear.water_fill`: all active devices end together, a device whose fixed cost
  alone exceeds that level gets no rows), so no LP solver is needed;
* the real-valued rows become integers by largest remainder;
* ``partition`` (default ``"layers"``, the paper's) may be changed, e.g. to compare split rules on
  one partition; a fused volume is then modelled with its halo recomputation (as AOFL does).

Every layer is balanced on its own, so the ratio changes from layer to layer wherever the balance
of compute and transfer does; the simulator then charges the rows that move (DistrEdge's Fig. 14:
CoEdge's large transmission latency).
"""

from __future__ import annotations

from collections.abc import Mapping

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import LinearModel
from splitgym.costmodels.volumes.partitions import named_partition

__all__ = ["plan_coedge"]


def plan_coedge(
    graph: ModelGraph, cluster: Cluster, partition: str = "layers", profiles: Mapping[str, DeviceProfile] | None = None
) -> Plan:
    # 1. the baseline's view of the cluster: capabilities and throughputs
    model = LinearModel.build(graph, cluster, profiles)
    # 2. one volume per unit (or the given partition)
    part = named_partition(partition, graph)
    # 3. per volume, the min-max split under the linear compute + network model
    splits = [model.split(first, last) for first, last in part]
    cuts = [c for c, _ in splits]
    predicted = model.plan_seconds(part, cuts)
    return Plan.from_volumes(
        "coedge",
        graph,
        cluster,
        part,
        cuts,
        meta={
            "partition": partition,
            "model_latency_s": predicted,
            "capability_gflops": [float(c) / 1e9 for c in model.caps],
        },
    )
