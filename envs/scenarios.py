"""Scenarios: named, versioned, frozen descriptions of a problem an env or planner is built from.

Like CompilerGym's benchmarks, a scenario is a value you can list and look up: a model and input
size, a device group, a network, and (here, for DistrEdge and NPTP) how the model is partitioned
into volumes. The registered ones are DistrEdge's Tables I-III on VGG-16; any other combination
can be made with :class:`Scenario` directly or from a Hydra config.

This module is also the front of the one registry (:mod:`splitgym.envs.scenario_registry`): it
imports every kind's scenarios (MS-MDI's from :mod:`splitgym.envs.msmdi_scenarios`), so
:func:`get_scenario` and :func:`list_scenarios` from here cover every env and kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

# MS-MDI's entries register on import: imported here so that the registry is complete
import splitgym.envs.msmdi_scenarios  # noqa: F401
from splitgym.costmodels.errors import EnvArgumentError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import resolve_model_spec
from splitgym.costmodels.volumes.lcpss import lcpss_partition
from splitgym.costmodels.volumes.partition_pilot import PILOTS, PilotResult, pilot_partition
from splitgym.costmodels.volumes.partitions import Partition, named_partition
from splitgym.envs.scenario_registry import (
    SCENARIOS,
    ScenarioBase,
    cached_graph,
    get_scenario,
    list_scenarios,
    register_scenarios,
)

__all__ = [
    "Scenario",
    "ScenarioBase",
    "SCENARIOS",
    "get_scenario",
    "list_scenarios",
    "cached_graph",
    "scenario_with",
    "network_arg",
    "input_arg",
]


@dataclass(frozen=True)
class Scenario(ScenarioBase):
    """DistrEdge's problem (NPTP's env reads the model, devices and network of the same entries)."""

    ENV_IDS = ("splitgym/DistrEdge-v0", "splitgym/NPTP-v0")
    KINDS = ("volumes", "tiles")

    name: str
    model: str = "vgg16"
    input: int | None = None
    devices: str | Mapping[str, Any] = "DB"
    network: str | Mapping[str, Any] = "bw300"
    partition: str = "lcpss"  # lcpss | lcpss-pilot | pilot-search | layers | single | stages | "0,4,9"
    alpha: float = 0.75  # LC-PSS's a when partition == "lcpss"
    lcpss_samples: int = 100  # LC-PSS's |R_s| (DE L246), for "lcpss" and the pilots' LC-PSS seeds
    lcpss_seed: int = 0  # seed of LC-PSS's random split decisions
    pilot_samples: int = 256  # the pilots' share decisions priced per partition
    pilot_spread: float = 0.5  # their normal spread around the prior
    pilot_seed: int = 0
    version: int = 1

    def __post_init__(self) -> None:
        check_lcpss_settings(self)

    def volumes(self, graph: ModelGraph | None = None, n_devices: int | None = None) -> Partition:
        g = graph or self.graph()
        if self.partition == "lcpss":
            n = n_devices or self.cluster().size
            return lcpss_partition(g, n, alpha=self.alpha, samples=self.lcpss_samples, seed=self.lcpss_seed)
        pilot = self.pilot(g)
        if pilot is not None:
            return pilot.partition
        return named_partition(self.partition, g, also=("lcpss", *PILOTS))

    def pilot(self, graph: ModelGraph | None = None) -> PilotResult | None:
        """The partition pilot's choice where ``partition`` names one (costmodels/volumes/partition_pilot.py)."""
        if self.partition not in PILOTS:
            return None
        return pilot_partition(
            graph or self.graph(),
            self.cluster(),
            samples=self.pilot_samples,
            spread=self.pilot_spread,
            seed=self.pilot_seed,
            lcpss_samples=self.lcpss_samples,
            lcpss_seed=self.lcpss_seed,
            **PILOTS[self.partition],
        )


#: LC-PSS's settings (used by partition "lcpss" and the pilots) and the pilots' own, with defaults
LCPSS_SETTINGS: dict[str, object] = {"lcpss_samples": 100, "lcpss_seed": 0}
PILOT_SETTINGS: dict[str, object] = {"pilot_samples": 256, "pilot_spread": 0.5, "pilot_seed": 0}


