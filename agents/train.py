"""Train a split-decision agent with SB3 through Hydra: ``splitgym train`` / ``python -m
splitgym.agents.train``.

Fixed steps (rl-zoo's exp_manager): read the config -> build the env (``cfg.env.id`` picks the
:class:`~splitgym.agents.tasks.TrainTask`: DistrEdge, NPTP, MS-MDI, ...) -> make the algorithm
(or resume it from the run folder's checkpoint) -> callbacks -> learn (a Ctrl-C still saves) ->
checkpoint and export. The run folder holds the resolved config, the command line,
TensorBoard logs (``tb/``), checkpoints (``checkpoints/``) and the export (``export/``: the task's
best plan, exported policy and ``summary.json``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.logger import configure

from splitgym.agents.actor_init import scale_actor_output
from splitgym.agents.algos import ALGOS
from splitgym.agents.callbacks import BestPlanCallback, ResumableCheckpoint, save_checkpoint
from splitgym.agents.checkpoint_set import MANIFEST, read_set
from splitgym.agents.config_check import check_config
from splitgym.agents.episode_budget import EpisodeBudget
from splitgym.agents.export import actor_export_setting
from splitgym.agents.noise import EpsilonGaussianNoise
from splitgym.agents.periodic_eval import PeriodicEval
from splitgym.agents.rerun import rerun_command
from splitgym.agents.resume_config import resumed_config, run_fingerprint
from splitgym.agents.rng_state import restore
from splitgym.agents.tasks import get_task
from splitgym.agents.tb_logging import EpisodeDump, log_hparams
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError, SplitgymError, one_line_failure
from splitgym.costmodels.run_folder import folder_lock

__all__ = ["train", "main"]


def action_noise(cfg: DictConfig, n_actions: int, seed: int) -> EpsilonGaussianNoise | None:
    """The exploration noise ``cfg.agent.noise`` describes (None without one)."""
    if not cfg.agent.get("noise"):
        return None
    if cfg.agent.noise.kind != "epsilon_gaussian":
        raise ConfigError(f"agent.noise.kind: unknown noise {cfg.agent.noise.kind!r} (known: epsilon_gaussian)")
    return EpsilonGaussianNoise(
        n_actions,
        float(cfg.agent.noise.variance),
        float(cfg.agent.noise.decay),
        seed,
        per_episode=bool(cfg.agent.noise.get("per_episode", False)),
        anchor_every=int(cfg.agent.noise.get("anchor_every", 0)),
    )


class _Timed:
    """Seconds spent in a callable (env steps, gradient updates): where the wall time goes."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop training cleanly (checkpoint and export follow), even where the
    process was started with SIGINT ignored (a background job of a non-interactive shell)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    before = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _make_model(
    cfg: DictConfig,
    Algo: Any,
    kwargs: dict[Any, Any],
    env: Any,
    ckpt: Path,
    best: BestPlanCallback,
    noise: EpsilonGaussianNoise | None,
) -> tuple[Any, bool]:
    """The algorithm: resumed from the checkpoint folder ``ckpt`` (model, replay buffer, noise
    episode and ``best``'s state) when ``cfg.resume``, else a fresh one built from ``cfg.agent``
    (``kwargs``: its resolved ``kwargs``); with whether ``learn`` resets the timestep count (only
    for a fresh model)."""
    if cfg.resume:
        return _resume(cfg, Algo, env, ckpt, best, noise), False
    extra = {"action_noise": noise} if noise is not None else {}
    model = Algo(
        cfg.agent.policy, env, seed=int(cfg.seed), device=cfg.device, verbose=int(cfg.verbose), **extra, **kwargs
    )
    if cfg.agent.get("actor_init_scale") is not None:
        scale_actor_output(model, float(cfg.agent.actor_init_scale))
    return model, True


def _resume(
    cfg: DictConfig, Algo: Any, env: Any, ckpt: Path, best: BestPlanCallback, noise: EpsilonGaussianNoise | None
) -> Any:
    """The model, replay buffer, noise episode and ``best``'s state of the checkpoint set in
    ``ckpt``, loaded from bytes the signed manifest vouches for (nothing is unpickled before)."""
    if not (ckpt / MANIFEST).exists() and not (ckpt / "model.zip").exists():
        raise ConfigError(f"resume: no checkpoint in {ckpt} (set hydra.run.dir to the run to resume)")
    parts, _ = read_set(ckpt, run_fingerprint(cfg))
    model = Algo.load(io.BytesIO(parts["model.zip"]), env=env, device=cfg.device)
    if "replay_buffer.pkl" in parts and hasattr(model, "load_replay_buffer"):
        model.load_replay_buffer(io.BytesIO(parts["replay_buffer.pkl"]))
    progress = json.loads(parts["progress.json"])
    if noise is not None:
        noise.episode = int(progress.get("noise_episode") or 0)
        model.action_noise = noise
    pol = parts.get("best_policy.pt")
    policy = torch.load(io.BytesIO(pol), weights_only=True) if pol is not None else None
    best.load_state(json.loads(parts["best.json"]), policy)
    if "rng.json" in parts:  # after load, which re-seeds the global generators
        restore(parts["rng.json"], model)
    return model


