"""The ``stages`` kind's scorer: a pipeline of whole volumes, one worker each, priced by the
volume simulator (one image through the chain; streams of images are the queueing simulator's)."""

from __future__ import annotations

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.scoring import Score, register_scorer
from splitgym.costmodels.volumes.volume_scoring import breakdown_score
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["score_stages"]


@register_scorer("stages")
def score_stages(plan: Plan, graph: ModelGraph, *, at: float = 0.0) -> Score:
    return breakdown_score(plan, Simulator(graph, plan.cluster(), at=at).simulate(plan))
