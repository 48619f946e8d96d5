"""``splitgym benchmark``'s arguments and its one call (kept apart from cli.py's other verbs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splitgym.costmodels.errors import ConfigError

__all__ = ["add_benchmark_args", "benchmark"]


def add_benchmark_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "targets",
        nargs="+",
        help="planner names (aofl, nptp-mpa, ms-mdi, hidp, ...: the split's env's), 'random' (random search) "
        "or folders of runs (DistrEdge-v1, NPTP-v1, MSMDI-v1, HiDP-v0)",
    )
    sp.add_argument("--split", default="distredge-v1/test", help="a split (splitgym list splits)")
    sp.add_argument("--seeds", type=int, default=3, help="random search's seeds (a run folder brings its own)")
    sp.add_argument(
        "--random-evals",
        type=int,
        default=None,
        help="episodes of random search per instance (default: the runs' median training episodes, else 100)",
    )
    sp.add_argument("--instances", default=None, help="only these instance indices of the split, e.g. 0,3,4")
    sp.add_argument("-o", "--out", default="runs/benchmark", help="folder for benchmark.{csv,md,png}")


def _indices(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"instances: expected indices like 0,3,4, got {text!r}") from None


def benchmark(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Run it, write the files, return (JSON, the Markdown table and where the files are)."""
    from splitgym.agents.bench_report import markdown, write_outputs
    from splitgym.agents.benchmark import run_benchmark

    result = run_benchmark(args.targets, args.split, args.seeds, args.random_evals, _indices(args.instances))
    paths = write_outputs(result, Path(args.out))
    return result, markdown(result) + "wrote " + ", ".join(str(p) for p in paths)
