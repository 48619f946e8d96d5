"""A trained ``splitgym/MSMDI-v0`` policy as an MS-MDI scheduler: learned admission, rule service.

The env's action is the admission choice only (local or MDI queue per source), so the learned
policy decides admission and the workers serve by the back-pressure rule (Eq. 2, the env's
default ``service``). The observation is built by :func:`splitgym.envs.msmdi.admission_obs` from
whatever is passed as ``sim``: the simulator itself, or a worker's view of the real ring
(:class:`splitgym.executors.stages.mdi_view.RingView`), where the other workers' queues are their last
reports. One prediction serves every source deciding at the same slot (the env's joint action);
a view that counts its decisions (``decision``) gets a fresh prediction for each.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import read_signed
from splitgym.costmodels.stages.queue_policies import BackPressure
from splitgym.envs.msmdi import admission_obs

__all__ = ["LearnedAdmission", "policy_path", "run_scenario"]


def policy_path(run: str | Path) -> Path:
    """``policy.zip`` of a training run folder (``<run>/export/policy.zip``) or the file itself."""
    p = Path(run)
    for cand in (p, p / "export" / "policy.zip", p / "policy.zip"):
        if cand.is_file():
            return cand
    raise ConfigError(
        f"learned: no policy.zip at {p} (searched {p}, {p / 'export' / 'policy.zip'}, {p / 'policy.zip'})"
    )


class LearnedAdmission:
    """The SB3 model's deterministic admission, back-pressure service."""

    name = "learned"

    def __init__(self, model: Any, ref_s: float, total: int) -> None:
        if not (ref_s > 0 and total > 0):
            raise ConfigError(f"learned: ref_s and total must be > 0, got {ref_s} and {total}")
        self.model, self.ref_s, self.total = model, float(ref_s), int(total)
        self.bp = BackPressure()
        self._key: tuple[Any, ...] | None = None
        self._action: Any = None

    @classmethod
    def load(cls, run: str | Path, ref_s: float, total: int) -> LearnedAdmission:
        from stable_baselines3 import PPO

        data = read_signed(policy_path(run))  # SB3's zip holds pickles: only a verified one is loaded
        return cls(PPO.load(io.BytesIO(data), device="cpu"), ref_s, total)

    def check_dims(self, N: int, S: int) -> None:
        """The model must have been trained on N workers and S sources."""
        want = 2 * S + N * S + 3 * N + 1
        got = int(self.model.observation_space.shape[0])
        if got != want or int(self.model.action_space.nvec.size) != S:
            raise ConfigError(
                f"learned: the policy observes {got} values and decides for "
                f"{self.model.action_space.nvec.size} sources; this ring has {N} workers and {S} "
                f"sources ({want} values): train on a scenario of that size"
            )

    def admit(self, sim: Any, s: int) -> bool:
        key = (sim.t, getattr(sim, "decision", None))
        if self._key is None or self._key[0] is not sim or self._key[1:] != key:
            key = (sim, *key)
            self._key = key
            self._action = self.model.predict(admission_obs(sim, self.ref_s, self.total), deterministic=True)[0]
        return bool(self._action[s])

    def serve(self, sim: Any, n: int) -> int:
        return self.bp.serve(sim, n)


def run_scenario(run: str | Path) -> dict[str, Any]:
    """The scenario a training run was made on (``export/summary.json``)."""
    f = Path(run) / "export" / "summary.json"
    if not f.is_file():
        raise ConfigError(f"learned: no summary at {f}")
    return json.loads(f.read_text())["scenario"]
