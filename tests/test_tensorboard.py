"""TensorBoard as a researcher reads it: event files of short PPO and DDPG runs read back with
tensorboard's EventAccumulator (scalars by episode, references, evaluation, HParams, the plan's
Gantt chart), the episode budget for on-policy algorithms, per-env tags and the chart's bars."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from splitgym.agents.plan_gantt import gantt_bars, tile_bars
from splitgym.agents.tasks import get_task
from splitgym.agents.train import train
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_layouts import equal_strips
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.nptp import NPTPEnv
from splitgym.envs.scenarios import Scenario

EPISODES, EVERY, EVAL = 20, 5, 10


def _train(run: Path, algo: str) -> tuple[EventAccumulator, dict]:
    overrides = [
        "experiment=smoke",
        f"agent={algo}",
        f"episodes={EPISODES}",
        f"log_interval={EVERY}",
        f"eval.every={EVAL}",
        "progress=false",
    ]
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=overrides)
    train(cfg, run)
    events = list((run / "tb").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0]), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc, json.loads((run / "export" / "summary.json").read_text())


@pytest.fixture(scope="module", params=["ppo", "ddpg"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, EventAccumulator, dict]:
    acc, summary = _train(tmp_path_factory.mktemp(request.param), request.param)
    return request.param, acc, summary


def test_scalars_by_episode_and_exact_episode_count(run):
    algo, acc, summary = run
    assert summary["episodes"] == EPISODES  # PPO (n_steps 256) used to round up to whole rollouts
    steps = [e.step for e in acc.Scalars("charts/episode_latency_ms")]
    assert steps == list(range(EVERY, EPISODES + 1, EVERY))  # the x axis is episodes
    best = [e.value for e in acc.Scalars("charts/best_latency_ms")]
    assert all(b2 <= b1 for b1, b2 in zip(best, best[1:]))  # the best only improves
    assert best[-1] == pytest.approx(summary["latency_ms"]["learned_plan"], rel=1e-5) or (
        summary["latency_ms"]["learned_plan"] < best[-1]  # the greedy actor at export may beat it
    )


def test_reference_lines_are_the_classical_planners(run):
    _, acc, summary = run
    equal = [e.value for e in acc.Scalars("ref/equal_ms")]
    offload = [e.value for e in acc.Scalars("ref/offload_ms")]
    assert len(set(equal)) == 1 and len(equal) == EPISODES // EVERY  # constant lines, one point per dump
    assert equal[0] == pytest.approx(summary["latency_ms"]["equal"], rel=1e-5)
    assert offload[0] == pytest.approx(summary["latency_ms"]["offload"], rel=1e-5)
    aofl = acc.Scalars("ref/aofl_ms")[0].value
    assert aofl == pytest.approx(summary["classical_latency_ms"]["aofl"], rel=1e-5)


def test_periodic_deterministic_evaluation(run):
    _, acc, _ = run
    at = [e.value for e in acc.Scalars("eval/at_episode")]
    assert at[: EPISODES // EVAL] == [float(k) for k in range(EVAL, EPISODES + 1, EVAL)]
    lat = acc.Scalars("eval/episode_latency_ms")
    assert all(np.isfinite(e.value) and e.value > 0 for e in lat)


def test_hparams_hold_the_config_and_final_metrics(run):
    algo, acc, summary = run
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hp = start.session_start_info.hparams
    assert hp["agent.algo"].string_value == algo
    assert hp["episodes"].number_value == EPISODES and hp["model.name"].string_value == "vgg11"
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = {m.name.tag for m in exp.metric_infos}
    assert {"hparams/objective", "hparams/best_latency_s", "hparams/episode_latency_ms"} <= metrics
    objective = acc.Scalars("hparams/objective")[-1].value
    assert objective == pytest.approx(summary["objective"], rel=1e-5)


def test_best_plan_image_is_a_gantt_png(run):
    _, acc, _ = run
    images = acc.Images("best/plan")
    assert images, "no plan image"
    assert len(images) <= len(acc.Scalars("charts/best_latency_ms"))  # only when the best improves
    pixels = imread(io.BytesIO(images[-1].encoded_image_string), format="png")
    assert pixels.shape[0] == images[-1].height and pixels.shape[1] == images[-1].width and pixels.std() > 0


def test_gantt_bars_follow_the_simulated_schedule():
    env = DistrEdgeEnv(Scenario("t", "vgg11", 64, "DB", "bw300", partition="stages"))
    env.action_space.seed(0)
    for _ in range(5):
        env.reset()
        done, info = False, {}
        while not done:
            _, _, done, _, info = env.step(env.action_space.sample())
        b = env.breakdown(np.asarray(info["decision"]))
        bars = gantt_bars(b)
        compute = [x for x in bars if x["kind"] == "compute"]
        assert max(x["start_s"] + x["seconds"] for x in bars) == pytest.approx(b.latency, rel=1e-9)
        assert all(x["start_s"] >= -1e-12 and x["seconds"] > 0 for x in compute)
        assert sum(x["seconds"] for x in compute) == pytest.approx(float(b.compute.sum()) + b.head_seconds, rel=1e-9)


def test_tile_bars_follow_the_tile_cost_model():
    env = NPTPEnv(model="vgg11", input=64, devices="nptp3", bandwidth_mbps=4.0)
    for n in (1, 2, 3):  # strips over 1..3 devices (the others idle)
        s = env.model.score(equal_strips(env.H, env.W, n) + [Region(0, 0, 0, 0)] * (env.N - n))
        bars = tile_bars(s)
        ends = {}
        for x in bars:
            if x["label"] in ("halo", "tile"):
                ends[x["row"]] = max(ends.get(x["row"], 0.0), x["start_s"] + x["seconds"])
        for k, name in enumerate(s.devices):  # each device: its halo receive time, then its compute
            assert ends.get(name, 0.0) == pytest.approx(s.compute[k] + s.comm_seconds[k], rel=1e-9, abs=1e-15)
        assert max(x["start_s"] + x["seconds"] for x in bars) == pytest.approx(s.end_to_end, rel=1e-9)


def test_msmdi_tags_are_its_own():
    task = get_task("splitgym/MSMDI-v0")
    tags = task.episode_scalars({"latency": 4.0, "mean_sojourn_s": 0.5})
    assert tags == {"msmdi/total_time_s": 4.0, "msmdi/mean_sojourn_s": 0.5}
    assert not any(t.startswith("charts/") for t in tags) and "charts/best_ips" not in task.best_scalars(4.0)
