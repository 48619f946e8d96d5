"""MS-MDI's admission decision as a Gymnasium environment (over the queueing simulator)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.costmodels.stages.queue_policies import SCHEDULERS, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueResult, QueueSim
from splitgym.envs.msmdi_scenarios import MDI_SCENARIOS, MDIScenario
from splitgym.envs.plan_render import NOTHING, OFF, PlanRender, text_table
from splitgym.envs.scenarios import Scenario, get_scenario

__all__ = ["MSMDIEnv", "REWARDS", "REFERENCES", "admission_decision", "admission_obs"]

REWARDS = ("backlog", "makespan")
REFERENCES = tuple(SCHEDULERS)  # ms-mdi, ar-mdi, local, ms-mdi-mw
OBS_HIGH = 1e3
QUEUE_SCALE = 10.0


def _scenario(scenario: str | MDIScenario, images: tuple[int, ...] | None) -> MDIScenario:
    """An MS-MDI scenario by name; a DistrEdge scenario name borrows its model, devices and network
    (first two devices as sources, the small scenario's rates and calibration)."""
    found = get_scenario(scenario)
    if isinstance(found, Scenario):
        base = MDI_SCENARIOS["ms-mdi-3-small"]
        sc = MDIScenario(
            f"msmdi-{found.name}",
            model=found.model,
            input=found.input,
            devices=found.devices,
            network=found.network,
            images=base.images,
            image_s=base.image_s,
        )
    else:
        sc = get_scenario(found, MDIScenario)
    if images is not None:
        sc = MDIScenario(**{**sc.to_dict(), "images": tuple(int(i) for i in images), "events": sc.events})
    return sc


class MSMDIEnv(PlanRender, gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description
    Multi-source model-distributed inference (MS-MDI): sources on a ring of workers receive
    Poisson streams of images; each image is either run whole on its source (Local) or pushed
    through the AR-MDI chain of the workers. The agent makes the *admission* choice: each slot,
    every source with images in its reservoir sends them to its local queue or its MDI queue. The
    workers serve their queues by a fixed rule (``service``, the back-pressure rule of Eq. 2 by
    default). Why admission and not service: admission is the decision that sets how much work
    each path gets and therefore the total processing time; it is one binary per source whatever
    the number of workers (the service choice would be (S+2)^N joint actions per slot and the
    back-pressure rule already serves well once the admission is right); and the paper's own
    heuristic for it (the smaller queue) is a clear reference to beat.

    ## Action Space
    ``MultiDiscrete([2] * S)``: per source, 1 = local queue, 0 = MDI queue. Sources whose
    reservoir is empty at this slot ignore their entry.

    ## Observation Space
    ``Box(0, 1000, (2S + N*S + 3N + 1,))``: the local queue of each source, the MDI queue of every
    worker for every source and each source's reservoir (all divided by 10); for each worker
    whether it is busy, whether it is alive, and its current time for a whole image divided by
    the scenario's reference; the fraction of the episode's images admitted so far.

    ## Rewards
    ``"backlog"`` (default): minus the images-in-system x seconds accumulated during the step,
    divided by (images in the episode x reference seconds per image): the episode's return is minus
    the mean time an image spends in the system, in image-times (Little's law ties it to
    throughput). ``"makespan"``: 0 until the end, then minus the total processing time divided by
    (images x reference seconds / N).

    ## Starting State
    Empty queues; arrival times drawn from ``self.np_random`` (Poisson at the scenario's rates).
    Steps happen only at slots where some reservoir holds images.

    ## Episode End
    Terminates when every image of the episode has returned to its source. No truncation.

    ## Arguments
    ``scenario``: an MS-MDI scenario name (``splitgym.envs.msmdi_scenarios``) or object, or a
    DistrEdge scenario name (its model, devices and network); ``images``: per-source image counts
    for an episode (default the scenario's); ``reward``: one of ``REWARDS``; ``service``: the
    scheduler whose service rule the workers follow (``ms-mdi``, ``ar-mdi`` or ``local``);
    ``render_mode``: ``"ansi"`` (queues and workers as text), ``"human"`` (printed) or
    ``"rgb_array"`` (a band per worker, busy in its colour, and the share admitted).

    ## Version History
    * v0: initial version.
    * v0 (same dynamics): ``render_mode``.
    """

    def __init__(
        self,
        scenario: str | MDIScenario = "ms-mdi-3-small",
        images: tuple[int, ...] | None = None,
        reward: str = "backlog",
        service: str = "ms-mdi",
        render_mode: str | None = None,
    ) -> None:
        if reward not in REWARDS:
            raise EnvArgumentError(f"reward: must be one of {REWARDS}, got {reward!r}")
        self._set_render_mode(render_mode)
        self.scenario = _scenario(scenario, images)
        self.system = self.scenario.system()
        self.reward_mode = reward
        self.service_name = service
        self.service = get_scheduler(service)
        self.N, self.S = self.system.N, len(self.system.sources)
        self.total = int(sum(self.system.images))
        if self.total < 1:
            raise ConfigError(f"images: an episode needs at least one image, got {self.system.images}")
        self.ref_s = float(np.mean(self.system.full_s()))
        self.episode_steps = self.total
        self.action_space = spaces.MultiDiscrete([2] * self.S)
        dim = 2 * self.S + self.N * self.S + 3 * self.N + 1
        self.observation_space = spaces.Box(0.0, OBS_HIGH, (dim,), dtype=np.float32)
        self.sim: QueueSim | None = None
        self.last_result: QueueResult | None = None

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._draw_instance()
        self.episode_seed = self._arrival_seed()  # the arrivals' seed
        self.sim = QueueSim(self.system, seed=self.episode_seed)
        self._gen = self.sim.steps(self.service, external=True, external_service=self._learn_service)
        self._area_paid = 0.0  # backlog area already turned into reward (the first step pays from t=0)
        self._done = False
        self._advance(None)
        return self._obs(), {"t": self.sim.t}

    def step(self, action: np.ndarray):
        if self.sim is None or self._done:
            raise RuntimeError("step: the episode has ended; call reset() first")
        a = np.asarray(action).reshape(-1)
        decision = self._decision(a)
        if decision is None:
            raise ValueError(f"action: expected {self._action_text()}, got {a.tolist()}")
        self._advance(decision)
        r = 0.0
        if self.reward_mode == "backlog":
            r = -(self.sim.area - self._area_paid) / (self.total * self.ref_s)
            self._area_paid = self.sim.area
        info: dict[str, Any] = {"t": self.sim.t}
        if self._done:
            res = self.last_result
            assert res is not None
            if self.reward_mode == "makespan":
                r = -res.makespan_s * self.N / (self.total * self.ref_s)
            info.update(
                latency=res.makespan_s,
                decision=self.local_fractions(res),
                mean_sojourn_s=float(np.mean(res.done - res.arrive)),
            )
        return self._obs(), float(r), self._done, False, info

    def render_text(self) -> str:
        """The schedule now: per worker whether it is busy and alive, per source its local queue."""
        if self.sim is None:
            return f"{self.scenario.name}: not started (call reset())"
        sim = self.sim
        rows = [[n, int(sim.busy[n]), int(sim.alive[n])] for n in range(self.N)]
        text = text_table(["worker", "busy", "alive"], rows)
        text += "\nlocal queues per source: " + ", ".join(str(len(q)) for q in sim.qlocal)
        text += f"\nt {sim.t:.2f} s, admitted {sim.n_admitted}/{self.total}"
        if self._done and self.last_result is not None:
            text += f"; all done in {self.last_result.makespan_s:.2f} s"
        return text

    def render_grid(self) -> np.ndarray:
        """A band per worker (its colour: busy, empty: idle, grey: gone), then the share of the
        images admitted so far."""
        grid = np.full((8 * self.N + 8, 64), NOTHING, dtype=np.int64)
        if self.sim is not None:
            for n in range(self.N):
                grid[8 * n : 8 * (n + 1)] = OFF if not self.sim.alive[n] else n if self.sim.busy[n] else NOTHING
            grid[8 * self.N :, : round(64 * self.sim.n_admitted / self.total)] = OFF
        return grid

    # -- references -------------------------------------------------------------------------------
    def reference_action(self, name: str) -> np.ndarray:
        """The admission a reference scheduler would take now (``local``: all 1, ``ar-mdi``: all
        0, ``ms-mdi``: the smaller of the source's local and MDI queues, ties local, ...)."""
        if name not in SCHEDULERS:
            raise ConfigError(f"reference: unknown policy {name!r} (known: {', '.join(REFERENCES)})")
        assert self.sim is not None
        sched = get_scheduler(name)
        return np.array([int(sched.admit(self.sim, s)) for s in range(self.S)], dtype=np.int64)

    def local_fractions(self, res: QueueResult) -> list[float]:
        return [
            float((res.path[res.source == s] == 0).mean()) if (res.source == s).any() else 0.0 for s in range(self.S)
        ]

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (SB3 saves objects that refer to the env): the running episode is dropped."""
        state = dict(self.__dict__)
        state.update(_gen=None, sim=None, _done=True)
        return state

    # -- internals (MSMDI-v1 overrides the hooks) -------------------------------------------------
    _learn_service = False

    def _action_text(self) -> str:
        return f"{self.S} values in {{0, 1}}"

    def _draw_instance(self) -> None:
        """v0: one fixed instance (draws nothing, so v0's trajectories are unchanged)."""

    def _arrival_seed(self) -> int:
        """The episode's arrivals seed, drawn from ``np_random`` (a v1 split instance fixes its own)."""
        return int(self.np_random.integers(2**31 - 1))

    def _decision(self, a: np.ndarray) -> list[int] | None:
        return admission_decision(a, self.S)

    def _advance(self, decision: list[int] | None) -> None:
        try:
            self._pending = self._gen.send(decision) if decision is not None else next(self._gen)
        except StopIteration as stop:
            self.last_result = stop.value
            self._pending = []
            self._done = True

    def _obs(self) -> np.ndarray:
        assert self.sim is not None
        return admission_obs(self.sim, self.ref_s, self.total)


_BITS = frozenset((0, 1))


def admission_decision(a: np.ndarray, S: int) -> list[int] | None:
    """A flat action as ``S`` ints in {0, 1}, or None when it is not one. Accepts exactly what
    ``np.isin(a, (0, 1)).all()`` with shape ``(S,)`` accepts: booleans, integers and floats go
    through Python values (a set test, a tenth of ``np.isin``'s cost per step); other dtypes
    (complex, object, strings) keep ``np.isin``."""
    if a.shape != (S,):
        return None
    if a.dtype.kind in "biu" or (a.dtype.kind == "f" and a.dtype.itemsize <= 8):
        vals = a.tolist()
        return [int(v) for v in vals] if _BITS.issuperset(vals) else None
    return [int(v) for v in a] if np.isin(a, (0, 1)).all() else None


def admission_obs(sim: Any, ref_s: float, total: int) -> np.ndarray:
    """The observation of a :class:`QueueSim` (or anything with its public state, such as a
    worker's view of the real ring): queue lengths, busy/alive flags, delays, admitted fraction."""
    q = [len(d) for d in sim.qlocal] + [len(d) for row in sim.qmdi for d in row] + [len(d) for d in sim.reservoir]
    speed = [sim.full[n] * sim.factor[n] / ref_s for n in range(sim.N)]
    obs = np.concatenate(
        [
            np.asarray(q, dtype=np.float64) / QUEUE_SCALE,
            np.asarray(sim.busy, dtype=np.float64),
            np.asarray(sim.alive, dtype=np.float64),
            speed,
            [sim.n_admitted / total],
        ]
    )
    return np.clip(obs, 0.0, OBS_HIGH).astype(np.float32)
