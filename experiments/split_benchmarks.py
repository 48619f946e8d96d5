"""Issue 19: the README's named-split benchmark tables (MSMDI-v1, HiDP-v0, NPTP-v1), re-made into CSVs.

    nice -n 15 python -m splitgym.experiments.split_benchmarks          # runs/split_benchmarks/
    python -m splitgym.experiments.split_benchmarks --families hidp,nptp --skip-training

Why a script: the README's three tables under "Named splits for NPTP-v1, MSMDI-v1, HiDP-v0" were
pasted from ``splitgym benchmark`` runs in a temporary folder; no CSV held them and nothing re-made
them. Here the README's commands run as ordinary ``splitgym`` subprocesses (printed before each runs):

1. MSMDI-v1: PPO, 40 episodes on train's distribution (``env.instances`` = train's rates), one
   run per seed, each folder stamped with its commit first (the benchmark's rows of the trained
   target carry it); a run folder that already holds ``export/policy.zip`` is reused, not re-stamped;
2. ``splitgym benchmark`` per family on its ``*/test`` split: MSMDI's schedulers, random search
   and the trained runs (played zero-shot); HiDP's baseline policies; NPTP's planners;
3. each ``benchmark.{csv,md,png}`` copied to ``experiments/results/split_bench_<family>.*``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from splitgym.experiments.results_csv import RESULTS_DIR
from splitgym.experiments.stamp_run import stamp_run

__all__ = ["FAMILIES", "commands", "main"]

#: family -> (split, the benchmark's planner targets, random search's episodes: None = the runs' median)
FAMILIES: dict[str, tuple[str, tuple[str, ...], int | None]] = {
    "msmdi": ("msmdi-v1/test", ("ms-mdi", "ar-mdi", "local", "ms-mdi-mw"), None),
    "hidp": ("hidp-v0/test", ("hidp", "disnet", "omniboost", "earliest-finish"), 20),
    "nptp": ("nptp-v1/test", ("equal-strips", "coedge-lp", "coedge-strips", "grid", "nptp-mpa"), 20),
}
#: the README's MSMDI-v1 training: train's rates as the env's distribution
MSMDI_TRAIN = ("env=msmdi", "env.id=splitgym/MSMDI-v1", "env.instances={rates:[[3,7],[7,13]]}", "agent=ppo")
RANDOM_SEEDS = "3"  # ``--seeds 3``: random search's three seeds, as the README ran it


def _training(cli: list[str], runs: Path, seeds: list[str], episodes: int) -> list[list[str]]:
    return [
        [*cli, "train", *MSMDI_TRAIN, f"episodes={episodes}", f"seed={s}", "env.eval_episodes=1",
         f"hydra.run.dir={runs / f's{s}'}"]
        for s in seeds
    ]  # fmt: skip


def commands(
    root: Path,
    families: list[str],
    seeds: list[str],
    episodes: int = 40,
    skip_training: bool = False,
    instances: str | None = None,
    random_evals: int | None = None,
) -> list[list[str]]:
    """Every subprocess, in order: MSMDI's trainings (unless skipped), then one benchmark per family."""
    cli = [str(Path(sys.executable).parent / "splitgym")]
    runs = root / "msmdi_runs"
    cmds = _training(cli, runs, seeds, episodes) if "msmdi" in families and not skip_training else []
    for family in families:
        split, planners, evals = FAMILIES[family]
        evals = random_evals if random_evals is not None else evals
        bench = [*cli, "benchmark", *planners, "random", *([str(runs)] if family == "msmdi" else [])]
        bench += ["--split", split, "--seeds", RANDOM_SEEDS, *(["--random-evals", str(evals)] if evals else [])]
        bench += [*(["--instances", instances] if instances else []), "-o", str(root / f"bench-{family}")]
        cmds.append(bench)
    return cmds


def _families(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in FAMILIES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"{bad[0] if bad else text!r} is not a family ({', '.join(FAMILIES)})")
    return list(dict.fromkeys(names))


def _seeds(text: str) -> list[str]:
    seeds = [s.strip() for s in text.split(",")]
    if not all(s.isdigit() for s in seeds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of non-negative integers")
    return seeds


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("runs/split_benchmarks"), help="where the runs go")
    ap.add_argument("--families", type=_families, default=list(FAMILIES), help="subset of msmdi,hidp,nptp")
    ap.add_argument("--seeds", type=_seeds, default=["0", "1", "2"], help="MSMDI-v1 PPO seeds")
    ap.add_argument("--episodes", type=_positive, default=40, help="each MSMDI-v1 PPO run's episodes")
    ap.add_argument("--skip-training", action="store_true", help="only the benchmarks (MSMDI runs already there)")
    ap.add_argument(
        "--instances",
        default=None,
        help="only these test instances (e.g. 0,2): a quick check "
        "(random search then draws other plans: instance 2 of hidp-v0/test alone gives 163 ms, 151 in the full run)",
    )
    ap.add_argument("--random-evals", type=_positive, default=None, help="override random search's episodes")
    ap.add_argument("--out", type=Path, default=Path(RESULTS_DIR), help="where the benchmark tables are copied")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    cmds = commands(
        args.root, args.families, args.seeds, args.episodes, args.skip_training, args.instances, args.random_evals
    )
    for cmd in cmds:
        run_dir = next((Path(c.split("=", 1)[1]) for c in cmd if c.startswith("hydra.run.dir=")), None)
        if run_dir and (run_dir / "export" / "policy.zip").exists():
            print(f"= {run_dir} is trained: reused (its own commit stamp kept)", flush=True)
            continue
        print("+", shlex.join(cmd), flush=True)
        if run_dir:  # the commit the run trains on: the benchmark's rows of it carry it
            stamp_run(run_dir, shlex.join(["splitgym", *cmd[1:]]))
        subprocess.run(cmd, check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for family in args.families:
        for ext in ("csv", "md", "png"):
            shutil.copy(args.root / f"bench-{family}" / f"benchmark.{ext}", args.out / f"split_bench_{family}.{ext}")


if __name__ == "__main__":
    main()
