"""The one scenario registry: every named scenario of every env and plan kind, keyed by name.

A scenario is a frozen, versioned value an env or planner is built from (like CompilerGym's
benchmarks). Its kinds differ in what they describe beyond the shared part (model, input size,
device group, network): DistrEdge/NPTP's :class:`~splitgym.envs.scenarios.Scenario` says how the
model is partitioned, MS-MDI's :class:`~splitgym.envs.msmdi_scenarios.MDIScenario` the sources,
rates and queueing. Both derive from :class:`ScenarioBase`, which says which envs and plan kinds
an entry is for, and both register here, so one lookup (:func:`get_scenario`) and one list
(:func:`list_scenarios`, ``splitgym list scenarios``) cover them all and a name means one
scenario across kinds.

Each kind registers its entries when its module is imported; :mod:`splitgym.envs.scenarios`
imports every kind's module, and the ``splitgym.envs`` package imports it, so the registry is
complete as soon as anything under ``splitgym.envs`` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from functools import lru_cache
from typing import Any, ClassVar, TypeVar, overload

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph

__all__ = ["ScenarioBase", "SCENARIOS", "register_scenarios", "get_scenario", "list_scenarios", "cached_graph"]

S = TypeVar("S", bound="ScenarioBase")


@lru_cache(maxsize=16)
def cached_graph(model: str, input_size: int | None) -> ModelGraph:
    """One traced graph per (model, input) per process: envs are created often, tracing is not free."""
    return ModelGraph.from_torchvision(model, input_size)


class ScenarioBase:
    """What every scenario has, whatever its kind. Subclasses are frozen dataclasses that declare
    these fields (with their own defaults, ``version`` last) and set ``ENV_IDS``/``KINDS``; this
    class is not a dataclass itself, so each kind keeps its own field order and defaults."""

    #: the Gymnasium ids the scenario builds, and the plan kinds (``Plan.kind``) it is for
    ENV_IDS: ClassVar[tuple[str, ...]] = ()
    KINDS: ClassVar[tuple[str, ...]] = ()

    name: str
    model: str
    input: int | None
    devices: str | Mapping[str, Any]  # a group name (conf/devices), a YAML path or the group's mapping
    network: str | Mapping[str, Any]  # a network name (conf/network), a number of Mbps, a path or a mapping
    version: int

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def graph(self) -> ModelGraph:
        return cached_graph(self.model, self.input)

    def cluster(self) -> Cluster:
        """The device group on the network; a number as ``network`` caps every device in Mbps.
        Mappings (a run's resolved config groups) are used as they are, so every override of
        them takes effect, and groups from a user's config folder need no file of ours."""
        net: Any = self.network
        if isinstance(net, str):
            try:
                net = float(net)
            except ValueError:
                pass
        return Cluster.from_config(self.devices, net)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses

    def summary(self) -> dict[str, Any]:
        """The row ``splitgym list scenarios`` shows: which envs and kinds, and the shared part."""
        return {
            "name": self.name,
            "version": self.version,
            "envs": list(self.ENV_IDS),
            "kinds": list(self.KINDS),
            "model": self.model,
            "input": self.input,
            "devices": _label(self.devices),
            "network": _label(self.network),
        }


def _label(group: str | Mapping[str, Any]) -> str:
    """A group's name, whether given by name or as its mapping."""
    return str(group.get("name", "custom")) if isinstance(group, Mapping) else str(group)


SCENARIOS: dict[str, ScenarioBase] = {}


def register_scenarios(*scenarios: ScenarioBase) -> None:
    """Add entries; a name already taken (by any kind) is an error, so names stay unique."""
    for sc in scenarios:
        if sc.name in SCENARIOS and SCENARIOS[sc.name] != sc:
            raise ConfigError(
                f"scenario: name {sc.name!r} is already registered (for {', '.join(SCENARIOS[sc.name].ENV_IDS)})"
            )
        SCENARIOS[sc.name] = sc


def list_scenarios(of: type[ScenarioBase] = ScenarioBase) -> list[str]:
    """Every registered name, sorted; ``of`` keeps those of one scenario type."""
    return sorted(n for n, sc in SCENARIOS.items() if isinstance(sc, of))


@overload
def get_scenario(name: str | S, of: type[S]) -> S: ...
@overload
def get_scenario(name: str | ScenarioBase) -> ScenarioBase: ...
def get_scenario(name: str | ScenarioBase, of: type[ScenarioBase] = ScenarioBase) -> ScenarioBase:
    """The scenario called ``name`` (a scenario passes through); ``of``: the type the caller
    builds from, so a name of another kind is a one-line error saying which envs it is for."""
    sc = name if isinstance(name, ScenarioBase) else SCENARIOS.get(name)
    if sc is None:
        raise ConfigError(f"scenario: unknown scenario {name!r} (known: {', '.join(list_scenarios(of))})")
    if not isinstance(sc, of):
        raise ConfigError(
            f"scenario: {sc.name!r} is for {', '.join(sc.ENV_IDS)}, not {', '.join(of.ENV_IDS)} "
            f"(known: {', '.join(list_scenarios(of))})"
        )
    return sc