def _pending_update(model: Any) -> None:
    """Make the gradient update a checkpointed run had not made yet. Why: a checkpoint is written
    by a callback during a rollout, and SB3's off-policy ``learn`` stops (budget reached, or a
    kill) before the update that follows that rollout; the uninterrupted run makes it. With the
    generators restored too, a resumed run then repeats the uninterrupted one's episodes."""
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    if isinstance(model, OffPolicyAlgorithm) and model.num_timesteps > model.learning_starts:
        steps = model.gradient_steps if model.gradient_steps >= 0 else 1
        if steps > 0:
            model.train(batch_size=model.batch_size, gradient_steps=steps)


def _store_last_transition(model: Any, local: dict[str, Any]) -> None:
    """Store the step at which the episode budget stopped ``learn``: SB3 returns from its rollout
    before storing that step, so the checkpoint would lack it (a resumed run would differ)."""
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    if isinstance(model, OffPolicyAlgorithm) and "buffer_actions" in local:
        names = ("buffer_actions", "new_obs", "rewards", "dones", "infos")
        model._store_transition(model.replay_buffer, *(local[k] for k in names))


def _count(cfg: DictConfig, key: str, minimum: int = 0) -> int:
    """An integer setting (``episodes``, ``eval.every``, ...) or one line naming the key and value."""
    value = OmegaConf.select(cfg, key)
    try:
        number = int(value)
        if number != value or number < minimum:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: must be an integer >= {minimum}, got {value!r}") from None
    return number


def _progress(cfg: DictConfig) -> bool:
    """``progress``: true, false or auto (a bar when stderr is a terminal)."""
    value = cfg.get("progress", "auto")
    if value in ("auto", None):
        return sys.stderr.isatty()
    if isinstance(value, bool):
        return value
    raise ConfigError(f"progress: must be true, false or auto, got {value!r}")


def _callbacks(cfg: DictConfig, task: Any, env: Any, best: BestPlanCallback, ckpt: Path) -> list[Any]:
    """Best plan (records the episode scalars), periodic evaluation, dumps by episodes, checkpoints
    and the episode budget with its progress bar; in that order, so a dump sees this step's values."""
    every = _count(cfg, "eval.every") if OmegaConf.select(cfg, "eval.every") is not None else 0
    evals = []
    if every > 0:
        episodes = _count(cfg, "eval.episodes", 1)
        evals = [PeriodicEval(best, task.make_env(cfg), task.episode_scalars, every, episodes)]
    refs = task.reference_scalars(env)
    dump = EpisodeDump(best, _count(cfg, "log_interval", 1), refs, lambda d: task.plan_figure(env, d))
    checkpoint = ResumableCheckpoint(ckpt, best, run_fingerprint(cfg), _count(cfg, "checkpoint_every", 1))
    return [best, *evals, dump, checkpoint, EpisodeBudget(best, _count(cfg, "episodes", 1), _progress(cfg))]


def _hparams(cfg: DictConfig, model: Any, callbacks: list[Any], summary: dict[str, Any], best: Any) -> None:
    """Config -> final metrics in TensorBoard's HParams tab."""
    metrics = {"hparams/objective": float(summary["objective"])}
    if best.best_latency < float("inf"):
        metrics["hparams/best_latency_s"] = float(best.best_latency)
    for cb in callbacks:
        if isinstance(cb, PeriodicEval) and getattr(cb, "model", None) is not None:
            metrics.update({f"hparams/{k.split('/', 1)[1]}": v for k, v in cb.evaluate().items()})
    log_hparams(model.logger, cfg, metrics, best.episodes)


def _warn_no_update(model: Any, episodes: int, steps: int) -> None:
    """One line when an on-policy algorithm will stop before its first rollout is full: the
    episode budget is kept, so the policy would never be updated."""
    n_steps = getattr(model, "n_steps", None)
    rollout = n_steps * model.n_envs if n_steps else 0  # a rollout holds n_steps from every env
    if rollout and episodes * steps < rollout:
        envs = f" x env.n_envs={model.n_envs}" if model.n_envs > 1 else ""
        print(
            f"splitgym train: warning: agent.kwargs.n_steps={n_steps}{envs} exceeds the {episodes} episodes x {steps} "
            f"steps asked ({episodes * steps}): the policy is never updated",
            file=sys.stderr,
        )


