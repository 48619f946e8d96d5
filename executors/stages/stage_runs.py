"""The ``stages`` kind's runners: a pipeline plan is a volume plan whose volumes each sit whole on
one worker, so the volume executors run it (streams over a ring of workers: ``mdi_ring``)."""

from __future__ import annotations

from splitgym.executors.run import register_runner
from splitgym.executors.volumes.volume_runs import run_volumes_distributed, run_volumes_local

__all__ = ["run_volumes_local", "run_volumes_distributed"]

register_runner("stages", "local")(run_volumes_local)
register_runner("stages", "distributed")(run_volumes_distributed)
