"""The scenario parts of a training config, read from the run's resolved groups.

Why not the group names: a name re-reads the package's YAML files and drops every override
(``network.bandwidth_mbps=10``, ``devices.devices.0.board=pi4``) and every group that lives in a
user's config folder (``--config-dir my/conf devices=mylab``). The mappings Hydra composed are
the truth, so the tasks build clusters from them (``Cluster.from_config`` takes mappings).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from splitgym.costmodels.cluster import plain_config
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.models import resolve_model_spec

__all__ = ["model_spec", "model_input", "group_mapping", "devices_group", "group_label"]


def model_spec(model: DictConfig) -> str:
    """What ``build_model`` builds for ``cfg.model``: its ``_target_`` (a factory's dotted path,
    e.g. ``splitgym.experiments.examples.tiny_cnn.build``) when it has one, else ``name`` (a
    torchvision name or ``path/to/file.py:factory``)."""
    target = model.get("_target_")
    if target:
        module, _, attr = str(target).rpartition(".")
        if not module:
            raise ConfigError(f"model._target_: expected package.module.factory, got {target!r}")
        return f"{module}:{attr}"
    name = model.get("name")
    if not name:
        raise ConfigError("model.name: a model config needs a name (torchvision) or a _target_ (your factory)")
    return resolve_model_spec(str(name))


def model_input(model: DictConfig) -> int | None:
    """``model.input`` as a positive int (None: the model's default size)."""
    value = model.get("input")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"model.input: expected a positive integer (pixels) or null, got {value!r}")
    return value


def group_mapping(cfg: DictConfig, key: str) -> dict[str, Any]:
    """The resolved config group ``key`` (``devices``, ``network``) as a plain dict."""
    if cfg.get(key) is None:
        raise ConfigError(f"{key}: no {key} group in the config")
    return plain_config(cfg[key])


def devices_group(cfg: DictConfig) -> str | dict[str, Any]:
    """The devices group: ``devices=file devices.path=my.yaml`` (conf/devices/file.yaml) as that
    file's absolute path (its relative profile paths resolve against its own folder), else the
    resolved mapping."""
    path = cfg.devices.get("path") if cfg.get("devices") is not None else None
    if path:
        return to_absolute_path(str(path))
    return group_mapping(cfg, "devices")


def group_label(group: str | Mapping[str, Any]) -> str:
    """A group's name for run and scenario names: its ``name``, or a file's stem."""
    if isinstance(group, Mapping):
        return str(group.get("name", "custom"))
    return Path(group).stem