def train(
    cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None, choices: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run one training job into ``run_dir``; returns the summary. ``overrides`` and ``choices``
    (the command line's and Hydra's group choices) are checked against the saved run on a resume.
    The folder is locked while it runs."""
    with folder_lock(run_dir, "train"):
        cfg = resumed_config(cfg, run_dir, overrides or [], choices or {})
        if not cfg.resume and choices:
            atomic_write(run_dir / "choices.json", json.dumps(choices, indent=1, sort_keys=True))
        return _train(cfg, run_dir)


def _train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    # read the config (checked, then recorded in the run folder)
    check_config(cfg)
    exporting = actor_export_setting(cfg)  # checked before anything is built
    torch.set_num_threads(int(cfg.torch_threads))
    ckpt = run_dir / "checkpoints"
    if not cfg.resume and (ckpt / MANIFEST).exists():
        raise ConfigError(f"resume: {run_dir} already holds a run; add resume=true to continue it, or use a new folder")
    atomic_write(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    if not cfg.resume:
        atomic_write(run_dir / "command.txt", rerun_command() + "\n")
    # make the env (its steps timed) and the algorithm, or resume it from the run's checkpoint
    task = get_task(str(cfg.env.id))
    env = task.make_env(cfg)
    learn_env = task.training_env(cfg, env)  # env itself, or a batched vector env of it
    env_step = _Timed(learn_env.step)
    learn_env.step = env_step  # type: ignore[method-assign]
    algo_name = str(cfg.agent.algo)
    if algo_name not in ALGOS:
        raise ConfigError(f"agent.algo: unknown algorithm {algo_name!r} (known: {', '.join(ALGOS)})")
    kwargs = OmegaConf.to_container(cfg.agent.kwargs, resolve=True)
    assert isinstance(kwargs, dict)
    best = BestPlanCallback(
        run_dir, describe=task.describe(env), scalars=task.episode_scalars, best_scalars=task.best_scalars
    )
    dims = task.noise_dims(env)
    noise = action_noise(cfg, dims, cfg.seed) if algo_name != "ppo" and dims else None
    model, reset = _make_model(cfg, ALGOS[algo_name], kwargs, learn_env, ckpt, best, noise)
    fmt = ["csv", "tensorboard"] + (["stdout"] if cfg.verbose else [])
    model.set_logger(configure(str(run_dir / "tb"), fmt))
    if not reset:
        _pending_update(model)
    model_train = _Timed(model.train)
    model.train = model_train  # type: ignore[method-assign]
    callbacks = _callbacks(cfg, task, env, best, ckpt)
    _warn_no_update(model, _count(cfg, "episodes", 1), task.episode_steps(env))
    # steps enough for the episodes left; EpisodeBudget stops at the last one (on-policy
    # algorithms would otherwise round up to whole rollouts)
    remaining = max(0, _count(cfg, "episodes", 1) - best.episodes) * task.episode_steps(env)
    # learn (a Ctrl-C or SIGTERM stops it; what was learnt is still saved)
    t0 = time.perf_counter()
    interrupted = False
    try:
        with _interruptible():
            if remaining:
                model.learn(
                    remaining + 1,
                    callback=callbacks,
                    log_interval=None,  # EpisodeDump dumps by episodes, for every algorithm
                    reset_num_timesteps=reset,
                    progress_bar=False,
                )
    except KeyboardInterrupt:
        interrupted = True
    wall = time.perf_counter() - t0
    if not interrupted:
        _store_last_transition(model, callbacks[-1].locals)
    # save the checkpoint and export the best policy
    save_checkpoint(model, ckpt, best, run_fingerprint(cfg))
    if best.best_policy_state is not None:  # Alg. 2's Actor*: export the best policy, not the last
        model.policy.load_state_dict(best.best_policy_state)
    summary = task.export(
        model,
        env,
        best,
        run_dir / "export",
        extra={
            "algo": algo_name,
            "episodes": best.episodes,
            "interrupted": interrupted,
            "wall_s": wall,
            "env_s": env_step.seconds,
            "update_s": model_train.seconds,
            "best_episode": best.best_episode,
            **exporting,  # export.actor: whether export/actor.pt2 is written
        },
    )
    _hparams(cfg, model, callbacks, summary, best)
    return summary


@hydra.main(version_base="1.3", config_path="pkg://splitgym.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        hydra_cfg = HydraConfig.get()
        summary = train(cfg, run_dir, list(hydra_cfg.overrides.task), dict(hydra_cfg.runtime.choices))
    except SplitgymError as exc:
        print(f"splitgym train: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # one line and a hint; the traceback with SPLITGYM_DEBUG=1 (splitgym --debug train)
        if os.environ.get("SPLITGYM_DEBUG", "") not in ("", "0"):
            raise
        print(f"splitgym train: {one_line_failure(exc)}", file=sys.stderr)
        sys.exit(1)
    get_task(str(cfg.env.id)).report(summary, run_dir)
    return float(summary["objective"])  # what a sweep maximises


if __name__ == "__main__":
    main()
