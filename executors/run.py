"""One way to run any plan: ``execute(plan, backend)`` looks up ``RUNNERS[(plan.kind, backend)]``.

Every runner returns a :class:`Run` (latency per image, per-device compute and transfer, bytes
moved, the largest difference from the unsplit model), so the CLI, the contract tests and the
predicted-vs-measured harness read one shape whatever the kind. What a runner does not take is
refused in one line (``--folder`` on a backend that cannot resume, say), never silently ignored.
Validators return a list of :class:`~splitgym.costmodels.plan.Problem` (empty: valid), as
CompilerGym's validation does. A kind registers its runners in ``executors/<kind>/<kind>_runs.py``
(:data:`RUNNER_MODULES`), imported the first time that kind is run.
"""

from __future__ import annotations

import importlib
import inspect
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.plan import KINDS, Plan, Problem

__all__ = [
    "Run",
    "Runner",
    "RUNNERS",
    "RUNNER_MODULES",
    "register_runner",
    "backends",
    "get_runner",
    "runner_options",
    "execute",
    "check_exact",
    "check_near",
    "validate_run",
]


@dataclass
class Run:
    """What one run of a plan measured (seconds; per device: mean per recorded image)."""

    kind: str
    backend: str
    method: str
    latency_s: list[float]
    compute_s: dict[str, float]
    transfer_s: dict[str, float]
    bytes_moved: int
    max_abs_error: float
    ref_max_abs: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_median_s(self) -> float:
        return statistics.median(self.latency_s) if self.latency_s else math.nan

    @property
    def ips(self) -> float:
        """Images per second of the stream (the next image goes when the previous returns)."""
        return len(self.latency_s) / sum(self.latency_s) if self.latency_s else math.nan

    def per_device(self) -> list[dict[str, Any]]:
        names = list(dict.fromkeys([*self.compute_s, *self.transfer_s]))
        return [
            {"device": n, "compute_s": self.compute_s.get(n, 0.0), "transfer_s": self.transfer_s.get(n, 0.0)}
            for n in names
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "backend": self.backend,
            "method": self.method,
            "latency_s": self.latency_s,
            "latency_median_s": self.latency_median_s,
            "ips": self.ips,
            "per_device": self.per_device(),
            "bytes_moved": self.bytes_moved,
            "max_abs_error": self.max_abs_error,
            "ref_max_abs": self.ref_max_abs,
            "detail": self.detail,
        }


Runner = Callable[..., Run]
RUNNERS: dict[tuple[str, str], Runner] = {}
#: Where each kind registers its runners (imported on first use).
RUNNER_MODULES: dict[str, str] = {k: f"splitgym.executors.{k}.{k[:-1]}_runs" for k in KINDS}


def register_runner(kind: str, backend: str) -> Callable[[Runner], Runner]:
    if kind not in KINDS:
        raise ValueError(f"kind: unknown plan kind {kind!r} (known: {', '.join(KINDS)})")

    def deco(fn: Runner) -> Runner:
        RUNNERS[(kind, backend)] = fn
        return fn

    return deco


def backends(kind: str) -> list[str]:
    """The backends that can run a plan of ``kind``."""
    if kind not in KINDS:
        raise ConfigError(f"kind: unknown plan kind {kind!r} (known: {', '.join(KINDS)})")
    importlib.import_module(RUNNER_MODULES[kind])
    return [b for k, b in RUNNERS if k == kind]


def get_runner(kind: str, backend: str) -> Runner:
    known = backends(kind)
    if backend not in known:
        raise ConfigError(f"backend: a {kind!r} plan has no backend {backend!r} (it has: {', '.join(known)})")
    return RUNNERS[(kind, backend)]


def runner_options(kind: str, backend: str) -> list[str]:
    """The keyword options a runner takes (everything after the plan)."""
    params = list(inspect.signature(get_runner(kind, backend)).parameters.values())[1:]
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def execute(plan: Plan, backend: str = "local", **options: Any) -> Run:
    """Run ``plan`` on ``backend``; an option the runner does not take is one ConfigError line."""
    fn = get_runner(plan.kind, backend)
    takes = runner_options(plan.kind, backend)
    unknown = [k for k in options if k not in takes]
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: the {backend} backend of a {plan.kind!r} plan takes no {unknown[0]!r} "
            f"(it takes: {', '.join(takes) or 'nothing'})"
        )
    return fn(plan, **options)


# -- validators ----------------------------------------------------------------------------------
def check_exact(run: Run, rtol: float = 1e-4) -> list[Problem]:
    """The split output equals the unsplit model's (to ``rtol`` of its largest value, at least 1)."""
    bound = rtol * max(1.0, run.ref_max_abs)
    if not run.max_abs_error <= bound:
        return [
            Problem(
                "max_abs_error",
                run.max_abs_error,
                f"the split output differs from the unsplit model by more than {bound:.3g}",
            )
        ]
    return []


def check_near(run: Run, predicted_s: float, tolerance: float = 0.5) -> list[Problem]:
    """The measured median latency is within ``tolerance`` (relative) of the prediction."""
    measured = run.latency_median_s
    if not predicted_s > 0 or math.isnan(measured):
        return [Problem("latency_s", measured, f"no latency to compare with the prediction {predicted_s:.4g} s")]
    err = abs(measured - predicted_s) / predicted_s
    if err > tolerance:
        return [
            Problem(
                "latency_s",
                round(measured, 6),
                f"{err:.0%} from the predicted {predicted_s:.4g} s (tolerance {tolerance:.0%})",
            )
        ]
    return []


def validate_run(
    run: Run, predicted_s: float | None = None, rtol: float = 1e-4, tolerance: float = 0.5
) -> list[Problem]:
    """Every problem of a run: exactness, and nearness to ``predicted_s`` when one is given."""
    return check_exact(run, rtol) + ([] if predicted_s is None else check_near(run, predicted_s, tolerance))
