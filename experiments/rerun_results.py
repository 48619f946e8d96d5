"""Re-make every result the README quotes, in order, with a time estimate per step.

    python -m splitgym.experiments.rerun_results                 # the plan: steps, estimates, total
    python -m splitgym.experiments.rerun_results --run           # run it (niced), stop at the first failure
    python -m splitgym.experiments.rerun_results --run --from distredge-table2 --only-training

Why a script: the README's figures came from runs made on many commits (issue #19); re-making
them all on one frozen commit is a long, ordered job (cost-model tables first: minutes; then the
trainings: hours), and the next session should only have to run it. Estimates for training steps
come from the run folders' ``summary.json`` ``wall_s`` (the 96 thesis runs under
``--runs``/thesis: per group and variant, the median over seeds, plus :data:`START_S` per run for
the process start); a table whose groups the thesis did not run takes the nearest thesis group
(named in the estimate). Cost-model steps carry the duration their README entry quotes. After the
steps: ``results_check`` (every row fresh?) and ``readme_figures --write`` (the README tables).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from splitgym.experiments.results_csv import RESULTS_DIR

__all__ = ["Step", "STEPS", "estimate", "main"]

HIDP_TABLES = ("claims", "latency", "latency_all", "nodes", "nodes_all", "mixes", "staggered", "motivation")
HIDP_TABLES += ("planner_time",)
START_S = 10.0  # a training subprocess's start (torch import, profiles, pilot) not in wall_s
SEEDS = "0,1,2"


@dataclass(frozen=True)
class Step:
    name: str
    module: str
    args: tuple[str, ...] = ()
    minutes: float | None = None  # quoted duration (cost-model steps)
    source: str = ""  # where ``minutes`` comes from
    runs: tuple[tuple[str, str, int], ...] = ()  # training: (thesis group, variant, runs per seed)
    training: bool = False
    seeds: int = len(SEEDS.split(","))  # training runs per (group, variant)

    def command(self) -> list[str]:
        """``python -m module args``, or ``make target`` for a ``make:target`` step."""
        if self.module.startswith("make:"):
            return ["make", self.module.removeprefix("make:")]
        return [sys.executable, "-m", self.module, *self.args]


def _table(name: str, groups: dict[str, int], variants: tuple[str, ...] = ("paper", "ours")) -> Step:
    """A DistrEdge table: ``groups`` maps a thesis group (the estimate's proxy) to its row count."""
    runs = tuple((g, v, n) for g, n in groups.items() for v in variants)
    return Step(
        f"distredge-{name}", "splitgym.experiments.distredge_tables", (name, "--seeds", SEEDS), runs=runs, training=True
    )


STEPS: list[Step] = [
    Step("lcpss-samples", "splitgym.experiments.lcpss_samples", minutes=0.2, source="README: 7 s"),
    Step("nptp-all", "splitgym.experiments.nptp_tables", ("all",), 15, "README NPTP: 15 min at load 10-40"),
    Step("nptp-eq9", "splitgym.experiments.nptp_tables", ("all", "--objective", "eq9"), 22, "README NPTP: 22 min"),
    Step("nptp-search-time", "splitgym.experiments.nptp_tables", ("search-time",), 5, "guess: 3 models x 3 repeats"),
    Step("hidp-tables", "splitgym.experiments.hidp_tables", (), 1.5, "results README: 1.5 min niced"),
    Step("hidp-gpu-eff", "splitgym.experiments.hidp_tables", ("--gpu-efficiency", "0.1"), 1.5, "results README"),
    Step("hidp-dp", "splitgym.experiments.hidp_dp", (), 2, "guess (results README: niced, no duration)"),
    Step("hyps", "splitgym.experiments.hyps_tables", ("all",), 5, "Makefile: a few minutes"),
    Step("hyps-claims", "splitgym.experiments.hyps_claims_table", (), 0.1, "reads the hyps_*.csv above"),
    Step(
        "msmdi",
        "make:reproduce-msmdi",
        (),
        50,
        "Makefile/results README: PPO ~10 min per seed x 3, tables 2.7, regimes ~13, ring a few min",
        training=True,
    ),
    Step("models-extra", "splitgym.experiments.distredge_models_extra", (), 1, "README: ~50 s once profiled"),
    Step("hidp-sensitivity", "splitgym.experiments.hidp_sensitivity", (), 31, "README: 31 min at load 11-33"),
    Step("hidp-claims", "splitgym.experiments.hidp_claims_table", (), 0.1, "reads the hidp_*.csv above"),
    _table("table1", {g: 1 for g in ("DA_bw50", "DA_bw300", "DB_bw50", "DB_bw300", "DC_bw50", "DC_bw300")}),
    _table("table2", {"all-nano_NA": 8}),
    _table("table3", {"LB_LB": 4}),
    _table("alpha", {"all-nano_NA": 10, "DB_bw300": 5, "LB_LB": 5}, ("paper",)),
    _table("models", {"DB_bw50": 2, "all-nano_NA": 2}),
    Step(
        "thesis",
        "splitgym.experiments.distredge_thesis",
        ("--seeds", SEEDS),
        runs=tuple(
            (g, v, 2)
            for g in ("DA_bw50", "DA_bw300", "DB_bw50", "DB_bw300", "DC_bw50", "DC_bw300", "all-nano_NA", "LB_LB")
            for v in ("paper", "ours")
        ),  # fmt: skip
        training=True,
    ),
    Step("distredge-baselines", "splitgym.experiments.distredge_baselines", (), 1, "guess: 16 plans re-planned"),
    Step("distredge-plan-loads", "splitgym.experiments.distredge_plan_loads", (), 0.1, "3.4 s: 48 plans + 36 runs"),
    Step(
        "dynamic",
        "splitgym.experiments.distredge_dynamic",
        (),
        runs=(("all-nano_NA", "paper", 1), ("all-nano_NA", "ours", 1)),  # + 3 re-tunes of 500 episodes each
        training=True,
        seeds=1,
    ),
    Step(
        "hidp-env-ppo",
        "splitgym.experiments.hidp_env_ppo",
        ("--timesteps", "12000"),
        19,
        "README: 380 s x 3",
        training=True,
    ),
    Step(
        "hidp-env-ppo-preview",
        "splitgym.experiments.hidp_env_ppo",
        ("--preview",),
        16,
        "README: 199-317 s x 3",
        training=True,
    ),
    Step(
        "generalization",
        "splitgym.experiments.generalization",
        (),
        60,
        "README: 451-868 s x 3 + 1,221 s",
        training=True,
    ),
    Step(
        "split-benchmarks",
        "splitgym.experiments.split_benchmarks",
        (),
        5,
        "measured: 290 s at load 3.5-5, nice 15 (3 PPO runs of ~25 s + 3 benchmarks)",
        training=True,
    ),
    Step("nptp-ppo", "splitgym.experiments.nptp_tables", ("ppo",), 36, "1-3 min per run, 6 x 3 seeds", training=True),
    Step("nptp-claims", "splitgym.experiments.nptp_claims", (), 0.1, "reads the nptp_*.csv above"),
    Step("bench", "make:bench", (), 5, "Makefile: a few minutes"),
    Step("distredge-claims", "splitgym.experiments.distredge_claims", (), 0.1, "reads the CSVs above and bench.csv"),
    Step("bench-vecenv", "splitgym.experiments.bench_vecenv", (), 1, "guess: 16 cases x 3 x 0.5 s"),
    Step("bench-nptp-env", "splitgym.experiments.bench_nptp_env", (), None, "no duration recorded"),
    Step("bench-exact", "splitgym.experiments.bench_exact", (), None, "no duration recorded"),
    Step(
        "bench-partitions",
        "splitgym.experiments.bench_partitions",
        ("--pilot", "--repeats", "3"),
        5,
        "guess: 3 x pilot",
    ),
    Step("bench-export", "splitgym.experiments.bench_export", ("--repeats", "5"), 3, "README: 8 s x 2 x 5"),
    Step("bench-profiler", "splitgym.experiments.bench_profiler", ("--repeats", "2"), 4, "README: 41 s + 68 s x 2"),
    Step("ppo-vecenv", "splitgym.experiments.ppo_vecenv", ("--cap-s", "90"), 14, "<= 90 s x 3 seeds x 3 setups"),
    Step(
        "ppo-vecenv-aofl",
        "splitgym.experiments.ppo_vecenv",
        ("--target", "1.0", "--cap-s", "120", "--name", "ppo_vecenv_aofl"),
        18,
        "<= 120 s x 3 seeds x 3 setups",
    ),
    Step("pvm", "splitgym.experiments.predicted_vs_measured", ("--distributed", "4"), 4, "README: 20:18-20:22"),
    Step("pvm-report", "splitgym.experiments.predicted_vs_measured_report", (), 0.1, "reads the pvm CSVs"),
    Step("pvm-hidp", "splitgym.experiments.predicted_vs_measured_hidp", (), None, "no duration recorded"),
    Step("pvm-tiles", "splitgym.experiments.predicted_vs_measured_tiles", (), 10, "Makefile: ~10 min"),
    Step("hidp-processors", "splitgym.experiments.hidp_processors", (), None, "no duration recorded"),
]

#: what each step writes under experiments/results/ (globs), for ``--stale``: which steps re-make
#: the CSVs that results_check lists
OUTPUTS: dict[str, tuple[str, ...]] = {
    "lcpss-samples": ("lcpss_samples.csv",),
    "nptp-all": ("nptp_bandwidth.csv", "nptp_sizes.csv", "nptp_layers.csv", "nptp_gap.csv"),
    "nptp-eq9": ("nptp_*_eq9.csv",),
    "nptp-search-time": ("nptp_search_time.csv",),
    "hidp-tables": tuple(f"hidp_{n}.csv" for n in HIDP_TABLES),
    "hidp-gpu-eff": ("hidp_gpu_eff_0.1/*.csv",),
    "hidp-dp": ("hidp_dp.csv",),
    "hyps": tuple(f"hyps_{n}.csv" for n in ("parts", "cuts", "measured", "layers", "claims")),
    "hyps-claims": ("hyps_claims_table.csv",),
    "msmdi": ("msmdi_*.csv",),
    "models-extra": ("distredge_models_extra.csv",),
    "hidp-sensitivity": ("hidp_sensitivity*.csv",),
    "hidp-claims": ("hidp_claims_table.csv",),
    **{f"distredge-{t}": (f"{t}.csv", f"{t}_*.csv") for t in ("table1", "table2", "table3", "alpha", "models")},
    "thesis": ("thesis*.csv",),
    "dynamic": ("dynamic.csv", "dynamic_summary.csv"),
    "hidp-env-ppo": ("hidp_env_ppo.csv",),
    "hidp-env-ppo-preview": ("hidp_env_ppo_preview.csv",),
    "generalization": ("generalization_*.csv",),
    "split-benchmarks": ("split_bench_*.csv",),
    "nptp-ppo": ("nptp_ppo*.csv",),
    "nptp-claims": ("nptp_claims.csv",),
    "bench": ("bench.csv",),
    "distredge-baselines": ("distredge_baselines.csv",),
    "distredge-plan-loads": ("distredge_plan_loads.csv",),
    "distredge-claims": ("distredge_claims.csv",),
    "bench-vecenv": ("bench_vecenv.csv",),
    "bench-nptp-env": ("bench_nptp_env.csv",),
    "bench-exact": ("bench_exact.csv",),
    "bench-partitions": ("bench_partitions.csv", "bench_pilot.csv"),
    "bench-export": ("bench_export.csv",),
    "bench-profiler": ("bench_profiler.csv",),
    "ppo-vecenv": ("ppo_vecenv.csv",),
    "ppo-vecenv-aofl": ("ppo_vecenv_aofl.csv",),
    "pvm": ("predicted_vs_measured.csv",),
    "pvm-report": ("predicted_vs_measured_summary.csv",),
    "pvm-hidp": ("predicted_vs_measured_hidp*.csv",),
    "pvm-tiles": ("predicted_vs_measured_tiles.csv",),
    "hidp-processors": ("hidp_processors.csv",),
}


def _walls(runs: Path) -> dict[tuple[str, str], float]:
    """Median ``wall_s`` over boards and seeds per (thesis group, variant)."""
    got: dict[tuple[str, str], list[float]] = {}
    for path in runs.glob("thesis/*/*/*/seed*/export/summary.json"):
        group, _, variant = path.parts[-6:-3]
        got.setdefault((group, variant), []).append(float(json.loads(path.read_text())["wall_s"]))
    return {k: statistics.median(v) for k, v in got.items()}


def estimate(step: Step, walls: dict[tuple[str, str], float]) -> tuple[float | None, str]:
    """Seconds and where the figure comes from (None: no run folders to estimate from)."""
    if not step.runs:
        return (None if step.minutes is None else step.minutes * 60), step.source
    seeds = step.seeds
    missing = [(g, v) for g, v, _ in step.runs if (g, v) not in walls]
    if missing:
        return None, f"no thesis run folder for {missing[0][0]}/{missing[0][1]} under --runs"
    total = sum(n * seeds * (walls[(g, v)] + START_S) for g, v, n in step.runs)
    count = sum(n * seeds for _, _, n in step.runs)
    return total, f"{count} runs; thesis wall_s medians of {', '.join(sorted({g for g, _, _ in step.runs}))}"


def stale_steps(results: Path, walls: dict[tuple[str, str], float]) -> tuple[list[str], list[str]]:
    """Lines naming, per step, the stale or unknown CSVs it re-makes and its estimate; and the
    stale CSVs no step makes (predicted_vs_measured_gpu needs a GPU)."""
    from splitgym.experiments.results_check import check_csv

    bad = [p for p in sorted(results.rglob("*.csv")) if "runs" not in p.parts and check_csv(p)]
    lines, covered = [], set()
    for step in STEPS:
        mine = [p for p in bad if any(fnmatch.fnmatch(str(p.relative_to(results)), g) for g in OUTPUTS[step.name])]
        if mine:
            covered.update(mine)
            secs, why = estimate(step, walls)
            lines.append(f"{step.name:<22} {_fmt(secs)}  {', '.join(p.name for p in mine)}  ({why})")
    return lines, [str(p) for p in bad if p not in covered]


def _fmt(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:6.1f} min"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=f"{RESULTS_DIR}/runs", help="run folders to estimate from (their thesis/)")
    ap.add_argument("--run", action="store_true", help="run the steps (nice -n 10), not only list them")
    ap.add_argument("--from", dest="start", default=None, help="start at this step's name")
    ap.add_argument("--only-training", action="store_true")
    ap.add_argument("--stale", action="store_true", help="only the steps that re-make stale or unknown CSVs")
    args = ap.parse_args(argv)
    if args.stale:
        lines, orphans = stale_steps(Path(RESULTS_DIR), _walls(Path(args.runs)))
        print("\n".join(lines) + "".join(f"\nno step re-makes {p}" for p in orphans))
        return 0
    names = [s.name for s in STEPS]
    if args.start and args.start not in names:
        ap.error(f"--from: no step {args.start!r} (steps: {', '.join(names)})")
    steps = STEPS[names.index(args.start) if args.start else 0 :]
    steps = [s for s in steps if s.training or not args.only_training]
    walls = _walls(Path(args.runs))
    total = 0.0
    for i, step in enumerate(steps, 1):
        secs, why = estimate(step, walls)
        total += secs or 0.0
        cmd = ["nice", "-n", "10", *step.command()]
        shown = ["python", *cmd[4:]] if cmd[3] == sys.executable else cmd[3:]
        print(f"{i:2}. {step.name:<22} {_fmt(secs)}  ({why})\n    {' '.join(shown)}", flush=True)
        if args.run and subprocess.run(cmd).returncode != 0:
            raise SystemExit(f"rerun_results: step {step.name} failed; resume with --from {step.name}")
    print(f"total {total / 3600:.1f} h (steps marked ? not counted)")
    if args.run:
        subprocess.run([sys.executable, "-m", "splitgym.experiments.readme_figures", "--write"], check=True)
        return subprocess.run([sys.executable, "-m", "splitgym.experiments.results_check"]).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
