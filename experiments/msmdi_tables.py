"""MS-MDI Section 5 on the queueing simulator: total processing time of MS-MDI, AR-MDI and Local.

    python -m splitgym.experiments.msmdi_tables [--seeds 3] [--weights params flops] [--learned RUN ...]

The paper's scenarios (PAPERS-AUDIT A.3; ``splitgym.envs.msmdi_scenarios``): TX2 workers, two
sources with a = 5 and 10 images/s receiving 10K and 30K images, 2 workers (Fig. 3a), 3 workers
(Fig. 3b) and 2..5 workers (Fig. 3c: per-image time = total time / 40K). Every policy runs on the
same arrival streams (seeds 0..seeds-1); the numbers are means over seeds. AR-MDI's allocation by
parameters is the paper's rule (``params``); ``flops`` balances compute instead. With ``--learned``
the PPO admission policies of ``splitgym train env=msmdi`` runs (their ``export/policy.zip``) also
run each case whose devices, network and AR-MDI weight are their training scenario's (a policy
observes those; on another network or weight it would be a transfer test, and each learned case
costs ~10 min here: SB3's ``predict`` per admission over 40K images x seeds); several runs of one
scenario (one per training seed) are ``learned-0``, ``learned-1``, ... and the improvement row gives
the median over them with its min and max.

Writes ``experiments/results/msmdi_total.csv`` (scenario, weight, policy, seed-mean total and
per-image time, local fraction), ``msmdi_improvement.csv`` (MS-MDI's % improvement over each
baseline, (T_base - T_ms) / T_base, next to the paper's), ``msmdi_curves.csv`` (images finished vs
time, Fig. 3a/b) and ``msmdi.png``. An ``--image-s`` sweep shows how the calibration moves the
orderings (``msmdi_sensitivity.csv``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from splitgym.agents.learned_admission import LearnedAdmission, run_scenario
from splitgym.costmodels.provenance import UNKNOWN, read_run_provenance
from splitgym.costmodels.stages.queue_policies import SCHEDULERS, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueResult, QueueSim, QueueSystem
from splitgym.envs.msmdi_scenarios import MDIScenario, get_mdi_scenario
from splitgym.experiments.results_check import status
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

SCENARIOS = ["ms-mdi-2", "ms-mdi-3", "ms-mdi-4", "ms-mdi-5"]
#: PAPERS-AUDIT A.3: MS-MDI's improvement (%) over (AR-MDI, Local) per worker count; None: not given
PAPER = {2: (16.0, 11.0), 3: (20.0, 32.0), 4: (None, None), 5: (29.0, 74.0)}


def run(system: QueueSystem, policy: Any, seed: int) -> QueueResult:
    return QueueSim(system, seed=seed).run(policy)


def curve(res: QueueResult, points: int = 50) -> list[tuple[int, float]]:
    done = np.sort(res.done)
    idx = np.unique(np.linspace(0, done.size - 1, points).astype(int))
    return [(int(i + 1), float(done[i])) for i in idx]


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--weights", nargs="+", default=["params", "flops"], choices=["params", "flops"])
    ap.add_argument("--scenarios", nargs="+", default=SCENARIOS)
    ap.add_argument("--networks", nargs="+", default=["bw100", "bw50"])
    ap.add_argument("--learned", nargs="*", default=[], help="training run folders (export/policy.zip) to add")
    ap.add_argument(
        "--image-s",
        nargs="*",
        type=float,
        default=[0.1, 0.2, 0.4, 0.8],
        help="calibrations for the sensitivity table (none: skip it)",
    )
    ap.add_argument(
        "--out", default=RESULTS_DIR, help="results folder (default: %(default)s, under the working directory)"
    )
    return ap.parse_args(argv)


def _policies_for(
    sc: MDIScenario, system: QueueSystem, learned: list[tuple[str, Any, dict[str, Any]]], network: str, weight: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every rule scheduler, and the training runs whose scenario has these devices: ``"learned"``
    for one run, ``"learned-<k>"`` for several (one per training seed); and each learned policy's
    run folder."""
    policies: dict[str, Any] = {p: get_scheduler(p) for p in SCHEDULERS}
    same = ("devices", "network", "weight")  # what the policy observed in training
    here = {"devices": sc.devices, "network": network, "weight": weight}
    mine = [(run, pol) for run, pol, trained_on in learned if all(trained_on.get(k) == here[k] for k in same)]
    runs = {}
    for k, (run, pol) in enumerate(mine):
        name = "learned" if len(mine) == 1 else f"learned-{k}"
        policies[name] = LearnedAdmission(pol.model, float(np.mean(system.full_s())), sum(system.images))
        runs[name] = str(run)
    return policies, runs


