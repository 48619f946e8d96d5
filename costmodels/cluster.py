"""A cluster: the devices (each a board with a profile) and the network between them.

Groups and networks are Hydra config files (``conf/devices/*.yaml``, ``conf/network/*.yaml``),
so the same names work in ``splitgym plan --devices DB --network NA`` and in Hydra apps
(``devices=DB network=bw300``). The *requester* holds the image and wants the result; it is not a
provider of compute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from splitgym.costmodels.config_schema import check_devices, check_network
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.limits import MAX_MBPS, MAX_MEMORY_MIB, MIN_MBPS, check_range
from splitgym.costmodels.link_table import load_link_table
from splitgym.costmodels.network import BandwidthTrace, Network
from splitgym.costmodels.profile_spec import ProfileSpec, spec_from_entry
from splitgym.costmodels.yamlfile import read_yaml, resolve_mapping

__all__ = ["Device", "Cluster", "conf_dir", "load_conf", "list_conf", "plain_config", "REQUESTER"]

REQUESTER = "requester"


def conf_dir() -> Path:
    """The installed ``conf/`` folder (Hydra's config root)."""
    import splitgym.conf

    return Path(splitgym.conf.__file__).parent


def list_conf(group: str) -> list[str]:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def load_conf(group: str, name_or_path: str) -> dict[str, Any]:
    """A config of ``group`` by name (``DB``) or by path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = conf_dir() / group / f"{name_or_path}.yaml"
    if not path.exists():
        raise ConfigError(f"{group}: unknown {group} {name_or_path!r} (known: {', '.join(list_conf(group))})")
    cfg = read_yaml(path, group)
    _check(group, cfg, f"{group} {path}")
    if group == "network" and isinstance(cfg.get("links"), str):  # relative to the YAML's folder
        cfg["links"] = str((path.parent / cfg["links"]).resolve())
    return cfg


@dataclass(frozen=True)
class Device:
    name: str
    board: str
    memory_mb: float | None = None  # memory budget (HyPS); None: the board's memory
    reserved_mb: float | None = None  # of it, held by the OS and runtime
    profile: ProfileSpec | None = None  # form, options, file hash; None: the board's defaults

    @property
    def spec(self) -> ProfileSpec:
        """What the profile lookup takes (:func:`~splitgym.costmodels.profiles.profile_for`)."""
        return self.profile if self.profile is not None else ProfileSpec(self.board, where=f"devices.{self.name}")


@dataclass
class Cluster:
    name: str
    devices: list[Device]
    network: Network
    requester: str = REQUESTER

    def __post_init__(self) -> None:
        names = [d.name for d in self.devices]
        if not names:
            raise ConfigError("devices: a cluster needs at least one device")
        dup = {n for n in names if names.count(n) > 1}
        if dup or self.requester in names:
            raise ConfigError(
                f"devices: names must be unique and not {self.requester!r}, "
                f"got duplicates {sorted(dup) or [self.requester]}"
            )

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.devices]

    @property
    def size(self) -> int:
        return len(self.devices)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(f"device: unknown device {name!r} (cluster has {', '.join(self.names)})") from None

    @classmethod
    def from_config(
        cls, devices: str | Mapping[str, Any] | DictConfig, network: str | float | Mapping[str, Any] | DictConfig
    ) -> Cluster:
        """Build from a device group and a network, each a config name, a path or a mapping;
        a number as ``network`` caps every device at that many Mbps."""
        dev_cfg, base_dir = _devices_config(devices)
        if isinstance(network, (int, float)):
            net_cfg = _number_network(network)
        elif isinstance(network, str):
            net_cfg = load_conf("network", network)
        else:
            net_cfg = plain_config(network)
            _check("network", net_cfg, "network")
        entries = dev_cfg.get("devices")
        if not isinstance(entries, list) or not all(isinstance(d, dict) and "name" in d for d in entries):
            raise ConfigError(f"devices: each device needs a name and a board, got {entries!r}"[:200])
        devs = [_device(d, base_dir) for d in entries]
        if not devs:
            raise ConfigError("devices: a cluster needs at least one device, got an empty list")
        return cls(str(dev_cfg.get("name", "custom")), devs, _network(net_cfg, [d.name for d in devs]))


def _check(group: str, cfg: dict[str, Any], where: str) -> None:
    """The typed schema of a devices or network mapping (:mod:`config_schema`), checked at load."""
    if group == "network":
        check_network(cfg, where)
    elif group == "devices" and not ("path" in cfg and "devices" not in cfg):  # devices=file: its file is checked
        check_devices(cfg, where)


def _number_network(network: float) -> dict[str, Any]:
    """``--bandwidth N``: every device capped at N Mbps (a finite number > 0, not a boolean)."""
    if isinstance(network, bool) or not math.isfinite(network) or network <= 0:
        raise ConfigError(f"bandwidth_mbps: expected Mbps > 0, got {network!r}")
    check_range("bandwidth_mbps", network, MIN_MBPS, MAX_MBPS, ConfigError)
    return {"name": f"bw{network:g}", "bandwidth_mbps": float(network)}


def _devices_config(devices: str | Mapping[str, Any] | DictConfig) -> tuple[dict[str, Any], Path | None]:
    """A device group's mapping and the folder its relative profile paths resolve against: a
    name or a YAML path, or a mapping (``{path: my.yaml}`` reads that file, as Hydra's
    ``devices=file devices.path=my.yaml`` does; else its paths are relative to the working directory)."""
    if isinstance(devices, str):
        path = Path(devices)
        cfg = load_conf("devices", devices)
        if "path" not in cfg:
            return cfg, path.resolve().parent if path.suffix in (".yaml", ".yml") else None
    else:
        cfg = plain_config(devices)
        _check("devices", cfg, "devices")
    if cfg.get("path") in (None, "???") and "devices" not in cfg:
        raise ConfigError("devices.path: set it to your devices YAML (devices=file devices.path=my/devices.yaml)")
    if cfg.get("path") not in (None, "???"):
        return _devices_config(str(cfg["path"]))
    return cfg, None


def _device(entry: dict[str, Any], base_dir: Path | None) -> Device:
    spec = spec_from_entry(entry, base_dir)
    name = str(entry["name"])
    return Device(name, spec.board, _mb(entry, "memory_mb"), _mb(entry, "reserved_mb"), spec)


def _mb(dev: dict[str, Any], key: str) -> float | None:
    """An optional, positive memory size in MiB of a device entry."""
    value = dev.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ConfigError(f"devices.{dev.get('name')}.{key}: expected MiB >= 0, got {value!r}")
    return float(check_range(f"devices.{dev.get('name')}.{key}", value, 0, MAX_MEMORY_MIB, ConfigError))


def plain_config(cfg: Any) -> dict[str, Any]:
    """A config mapping (a dict or Hydra's DictConfig, resolved) as a plain dict."""
    if isinstance(cfg, DictConfig):
        return resolve_mapping(cfg, "config")
    return dict(cfg)


def _network(cfg: dict[str, Any], names: list[str]) -> Network:
    per = cfg.get("per_device_mbps")
    uniform = cfg.get("bandwidth_mbps")
    if per is not None:
        if len(per) != len(names):
            raise ConfigError(f"per_device_mbps: {len(per)} values for {len(names)} devices")
        caps = {n: float(b) for n, b in zip(names, per)}
    elif uniform is not None:
        caps = {n: float(uniform) for n in names}
    else:
        raise ConfigError(f"network {cfg.get('name', '?')}: needs bandwidth_mbps or per_device_mbps")
    req = cfg.get("requester_mbps")
    caps[REQUESTER] = float(req) if req is not None else max(caps.values())
    traces: dict[str, BandwidthTrace] = {}
    tr = cfg.get("trace")
    if tr:
        targets = tr.get("devices") or names
        if "csv" in tr:
            trace = BandwidthTrace.from_csv(tr["csv"])
            traces = {n: trace for n in targets}
        else:  # seeded random walks: one shared trace, or one per device (seed, seed+1, ...)
            seed = int(tr.get("seed", 0))
            per_device = bool(tr.get("per_device", False))
            traces = {
                n: BandwidthTrace.synthetic(
                    seed + (i if per_device else 0),
                    float(tr.get("duration_s", 3600)),
                    float(tr.get("step_s", 60)),
                    float(tr.get("low_mbps", 20)),
                    float(tr.get("high_mbps", 300)),
                )
                for i, n in enumerate(targets)
            }
    return Network(
        caps_mbps=caps,
        latency_s=_ms(cfg, "latency_ms") / 1e3,
        overhead_s=_ms(cfg, "overhead_ms") / 1e3,
        traces=traces,
        medium=_medium(cfg),
        transport_s=load_link_table(_links_path(cfg["links"])).overhead_s if cfg.get("links") else 0.0,
    )


def _links_path(links: Any) -> Path:
    """A network's ``links`` table: absolute, or relative to its YAML (resolved by :func:`load_conf`);
    from a Hydra-composed mapping, relative to ``conf/network`` when not found from the working folder."""
    if not isinstance(links, (str, Path)):
        raise ConfigError(f"links: expected the path of a link table JSON, got {links!r}")
    path = Path(links)
    if not path.is_absolute() and not path.exists() and (conf_dir() / "network" / path).exists():
        return conf_dir() / "network" / path
    return path


def _ms(cfg: dict[str, Any], key: str) -> float:
    """A network's milliseconds field (missing or null: 0), or one line naming it."""
    value = cfg.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{key}: expected milliseconds >= 0, got {value!r}")
    return float(value)


def _medium(cfg: dict[str, Any]) -> str:
    """``medium: switched | shared`` (missing or null: switched, every link its own)."""
    medium = cfg.get("medium") or "switched"
    if medium not in ("switched", "shared"):
        raise ConfigError(f"medium: expected switched or shared, got {medium!r}")
    return str(medium)
