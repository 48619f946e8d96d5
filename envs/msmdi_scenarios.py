"""MS-MDI scenarios: named, versioned set-ups of the queueing simulator (sources, rates, workers).

The paper's experiments (MS Section 5, PAPERS-AUDIT A.3): Jetson TX2s on one Wi-Fi access point,
MobileNetV2 at 256x256, two sources with a = 5 and 10 images/s receiving 10K and 30K images, and
2, 3, 4 or 5 workers (``ms-mdi-2`` .. ``ms-mdi-5``). Choices where the paper is silent, stated once:

* ``network="bw100"`` is our stand-in for the Wi-Fi (no rate is given): every device capped at
  100 Mbps, no latency; ``contention="shared"``: the access point is one medium, one transfer at
  a time (the experiments also run 50 Mbps, where five workers saturate it);
* ``image_s=0.4``: one TX2 takes 0.4 s per image (see :mod:`splitgym.costmodels.stages.queue_sim`,
  *Calibration*). The paper gives no absolute time, but its five-worker result (74 % less time
  than Local, whose time is set by the 30K-image source alone) needs the five workers to be
  overloaded by 15 images/s: 5 / image_s < 15, so image_s > 0.33 s;
* ``weight="params"`` is the paper's AR-MDI rule; ``"flops"`` is offered (experiments run both).

Small scenarios (``*-small``: VGG-11 at 64x64, a few hundred images) keep tests and the env fast.

The entries live in the one registry (:mod:`splitgym.envs.scenario_registry`) with DistrEdge's and
NPTP's: ``MDI_SCENARIOS`` and :func:`get_mdi_scenario` are its MS-MDI part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.models import resolve_model_spec
from splitgym.costmodels.stages.queue_sim import QueueSystem, WorkerEvent
from splitgym.envs.scenario_registry import (
    SCENARIOS,
    ScenarioBase,
    cached_graph,
    get_scenario,
    list_scenarios,
    register_scenarios,
)

__all__ = ["MDIScenario", "MDI_SCENARIOS", "get_mdi_scenario", "list_mdi_scenarios"]


@dataclass(frozen=True)
class MDIScenario(ScenarioBase):
    """A set-up of the queueing simulator, for the MS-MDI env and stage (``stages``) plans."""

    ENV_IDS = ("splitgym/MSMDI-v0",)
    KINDS = ("stages",)

    name: str
    model: str = "mobilenet_v2"
    input: int | None = 256
    devices: str = "tx2x2"
    network: str = "bw100"
    sources: tuple[int, ...] = (0, 1)
    rates: tuple[float, ...] = (5.0, 10.0)
    images: tuple[int, ...] = (10_000, 30_000)
    image_s: float | None = 0.4
    weight: str = "params"
    slot_s: float = 1e-3
    admit_per_slot: int = 1
    contention: str = "shared"
    events: tuple[WorkerEvent, ...] = field(default=())
    version: int = 1

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> MDIScenario:
        """A scenario written in a config (``env.scenario`` as a mapping, e.g. in a user's config
        folder): the fields by name, lists as tuples, ``events`` as ``{time, worker, kind, factor}``
        entries, ``devices``/``network`` as names or mappings; an unknown key is a one-line error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"env.scenario.{unknown[0]}: not a scenario field (known: {', '.join(sorted(known))})")
        args = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in cfg.items()}
        if isinstance(args.get("model"), str):
            args["model"] = resolve_model_spec(args["model"])  # a user's file: absolute, as in the plan
        try:
            args["events"] = tuple(WorkerEvent(**e) for e in cfg.get("events") or ())
            return cls(**{"name": "custom", **args})
        except TypeError as exc:
            raise ConfigError(f"env.scenario: {exc}") from None

    def system(self, **overrides: Any) -> QueueSystem:
        """The simulator's description (``overrides`` replace scenario fields first)."""
        sc = replace(self, **overrides) if overrides else self
        g = cached_graph(sc.model, sc.input)
        return QueueSystem.from_graph(
            g,
            sc.cluster(),
            list(sc.sources),
            list(sc.rates),
            list(sc.images),
            image_s=sc.image_s,
            weight=sc.weight,
            slot_s=sc.slot_s,
            admit_per_slot=sc.admit_per_slot,
            events=list(sc.events),
            contention=sc.contention,  # type: ignore[arg-type]
            meta={"scenario": sc.id},
        )


def _scenarios() -> list[MDIScenario]:
    out = [MDIScenario(f"ms-mdi-{n}", devices=f"tx2x{n}") for n in (2, 3, 4, 5)]
    out.append(MDIScenario("ms-mdi-3-small", model="vgg11", input=64, devices="tx2x3", images=(100, 200), image_s=0.2))
    out.append(
        MDIScenario(
            "ms-mdi-3-dynamic",
            devices="tx2x3",
            images=(2_000, 6_000),
            events=(WorkerEvent(200.0, 2, "leave"), WorkerEvent(400.0, 2, "join"), WorkerEvent(600.0, 1, "delay", 2.0)),
        )
    )
    return out


register_scenarios(*_scenarios())

#: MS-MDI's part of the registry (a snapshot: its entries are registered once, above)
MDI_SCENARIOS: dict[str, MDIScenario] = {n: sc for n, sc in SCENARIOS.items() if isinstance(sc, MDIScenario)}


def list_mdi_scenarios() -> list[str]:
    return list_scenarios(MDIScenario)


def get_mdi_scenario(name: str | MDIScenario) -> MDIScenario:
    """The registry's lookup, for MS-MDI: a name of another kind is an error naming its envs."""
    return get_scenario(name, MDIScenario)
