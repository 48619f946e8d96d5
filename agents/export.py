"""Export a trained split policy and check it: best plan, exported actor (torch.export), summary.

The exported actor (a ``torch.export`` program, ``actor.pt2``; TorchScript is deprecated in this
torch) takes the paper's *raw* state s_l = (T_{l-1} per device in seconds, H, C, F,
S) and carries the env's observation scaling inside it, so it runs without splitgym's env; it
returns the N-1 raw actions in [-1, 1] that :func:`splitgym.envs.distredge.map_action` sorts and
maps to rows.

Exporting costs about a second of a training run (the torch.export trace, ~0.6-1.3 s; its save;
3-4 s in a fresh process that has not imported torch's tracing machinery yet), so it is optional:
``export.actor=false`` writes no ``actor.pt2``; the summary's deterministic actor is then rolled out
from the policy in memory, and ``splitgym evaluate`` runs the checkpoint's best policy instead.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import read_signed, write_signed
from splitgym.costmodels.volumes.linear_model import equal_cuts
from splitgym.envs.distredge import OBS_HIGH, DistrEdgeEnv

__all__ = [
    "ACTOR_ENVS",
    "ExportedActor",
    "actor_export_setting",
    "checkpoint_policy",
    "eager_policy",
    "export_actor",
    "rollout",
    "reference_latencies",
    "write_summary",
]

#: env ids whose training exports a deterministic actor (``export/actor.pt2``); the others write
#: their SB3 policy (``export/policy.zip``), so ``export.actor`` means nothing there
ACTOR_ENVS = ("splitgym/DistrEdge-v0",)
_EXPORT_KEYS = ("actor",)


def actor_export_setting(cfg: DictConfig) -> dict[str, bool]:
    """``export.actor`` (true|false) as the summary's ``export_actor`` field, for an env that
    exports an actor; one line for a value that is not a boolean, an unknown ``export.*`` key, or
    ``false`` where no actor is exported (it would change nothing)."""
    group = cfg.get("export")
    if group is None:
        return {"export_actor": True} if str(cfg.env.id) in ACTOR_ENVS else {}
    if not isinstance(group, DictConfig):
        raise ConfigError(f"export: expected a mapping with the key actor, got {group!r}")
    unknown = [k for k in group if k not in _EXPORT_KEYS]
    if unknown:
        raise ConfigError(f"export.{unknown[0]}: unknown setting (known: {', '.join(_EXPORT_KEYS)})")
    value = group.get("actor", True)
    if not isinstance(value, bool):
        raise ConfigError(f"export.actor: must be true or false, got {value!r}")
    if str(cfg.env.id) not in ACTOR_ENVS:
        if not value:
            raise ConfigError(
                f"export.actor: {cfg.env.id} exports its SB3 policy (policy.zip), not an actor; got false"
            )
        return {}
    return {"export_actor": value}


class _Deterministic(nn.Module):
    """The deterministic action of an SB3 policy as plain tensor maths (exportable)."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        p = self.policy
        if hasattr(p, "action_net"):  # PPO/A2C: the Gaussian's mean
            latent = p.mlp_extractor.forward_actor(p.extract_features(obs, p.pi_features_extractor))
            return p.action_net(latent)
        actor = p.actor
        if hasattr(actor, "get_action_dist_params"):  # SAC: tanh of the mean
            mean, _, _ = actor.get_action_dist_params(obs)
            return torch.tanh(mean)
        return actor(obs)  # DDPG/TD3: already deterministic, tanh-squashed


class ExportedActor(nn.Module):
    def __init__(self, policy: nn.Module, scale: np.ndarray) -> None:
        super().__init__()
        self.act = _Deterministic(policy)
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, raw_state: torch.Tensor) -> torch.Tensor:
        obs = (raw_state / self.scale).clamp(0.0, OBS_HIGH)
        return self.act(obs).clamp(-1.0, 1.0)


def export_actor(policy: nn.Module, env: DistrEdgeEnv, path: str | Path) -> Path:
    """Export the deterministic policy with the env's scaling (torch.export, a .pt2 file); it maps
    raw states ``(B, N + 4)`` to actions ``(B, N - 1)`` for any batch size B."""
    policy = policy.to("cpu").eval()
    module = ExportedActor(policy, env.obs_scale).eval()
    # a batch of states in, a batch of actions out: the batch dimension is dynamic (an example of
    # 2, since torch.export specialises a dimension of size 1)
    example = torch.as_tensor(env.raw_state(), dtype=torch.float32)[None].repeat(2, 1)
    batch = {"raw_state": {0: torch.export.Dim("batch", min=1, max=1 << 16)}}
    with torch.no_grad():
        program = torch.export.export(module, (example,), dynamic_shapes=batch)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.export.save(program, buf)
    # the program may hold pickled constants: exported_policy loads it only once its signed hash matches
    return write_signed(path, buf.getvalue())


