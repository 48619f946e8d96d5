"""Profile forms (table, linear, piecewise, knn) per device: the maths, the devices-YAML fields and
their one-line refusals, plans that record the form, ``splitgym profile --forms``, and a devices
YAML with every form that plans, simulates and trains."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError, ProfileError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.profile_forms import DEFAULT_K, form_seconds
from splitgym.costmodels.profiles import load_or_measure, profile_for
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.experiments.cli import main

FORMS_YAML = {
    "name": "forms4",
    "devices": [
        {"name": "tab", "board": "local-cpu", "form": "table"},
        {"name": "lin", "board": "local-cpu", "form": "linear"},
        {"name": "pw", "board": "local-cpu", "form": "piecewise", "knots": 4},
        {"name": "nn", "board": "local-cpu", "form": "knn", "k": 2},
    ],
}


@pytest.fixture(scope="module")
def small() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg11", 64, weights=False)


@pytest.fixture
def forms_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "forms.yaml"
    path.write_text(yaml.safe_dump(FORMS_YAML))
    return path


# -- the maths ------------------------------------------------------------------------------------
def test_knn_is_the_plain_mean_of_the_k_nearest_measured_heights():
    h = np.array([1, 10, 20, 30, 40])
    s = np.array([1.0, 3.0, 9.0, 4.0, 16.0])  # deliberately not monotone
    at = np.array([1, 14, 16, 26, 40])
    got = form_seconds(h, s, at, "knn", k=2)
    # 14: nearest 10 (4) and 20 (6); 16: 20 (4), 10 (6); 26: 30 (4), 20 (6); 40: 40, 30; 1: 1, 10
    assert got.tolist() == pytest.approx([2.0, 6.0, 6.0, 6.5, 10.0])
    assert form_seconds(h, s, h, "knn", k=1).tolist() == pytest.approx(s.tolist())  # k=1: the table on its points


def test_linear_recovers_a_line_and_piecewise_fits_a_kink_better():
    h = np.arange(1, 65, 4).astype(float)
    line = 0.5 * h + 2.0
    assert form_seconds(h, line, h, "linear").tolist() == pytest.approx(line.tolist())
    kink = np.where(h < 32, h, 32 + 5 * (h - 32))
    err = {f: np.abs(form_seconds(h, kink, h, f, knots=3) - kink).mean() for f in ("linear", "piecewise")}
    assert err["piecewise"] < 0.2 * err["linear"]


def test_a_device_in_each_form_gets_its_own_profile(small: ModelGraph, forms_yaml: Path):
    cluster = Cluster.from_config(str(forms_yaml), 100.0)
    cache: dict = {}
    profs = {d.name: profile_for(d.spec, small, cache) for d in cluster.devices}
    base = load_or_measure(small, "cpu", progress=False)
    assert profs["tab"] is cache["local-cpu"] and profs["tab"].to_json() == base.to_json()  # the measurement
    assert {p.meta.get("fitted") for n, p in profs.items() if n != "tab"} == {"linear", "piecewise", "knn"}
    assert profs["pw"].meta["form_options"] == {"knots": 4} and profs["nn"].meta["form_options"] == {"k": 2}
    totals = {n: p.total_seconds() for n, p in profs.items()}
    assert len(set(np.round(list(totals.values()), 12))) == 4  # four forms, four answers
    # kNN answers at every row with the mean of its unit's 2 nearest measured heights
    u0 = base.units[0]
    s0 = np.asarray(u0.seconds)[:, -1]
    for rows in (5, 23, 64):
        nearest = np.argsort(np.abs(np.asarray(u0.heights) - rows), kind="stable")[:2]
        assert profs["nn"].unit_latency(0, rows) == pytest.approx(s0[nearest].mean())
    assert len(cache) == 5  # four specs + the one local table they share


# -- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"form": "cubic"}, r"^devices\.d0\.form: expected one of table, linear, piecewise, knn, got 'cubic'$"),
        ({"form": "knn", "k": 0}, r"^devices\.d0\.k: expected an integer >= 1, got 0$"),
        ({"form": "knn", "k": "abc"}, r"^devices\.d0\.k: expected an integer >= 1, got 'abc'$"),
        ({"form": "knn", "k": True}, r"^devices\.d0\.k: expected an integer >= 1, got True$"),
        ({"form": "linear", "k": 3}, r"^devices\.d0\.k: only applies to form knn"),
        ({"form": "piecewise", "knots": 1}, r"^devices\.d0\.knots: expected an integer >= 2, got 1$"),
        ({"knots": 3}, r"^devices\.d0\.knots: only applies to form piecewise"),
    ],
)
def test_bad_form_fields_are_one_line_naming_device_and_field(fields: dict, message: str):
    entry = {"name": "d0", "board": "local-cpu", **fields}
    with pytest.raises(ConfigError, match=message) as exc:
        Cluster.from_config({"devices": [entry]}, 100.0)
    assert "\n" not in str(exc.value)


def test_k_above_a_units_measured_heights_is_refused_with_the_device(small: ModelGraph):
    fewest = min(len(u.heights) for u in load_or_measure(small, "cpu", progress=False).units)
    entry = {"name": "d0", "board": "local-cpu", "form": "knn", "k": fewest + 1}
    cluster = Cluster.from_config({"devices": [entry]}, 100.0)
    with pytest.raises(ProfileError, match=rf"^devices\.d0\.k: {fewest + 1} is more than the {fewest} measured"):
        Simulator(small, cluster)
    entry["k"] = fewest  # the most it may be
    assert Simulator(small, Cluster.from_config({"devices": [entry]}, 100.0)).profiles[0].meta["fitted"] == "knn"
    assert DEFAULT_K > fewest  # the default is clamped per unit instead of refused
    entry.pop("k")
    Simulator(small, Cluster.from_config({"devices": [entry]}, 100.0))


# -- plans and the CLI ----------------------------------------------------------------------------
def test_plan_records_each_form_and_simulate_scores_with_it(
    small: ModelGraph, forms_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    plan_path = tmp_path / "plan.json"
    argv = ["plan", "equal", "--model", "vgg11", "--input", "64", "--devices", str(forms_yaml)]
    assert main([*argv, "--bandwidth", "100", "--partition", "stages", "-o", str(plan_path)]) == 0
    doc = json.loads(plan_path.read_text())
    recorded = {d["name"]: {k: d.get(k) for k in ("form", "k", "knots")} for d in doc["devices"]}
    assert recorded == {
        "tab": {"form": "table", "k": None, "knots": None},
        "lin": {"form": "linear", "k": None, "knots": None},
        "pw": {"form": "piecewise", "k": None, "knots": 4},
        "nn": {"form": "knn", "k": 2, "knots": None},
    }
    capsys.readouterr()
    assert main(["simulate", str(plan_path), "--json"]) == 0
    simulated = json.loads(capsys.readouterr().out)["latency_s"]
    plan = load_plan(plan_path)
    with_forms = Simulator(small, Cluster.from_config(str(forms_yaml), 100.0)).simulate(plan).latency
    plain = {"devices": [{"name": d["name"], "board": "local-cpu"} for d in FORMS_YAML["devices"]]}
    all_table = Simulator(small, Cluster.from_config(plain, 100.0)).simulate(plan).latency
    assert simulated == pytest.approx(with_forms, rel=1e-9)
    assert abs(with_forms - all_table) > 1e-6  # the forms took effect


def test_version_2_plan_without_forms_loads_as_the_default(tmp_path: Path, small: ModelGraph):
    path = tmp_path / "p.json"
    assert main(["plan", "equal", "--model", "vgg11", "--input", "64", "--devices", "DB", "-o", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert all(set(d) == {"name", "board", "bandwidth_mbps"} for d in doc["devices"])
    cluster = load_plan(path).cluster()
    assert all(d.spec.form is None and d.spec.key() == d.board for d in cluster.devices)


def test_profile_forms_cli_shows_each_form_and_its_error(capsys: pytest.CaptureFixture[str]):
    assert main(["profile", "--model", "vgg11", "--input", "64", "--forms", "--json", "--quiet"]) == 0
    rows = {r["form"]: r for r in json.loads(capsys.readouterr().out)["forms"]}
    assert list(rows) == ["table", "linear", "piecewise", "knn"]
    assert rows["table"]["mape_pct"] == 0.0
    assert all(rows[f]["mape_pct"] > 0 for f in ("linear", "piecewise", "knn"))
    assert all(r["worst_unit_mape_pct"] >= r["mape_pct"] for r in rows.values())
    assert main(["profile", "--model", "vgg11", "--input", "64", "--forms", "--k", "1", "--json", "--quiet"]) == 0
    assert {r["form"]: r for r in json.loads(capsys.readouterr().out)["forms"]}["knn"]["mape_pct"] == 0.0
    assert main(["profile", "--model", "vgg11", "--input", "64", "--forms", "--k", "99", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "k: 99 is more than the" in err[0]
    assert main(["profile", "--model", "vgg11", "--input", "64", "--forms"]) == 0  # table text
    assert "knn" in capsys.readouterr().out


# -- training -------------------------------------------------------------------------------------
def test_a_devices_yaml_with_every_form_trains(forms_yaml: Path, tmp_path: Path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "splitgym.agents.train", "experiment=smoke", f"hydra.run.dir={run}"]
    cmd += ["devices=file", f"devices.path={forms_yaml}", "network=bw100", "episodes=8", "checkpoint_every=4"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    plan = json.loads((run / "export" / "plan.json").read_text())
    assert [d.get("form") for d in plan["devices"]] == ["table", "linear", "piecewise", "knn"]
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert summary["episodes"] == 8 and summary["latency_ms"]["learned_plan"] > 0


def test_the_cli_refuses_a_bad_form_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["plan", "equal", "--model", "vgg11", "--input", "64", "--partition", "stages"]
    for fields, message in (({"form": "cubic"}, "devices.d0.form: "), ({"form": "knn", "k": 50}, "devices.d0.k: 50")):
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump({"devices": [{"name": "d0", "board": "local-cpu", **fields}]}))
        assert main([*argv, "--devices", str(path)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1 and message in err and "Traceback" not in err
