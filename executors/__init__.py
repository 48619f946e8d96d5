"""Executors: run a plan's split-parts for real (in-process, torch.distributed, tiles, hub).

The names below are loaded on first use (PEP 562), not at package import: worker processes import
``splitgym.executors.<module>`` and should pay only for what that module needs (the HyPS workers
start under a memory budget, and the local executor pulls in torchvision through the graph).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LocalExecutor", "Part", "build_stages", "compose_latency", "network_transfer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("splitgym.executors.volumes.volume_local"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
