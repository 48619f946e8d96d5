"""The ``stages`` kind's scorer: a pipeline of whole volumes, one worker each, is a volume plan, so
the volume scorer prices it (one image through the chain; streams of images are the queueing
simulator's)."""

from __future__ import annotations

from splitgym.costmodels.scoring import register_scorer
from splitgym.costmodels.volumes.volume_scoring import score_volumes

__all__ = ["score_volumes"]

register_scorer("stages")(score_volumes)
