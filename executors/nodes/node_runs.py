"""The ``nodes`` kind's runners: HiDP plans run on the volume executors; ``distributed`` gives each
node's processor shares to pinned processor workers inside the node process (``processor_runner``)."""

from __future__ import annotations

from splitgym.executors.run import register_runner
from splitgym.executors.volumes.volume_runs import run_volumes_distributed, run_volumes_local

__all__ = ["run_volumes_local", "run_volumes_distributed"]

register_runner("nodes", "local")(run_volumes_local)
register_runner("nodes", "distributed")(run_volumes_distributed)
