"""Checking a training config's values before anything is built from them.

Why here and not where each value is used: Hydra accepts any string for any key (``episodes=abc``,
``network.bandwidth_mbps=abc``), and the first ``int()`` or ``float()`` deep inside SB3 or the
simulator would fail with a traceback that names neither the key nor the value. One pass over the
keys a person sets gives one line naming both (:class:`ConfigError`), exit code 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.models import is_model_spec, resolve_model_spec
from splitgym.envs.distredge import ACTIONS as DE_ACTIONS
from splitgym.envs.distredge import REWARDS as DE_REWARDS
from splitgym.envs.hidp_env import REWARDS as HIDP_REWARDS
from splitgym.envs.msmdi import REWARDS as MS_REWARDS
from splitgym.envs.nptp import REWARDS as NP_REWARDS

__all__ = ["check_config"]

#: top-level integers and their smallest and largest allowed values (numpy/SB3 seeds are 32-bit)
_TOP_INTS = {
    "seed": (0, 2**32 - 1),
    "episodes": (1, 10**9),
    "checkpoint_every": (1, 10**9),
    "log_interval": (1, 10**9),
    "verbose": (0, 2),
    "torch_threads": (1, 1024),
}
#: numbers with a range, where a value outside it fails deep inside SB3 or means nothing:
#: (low, high, low allowed, high allowed)
_RANGES = {
    "agent.kwargs.learning_rate": (0.0, math.inf, False, False),
    "agent.kwargs.critic_learning_rate": (0.0, math.inf, False, False),
    "agent.kwargs.gamma": (0.0, 1.0, True, True),
    "agent.kwargs.tau": (0.0, 1.0, False, True),
    "agent.kwargs.gae_lambda": (0.0, 1.0, True, True),
    "agent.kwargs.batch_size": (1, 10**9, True, True),
    "agent.kwargs.buffer_size": (1, 10**10, True, True),
    "agent.kwargs.learning_starts": (0, 10**10, True, True),
    "agent.kwargs.n_steps": (1, 10**9, True, True),
    "agent.kwargs.n_epochs": (1, 10**6, True, True),
    "agent.noise.variance": (0.0, math.inf, True, False),
    "agent.noise.decay": (0.0, math.inf, True, False),
    "env.bandwidth_mbps": (0.0, math.inf, False, False),
    "env.time_per_episode": (0.0, math.inf, False, False),
}
#: every top-level key conf/train.yaml composes (an experiment sets some of them)
_TOP_KEYS = {
    *_TOP_INTS,
    "model",
    "devices",
    "network",
    "env",
    "agent",
    "resume",
    "device",
    "eval",
    "progress",
    "export",
}
#: env ids whose action space is discrete: only PPO of our algorithms takes it
_DISCRETE_ACTIONS = ("splitgym/MSMDI-v0", "splitgym/HiDP-v0")
_NETWORK_NUMBERS = ("bandwidth_mbps", "requester_mbps", "latency_ms", "overhead_ms")
_AGENT_INTS = ("batch_size", "buffer_size", "learning_starts", "gradient_steps", "n_steps", "n_epochs")
_AGENT_FLOATS = ("learning_rate", "critic_learning_rate", "gamma", "tau", "gae_lambda", "vf_coef", "max_grad_norm")
_ENV_NUMBERS = ("alpha", "time_per_episode", "bandwidth_mbps")
_ENV_INTS = ("mpa_iterations", "strips_grid", "eval_episodes")
_NOISE_FLOATS = ("variance", "decay")
#: per env id, the env keys with a fixed set of values
_ENV_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "splitgym/DistrEdge-v0": {"reward": DE_REWARDS, "action": DE_ACTIONS},
    "splitgym/DistrEdge-v1": {"reward": DE_REWARDS, "action": DE_ACTIONS},
    "splitgym/NPTP-v0": {"reward": NP_REWARDS},
    "splitgym/MSMDI-v0": {"reward": MS_REWARDS},
    "splitgym/MSMDI-v1": {"reward": MS_REWARDS},
    "splitgym/HiDP-v0": {"reward": HIDP_REWARDS},
}
#: env ids with a batched vector env (``env.n_envs`` > 1)
_BATCHED_ENVS = ("splitgym/DistrEdge-v0",)
#: env ids whose scenario carries its own model, devices and network (the groups are unused)
_OWN_SCENARIO = ("splitgym/MSMDI-v0", "splitgym/MSMDI-v1")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_ranges(cfg: DictConfig) -> None:
    """Every key of :data:`_RANGES` that is set lies in its range."""
    for key, (low, high, low_ok, high_ok) in _RANGES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None or not _is_number(value):
            continue  # missing, or a wrong type: reported by the type checks
        if value < low or value > high or (value == low and not low_ok) or (value == high and not high_ok):
            shown = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
            raise ConfigError(f"{key}: expected a number in {shown}, got {value!r}")


def _check_device(device: Any) -> None:
    """``device``: cpu, cuda[:N] on a machine that has it, or auto (SB3's choice); never a silent CPU."""
    import torch

    if device == "auto":
        return
    try:
        dev = torch.device(str(device))
    except (RuntimeError, ValueError):
        raise ConfigError(f"device: expected cpu, cuda, cuda:N or auto, got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device: expected cpu, cuda, cuda:N or auto, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} asked for, but this machine has no CUDA device (use device=cpu)")


def _check_algo(cfg: DictConfig) -> None:
    env_id = OmegaConf.select(cfg, "env.id", default=None)
    algo = OmegaConf.select(cfg, "agent.algo", default=None)
    if env_id in _DISCRETE_ACTIONS and algo not in (None, "ppo"):
        raise ConfigError(f"agent={algo}: {env_id} has discrete actions, which only agent=ppo takes")


def _numbers(cfg: Any, prefix: str, keys: Iterable[str], check: Any, what: str) -> None:
    """Every key of ``keys`` present in ``cfg`` and not null passes ``check``."""
    if not isinstance(cfg, DictConfig):
        return
    for key in keys:
        value = cfg.get(key)
        if value is not None and not check(value):
            raise ConfigError(f"{prefix}.{key}: expected {what}, got {value!r}")


def _check_network(net: Any) -> None:
    _numbers(net, "network", _NETWORK_NUMBERS, _is_number, "a number")
    per = net.get("per_device_mbps") if isinstance(net, DictConfig) else None
    if per is not None and not (isinstance(per, ListConfig) and all(_is_number(v) and v > 0 for v in per)):
        raise ConfigError(f"network.per_device_mbps: expected a list of Mbps > 0, got {per!r}")
    bw = net.get("bandwidth_mbps") if isinstance(net, DictConfig) else None
    if bw is not None and bw <= 0:
        raise ConfigError(f"network.bandwidth_mbps: expected Mbps > 0, got {bw!r}")


def _check_devices(devices: Any) -> None:
    if isinstance(devices, DictConfig) and devices.get("path"):  # devices=file devices.path=my.yaml: checked on load
        return
    entries = devices.get("devices") if isinstance(devices, DictConfig) else None
    if not isinstance(entries, ListConfig):
        raise ConfigError(f"devices.devices: expected a list of {{name, board}}, got {entries!r}")
    for i, d in enumerate(entries):
        if not isinstance(d, DictConfig) or not isinstance(d.get("board"), str) or d.get("name") is None:
            raise ConfigError(f"devices.devices.{i}: expected {{name, board}}, got {d!r}")


def _check_split(env: DictConfig) -> None:
    """``env.split``: a shipped split of this very env id (an env without splits has none)."""
    split = env.get("split")
    if split is None:
        return
    from splitgym.envs.splits import get_split

    try:
        got = get_split(str(split)).env_id
    except ConfigError as exc:  # an unknown name: the known ones
        raise ConfigError(f"env.{exc}") from None
    if got != env.get("id"):
        raise ConfigError(f"env.split: {split} is a split of {got}, not of {env.get('id')} (splitgym list splits)")


def _check_env(env: Any) -> None:
    if not isinstance(env, DictConfig):
        return
    _check_split(env)
    _numbers(env, "env", _ENV_NUMBERS, _is_number, "a number")
    _numbers(env, "env", _ENV_INTS, _is_int, "an integer")
    for key, choices in _ENV_CHOICES.get(str(env.get("id")), {}).items():
        value = env.get(key)
        if value is not None and value not in choices:
            raise ConfigError(f"env.{key}: must be one of {', '.join(choices)}, got {value!r}")
    if env.get("id") in _OWN_SCENARIO and HydraConfig.initialized():
        for override in HydraConfig.get().overrides.task:
            if override.split("=")[0].split(".")[0].lstrip("+~") in ("model", "devices", "network"):
                raise ConfigError(
                    f"{override}: not used by {env.id} (its scenario carries the model, devices and network; "
                    "set env.scenario)"
                )


def _check_n_envs(cfg: DictConfig) -> None:
    """``env.n_envs``: more than one instance is the batched DistrEdge-v0 VecEnv, trained by PPO."""
    env = cfg.get("env")
    value = env.get("n_envs") if isinstance(env, DictConfig) else None
    if value is None:
        return
    if not _is_int(value) or value < 1:
        raise ConfigError(f"env.n_envs: must be an integer >= 1, got {value!r}")
    if value > 1 and env.get("id") not in _BATCHED_ENVS:
        raise ConfigError(
            f"env.n_envs: {value} instances need a batched env ({', '.join(_BATCHED_ENVS)}), got {env.id}"
        )
    algo = OmegaConf.select(cfg, "agent.algo")
    if value > 1 and algo != "ppo":
        raise ConfigError(f"env.n_envs: {value} instances are trained by agent=ppo only, got agent.algo={algo!r}")


def check_config(cfg: DictConfig) -> None:
    """Raise a one-line :class:`ConfigError` for the first value of the wrong type or range; make a
    model file path absolute, so that the run's ``config.yaml`` re-runs it from any folder."""
    unknown = sorted(set(cfg) - _TOP_KEYS)
    if unknown:  # ``+nosuch=1``: nothing reads it, so it would be silently ignored
        raise ConfigError(f"{unknown[0]}: not a setting of splitgym train (known: {', '.join(sorted(_TOP_KEYS))})")
    for key, (low, high) in _TOP_INTS.items():
        value = cfg.get(key)
        if key in cfg and (not _is_int(value) or value < low):
            raise ConfigError(f"{key}: must be an integer >= {low}, got {value!r}")
        if value is not None and value > high:
            raise ConfigError(f"{key}: must be an integer <= {high}, got {value!r}")
    if cfg.get("device") is not None:
        _check_device(cfg.device)
    if cfg.get("network") is not None:
        _check_network(cfg.network)
    if cfg.get("devices") is not None:
        _check_devices(cfg.devices)
    agent = cfg.get("agent")
    if isinstance(agent, DictConfig):
        _numbers(agent.get("kwargs"), "agent.kwargs", _AGENT_INTS, _is_int, "an integer")
        _numbers(agent.get("kwargs"), "agent.kwargs", _AGENT_FLOATS, _is_number, "a number")
        _numbers(agent.get("noise"), "agent.noise", _NOISE_FLOATS, _is_number, "a number")
    _check_env(cfg.get("env"))
    _check_n_envs(cfg)
    _check_ranges(cfg)
    _check_algo(cfg)
    model = cfg.get("model")
    if isinstance(model, DictConfig) and isinstance(model.get("name"), str) and is_model_spec(model.name):
        model.name = resolve_model_spec(model.name)