def rollout(env: DistrEdgeEnv, act: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    """One deterministic episode with ``act(raw_state) -> action``; latency and cuts."""
    env.reset()
    info: dict[str, Any] = {}
    done = False
    while not done:
        _, _, done, _, info = env.step(act(env.raw_state()))
    return {"latency": info["latency"], "ips": info["ips"], "cuts": info["cuts"]}


def _as_policy(actor: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def act(raw: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return actor(torch.as_tensor(raw, dtype=torch.float32)[None])[0].numpy()

    return act


def eager_policy(policy: nn.Module, env: DistrEdgeEnv) -> Callable[[np.ndarray], np.ndarray]:
    """The exported actor's maths run on ``policy`` itself (no trace, no file): what the summary
    rolls out, so a run with ``export.actor=false`` still reports the deterministic actor."""
    return _as_policy(ExportedActor(policy.to("cpu").eval(), env.obs_scale).eval())


def checkpoint_policy(run: Path, cfg: DictConfig, env: DistrEdgeEnv) -> Callable[[np.ndarray], np.ndarray]:
    """The best policy of the run's last checkpoint set (``checkpoints/``: the SB3 model, then
    ``best_policy.pt``, what the export would have traced) as ``act(raw_state) -> action``; the
    set is loaded only once its signed manifest checks out."""
    from splitgym.agents.algos import ALGOS  # the algorithms import SB3's; only evaluate needs them
    from splitgym.agents.checkpoint_set import read_set
    from splitgym.agents.resume_config import run_fingerprint

    parts, _ = read_set(run / "checkpoints", run_fingerprint(cfg))
    model = ALGOS[str(cfg.agent.algo)].load(io.BytesIO(parts["model.zip"]), device="cpu")
    if "best_policy.pt" in parts:
        model.policy.load_state_dict(torch.load(io.BytesIO(parts["best_policy.pt"]), weights_only=True))
    return eager_policy(model.policy, env)


def exported_policy(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """Load an exported actor as ``act(raw_state) -> action``, only after its hash matches the
    signed one written beside it (``actor.pt2.sig.json``); the verified bytes are what is loaded."""
    data = read_signed(path)
    return _as_policy(torch.export.load(io.BytesIO(data)).module())


def reference_latencies(env: DistrEdgeEnv) -> dict[str, float]:
    """Equal split on the env's partition, and Offload (the whole model on the single device that
    is fastest alone, input transfer included), on the same cost model."""
    sim, g, N = env.sim, env.graph, env.N
    equal = np.stack([equal_cuts(g.units[last].height, N) for _, last in env.partition])
    H = g.units[-1].height
    whole = [(0, g.num_units - 1)]
    offload = []
    for k in range(N):
        cuts = np.array([[0] * (k + 1) + [H] * (N - k)])
        offload.append(float(sim.score(whole, cuts)))
    return {
        "equal": float(sim.score(env.partition, equal)),
        "offload": min(offload),
        "offload_device": env.cluster.names[int(np.argmin(offload))],
    }


def classical_latencies(env: DistrEdgeEnv) -> dict[str, float]:
    """Every method DistrEdge compares (``VOLUME_PLANNERS``) on the env's cluster, scored by the
    same simulator."""
    from splitgym.agents.planners import VOLUME_PLANNERS, run_planner

    return {name: env.sim.simulate(run_planner(name, env.graph, env.cluster)).latency for name in VOLUME_PLANNERS}


def _pilot(env: DistrEdgeEnv) -> dict[str, Any]:
    """The partition pilot's choice, where the env trained from one: what DDPG started at."""
    p = env.pilot
    if p is None:
        return {}
    return {
        "pilot": {
            "latency_ms": p.latency * 1e3,
            "prior": p.prior,
            "source": p.source,
            "alpha": p.alpha,
            "moves": p.moves,
            "priced": p.priced,
        }
    }


def write_summary(
    path: str | Path,
    env: DistrEdgeEnv,
    learned_latency: float,
    actor_latency: float | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ref = reference_latencies(env)
    classical = classical_latencies(env)
    best_name = min(classical, key=classical.get)
    rows = {
        "learned_plan": learned_latency,
        "actor_deterministic": actor_latency,
        "equal": ref["equal"],
        "offload": ref["offload"],
    }
    summary = {
        "scenario": env.scenario.to_dict(),
        "partition": [list(p) for p in env.partition],
        "latency_ms": {k: (None if v is None else v * 1e3) for k, v in rows.items()},
        "ips": {k: (None if v is None else 1.0 / v) for k, v in rows.items()},
        "offload_device": ref["offload_device"],
        "classical_latency_ms": {k: v * 1e3 for k, v in classical.items()},
        "best_classical": best_name,
        "speedup_vs_best_classical": classical[best_name] / learned_latency,
        "speedup_vs_equal": ref["equal"] / learned_latency,
        "speedup_vs_offload": ref["offload"] / learned_latency,
        **_pilot(env),
        **(extra or {}),
    }
    atomic_write(path, json.dumps(summary, indent=1))
    return summary
