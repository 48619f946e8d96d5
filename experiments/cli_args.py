"""Argument types of the ``splitgym`` command: every number bounded and finite when parsed.

Why at parse time: argparse's ``type=int`` / ``type=float`` take ``0``, ``-1``, ``nan`` and
``10000``, and each then fails far away (``--threads 0`` as a torch RuntimeError, ``--port -1`` as
an OverflowError in ``bind``, ``--min-run-time nan`` as a hang or a ValueError, ``--threads 10000``
as 10,000 threads). A type that refuses them gives argparse's one line instead (exit status 2).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable

__all__ = ["bounded_int", "bounded_float", "MAX_THREADS", "nonempty_path", "torch_device"]

#: the most torch threads a process may ask for: more than the cores only adds contention
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``low..high`` (at most 12 digits, read before converting)."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?[0-9]{1,12}\s*", text):  # ASCII digits only: "¹".isdigit() is True
            raise argparse.ArgumentTypeError(f"expected an integer in {low}..{high}, got {text[:20]!r}")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in {low}..{high}, got {value}")
        return value

    return parse


def bounded_float(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    shown = f"{'(' if low_open else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text) if len(text) <= 40 and "_" not in text else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"expected a finite number in {shown}, got {text[:20]!r}")
        return value

    return parse


def torch_device(text: str) -> str:
    """An argparse type: a torch device this machine has (``cuda`` without CUDA is refused, not
    quietly run on the CPU)."""
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a torch device (cpu, cuda, cuda:1), got {text[:40]!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has no CUDA device (use cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    if dev.type not in ("cpu", "cuda") or (dev.type == "cpu" and dev.index not in (None, 0)):
        raise argparse.ArgumentTypeError(f"expected cpu or cuda[:N], got {text[:40]!r}")
    return text


def nonempty_path(text: str) -> str:
    """A path argument: '' would silently mean the working directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return text
