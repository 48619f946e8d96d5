"""The command that re-runs one training job alone (``command.txt`` in its run folder).

``sys.argv`` of a multirun job is the whole sweep (``splitgym train -m seed=0,1,2``), and under a
launcher (submitit, Ray) it is the launcher's worker; neither re-runs *this* job. Hydra knows the
job's own overrides (``hydra.overrides.task``: the sweep's values for this job, an Optuna trial's
parameters included) and the config folders added on the command line; those make the command.
"""

from __future__ import annotations

import shlex
import sys

from hydra.core.hydra_config import HydraConfig

__all__ = ["rerun_command"]


def rerun_command() -> str:
    """``splitgym train <this job's overrides>``, quoted for a POSIX shell (outside a Hydra job:
    the process's own command line)."""
    if not HydraConfig.initialized():
        return shlex.join(sys.argv)
    hc = HydraConfig.get()
    words = ["splitgym", "train"]
    for source in hc.runtime.config_sources:
        if source.provider == "command-line" and source.schema == "file":
            words += ["--config-dir", source.path]
    return shlex.join([*words, *hc.overrides.task])
