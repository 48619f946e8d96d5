"""Issue 18 item 7: does a DistrEdge policy trained on many instances carry to held-out ones?

    nice -n 10 python -m splitgym.experiments.generalization            # runs/generalization/

Three steps, each an ordinary ``splitgym`` command (printed before it runs):

1. a generalist: DDPG (conf/agent/ddpg.yaml) on ``distredge-v1/train`` (24 instances), seeds 0-2;
2. specialists: the same DDPG on each test instance alone (``env.instance=i``), seeds 0-2, as
   DistrEdge trains (one run per cluster), on a short budget;
3. ``splitgym benchmark`` of every classical planner, exact search, random search with the
   specialists' budget, the generalist and the specialists on ``distredge-v1/test``; then the
   generalist on ``distredge-v1/val`` (in distribution) beside the same planners.

Outputs: experiments/results/generalization_{test,val}.{csv,md,png}.
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

__all__ = ["commands", "main"]

PLANNERS = ["equal", "coedge", "modnn", "mednn", "deepthings", "deeperthings", "aofl", "offload", "exact"]


def commands(root: Path, episodes: int, specialist_episodes: int, seeds: str) -> list[list[str]]:
    cli = [str(Path(sys.executable).parent / "splitgym")]
    common = ["env=distredge_v1", "eval.every=0", "checkpoint_every=100000", f"seed={seeds}"]
    test_idx = ",".join(str(i) for i in range(9))
    gen, spec = root / "generalist", root / "specialist"
    bench = [*cli, "benchmark", *PLANNERS, "random"]
    return [
        [*cli, "train", "-m", *common, f"episodes={episodes}", f"hydra.sweep.dir={gen}"],
        [
            *cli, "train", "-m", *common, "env.split=distredge-v1/test", f"env.instance={test_idx}",
            f"episodes={specialist_episodes}", f"hydra.sweep.dir={spec}",
        ],
        [
            *bench, str(gen), str(spec), "--split", "distredge-v1/test",
            "--random-evals", str(specialist_episodes), "-o", str(root / "bench-test"),
        ],
        [
            *bench, str(gen), "--split", "distredge-v1/val",
            "--random-evals", str(specialist_episodes), "-o", str(root / "bench-val"),
        ],
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="runs/generalization", help="where the runs go")
    ap.add_argument("--episodes", type=int, default=3000, help="the generalist's episodes (all train instances)")
    ap.add_argument("--specialist-episodes", type=int, default=300, help="each specialist's episodes")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--skip-training", action="store_true", help="only the benchmarks (runs already there)")
    ap.add_argument("--out", default=RESULTS_DIR, help="where the benchmark tables are copied")
    args = ap.parse_args(argv)
    root = Path(args.root)
    cmds = commands(root, args.episodes, args.specialist_episodes, args.seeds)
    for cmd in cmds[2:] if args.skip_training else cmds:
        print("+", shlex.join(cmd), flush=True)
        sweep = next((c.split("=", 1)[1] for c in cmd if c.startswith("hydra.sweep.dir=")), None)
        if sweep:  # the commit the sweep's runs train on: the benchmark's rows of them carry it
            stamp_run(Path(sweep), shlex.join(["splitgym", *cmd[1:]]))
        subprocess.run(cmd, check=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for part in ("test", "val"):
        for ext in ("csv", "md", "png"):
            shutil.copy(root / f"bench-{part}" / f"benchmark.{ext}", out / f"generalization_{part}.{ext}")


if __name__ == "__main__":
    main()
