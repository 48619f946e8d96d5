"""The MS-MDI experiment script on a small scenario: CSVs, PNG, percentages computed as stated."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest

from splitgym.costmodels.provenance import REPO, SOURCE, UNKNOWN, write_run_provenance
from splitgym.costmodels.run_folder import write_signed
from splitgym.experiments import msmdi_tables


def test_tables_on_a_small_scenario(tmp_path):
    out = msmdi_tables.main(
        [
            "--scenarios",
            "ms-mdi-3-small",
            "--seeds",
            "1",
            "--networks",
            "bw100",
            "--weights",
            "params",
            "--image-s",
            "--out",
            str(tmp_path),
        ]
    )
    for name in ("msmdi_total.csv", "msmdi_improvement.csv", "msmdi_curves.csv", "msmdi.png"):
        assert (tmp_path / name).exists(), name
    rows = list(csv.DictReader((tmp_path / "msmdi_total.csv").open()))
    t = {r["policy"]: float(r["total_time_s"]) for r in rows}
    assert set(t) == {"ms-mdi", "ar-mdi", "local", "ms-mdi-mw"}
    imp = out["improvement"][0]
    assert imp["ms_vs_local_pct"] == pytest.approx(100 * (t["local"] - t["ms-mdi"]) / t["local"], abs=0.1)
    assert imp["paper_vs_local_pct"] == 32.0 and imp["order"].split(" < ")[0] == min(t, key=t.get)
    assert float(next(r for r in rows if r["policy"] == "local")["local_fraction"]) == 1.0


def _learned_run(folder, seed: int = 0):
    """A training run's export as ``splitgym train env=msmdi`` leaves it (an untrained PPO)."""
    import json

    from stable_baselines3 import PPO

    from splitgym.envs.msmdi import MSMDIEnv

    env = MSMDIEnv("ms-mdi-3-small", images=(5, 10))
    (folder / "export").mkdir(parents=True)
    buf = io.BytesIO()
    PPO("MlpPolicy", env, n_steps=32, batch_size=32, seed=seed, device="cpu").save(buf)
    write_signed(folder / "export" / "policy.zip", buf.getvalue())  # as the export writes it: loaded only when signed
    (folder / "export" / "summary.json").write_text(json.dumps({"scenario": env.scenario.to_dict() | {"events": []}}))
    return folder


SMALL = ["--scenarios", "ms-mdi-3-small", "--seeds", "1", "--networks", "bw100", "--weights", "params", "--image-s"]


def test_tables_add_a_learned_policy_of_the_same_devices(tmp_path):
    """A training run's policy (its export) runs the scenarios with its devices, not the others."""
    run = _learned_run(tmp_path / "run")
    out = msmdi_tables.main([*SMALL, "--out", str(tmp_path / "res"), "--learned", str(run)])
    t = {r["policy"]: r for r in out["totals"]}
    assert "learned" in t and 0.0 <= t["learned"]["local_fraction"] <= 1.0
    assert out["improvement"][0]["learned_vs_ms_pct"] == pytest.approx(
        100 * (t["ms-mdi"]["total_time_s"] - t["learned"]["total_time_s"]) / t["ms-mdi"]["total_time_s"], abs=0.1
    )


def test_a_learned_policy_runs_only_the_network_and_weight_it_trained_on(tmp_path):
    """Trained at bw100 with AR-MDI's parameter weights: the bw50 and FLOP-weight cases run the
    rules only (the policy never observed them; each learned case costs minutes at 40K images)."""
    run = _learned_run(tmp_path / "run")
    argv = ["--scenarios", "ms-mdi-3-small", "--seeds", "1", "--networks", "bw100", "bw50"]
    argv += ["--weights", "params", "flops"]
    out = msmdi_tables.main([*argv, "--out", str(tmp_path / "res"), "--learned", str(run)])
    learned = {(r["network"], r["weight"]) for r in out["totals"] if r["policy"] == "learned"}
    rules = {(r["network"], r["weight"]) for r in out["totals"] if r["policy"] == "ms-mdi"}
    assert learned == {("bw100", "params")} and len(rules) == 4


def test_several_learned_runs_give_a_spread_and_their_own_commit(tmp_path):
    runs = [str(_learned_run(tmp_path / f"s{seed}", seed)) for seed in (0, 1, 2)]
    out = msmdi_tables.main([*SMALL, "--out", str(tmp_path / "res"), "--learned", *runs])
    t = {r["policy"]: r for r in out["totals"]}
    assert [t[f"learned-{k}"]["run"] for k in range(3)] == runs
    pct = sorted(100 * (t["ms-mdi"]["total_time_s"] - t[f"learned-{k}"]["total_time_s"]) / t["ms-mdi"]["total_time_s"]
                 for k in range(3))  # fmt: skip
    imp = out["improvement"][0]
    assert imp["learned_runs"] == 3 and imp["learned_vs_ms_pct"] == pytest.approx(pct[1], abs=0.1)
    assert (imp["learned_vs_ms_min_pct"], imp["learned_vs_ms_max_pct"]) == (
        pytest.approx(pct[0], abs=0.1),
        pytest.approx(pct[2], abs=0.1),
    )
    rows = {r["policy"]: r for r in csv.DictReader((tmp_path / "res" / "msmdi_total.csv").open())}
    assert rows["learned-0"]["commit"] == "unknown"  # trained before runs recorded their commit
    assert rows["learned-0"]["train_commit"] == "unknown"
    assert rows["ms-mdi"]["commit"] not in ("", "unknown")  # a rule: this process's commit


def test_a_learned_row_carries_the_evaluation_commit_and_the_training_commit_apart(tmp_path):
    """The evaluation's commit is the row's (results_check compares it with msmdi_tables' own
    dependencies); the training's is its own column, checked when the run is loaded."""
    run = _learned_run(tmp_path / "run")
    prov = write_run_provenance(run, SOURCE, "python -m splitgym.agents.train")
    out = msmdi_tables.main([*SMALL, "--out", str(tmp_path / "res"), "--learned", str(run)])
    rows = {r["policy"]: r for r in csv.DictReader((tmp_path / "res" / "msmdi_total.csv").open())}
    assert rows["learned"]["train_commit"] == prov["commit"] not in ("", UNKNOWN)
    assert rows["learned"]["commit"] == rows["ms-mdi"]["commit"]  # this evaluation's
    assert "learned" in {r["policy"] for r in out["totals"]}


def test_a_run_trained_on_changed_code_is_refused_in_one_line(tmp_path, capsys):
    run = _learned_run(tmp_path / "run")
    old = subprocess.run(  # the repository's first commit: every source folder changed since
        ["git", "-C", str(REPO), "rev-list", "--max-parents=0", "HEAD"], capture_output=True, text=True
    ).stdout.split()[0]
    (run / "provenance.json").write_text(json.dumps({"commit": old, "command": "python -m splitgym.agents.train"}))
    with pytest.raises(SystemExit) as err:
        msmdi_tables.main([*SMALL, "--out", str(tmp_path / "res"), "--learned", str(run)])
    msg = str(err.value)
    assert "\n" not in msg and f"--learned {run} trained on {old[:10]}" in msg and "retrain" in msg
    assert not (tmp_path / "res" / "msmdi_total.csv").exists()
