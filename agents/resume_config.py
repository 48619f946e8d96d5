"""The config a resumed training run uses: its own ``config.yaml``, never the defaults of today.

Why: ``splitgym train hydra.run.dir=RUN resume=true`` used to compose the *default* config, load
the old agent into it and overwrite ``config.yaml``, so a run made with overrides was continued on
another scenario and exported a wrong plan. Now a resume reads ``RUN/config.yaml``; a command-line
override that would change it is refused in one line, except the keys in :data:`MUTABLE`, which
say how long and how loudly to run, not what is learnt (``episodes=N`` extends a run; named, the
new value is reported in one line; not named, the saved one stays). The
fingerprint (:func:`run_fingerprint`) that checkpoints carry is computed without those keys.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import code_version, digest

__all__ = ["MUTABLE", "resumed_config", "run_fingerprint"]

#: keys a resume may change: the budget, the display and what is exported, not what is computed
MUTABLE = ("resume", "episodes", "progress", "verbose", "export")


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


def resumed_config(cfg: DictConfig, run_dir: Path, overrides: list[str], choices: dict[str, Any]) -> DictConfig:
    """``cfg`` for a fresh run; for ``resume=true`` the run's saved config with the
    :data:`MUTABLE` keys of ``cfg``, or one line naming an override that would change it: a
    value (``seed=2``) is compared with ``config.yaml``, a group choice (``agent=td3``) with the
    choices the run recorded (``choices.json``, Hydra's ``runtime.choices``)."""
    if not cfg.get("resume"):
        return cfg
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"resume: no checkpoint in {run_dir} (no config.yaml; set hydra.run.dir to the run)")
    saved = OmegaConf.load(path)
    now = _flat(OmegaConf.to_container(cfg, resolve=True))
    old = _flat(OmegaConf.to_container(saved, resolve=True))
    recorded = json.loads((run_dir / "choices.json").read_text()) if (run_dir / "choices.json").is_file() else {}
    for key in _given(overrides):
        mine = [k for k in now if k == key or k.startswith(key + ".")]
        if key in choices and key in recorded and str(choices[key]) != str(recorded[key]):
            _refuse(key, f"{key}={choices[key]}", f"{key}={recorded[key]}", run_dir / "choices.json")
        changed = [k for k in mine if now[k] != old.get(k)]
        if changed and key not in choices:
            k = changed[0]
            _refuse(key, f"{k}={now[k]!r}", f"{k}={old.get(k)!r}", path)
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    for key in MUTABLE[1:]:  # the saved value unless the command line names the key
        if key in given and cfg.get(key) != saved.get(key):
            print(f"splitgym train: resume: {key}={cfg[key]!r} (was {saved.get(key)!r})", file=sys.stderr)
            saved[key] = cfg.get(key)
    saved.resume = True
    return saved


def _refuse(key: str, mine: str, theirs: str, path: Path) -> None:
    raise ConfigError(
        f"resume: {key} on the command line makes {mine}, but {path} has {theirs}; "
        "a resumed run keeps its own config (drop the override, or train into a new folder)"
    )


def run_fingerprint(cfg: DictConfig) -> dict[str, Any]:
    """What a checkpoint was computed from: the resolved config (less :data:`MUTABLE`), the
    model, the weights seed and the code version."""
    body = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k not in MUTABLE}
    model = OmegaConf.select(cfg, "model.name", default=None)
    return {"config": digest(body), "model": str(model), "seed": int(cfg.seed), "code": code_version()}
