"""experiments/hidp_sensitivity.py on a tiny grid, and experiments/hidp_env_ppo.py's summary."""

from __future__ import annotations

import pytest

from splitgym.costmodels.errors import ConfigError
from splitgym.experiments import hidp_env_ppo, hidp_sensitivity
from splitgym.experiments.results_csv import read_csv


def test_local_split_pays_only_when_the_gpu_is_slow():
    """HI Fig. 1's mechanism: with the TX2 GPU far below peak its CPUs are worth a share."""
    slow = hidp_sensitivity.motivation(0.03, ["resnet18"], 80.0)
    fast = hidp_sensitivity.motivation(1.0, ["resnet18"], 80.0)
    s_slow = hidp_sensitivity.summarise(slow, ["resnet18"])[0]
    s_fast = hidp_sensitivity.summarise(fast, ["resnet18"])[0]
    assert s_slow["gain_vs_disnet_pct"] > s_fast["gain_vs_disnet_pct"] + 1.0
    assert s_slow["hidp_local_data_parts"] > 0 and s_fast["hidp_local_data_parts"] == 0


def test_dropping_nodes_and_rates_reach_the_cluster():
    nc = hidp_sensitivity.cluster(300.0, 0.5, "nano", drop=["orin"])
    assert nc.names == ["tx2", "nano", "pi5", "pi4"] and nc.leader == "nano"
    assert {n.network_mbps for n in nc.nodes} == {300.0}
    assert nc.efficiency == {"gpu": 0.5}
    assert [c.leader for c in hidp_sensitivity.clusters(80.0, None, ["orin", "pi4"], k=2)] == ["orin"]
    with pytest.raises(ConfigError, match="^leaders/drop:"):
        hidp_sensitivity.clusters(80.0, None, ["nope"])


@pytest.mark.slow
def test_tiny_grid_writes_csv_png_and_markdown(tmp_path):
    argv = ["--models", "resnet18", "--mbps", "80", "--gpu-eff", "0.3", "--nodes", "2", "--leaders", "orin"]
    assert hidp_sensitivity.main([*argv, "--drop", "", "--out", str(tmp_path)]) == 0
    rows = read_csv(tmp_path / "hidp_sensitivity.csv")
    assert {r["sweep"] for r in rows} == {"bandwidth", "gpu_eff", "gpu_eff_tx2"}
    assert {r["method"] for r in rows if r["sweep"] == "bandwidth"} == set(hidp_sensitivity.METHODS)
    assert (tmp_path / "hidp_sensitivity.png").stat().st_size > 0
    assert "| bandwidth | 80 | hidp-5 | 5 |" in (tmp_path / "hidp_sensitivity.md").read_text()


def test_bad_sweep_values_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit):
        hidp_sensitivity.parse_args(["--mbps", "0"])
    assert capsys.readouterr().err.strip() == "mbps: every value must be > 0, got [0.0]"


def test_ppo_summary_takes_the_median_over_training_seeds():
    rows = [
        {"policy": "p", "train_seed": s, "return": r, "mean_latency_ms": 1.0, "throughput_rps": 2.0}
        for s, r in ((0, -1.0), (0, -3.0), (1, -10.0), (2, -4.0))
    ]
    (summ,) = hidp_env_ppo.summary(rows)
    assert summ["return"] == -4.0 and summ["return_min"] == -10.0 and summ["return_max"] == -2.0
    assert summ["train_seeds"] == 3


@pytest.mark.slow
def test_ppo_script_writes_every_policy_on_the_same_episodes(tmp_path):
    argv = ["--timesteps", "64", "--seeds", "0", "--eval-episodes", "1", "--requests", "8"]
    assert hidp_env_ppo.main([*argv, "--out", str(tmp_path)]) == 0
    rows = read_csv(tmp_path / "hidp_env_ppo.csv")
    assert [r["policy"] for r in rows] == ["ppo", "hidp", "disnet", "omniboost", "earliest-finish", "random"]
    assert {r["seed"] for r in rows} == {hidp_env_ppo.EVAL_BASE}
    assert sum(int(p.split("=")[1]) for p in rows[1]["picks"].split(";")) == 8
    assert "| earliest-finish |" in (tmp_path / "hidp_env_ppo.md").read_text()
