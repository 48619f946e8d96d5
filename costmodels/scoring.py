"""One scorer per plan kind, looked up by ``Plan.kind``: the only way a plan is priced by name.

Every kind keeps its own maths (the volume simulator, the tile cost model, HyPS's partitions,
HiDP's two levels); what they share is the result shape, :class:`Score`, so ``splitgym simulate``,
the contract tests and the predicted-vs-measured harness read one thing. A kind registers its
scorer in its own module (``costmodels/<kind>/<kind>_scoring.py``, listed in :data:`SCORER_MODULES`),
which is imported the first time that kind is scored: the core never imports a kind at load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import KINDS, Plan

__all__ = ["Score", "Scorer", "SCORERS", "SCORER_MODULES", "register_scorer", "get_scorer", "score_plan"]


@dataclass
class Score:
    """What one plan costs, whatever its kind.

    ``per_device`` rows share ``device`` and ``compute_s`` (seconds of compute per image); a kind adds
    its own columns (``recv_s``, ``comm_s``, ``peak_memory_mb``...). ``tables`` are the kind's extra
    tables (a title and rows), ``summary`` its last lines of text, ``detail`` its full JSON result.
    """

    kind: str
    method: str
    latency_s: float
    per_device: list[dict[str, Any]]
    ips: float | None = None
    energy_j: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "latency_s": self.latency_s,
            "ips": self.ips,
            "energy_j": self.energy_j,
            "per_device": self.per_device,
            "detail": self.detail,
        }

    def rows(self) -> list[dict[str, Any]]:
        """The per-device table with seconds shown as milliseconds (what the CLI prints)."""
        return [
            {(k[:-2] + "_ms" if k.endswith("_s") else k): (v * 1e3 if k.endswith("_s") else v) for k, v in r.items()}
            for r in self.per_device
        ]


class Scorer(Protocol):
    def __call__(self, plan: Plan, graph: ModelGraph, *, at: float = 0.0) -> Score: ...


SCORERS: dict[str, Scorer] = {}
#: Where each kind registers its scorer (imported on first use).
SCORER_MODULES: dict[str, str] = {k: f"splitgym.costmodels.{k}.{k[:-1]}_scoring" for k in KINDS}


def register_scorer(kind: str) -> Callable[[Scorer], Scorer]:
    if kind not in KINDS:
        raise ValueError(f"kind: unknown plan kind {kind!r} (known: {', '.join(KINDS)})")

    def deco(fn: Scorer) -> Scorer:
        SCORERS[kind] = fn
        return fn

    return deco


def get_scorer(kind: str) -> Scorer:
    if kind not in KINDS:
        raise PlanError(f"kind: unknown plan kind {kind!r} (known: {', '.join(KINDS)})")
    if kind not in SCORERS:
        importlib.import_module(SCORER_MODULES[kind])
    return SCORERS[kind]


def score_plan(plan: Plan, graph: ModelGraph, at: float = 0.0) -> Score:
    """Check ``plan`` against ``graph`` and price it with its kind's scorer."""
    plan.check(graph)
    return get_scorer(plan.kind)(plan, graph, at=at)