def _run_columns(run: str | None) -> dict[str, Any]:
    """A learned policy's run and the commit it trained on (``train_commit``). The row's own
    ``commit`` is this evaluation's (write_csv stamps it), so ``results_check`` compares the
    evaluation against this module's dependencies; the training was checked fresh when it was
    loaded (:func:`refuse_stale_runs`), and its dependencies (the source folders) are inside this
    module's, so a later change to them makes the row stale too. A run from before runs recorded
    their commit leaves the row ``unknown``: no commit is guessed."""
    if run is None:
        return {}
    train = read_run_provenance(Path(run))["commit"]
    return {"run": run, "train_commit": train, **({"commit": UNKNOWN} if train == UNKNOWN else {})}


def refuse_stale_runs(runs: list[str]) -> None:
    """Stop in one line when a ``--learned`` run trained on code that has changed since: its
    policy would be scored as if the current code had made it."""
    for run in runs:
        prov = read_run_provenance(Path(run))
        state, changed = status(prov)
        if state == "stale":
            raise SystemExit(
                f"msmdi_tables: --learned {run} trained on {prov['commit'][:10]} and {', '.join(changed[:3])}"
                " changed since; retrain it (remove the folder and run make reproduce-msmdi)"
            )


def _learned_spread(mean: dict[str, float]) -> dict[str, Any]:
    """The learned policies' % improvement over MS-MDI: the median over training runs (seeds), and
    its min and max when there are several."""
    pct = sorted(100 * (mean["ms-mdi"] - v) / mean["ms-mdi"] for k, v in mean.items() if k.startswith("learned"))
    if not pct:
        return {}
    mid = float(np.median(pct))
    spread = {"learned_vs_ms_min_pct": round(pct[0], 1), "learned_vs_ms_max_pct": round(pct[-1], 1)}
    return {"learned_vs_ms_pct": round(mid, 1), "learned_runs": len(pct), **(spread if len(pct) > 1 else {})}


def _improvement_row(name: str, workers: int, net: str, weight: str, mean: dict[str, float]) -> dict[str, Any]:
    """MS-MDI's % improvement over each baseline, (T_base - T_ms) / T_base, next to the paper's."""
    pa, pl = PAPER.get(workers, (None, None))
    return {
        "scenario": name,
        "workers": workers,
        "network": net,
        "weight": weight,
        "ms_vs_ar_mdi_pct": round(100 * (mean["ar-mdi"] - mean["ms-mdi"]) / mean["ar-mdi"], 1),
        "ms_vs_local_pct": round(100 * (mean["local"] - mean["ms-mdi"]) / mean["local"], 1),
        "paper_vs_ar_mdi_pct": pa,
        "paper_vs_local_pct": pl,
        "mw_vs_ar_mdi_pct": round(100 * (mean["ar-mdi"] - mean["ms-mdi-mw"]) / mean["ar-mdi"], 1),
        "order": " < ".join(sorted(mean, key=mean.get)),
        **_learned_spread(mean),
    }


