"""LearnedAdmission drives the queue simulator (and the real ring's views) with an MSMDI-v1 policy:
v1's scaled observation, the learned service decision when trained with ``learn_service``, and a
one-line refusal for a ring of another size."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from stable_baselines3 import PPO

from splitgym.agents.learned_admission import LearnedAdmission
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import write_signed
from splitgym.costmodels.stages.queue_policies import BackPressure
from splitgym.costmodels.stages.queue_sim import LOCAL, QueueSim
from splitgym.envs.msmdi import MSMDIEnv
from splitgym.envs.msmdi_v1 import MSMDIEnvV1

KW = {"scenario": "ms-mdi-3-small", "images": (6, 8)}


def _model(env) -> PPO:
    return PPO("MlpPolicy", env, n_steps=32, batch_size=32, seed=0, device="cpu", policy_kwargs={"net_arch": [8]})


class _Fixed:
    """A stand-in model that always answers ``action`` (with the spaces of ``env``)."""

    def __init__(self, env, action) -> None:
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.action, self.seen = np.asarray(action), []

    def predict(self, obs, deterministic=True):
        self.seen.append(obs)
        return self.action, None


def _loaded(env) -> tuple[QueueSim, float, int]:
    """A started episode of ``env``: its simulator mid-run, with queues to serve."""
    env.reset(seed=0)
    for _ in range(4):
        env.step(env.action_space.sample() * 0)  # everything to the MDI queues
    return env.sim, env.ref_s, env.total


def test_the_policy_kind_follows_its_spaces_and_another_ring_size_is_one_line():
    cases = [(MSMDIEnv(**KW), "v0"), (MSMDIEnvV1(**KW), "v1"), (MSMDIEnvV1(**KW, learn_service=True), "v1-service")]
    for env, kind in cases:
        pol = LearnedAdmission(_model(env), 1.0, 10)
        pol.check_dims(env.N, env.S)
        assert pol.kind == kind
    with pytest.raises(ConfigError) as info:
        LearnedAdmission(_model(cases[2][0]), 1.0, 10).check_dims(2, 2)  # a 2-worker ring, a 3-worker policy
    assert str(info.value).startswith("learned: the policy observes 22 values and decides 5 values; this ring has 2")
    assert "a smaller ring is not padded" in str(info.value) and "\n" not in str(info.value)


def test_a_v1_policy_sees_what_the_env_showed_it_and_needs_the_rates_off_the_simulator():
    env = MSMDIEnvV1(**KW)
    sim, ref_s, total = _loaded(env)
    fixed = _Fixed(env, np.ones(env.S, dtype=np.int64))
    pol = LearnedAdmission(fixed, ref_s, total)
    assert pol.admit(sim, 0) is True
    assert np.array_equal(fixed.seen[-1], env._obs())  # v1's scaled observation, as in training
    view = SimpleNamespace(**{k: getattr(sim, k) for k in ("N", "S", "qlocal", "qmdi", "reservoir", "busy", "alive")})
    view.full, view.factor, view.n_admitted, view.t = sim.full, sim.factor, sim.n_admitted, 1.0
    view.sys = SimpleNamespace(sources=sim.sys.sources)  # a ring view: no rates
    with pytest.raises(ConfigError, match=r"^learned: an MSMDI-v1 policy observes the sources' rates; pass rates="):
        pol.admit(view, 0)
    with_rates = LearnedAdmission(fixed, ref_s, total, rates=sim.sys.rates)
    with_rates.admit(view, 0)
    assert np.array_equal(fixed.seen[-1], env._obs())


def test_learned_service_is_read_as_the_env_reads_it():
    env = MSMDIEnvV1(**KW, learn_service=True)
    sim, ref_s, total = _loaded(env)
    S, N = env.S, env.N
    n = next(n for n in range(N) if any(sim.qmdi[n]))  # a worker with an MDI queue to serve
    s = next(s for s in range(S) if sim.qmdi[n][s])
    act = lambda tail: LearnedAdmission(_Fixed(env, [1] * S + tail), ref_s, total)  # noqa: E731
    assert act([1 + s] * N).serve(sim, n) == s  # "serve MDI queue s"
    assert act([S + 1] * N).serve(sim, n) == BackPressure().serve(sim, n)  # "leave it to the rule"
    empty = next((v for v in range(S) if not sim.qmdi[n][v]), None)
    if empty is not None:  # an empty queue falls back to the rule, as the env does
        assert act([1 + empty] * N).serve(sim, n) == BackPressure().serve(sim, n)
    own = sim.src_of[n]
    if own >= 0 and sim.qlocal[own]:
        assert act([0] * N).serve(sim, n) == LOCAL


def test_a_signed_v1_policy_runs_the_simulator_to_the_end(tmp_path):
    env = MSMDIEnvV1(**KW, learn_service=True)
    buf = io.BytesIO()
    _model(env).save(buf)
    write_signed(tmp_path / "policy.zip", buf.getvalue())
    pol = LearnedAdmission.load(tmp_path / "policy.zip", env.ref_s, env.total)
    pol.check_dims(env.N, env.S)
    res = QueueSim(env.system, seed=0).run(pol)
    assert len(res.done) == env.total and np.isfinite(res.done).all() and pol.kind == "v1-service"


@pytest.mark.slow
def test_the_live_ring_runs_a_v1_policy_that_serves(tmp_path):
    """The real ring (torch.distributed workers) with a learn_service v1 policy: the rates reach
    the workers through the loader, and every logged decision is the policy's for its state."""
    import functools

    from splitgym.envs.msmdi_scenarios import MDIScenario
    from splitgym.executors.stages.mdi_ring import local_system, run_mdi_ring

    graph, system = local_system("vgg11", 64, 2, [0, 1], [200.0, 400.0], [8, 12])
    env = MSMDIEnvV1(MDIScenario("t2", model="vgg11", input=64, devices="tx2x2", images=(4, 6)), learn_service=True)
    buf = io.BytesIO()
    _model(env).save(buf)
    write_signed(tmp_path / "policy.zip", buf.getvalue())
    loader = functools.partial(LearnedAdmission.load, rates=tuple(system.rates))
    r = run_mdi_ring(graph, system, "learned", seed=0, timeout_s=240, learned=tmp_path / "policy.zip", loader=loader)
    pol = loader(tmp_path / "policy.zip", float(np.mean(system.full_s())), sum(system.images))
    assert r.check(pol) == [] and {d["kind"] for d in r.decisions} >= {"admit", "serve"}
    assert pol.kind == "v1-service"
