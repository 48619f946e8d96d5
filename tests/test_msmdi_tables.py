"""The MS-MDI experiment script on a small scenario: CSVs, PNG, percentages computed as stated."""

from __future__ import annotations

import csv
import io

import pytest

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


def test_tables_add_a_learned_policy_of_the_same_devices(tmp_path):
    """A training run's policy (its export) runs the scenarios with its devices, not the others."""
    import json

    from stable_baselines3 import PPO

    from splitgym.envs.msmdi import MSMDIEnv

    env = MSMDIEnv("ms-mdi-3-small", images=(5, 10))
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    buf = io.BytesIO()
    PPO("MlpPolicy", env, n_steps=32, batch_size=32, seed=0, device="cpu").save(buf)
    write_signed(
        run / "export" / "policy.zip", buf.getvalue()
    )  # as the training export writes it: loaded only when signed
    (run / "export" / "summary.json").write_text(json.dumps({"scenario": env.scenario.to_dict() | {"events": []}}))
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
            str(tmp_path / "res"),
            "--learned",
            str(run),
        ]
    )
    t = {r["policy"]: r for r in out["totals"]}
    assert "learned" in t and 0.0 <= t["learned"]["local_fraction"] <= 1.0
    assert out["improvement"][0]["learned_vs_ms_pct"] == pytest.approx(
        100 * (t["ms-mdi"]["total_time_s"] - t["learned"]["total_time_s"]) / t["ms-mdi"]["total_time_s"], abs=0.1
    )