def _sensitivity_table(image_s_values: list[float]) -> list[dict[str, Any]]:
    """Each rule scheduler's total time (seed 0) per calibration ``image_s``: how it moves the orderings."""
    sens = []
    for image_s in image_s_values:
        for name in ("ms-mdi-2", "ms-mdi-3", "ms-mdi-5"):
            system = get_mdi_scenario(name).system(image_s=image_s)
            mean = {p: run(system, get_scheduler(p), 0).makespan_s for p in SCHEDULERS}
            sens.append(
                {
                    "image_s": image_s,
                    "scenario": name,
                    **{p: round(v, 1) for p, v in mean.items()},
                    "order": " < ".join(sorted(mean, key=mean.get)),
                }
            )
    return sens


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parse_args(argv)
    out = Path(args.out)
    learned = []
    if args.learned:
        # one thread: the policy is a small MLP called once per admission slot (~1M calls per case);
        # torch's default intra-op threads spin against the other jobs on 2 cores (6.4 ms per call at
        # load 3 vs 0.6 ms with one thread, measured on an MS-MDI policy)
        torch.set_num_threads(1)
        refuse_stale_runs(args.learned)
        learned = [(run, LearnedAdmission.load(run, 1.0, 1), run_scenario(run)) for run in args.learned]
    totals, curves, improv = [], [], []
    t_start = time.perf_counter()
    cases = [(n, b, w) for n in args.scenarios for b in args.networks for w in args.weights]
    bar = tqdm(cases, desc="msmdi cases", unit="case", disable=None)  # a bar on a terminal only
    for name, net, weight in bar:
        sc = get_mdi_scenario(name)
        system = sc.system(weight=weight, network=net)
        mean: dict[str, float] = {}
        policies, runs = _policies_for(sc, system, learned, net, weight)
        for pname, pol in policies.items():
            res = [run(system, pol, s) for s in range(args.seeds)]
            mean[pname] = float(np.mean([r.makespan_s for r in res]))
            totals.append(
                {
                    "scenario": name,
                    "workers": system.N,
                    "network": net,
                    "weight": weight,
                    "policy": pname,
                    "total_time_s": round(mean[pname], 2),
                    "per_image_s": round(mean[pname] / res[0].images, 5),
                    "mean_sojourn_s": round(float(np.mean([np.mean(r.done - r.arrive) for r in res])), 2),
                    "local_fraction": round(float(np.mean([(r.path == 0).mean() for r in res])), 4),
                    "seeds": args.seeds,
                    **_run_columns(runs.get(pname)),
                }
            )
            if weight == "params" and system.N <= 3 and net == args.networks[0]:
                curves += [
                    {"scenario": name, "policy": pname, "images": n, "time_s": round(t, 2)} for n, t in curve(res[0])
                ]
        improv.append(_improvement_row(name, system.N, net, weight, mean))
        bar.write(json.dumps(improv[-1]))
    sens = _sensitivity_table(args.image_s)
    keys = list(dict.fromkeys(k for r in totals for k in r))
    write_csv(out / "msmdi_total.csv", [{k: r.get(k) for k in keys} for r in totals])
    keys = list(dict.fromkeys(k for r in improv for k in r))
    write_csv(out / "msmdi_improvement.csv", [{k: r.get(k) for k in keys} for r in improv])
    if curves:
        write_csv(out / "msmdi_curves.csv", curves)
    if sens:
        write_csv(out / "msmdi_sensitivity.csv", sens)
    plot([r for r in totals if r["network"] == args.networks[0]], curves, out / "msmdi.png")
    print(f"wrote {out}/msmdi_*.csv and msmdi.png in {time.perf_counter() - t_start:.1f} s")
    return {"totals": totals, "improvement": improv, "sensitivity": sens}


def plot(totals: list[dict[str, Any]], curves: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, name in zip(axes[:2], ("ms-mdi-2", "ms-mdi-3")):
        for pol in dict.fromkeys(r["policy"] for r in curves if r["scenario"] == name):
            pts = [(r["images"], r["time_s"]) for r in curves if r["scenario"] == name and r["policy"] == pol]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=pol)
        ax.set(title=f"{name} (params): time vs images finished", xlabel="images finished", ylabel="time (s)")
        if ax.lines:
            ax.legend()
    ax = axes[2]
    for weight, style in (("params", "-"), ("flops", "--")):
        for pol in dict.fromkeys(r["policy"] for r in totals):
            pts = sorted(
                (r["workers"], r["per_image_s"]) for r in totals if r["weight"] == weight and r["policy"] == pol
            )
            if pts:
                ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], style, marker="o", label=f"{pol} ({weight})")
    ax.set(
        title=f"per-image time vs workers (Fig. 3c, {totals[0]['network']})", xlabel="workers", ylabel="ms per image"
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
