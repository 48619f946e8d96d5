"""The nptp-v1, msmdi-v1 and hidp-v0 split families (issue #18 items 2-3): frozen files that say
what they hold out, envs built on them, each benchmark adapter's planner latency equal to the
env's own evaluation, and ``splitgym benchmark`` end to end on two test instances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splitgym.agents.bench_report import write_outputs
from splitgym.agents.benchmark import run_benchmark, subset
from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.envs.hidp_env import HiDPEnv
from splitgym.envs.msmdi_v1 import MSMDIEnvV1
from splitgym.envs.nptp_v1 import NPTPv1Env
from splitgym.envs.splits import SPLITS_DIR, get_split, list_splits, load_references
from splitgym.experiments.cli import main

ENV = {"nptp-v1": "splitgym/NPTP-v1", "msmdi-v1": "splitgym/MSMDI-v1", "hidp-v0": "splitgym/HiDP-v0"}
SIZES = {"train": (12, 24), "val": (4, 6), "test": (6, 9)}


@pytest.mark.parametrize("family", list(ENV))
def test_family_parts_load_say_what_they_hold_out_and_ship_references(family):
    names = set()
    for part, (lo, hi) in SIZES.items():
        sp = get_split(f"{family}/{part}")
        assert f"{family}/{part}" in list_splits()
        assert sp.env_id == ENV[family] and lo <= len(sp.instances) <= hi
        assert all(sp.held_out) if part == "test" else not any(sp.held_out)
        names |= {i.name for i in sp.instances}
        refs = load_references(sp.name)
        for inst in sp.instances:
            assert sum(v is not None for v in refs[inst.name].values()) >= 3
    assert len(names) == sum(len(get_split(f"{family}/{p}").instances) for p in SIZES)  # no instance twice


@pytest.mark.parametrize("family", list(ENV))
def test_an_edited_family_file_is_refused(family, tmp_path):
    doc = json.loads((SPLITS_DIR / family / "test.json").read_text())
    first = doc["instances"][0]["scenario"]
    first["name"] = first["name"] + "-edited"
    path = tmp_path / "test.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="do not match its sha256"):
        get_split(f"{family}/test", path=path)


def test_envs_refuse_a_split_of_another_env_and_bad_indices():
    with pytest.raises(EnvArgumentError, match="msmdi-v1/test is for splitgym/MSMDI-v1, not splitgym/NPTP-v1"):
        NPTPv1Env(split="msmdi-v1/test")
    with pytest.raises(EnvArgumentError, match=r"instance: expected an index in \[0, 6\) of nptp-v1/test, got 9"):
        NPTPv1Env(split="nptp-v1/test", instance=9)
    with pytest.raises(EnvArgumentError, match="split: give split or instances, not both"):
        NPTPv1Env(split="nptp-v1/test", instances={"n_devices": [3, 3]})
    with pytest.raises(EnvArgumentError, match="options.instance: needs an env built on a split"):
        NPTPv1Env(instances={"models": ["vgg11"], "inputs": [64]}).reset(options={"instance": 0})


def _small_nptp() -> int:
    """A 3-device VGG-11 instance of nptp-v1/train (its planners run in well under a second)."""
    sp = get_split("nptp-v1/train")
    return next(j for j, i in enumerate(sp.instances) if i.value.model == "vgg11" and len(i.value.devices) == 3)


@pytest.mark.slow  # three tile cost models (~25 s at load 10 on two cores)
def test_nptp_adapter_scores_as_the_env_does():
    from splitgym.agents.bench_adapters_nptp import NPTPAdapter

    j = _small_nptp()
    split = get_split("nptp-v1/train")
    ad = NPTPAdapter(subset(split, [j]))
    env = NPTPv1Env(split="nptp-v1/train", instance=j)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    done, info = False, {}
    while not done:
        _, _, done, _, info = env.step(rng.uniform(-1, 1, 4))
    # the adapter scores a layout as the env's step does (memory penalty included) ...
    from splitgym.costmodels.slicing import Region
    from splitgym.costmodels.tiles.tile_layouts import equal_strips

    layout = [Region(*t) for t in info["tiles"]]
    ad._reset(0)  # the adapter's env on the same instance
    assert ad.env.penalised(ad.env.model.score(layout)) == pytest.approx(info["latency"], rel=1e-12)
    strips = env.model.score(equal_strips(env.H, env.W, env.N))  # ... equal strips (T_strips) included
    assert strips.latency == pytest.approx(info["reference_latency"], rel=1e-12)
    assert ad.planner_latency(0, "equal-strips") == env.penalised(strips)
    # the planners see the instance's memory caps: MPA's layout fits them
    from splitgym.agents.planners import run_planner
    from splitgym.costmodels.tiles.tile_cost import plan_rects

    plan = run_planner("nptp-mpa", env.graph, env.cluster, scatter=True, iterations=100, caps=ad._caps_file(0))
    assert env.model.score(plan_rects(plan)).feasible
    refs = load_references("nptp-v1/train")[split.instances[j].name]
    for planner in ("coedge-lp", "nptp-mpa", "grid"):  # the shipped references are the adapter's numbers
        assert ad.planner_latency(0, planner) * 1e3 == pytest.approx(refs[planner], rel=1e-9)


@pytest.mark.parametrize("planner", ["ms-mdi", "ar-mdi", "local"])
def test_msmdi_adapter_latency_is_the_envs_episode_under_that_scheduler(planner):
    from splitgym.agents.bench_adapters_msmdi import MSMDIAdapter

    split = get_split("msmdi-v1/test")
    for j in (0, 2):  # a held-out cluster and a held-out rate regime
        ad = MSMDIAdapter(subset(split, [j]))
        env = MSMDIEnvV1(split="msmdi-v1/test", instance=j, service=planner)
        env.reset(seed=123)  # the instance fixes its arrivals: the env seed does not matter
        done, info = False, {}
        while not done:
            _, _, done, _, info = env.step(env.reference_action(planner))
        assert ad.planner_latency(0, planner) == pytest.approx(info["mean_sojourn_s"], rel=1e-12)
        assert load_references("msmdi-v1/test")[split.instances[j].name][planner] == pytest.approx(
            info["mean_sojourn_s"] * 1e3, rel=1e-9
        )


@pytest.mark.slow  # traces and plans four models' menus (~20 s at load 10 on two cores)
def test_hidp_adapter_latency_is_the_envs_episode_under_that_policy():
    from splitgym.agents.bench_adapters_hidp import HiDPAdapter
    from splitgym.agents.planners.nodes.hidp_menu import planner_menu
    from splitgym.agents.planners.nodes.hidp_policies import EarliestFinishPolicy, FixedPolicy, run_episode

    split = get_split("hidp-v0/train")
    ad = HiDPAdapter(subset(split, [0]))
    env = HiDPEnv(split="hidp-v0/train", instance=0, menu=planner_menu)
    refs = load_references("hidp-v0/train")[split.instances[0].name]
    for policy in (FixedPolicy("hidp"), FixedPolicy("omniboost"), EarliestFinishPolicy()):
        own = run_episode(env, policy, seed=7)["mean_latency_ms"]
        assert ad.planner_latency(0, policy.name) * 1e3 == pytest.approx(own, rel=1e-12)
        assert refs[policy.name] == pytest.approx(own, rel=1e-9)


@pytest.mark.parametrize(
    "family,planner",
    [
        pytest.param("nptp-v1", "nptp-mpa", marks=pytest.mark.slow),  # tile cost tables per instance
        ("msmdi-v1", "ms-mdi"),
        pytest.param("hidp-v0", "hidp", marks=pytest.mark.slow),  # four models' menus
    ],
)
def test_benchmark_end_to_end_on_two_test_instances(family, planner, tmp_path):
    result = run_benchmark([planner, "random"], f"{family}/test", seeds=2, random_evals=2, instances=[0, 1])
    assert len(result["rows"]) == 1 * 2 + 2 * 2  # the planner once, random search per seed
    for row in result["rows"]:  # the reference is the strongest shipped planner, so no planner beats it
        assert row["reference_ms"] <= row["latency_ms"] * (1 + 1e-9) or row["target"].startswith("random")
        assert row["score"] == pytest.approx(row["reference_ms"] / row["latency_ms"])
    agg = {a["target"]: a for a in result["aggregate"]}
    assert set(agg) == {planner, "random@2"}
    r = agg["random@2"]
    assert r["IQM_lo"] <= r["IQM"] <= r["IQM_hi"] and r["seeds"] == 2
    paths = write_outputs(result, tmp_path)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_cli_benchmark_on_msmdi_and_a_bad_planner(tmp_path, capsys):
    args = ["benchmark", "local", "ar-mdi", "--split", "msmdi-v1/test", "--instances", "0,4", "-o", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "msmdi-v1/test" in out and (tmp_path / "benchmark.png").exists()
    assert main(["benchmark", "aofl", "--split", "msmdi-v1/test", "--instances", "0", "-o", str(tmp_path)]) == 2
    assert "'aofl' is not an MS-MDI scheduler" in capsys.readouterr().err


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: NPTPv1Env(split="nptp-v1/val"), marks=pytest.mark.slow, id="nptp"),  # ~9 s
        pytest.param(lambda: MSMDIEnvV1(split="msmdi-v1/val"), id="msmdi"),
        pytest.param(lambda: HiDPEnv(split="hidp-v0/val"), id="hidp"),
    ],
)
def test_split_envs_pass_gymnasiums_checker(make):
    from gymnasium.utils.env_checker import check_env

    check_env(make(), skip_render_check=True)
