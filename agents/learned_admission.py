"""A trained ``splitgym/MSMDI-v0`` or ``-v1`` policy as an MS-MDI scheduler: learned admission,
and rule service or (v1 with ``learn_service``) the policy's own.

v0's action is the admission choice only (local or MDI queue per source), so the learned policy
decides admission and the workers serve by the back-pressure rule (Eq. 2, the env's default
``service``); a v1 policy trained with ``learn_service`` also picks the queue each free worker
serves, read as MSMDI-v1 reads it (an empty queue falls back to the rule). Which observation
(v0's or v1's scaled one) follows from the policy's spaces (:meth:`LearnedAdmission.check_dims`).
The observation is built from whatever is passed as ``sim``: the simulator itself, or a worker's
view of the real ring (:class:`splitgym.executors.stages.mdi_view.RingView`), where the other
workers' queues are their last reports (a v1 policy also needs the sources' rates: ``rates=``).
One prediction serves every source deciding at the same slot (the env's joint action); a view
that counts its decisions (``decision``) gets a fresh prediction for each.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import read_signed
from splitgym.costmodels.stages.queue_policies import BackPressure
from splitgym.costmodels.stages.queue_sim import LOCAL
from splitgym.envs.msmdi import admission_obs
from splitgym.envs.msmdi_v1 import scaled_obs

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
    """The SB3 model's deterministic admission; back-pressure service, or the model's own service
    choice for a ``splitgym/MSMDI-v1`` policy trained with ``learn_service``."""

    name = "learned"

    def __init__(self, model: Any, ref_s: float, total: int, rates: Sequence[float] | None = None) -> None:
        if not (ref_s > 0 and total > 0):
            raise ConfigError(f"learned: ref_s and total must be > 0, got {ref_s} and {total}")
        self.model, self.ref_s, self.total = model, float(ref_s), int(total)
        self.rates = None if rates is None else [float(r) for r in rates]
        self.bp = BackPressure()
        self.kind: str | None = None  # "v0" | "v1" | "v1-service", from the policy's spaces (check_dims)
        self._key: tuple[Any, ...] | None = None
        self._action: Any = None

    @classmethod
    def load(cls, run: str | Path, ref_s: float, total: int, rates: Sequence[float] | None = None) -> LearnedAdmission:
        """``rates``: the sources' images/s, which an MSMDI-v1 policy observes (a worker's view of
        the real ring does not carry them; the simulator does)."""
        from stable_baselines3 import PPO

        data = read_signed(policy_path(run))  # SB3's zip holds pickles: only a verified one is loaded
        return cls(PPO.load(io.BytesIO(data), device="cpu"), ref_s, total, rates)

    def check_dims(self, N: int, S: int) -> None:
        """The policy must have been trained on N workers and S sources; which observation it takes
        (v0's :func:`admission_obs` or v1's :func:`scaled_obs`) and whether it also serves follow
        from its spaces. v1's padding (a drawn worker count keeps the first n alive) is not replayed
        on a smaller ring: the absent workers' slots carried their board's speed in training."""
        got = int(self.model.observation_space.shape[0])
        nvec = [int(v) for v in self.model.action_space.nvec]
        v0, v1 = 2 * S + N * S + 3 * N + 1, 2 * S + N * S + 3 * N + S + 1
        if got == v0 and nvec == [2] * S:
            self.kind = "v0"
        elif got == v1 and nvec in ([2] * S, [2] * S + [S + 2] * N):
            self.kind = "v1" if len(nvec) == S else "v1-service"
        else:
            raise ConfigError(
                f"learned: the policy observes {got} values and decides {len(nvec)} values; this ring has {N} "
                f"workers and {S} sources (MSMDI-v0: {v0} values, {S} decisions; MSMDI-v1: {v1} values, {S} or "
                f"{S + N} decisions; a smaller ring is not padded): train on a scenario of that size"
            )

    def _obs(self, sim: Any) -> Any:
        if self.kind == "v0":
            return admission_obs(sim, self.ref_s, self.total)
        rates = getattr(sim.sys, "rates", None) or self.rates
        if rates is None:
            raise ConfigError("learned: an MSMDI-v1 policy observes the sources' rates; pass rates= to load()")
        view = sim if getattr(sim.sys, "rates", None) else _WithRates(sim, rates)
        return scaled_obs(view, self.ref_s, self.total)

    def _predict(self, sim: Any) -> Any:
        """The model's action at this slot (one prediction per slot, or per decision of a view)."""
        if self.kind is None:
            self.check_dims(sim.N, sim.S)
        key = (sim.t, getattr(sim, "decision", None))
        if self._key is None or self._key[0] is not sim or self._key[1:] != key:
            self._key = (sim, *key)
            self._action = self.model.predict(self._obs(sim), deterministic=True)[0]
        return self._action

    def admit(self, sim: Any, s: int) -> bool:
        return bool(self._predict(sim)[s])

    def serve(self, sim: Any, n: int) -> int:
        """Back-pressure, or with ``learn_service`` the model's value for worker n as MSMDI-v1
        reads it (0: its local queue, 1 + s: its MDI queue of s, S + 1 or an empty queue: the rule)."""
        if self.kind != "v1-service":
            return self.bp.serve(sim, n)
        value = int(self._predict(sim)[sim.S + n])
        own = sim.src_of[n]
        if value == 0 and own >= 0 and sim.qlocal[own]:
            return LOCAL
        if 1 <= value <= sim.S and sim.qmdi[n][value - 1]:
            return value - 1
        return self.bp.serve(sim, n)


class _WithRates:
    """A simulator-like view with ``sys.rates`` added (a worker's ring view has none)."""

    def __init__(self, sim: Any, rates: list[float]) -> None:
        self._sim, self.sys = sim, SimpleNamespace(**vars(sim.sys), rates=rates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sim, name)


def run_scenario(run: str | Path) -> dict[str, Any]:
    """The scenario a training run was made on (``export/summary.json``)."""
    f = Path(run) / "export" / "summary.json"
    if not f.is_file():
        raise ConfigError(f"learned: no summary at {f}")
    return json.loads(f.read_text())["scenario"]
