"""MS-MDI scheduling policies for the queueing simulator (:mod:`splitgym.costmodels.stages.queue_sim`).

Each policy answers two questions (the :class:`~splitgym.costmodels.stages.queue_sim.Policy` protocol):
where a source's new images go (its local queue or its MDI queue), and which queue an idle worker
serves. ``SCHEDULERS`` maps names to classes.

* :class:`BackPressure` is MS-MDI (MS Section 4): admission to the smaller of ``q_l^i`` and
  ``q_i^i`` (ties: local, which moves no data); service by Eq. 2,
  ``max{q_l^n, max_j (q_n^j - q_{succ}^j)}``, in the corrected reading of PAPERS-AUDIT B.3 item 28:
  ``q_l^n = -M`` for a worker that is not a source (the printed ``q_n^j = -M`` would stop helpers
  from ever serving MDI work). Choices where the paper is silent: ``q_{succ}^j`` is the queue of
  the next worker of source j's chain (``(n+1) % N`` when every worker has a stage); at the last
  stage the output leaves the network, so its downstream backlog is 0 (a sink; the literal
  ``q_{(n+1)%N}^j`` there would compare with the source's fresh images, which the output never
  joins: ``literal_exit=True`` gives that reading); a worker serves only when the winning term
  is positive, as back-pressure does (ties: local first, then the lower source index).
* :class:`ARMDI` sends every image through the MDI chain (AR-MDI, [1] in the paper); a worker with
  several non-empty MDI queues serves the item admitted first (FIFO across sources: AR-MDI is
  single-source and says nothing about mixing sources).
* :class:`MaxWeight` (``ms-mdi-mw``) is *not in the paper*: the same queues with the textbook
  max-weight form of back-pressure, each term weighted by the rate at which the worker drains it
  (local: ``q_l^n / T_full``; MDI: ``(q_n^j - q_succ^j) / T_stage``), and admission to the path
  with the smaller expected wait (local: ``(q_l^i + 1) T_full``; MDI: the sum over source i's
  chain of ``(q_m^i + 1) T_stage_m``). The paper's rule compares raw counts, so a source weighs a
  whole-model local image like a one-stage MDI item; this variant shows what that costs.
* :class:`Local` keeps every image on its source, which runs the whole model; helpers stay idle.
"""

from __future__ import annotations

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.stages.queue_sim import IDLE, LOCAL, QueueSim

__all__ = ["BackPressure", "MaxWeight", "ARMDI", "Local", "SCHEDULERS", "get_scheduler"]

BIG_M = 1 << 40


class BackPressure:
    """MS-MDI: min-queue admission and the back-pressure service rule (Eq. 2, corrected)."""

    name = "ms-mdi"

    def __init__(self, literal_exit: bool = False) -> None:
        self.literal_exit = literal_exit

    def admit(self, sim: QueueSim, s: int) -> bool:
        w = sim.sys.sources[s]
        return len(sim.qlocal[s]) <= len(sim.qmdi[w][s])

    def weights(self, sim: QueueSim, n: int) -> tuple[int, list[int]]:
        """Eq. 2's terms for worker n: the local term and one differential per source."""
        s_own = sim.src_of[n]
        local = len(sim.qlocal[s_own]) if s_own >= 0 else -BIG_M
        diffs = []
        for s in range(sim.S):
            q = len(sim.qmdi[n][s])
            nxt = sim.succ[s][n]
            if nxt >= 0:
                down = len(sim.qmdi[nxt][s])
            elif self.literal_exit:
                down = len(sim.qmdi[(n + 1) % sim.N][s])
            else:
                down = 0
            diffs.append(q - down if q else -BIG_M)
        return local, diffs

    def serve(self, sim: QueueSim, n: int) -> int:
        local, diffs = self.weights(sim, n)
        best, choice = local, LOCAL
        for s, d in enumerate(diffs):
            if d > best:
                best, choice = d, s
        return choice if best > 0 else IDLE


class MaxWeight:
    """Rate-weighted back-pressure and expected-wait admission (beyond the paper, see above)."""

    name = "ms-mdi-mw"

    def admit(self, sim: QueueSim, s: int) -> bool:
        w = sim.sys.sources[s]
        local = (len(sim.qlocal[s]) + 1) * sim.full_seconds(w)
        mdi = sum((len(sim.qmdi[n][s]) + 1) * sim.stage_seconds(s, n) for n, _, _ in sim.stages[s])
        return local <= mdi

    def serve(self, sim: QueueSim, n: int) -> int:
        s_own = sim.src_of[n]
        best, choice = 0.0, IDLE
        if s_own >= 0 and sim.qlocal[s_own]:
            best, choice = len(sim.qlocal[s_own]) / sim.full_seconds(n), LOCAL
        for s in range(sim.S):
            q = len(sim.qmdi[n][s])
            if not q:
                continue
            nxt = sim.succ[s][n]
            d = (q - (len(sim.qmdi[nxt][s]) if nxt >= 0 else 0)) / max(sim.stage_seconds(s, n), 1e-12)
            if d > best:
                best, choice = d, s
        return choice


class ARMDI:
    """AR-MDI: every image through the chain; FIFO (by admission) across a worker's MDI queues."""

    name = "ar-mdi"

    def admit(self, sim: QueueSim, s: int) -> bool:
        return False

    def serve(self, sim: QueueSim, n: int) -> int:
        best, choice = None, IDLE
        for s, q in enumerate(sim.qmdi[n]):
            if q and (best is None or sim.adm[q[0]] < best):
                best, choice = sim.adm[q[0]], s
        return choice


class Local:
    """Local: every source runs its own images on the whole model; helpers idle."""

    name = "local"

    def admit(self, sim: QueueSim, s: int) -> bool:
        return True

    def serve(self, sim: QueueSim, n: int) -> int:
        s = sim.src_of[n]
        if s >= 0 and sim.qlocal[s]:
            return LOCAL
        for s, q in enumerate(sim.qmdi[n]):  # items admitted by someone else (none under Local)
            if q:
                return s
        return IDLE


SCHEDULERS: dict[str, type] = {"ms-mdi": BackPressure, "ar-mdi": ARMDI, "local": Local, "ms-mdi-mw": MaxWeight}


def get_scheduler(name: str) -> BackPressure | MaxWeight | ARMDI | Local:
    try:
        return SCHEDULERS[name]()
    except KeyError:
        raise ConfigError(f"policy: unknown scheduler {name!r} (known: {', '.join(SCHEDULERS)})") from None
