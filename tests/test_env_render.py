"""Envs that fit Gymnasium and the zoo: render modes (the plan as text), DistrEdge-v0's kwargs with
NPTP-v0's names, partition names through kwargs, and one-line errors for bad values."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.envs import ENV_IDS
from splitgym.envs.plan_render import PALETTE

SMALL = {
    "splitgym/DistrEdge-v0": {"model": "vgg11", "input": 64, "partition": "stages"},
    "splitgym/NPTP-v0": {"model": "vgg11", "input": 64},
    "splitgym/MSMDI-v0": {"images": (4, 4)},
    "splitgym/MSMDI-v1": {"images": (4, 4)},
    "splitgym/DistrEdge-v1": {"scenario": "vgg11-DB-300-small"},
    "splitgym/HiDP-v0": {"models": ("resnet18",), "rates": (40.0,), "requests": 12},
}


def _episode(env: gym.Env, seed: int = 0) -> dict:
    env.reset(seed=seed)
    env.action_space.seed(seed)
    done, info = False, {}
    while not done:
        _, _, term, trunc, info = env.step(env.action_space.sample())
        done = term or trunc  # HiDP-v0 truncates after its requests
    return info


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_ansi_render_shows_the_plan_and_human_prints_it(env_id: str, capsys: pytest.CaptureFixture[str]):
    env = gym.make(env_id, render_mode="ansi", **SMALL[env_id])
    assert env.metadata["render_modes"] == ["human", "ansi", "rgb_array"]
    check_env(env.unwrapped)  # with its render mode, as Gymnasium checks it
    info = _episode(env)
    text = env.render()
    assert isinstance(text, str)
    names = env.unwrapped.cluster.names if hasattr(env.unwrapped, "cluster") else ["worker"]
    assert all(n in text for n in names)
    if "MSMDI" not in env_id:  # the finished plan's latency, as the env scored it
        assert f"latency {info['latency'] * 1e3:.2f} ms" in text
    human = gym.make(env_id, render_mode="human", **SMALL[env_id])
    _episode(human)
    assert human.render() is None and capsys.readouterr().out.strip()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_unknown_render_mode_is_one_line(env_id: str):
    with pytest.raises(
        EnvArgumentError, match=r"^render_mode: must be one of \['human', 'ansi', 'rgb_array'\] or None, got 'rgb'$"
    ):
        type(gym.make(env_id, **SMALL[env_id]).unwrapped)(render_mode="rgb", **SMALL[env_id])


def test_distredge_kwargs_name_the_problem_like_nptp():
    def t_equal(**kw) -> float:
        return gym.make("splitgym/DistrEdge-v0", **SMALL["splitgym/DistrEdge-v0"], **kw).unwrapped.T_equal

    assert t_equal(network=10) > t_equal(network=1000)  # Mbps
    assert t_equal(network="bw50") > t_equal(network="bw300")  # a network name
    lab = {"name": "lab", "devices": [{"name": "a", "board": "pi4"}, {"name": "b", "board": "nano"}]}
    env = gym.make("splitgym/DistrEdge-v0", **SMALL["splitgym/DistrEdge-v0"], devices=lab).unwrapped
    assert env.cluster.names == ["a", "b"] and env.action_space.shape == (1,)
    assert env.graph.input_shape == (3, 64, 64)


def test_pilot_partition_by_name_through_kwargs():
    env = gym.make("splitgym/DistrEdge-v0", model="vgg11", input=64, partition="lcpss-pilot").unwrapped
    assert env.scenario.partition == "lcpss-pilot"
    assert env.partition == [tuple(p) for p in env.scenario.pilot(env.graph).partition]
    assert np.isfinite(_episode(env)["latency"])


def test_nptp_input_size_still_works_with_a_deprecation():
    with pytest.warns(DeprecationWarning, match="input_size is deprecated, use input"):
        old = gym.make("splitgym/NPTP-v0", model="vgg11", input_size=64).unwrapped
    assert old.graph.input_shape == gym.make("splitgym/NPTP-v0", model="vgg11", input=64).unwrapped.graph.input_shape


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"input": "abc"}, "input: expected pixels (a positive int), got 'abc'"),
        ({"network": -5}, "network: Mbps must be > 0, got -5"),
        ({"network": "abc"}, "network: unknown network 'abc'"),
        ({"partition": "zzz"}, "partition: unknown partition 'zzz'"),
        ({"reward": "foo"}, "reward: must be one of ('paper', 'relative', 'neg_ms'), got 'foo'"),
        ({"alpha": 3}, "alpha: expected a number in (0, 1], got 3"),
    ],
)
def test_bad_distredge_kwargs_are_one_line(kwargs: dict, line: str):
    with pytest.raises(ConfigError) as info:
        gym.make("splitgym/DistrEdge-v0", **{"model": "vgg11", "input": 64, **kwargs})
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_paints_the_plan_one_colour_per_device(env_id: str):
    env = gym.make(env_id, render_mode="rgb_array", **SMALL[env_id])
    if "MSMDI" in env_id:  # mid-episode: a band per worker, in its colour while busy
        env.reset(seed=0)
        for _ in range(3):
            env.step(np.ones(2, dtype=np.int64))
        img, sim = env.render(), env.unwrapped.sim
        assert [bool((img[8 * n] == PALETTE[n]).all()) for n in range(env.unwrapped.N)] == list(map(bool, sim.busy))
        return
    if "HiDP" in env_id:  # mid-episode: a band per processor, its node's colour over its squashed backlog
        busy = {**SMALL[env_id], "rates": (2000.0,), "start": 30.0}  # arrivals 0.5 ms apart: queues build up
        _hidp_bands_follow_the_backlogs(gym.make(env_id, render_mode="rgb_array", **busy).unwrapped)
        return
    _episode(env)
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    if env_id == "splitgym/NPTP-v0":  # every device holds a tile: its colour covers its share of the image
        tiles = env.unwrapped._shown_pieces()
        for d, t in enumerate(tiles):
            share = (img == PALETTE[d]).all(axis=2).mean()
            assert share == pytest.approx((t.r1 - t.r0) * (t.c1 - t.c0) / (64 * 64), abs=0.05)
    if env_id == "splitgym/DistrEdge-v0":  # each band: the devices' row shares of that volume
        cuts = env.unwrapped.last_cuts
        for v, c in enumerate(cuts):
            band = img[8 * v]
            for d in range(env.unwrapped.N):
                assert (band == PALETTE[d]).all(axis=1).sum() == pytest.approx(256 * (c[d + 1] - c[d]) / c[-1], abs=1)


def _hidp_bands_follow_the_backlogs(env) -> None:
    env.reset(seed=0)
    for k in range(5):  # load the cluster: every request on the leader's entry and one other
        env.step(k % 2)
    img, rows = env.render(), env._rows()
    assert img.shape == (8 * len(rows), 256, 3) and any(b > 0 for *_, b, _ in rows)
    for k, (j, _, _, backlog, avail) in enumerate(rows):
        band = img[8 * k]
        if not avail:
            assert (band == PALETTE[-2]).all()
            continue
        filled = int((band == PALETTE[j]).all(axis=1).sum())
        assert filled == round(256 * (1 - np.exp(-backlog / env.scale)))


def test_hidp_ansi_frame_names_the_request_the_queues_and_unavailable_nodes():
    kwargs = {**SMALL["splitgym/HiDP-v0"], "rates": (2000.0,), "start": 30.0}  # a busy cluster at 30 s
    env = gym.make("splitgym/HiDP-v0", render_mode="ansi", **kwargs).unwrapped
    assert "no episode yet" in env.render()
    env.reset(seed=0)
    text = env.render()
    assert "request 1/12: stream 0 (resnet18)" in text
    tx2 = next(line for line in text.splitlines() if line.startswith("tx2"))
    assert " no " in f" {tx2} "  # hidp-dynamic: the TX2 is away from 20 s to 60 s
    env.step(0)
    backlog = max(env.frame_info().values())
    assert backlog > 0 and f"{backlog:.2f}" in env.render()
