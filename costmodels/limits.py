"""The physical ranges of the numbers a user gives the cost model (issue 22's absurd sizes).

Why: finite but absurd values passed every check (``latency_ms: 1e300`` in a network YAML priced
every message at ~3e289 years; ``bandwidth_mbps: 1e-300`` made every transfer overflow to inf).
Each range below is far outside any real board or network, so it refuses typos and attacks and
nothing that could be measured:

- latency and overhead per message, ``latency_ms`` / ``overhead_ms`` / ``transport_ms``:
  0 to 1e7 ms (about 2.8 hours);
- bandwidth, every ``*_mbps``: 1e-6 Mbps (one bit per second) to 1e12 Mbps (one exabit per second);
- memory, ``memory_mb`` / ``reserved_mb``: 0 to 1e9 MiB (about a pebibyte);
- a measured time, a profile's ``seconds`` / ``head_seconds`` and a link table's row: 0 to 1e4 s.

Plans, devices and network YAMLs, traces, link tables and profiles all refuse a value outside its
range in one line naming the field and the value (README "Bad input").
"""

from __future__ import annotations

import math

from splitgym.costmodels.errors import SplitgymError

__all__ = ["MAX_LATENCY_MS", "MIN_MBPS", "MAX_MBPS", "MAX_MEMORY_MIB", "MAX_SECONDS", "check_range"]

MAX_LATENCY_MS = 1e7
MIN_MBPS = 1e-6
MAX_MBPS = 1e12
MAX_MEMORY_MIB = 1e9
MAX_SECONDS = 1e4


def check_range(field: str, value: float, low: float, high: float, error: type[SplitgymError]) -> float:
    """``value`` if ``low <= value <= high`` (so finite), else one line of ``error`` naming ``field``."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        raise error(f"{field}: expected a finite number in [{low:g}, {high:g}], got {value!r}")
    if not low <= value <= high:
        raise error(f"{field}: {value:g} is outside the physical range [{low:g}, {high:g}] (costmodels/limits.py)")
    return value
