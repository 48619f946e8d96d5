"""Rendering the current plan as text, the one render every env of splitgym offers.

Why text: a split decision is a small table (rows or tiles per device, queues per worker), and a
table reads better than a picture of one. ``render_mode="ansi"`` returns it (Gymnasium's
convention for text envs); ``"human"`` prints it, which is what rl-zoo3's ``enjoy`` asks for by
default. ``render_mode`` is checked when the env is made, so a typo is one line, not a surprise
at the first ``render()``.
"""

from __future__ import annotations

from typing import Any

from splitgym.costmodels.errors import EnvArgumentError

__all__ = ["RENDER_MODES", "TextRender", "text_table"]

RENDER_MODES = ["human", "ansi"]


def text_table(header: list[str], rows: list[list[Any]]) -> str:
    """Left-aligned columns, one line per row (no dependency: this runs inside env steps)."""
    cells = [header] + [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


class TextRender:
    """Mixin for a ``gym.Env``: ``metadata["render_modes"]``, the ``render_mode`` check and
    ``render()``; the env supplies :meth:`render_text`."""

    metadata: dict[str, Any] = {"render_modes": RENDER_MODES, "render_fps": 4}
    render_mode: str | None = None

    def _set_render_mode(self, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise EnvArgumentError(f"render_mode: must be one of {RENDER_MODES} or None, got {render_mode!r}")
        self.render_mode = render_mode

    def render_text(self) -> str:
        raise NotImplementedError

    def render(self) -> str | None:
        if self.render_mode is None:
            return None
        text = self.render_text()
        if self.render_mode == "human":
            print(text)
            return None
        return text
