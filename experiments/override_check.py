"""``splitgym train``'s overrides composed once before Hydra runs, so a mistake is one line.

Hydra prints its own several-line messages for an override it cannot compose (an unknown option of
a config group lists every option on its own line; an unknown key adds its object type and a hint
about ``HYDRA_FULL_ERROR``). Composing the same overrides with Hydra's compose API first turns each
into one line naming the override. Where the compose API cannot see what the app will (a user's
``--config-dir`` or ``--config-path``, ``hydra.searchpath``, sweeps and ``-m``, ``--help``/``--cfg``),
the check stands aside and Hydra's own messages apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitgym.costmodels.errors import ConfigError

__all__ = ["check_overrides"]

_STAND_ASIDE = ("-", "hydra.searchpath")


def _one_line(exc: Exception) -> str:
    from hydra.errors import MissingConfigException

    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file and exc.options:
        group, _, name = exc.missing_cfg_file.rpartition("/")
        return f"{group}={name}: no such {group} config (known: {', '.join(exc.options)})"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and "HYDRA_FULL_ERROR" not in ln]
    return "; ".join(lines)


def check_overrides(overrides: Sequence[str], config_name: str = "train") -> None:
    """Compose ``overrides`` on the installed ``conf/``; a failure is a one-line ConfigError."""
    if any(o.startswith(_STAND_ASIDE) for o in overrides):
        return
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from splitgym.costmodels.cluster import conf_dir

    mine = [o for o in overrides if not o.startswith(("hydra.", "+hydra.", "~hydra."))]
    try:
        parsed = OverridesParser.create().parse_overrides(mine)
    except HydraException as exc:
        raise ConfigError(f"override: {_one_line(exc)}") from None
    if any(p.is_sweep_override() for p in parsed):
        return  # a sweep: each job's values are Hydra's to compose
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
            compose(config_name, overrides=mine)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:  # ValueError: ``=1``
        raise ConfigError(f"override: {_one_line(exc)}") from None
