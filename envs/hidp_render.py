"""What HiDP-v0 shows: the processors' queues, the nodes' availability and the current request.

HiDP's state is not one plan but the load the plans left behind, so the frame is that load at the
current arrival: per node and processor the backlog (seconds until it is free), whether the node
is available, and the request to be planned next (or, once the episode is over, its mean latency).
``"rgb_array"`` paints the same as bands (``plan_render.paint``): one 8-pixel band per processor,
filled in its node's colour over ``1 - exp(-backlog / backlog_scale)`` of the width (the
observation's squashing), a band of an unavailable node grey.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.envs.plan_render import NOTHING, OFF, PlanRender, text_table

__all__ = ["HiDPRender", "BAND", "WIDTH"]

BAND, WIDTH = 8, 256  # pixels per processor band, pixels across


class HiDPRender(PlanRender):
    """Mixin for :class:`~splitgym.envs.hidp_env.HiDPEnv` (it supplies ``nodes``, ``free``,
    ``arrivals``, ``i``, ``prev_t``, ``results``, ``models``, ``requests``, ``mask``, ``_squash``)."""

    nodes: Any
    free: dict[tuple[int, str], float]
    arrivals: list[tuple[float, int]]
    i: int
    prev_t: float
    results: list[tuple[str, Any]]
    models: list[str]
    requests: int

    def mask(self, t: float) -> tuple[bool, ...]:
        raise NotImplementedError

    def _squash(self, seconds: float) -> float:
        raise NotImplementedError

    def _now(self) -> float:
        """The current arrival's time (the last one's once the episode is over)."""
        return self.arrivals[self.i][0] if self.i < self.requests else self.prev_t

    def _rows(self) -> list[tuple[int, str, str, float, bool]]:
        """(node index, node, processor, backlog seconds, available) per processor, at now."""
        t, nodes = self._now(), self.nodes.nodes
        avail = self.mask(t)
        return [
            (j, n.name, p.name, max(0.0, self.free.get((j, p.name), 0.0) - t), bool(avail[j]))
            for j, n in enumerate(nodes)
            for p in n.processors
        ]

    def render_text(self) -> str:
        if not hasattr(self, "arrivals"):
            return "HiDP-v0: no episode yet (call reset())"
        rows = [[n, p, "yes" if a else "no", b] for _, n, p, b, a in self._rows()]
        table = text_table(["node", "processor", "available", "backlog_s"], rows)
        done = self.i >= self.requests
        head = f"t {self._now():.3f} s, request {min(self.i + 1, self.requests)}/{self.requests}"
        if not done:
            s = self.arrivals[self.i][1]
            head += f": stream {s} ({self.models[s]})"
        lines = [head, table]
        if self.results:
            model, last = self.results[-1]
            lines.append(f"last request: {model}, latency {last.latency * 1e3:.2f} ms")
        if done:
            mean = float(np.mean([r.latency for _, r in self.results]))
            lines.append(f"episode over: {len(self.results)} requests, mean latency {mean * 1e3:.2f} ms")
        return "\n".join(lines)

    def render_grid(self) -> np.ndarray:
        if not hasattr(self, "arrivals"):
            return np.full((BAND, WIDTH), NOTHING, dtype=np.int64)
        rows = self._rows()
        grid = np.full((BAND * len(rows), WIDTH), NOTHING, dtype=np.int64)
        for k, (j, _, _, backlog, avail) in enumerate(rows):
            band = grid[BAND * k : BAND * (k + 1)]
            if not avail:
                band[:] = OFF
                continue
            band[:, : int(round(WIDTH * self._squash(backlog)))] = j
        return grid

    def frame_info(self) -> dict[str, Any]:
        """The frame's numbers (backlog per processor), for tests and notebooks."""
        return {f"{n}/{p}": b for _, n, p, b, _ in self._rows()}
