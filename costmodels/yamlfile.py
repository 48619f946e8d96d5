"""Reading a devices or network YAML with every failure as one line naming the file.

OmegaConf's own errors are several lines (a YAML scanner's marks, an interpolation's
``full_key``/``object_type``) or not errors of ours at all (``OSError`` for a top-level scalar,
``RecursionError`` for 5000 nested brackets). The file passes :func:`read_text` first (a regular
UTF-8 file of bounded size), then YAML (duplicate keys and tabs are refused by OmegaConf's loader),
then interpolation (``${nosuch.key}``), then the nesting bound.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.inputfile import check_depth, read_text

__all__ = ["read_yaml", "resolve_mapping"]

#: a YAML file's size limit: the shipped ones are under 2 KB
MAX_YAML_BYTES = 1024 * 1024


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context}{at}".replace("\n", " ")
    return str(exc).splitlines()[0]


def resolve_mapping(cfg: DictConfig, where: str) -> dict[str, Any]:
    """A DictConfig as a plain dict with its interpolations resolved, or one line naming the key."""
    try:
        out = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: {key + ': ' if key else ''}{msg}") from None
    assert isinstance(out, dict)
    return out


def read_yaml(path: str | Path, kind: str) -> dict[str, Any]:
    """The mapping a YAML file holds, interpolations resolved; ``kind`` names it in the message."""
    where = f"{kind} {path}"
    text = read_text(path, kind, ConfigError, MAX_YAML_BYTES)
    try:
        cfg = OmegaConf.load(io.StringIO(text))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deep") from None
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise ConfigError(f"{where}: not valid YAML ({str(exc).splitlines()[0][:100]})") from None
    except (OSError, OmegaConfBaseException) as exc:  # a scalar or a list at the top
        raise ConfigError(f"{where}: does not hold a mapping ({str(exc).splitlines()[0]})") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{where}: does not hold a mapping (got a list)")
    out = resolve_mapping(cfg, where)
    check_depth(out, where, ConfigError)
    return out
