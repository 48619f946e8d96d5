"""Rendering the current plan, the one render every env of splitgym offers.

A split decision is a small table (rows or tiles per device, queues per worker): ``"ansi"`` returns
it as text (Gymnasium's convention for text envs), ``"human"`` prints it (what rl-zoo3's
``enjoy`` asks for by default), ``"rgb_array"`` paints it, one colour per device, with numpy
alone (no plotting library inside env steps; 0.06-0.23 ms a picture, README "rl-zoo3"), so
video recorders can take it every step. ``render_mode`` is checked when the env is made, so a typo is
one line, not a surprise at the first ``render()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.costmodels.errors import EnvArgumentError

__all__ = ["RENDER_MODES", "PlanRender", "text_table", "paint", "NOTHING", "OFF"]

RENDER_MODES = ["human", "ansi", "rgb_array"]

#: one colour per device index (matplotlib's tab10), then grey for "none"
PALETTE = np.array(
    [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [188, 189, 34],
        [23, 190, 207],
        [127, 127, 127],
        [235, 235, 235],
    ],
    dtype=np.uint8,
)


def text_table(header: list[str], rows: list[list[Any]]) -> str:
    """Left-aligned columns, one line per row (no dependency: this runs inside env steps)."""
    cells = [header] + [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


NOTHING, OFF = -1, -2  # grid values: an empty cell (light grey), a device that is off (grey)


def paint(grid: np.ndarray) -> np.ndarray:
    """An (H, W) grid of device indices (``NOTHING``, ``OFF``) as an (H, W, 3) uint8 picture;
    indices past the palette's nine colours repeat them."""
    idx = np.select([grid == NOTHING, grid == OFF], [len(PALETTE) - 1, len(PALETTE) - 2], grid % (len(PALETTE) - 2))
    return PALETTE[idx]


class PlanRender:
    """Mixin for a ``gym.Env``: ``metadata["render_modes"]``, the ``render_mode`` check and
    ``render()``; the env supplies :meth:`render_text` and :meth:`render_grid`."""

    metadata: dict[str, Any] = {"render_modes": RENDER_MODES, "render_fps": 4}
    render_mode: str | None = None

    def _set_render_mode(self, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise EnvArgumentError(f"render_mode: must be one of {RENDER_MODES} or None, got {render_mode!r}")
        self.render_mode = render_mode

    def render_text(self) -> str:
        raise NotImplementedError

    def render_grid(self) -> np.ndarray:
        """The plan as an (H, W) grid of device indices (``NOTHING``, ``OFF``), for ``rgb_array``."""
        raise NotImplementedError

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            return None
        if self.render_mode == "rgb_array":
            return paint(self.render_grid())
        text = self.render_text()
        if self.render_mode == "human":
            print(text)
            return None
        return text
