"""Executors: run a plan's split-parts for real (in-process now; torch.distributed later)."""

from .local import LocalExecutor, Part, build_stages, compose_latency, network_transfer

__all__ = ["LocalExecutor", "Part", "build_stages", "compose_latency", "network_transfer"]
