"""The config a resumed training run uses: its own ``config.yaml``, never the defaults of today.

Why: ``splitgym train hydra.run.dir=RUN resume=true`` used to compose the *default* config, load
the old agent into it and overwrite ``config.yaml``, so a run made with overrides was continued on
another scenario and exported a wrong plan. Now a resume reads ``RUN/config.yaml``; a command-line
override that would change it is refused in one line, except the keys in :data:`MUTABLE`, which
say how long and how loudly to run, not what is learnt (``episodes=N`` extends a run). The
fingerprint (:func:`run_fingerprint`) that checkpoints carry is computed without those keys.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import code_version, digest

__all__ = ["MUTABLE", "resumed_config", "run_fingerprint"]

#: keys a resume may change: the budget and the display, not what is computed
MUTABLE = ("resume", "episodes", "progress", "verbose")


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: value}


def _given(overrides: list[str]) -> list[str]:
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o]
    return [k for k in keys if not k.startswith("hydra.") and k.split(".")[0] not in MUTABLE]


def resumed_config(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> DictConfig:
    """``cfg`` for a fresh run; for ``resume=true`` the run's saved config with the
    :data:`MUTABLE` keys of ``cfg``, or one line naming an override that would change it."""
    if not cfg.get("resume"):
        return cfg
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"resume: no checkpoint in {run_dir} (no config.yaml; set hydra.run.dir to the run)")
    saved = OmegaConf.load(path)
    now = _flat(OmegaConf.to_container(cfg, resolve=True))
    old = _flat(OmegaConf.to_container(saved, resolve=True))
    for key in _given(overrides):
        mine = [k for k in now if k == key or k.startswith(key + ".")]
        # a group or experiment choice (agent=td3) names no key: any difference is its doing
        changed = [k for k in (mine or [k for k in now if k.split(".")[0] not in MUTABLE]) if now[k] != old.get(k)]
        if changed:
            k = changed[0]
            raise ConfigError(
                f"resume: {key} on the command line makes {k}={now[k]!r}, but {path} has {k}={old.get(k)!r}; "
                "a resumed run keeps its own config (drop the override, or train into a new folder)"
            )
    for key in MUTABLE:
        if key in cfg and cfg[key] != saved.get(key) and key != "resume":
            print(f"splitgym train: resume: {key}={cfg[key]!r} (was {saved.get(key)!r})", file=sys.stderr)
        saved[key] = cfg.get(key)
    return saved


def run_fingerprint(cfg: DictConfig) -> dict[str, Any]:
    """What a checkpoint was computed from: the resolved config (less :data:`MUTABLE`), the
    model, the weights seed and the code version."""
    body = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k not in MUTABLE}
    model = OmegaConf.select(cfg, "model.name", default=None)
    return {"config": digest(body), "model": str(model), "seed": int(cfg.seed), "code": code_version()}