def check_lcpss_settings(sc: Scenario) -> None:
    """One line for an LC-PSS or pilot setting of the wrong type or range, or changed from its
    default where the scenario's partition does not use it (it would be silently ignored: the
    pilots sweep a themselves, a named partition runs no LC-PSS)."""
    for key in ("lcpss_samples", "pilot_samples"):
        v = getattr(sc, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise EnvArgumentError(f"{key}: expected an integer >= 1, got {v!r}")
    for key in ("lcpss_seed", "pilot_seed"):
        v = getattr(sc, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise EnvArgumentError(f"{key}: expected an integer >= 0, got {v!r}")
    if isinstance(sc.pilot_spread, bool) or not isinstance(sc.pilot_spread, (int, float)) or sc.pilot_spread <= 0:
        raise EnvArgumentError(f"pilot_spread: expected a number > 0, got {sc.pilot_spread!r}")
    users = {"alpha": ("lcpss",), "lcpss_samples": ("lcpss", *PILOTS), "lcpss_seed": ("lcpss", *PILOTS)}
    users.update({k: tuple(PILOTS) for k in PILOT_SETTINGS})
    for key, default in {"alpha": 0.75, **LCPSS_SETTINGS, **PILOT_SETTINGS}.items():
        if getattr(sc, key) != default and sc.partition not in users[key]:
            raise EnvArgumentError(
                f"{key}: {getattr(sc, key)!r} is not used by partition {sc.partition!r} "
                f"(only by {', '.join(users[key])})"
            )


def network_arg(network: Any) -> str | Mapping[str, Any]:
    """An env's ``network`` argument: a name, a path or a mapping as given, a number of Mbps as
    the uniform network it means; anything else is a one-line error."""
    if isinstance(network, bool):
        raise EnvArgumentError(f"network: expected a name, Mbps or a mapping, got {network!r}")
    if isinstance(network, (int, float)):
        if network <= 0:
            raise EnvArgumentError(f"network: Mbps must be > 0, got {network!r}")
        return {"name": f"bw{network:g}", "bandwidth_mbps": float(network)}
    if isinstance(network, (str, Mapping)):
        return network
    raise EnvArgumentError(f"network: expected a name, Mbps or a mapping, got {network!r}")


def input_arg(size: Any) -> int:
    """An env's ``input`` argument: pixels, a positive int (a one-line error otherwise)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise EnvArgumentError(f"input: expected pixels (a positive int), got {size!r}")
    return size


def scenario_with(base: str | Scenario | None, **parts: Any) -> Scenario:
    """``base`` (a registered name or a Scenario; None: ``vgg16-DB-300``) with the given parts
    (``model``, ``input``, ``devices``, ``network``, ``partition``, ``alpha``) replaced; parts that
    are None keep the base's. Why: env kwargs (rl-zoo3's ``env_kwargs``, ``gym.make``) name the
    pieces of a problem, not a registered entry."""
    sc = get_scenario("vgg16-DB-300" if base is None else base, Scenario)
    given = {k: v for k, v in parts.items() if v is not None}
    for key, kinds in (("model", str), ("partition", str), ("devices", (str, Mapping))):
        if key in given and not isinstance(given[key], kinds):
            raise EnvArgumentError(f"{key}: expected a name, got {given[key]!r}")
    if "input" in given:
        given["input"] = input_arg(given["input"])
    if "model" in given:
        given["model"] = resolve_model_spec(given["model"])  # a user's file: absolute, as plans record it
    if "alpha" in given and not (isinstance(given["alpha"], (int, float)) and 0 < given["alpha"] <= 1):
        raise EnvArgumentError(f"alpha: expected a number in (0, 1], got {given['alpha']!r}")
    if "network" in given:
        given["network"] = network_arg(given["network"])
    return replace(sc, name="custom", **given) if given else sc


def _distredge_scenarios() -> list[Scenario]:
    out = []
    for group in ("DA", "DB", "DC"):  # Table I
        for bw in (50, 300):
            out.append(Scenario(f"vgg16-{group}-{bw}", devices=group, network=f"bw{bw}"))
    for net in ("NA", "NB", "NC", "ND"):  # Table II
        for board in ("nano", "xavier"):
            out.append(Scenario(f"vgg16-{net}-{board}", devices=f"all-{board}", network=net))
    for group in ("LA", "LB", "LC", "LD"):  # Table III, 16 devices
        out.append(Scenario(f"vgg16-{group}", devices=group, network=group))
    out.append(Scenario("vgg16-dynamic-nano", devices="all-nano", network="dynamic"))  # Section V-F
    out.append(Scenario("vgg16-local4", devices="local4", network="bw300"))
    out.append(
        Scenario("vgg11-DB-300-small", model="vgg11", input=64, devices="DB", network="bw300", partition="stages")
    )
    return out


register_scenarios(*_distredge_scenarios())
