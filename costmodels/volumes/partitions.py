"""Partitions: where volumes start and end (DistrEdge's "partition scheme").

A partition is a list of ``(first, last)`` unit ranges covering the spatial units in order. The
named ones are the special cases the field uses: one volume per unit (layer-by-layer: CoEdge,
MoDNN), one fused volume (DeepThings), one volume per down-sampling stage (a pooling or strided
unit closes a volume: our reading of DeeperThings' fused blocks).
"""

from __future__ import annotations

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph

__all__ = ["PARTITIONS", "named_partition", "from_starts", "starts_of"]

Partition = list[tuple[int, int]]


def from_starts(starts: list[int], num_units: int) -> Partition:
    """Partition from the first unit of every volume (DistrEdge's partition locations)."""
    s = sorted(set(starts) | {0})
    if s[-1] >= num_units or s[0] < 0:
        raise ConfigError(f"partition: locations must lie in 0..{num_units - 1}, got {starts}")
    return [(a, b - 1) for a, b in zip(s, s[1:] + [num_units])]


def starts_of(partition: Partition) -> list[int]:
    return [f for f, _ in partition]


def _layers(g: ModelGraph) -> Partition:
    return [(i, i) for i in range(g.num_units)]


def _single(g: ModelGraph) -> Partition:
    return [(0, g.num_units - 1)]


def _stages(g: ModelGraph) -> Partition:
    ends = [u.index for u in g.units if u.stride > 1 and u.index < g.num_units - 1]
    return from_starts([0] + [e + 1 for e in ends], g.num_units)


PARTITIONS = {"layers": _layers, "single": _single, "stages": _stages}


def named_partition(name: str, graph: ModelGraph, also: tuple[str, ...] = ()) -> Partition:
    """A named partition, or explicit locations such as ``"0,3,7"``; ``also`` names the caller's
    own partitions for the error line (a scenario's lcpss and pilots)."""
    if name in PARTITIONS:
        return PARTITIONS[name](graph)
    try:
        starts = [int(x) for x in name.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"partition: unknown partition {name!r} (known: {', '.join([*also, *PARTITIONS])}, "
            "or unit indices like 0,3,7)"
        ) from None
    if not starts or starts != sorted(set(starts)):  # "5,3" or "3,3" is a typo, not a partition to reorder
        raise ConfigError(f"partition: unit indices must strictly increase, got {name!r}")
    return from_starts(starts, graph.num_units)
