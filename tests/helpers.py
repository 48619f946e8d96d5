"""Helpers shared by tests: exact synthetic profiles and random split decisions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.fx

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiles import DeviceProfile, UnitTable


def synthetic_profile(
    graph: ModelGraph,
    seconds_per_row: float | list[float],
    head: float = 0.0,
    name: str = "local-cpu",
    fixed: float = 0.0,
) -> DeviceProfile:
    """A profile whose unit u takes ``fixed + rows * seconds_per_row[u]`` seconds (exact, linear):
    lets tests compute expected latencies by hand."""
    per = seconds_per_row if isinstance(seconds_per_row, list) else [seconds_per_row] * graph.num_units
    units = []
    for u, s in zip(graph.units, per):
        hs = list(range(1, u.height + 1))
        units.append(UnitTable(u.name, hs, [u.out_shape[2]], [[fixed + h * s] for h in hs]))
    return DeviceProfile(name, name, "measured", graph.name, graph.input_shape, units, head, {"synthetic": True})


def random_cuts(rng: np.random.Generator, height: int, n: int) -> np.ndarray:
    x = np.sort(rng.integers(0, height + 1, size=n - 1))
    return np.concatenate([[0], x, [height]]).astype(np.int64)


class _Recorder(torch.fx.Interpreter):
    """Runs the traced module and keeps every node's output."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        super().__init__(gm)
        self.values: dict[torch.fx.Node, Any] = {}

    def run_node(self, n: torch.fx.Node) -> Any:
        v = super().run_node(n)
        self.values[n] = v
        return v


def intermediates(graph: ModelGraph, x: torch.Tensor) -> dict[torch.fx.Node, Any]:
    """Every node's output of the unsplit model on ``x`` (the reference a split is checked against)."""
    rec = _Recorder(graph.gm)
    with torch.no_grad():
        rec.run(x)
    return rec.values
