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
  These silent choices are named options of :class:`BackPressure` (``RULE_OPTIONS``; the
  defaults above), since they move the total time by tens of points
  (``python -m splitgym.experiments.msmdi_regimes rules``):
  ``admit_tie`` ``"local"`` | ``"mdi"`` (where an image goes when the two queues are equal);
  ``serve_tie`` ``"local"`` | ``"mdi"`` (which term wins Eq. 2 on equal weights: the local
  queue, or the MDI queue of the lowest source index); ``idle`` ``"positive"`` (serve only
  a positive term, back-pressure's rule) | ``"work"`` (work-conserving: a worker with any
  non-empty queue serves, the best term even when it is <= 0).
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

__all__ = ["RULE_OPTIONS", "BackPressure", "MaxWeight", "ARMDI", "Local", "SCHEDULERS", "get_scheduler"]

BIG_M = 1 << 40
#: the named tie-break and idle rules of :class:`BackPressure` (first: the default)
RULE_OPTIONS: dict[str, tuple[str, ...]] = {
    "admit_tie": ("local", "mdi"),
    "serve_tie": ("local", "mdi"),
    "idle": ("positive", "work"),
}


class BackPressure:
    """MS-MDI: min-queue admission and the back-pressure service rule (Eq. 2, corrected), with
    the tie-break and idle rules the paper leaves open as named options (module docstring)."""

    name = "ms-mdi"

    def __init__(
        self, literal_exit: bool = False, admit_tie: str = "local", serve_tie: str = "local", idle: str = "positive"
    ) -> None:
        for key, value in (("admit_tie", admit_tie), ("serve_tie", serve_tie), ("idle", idle)):
            if value not in RULE_OPTIONS[key]:
                raise ConfigError(f"{key}: must be one of {', '.join(RULE_OPTIONS[key])}, got {value!r}")
        self.literal_exit = literal_exit
        self.admit_tie, self.serve_tie, self.idle = admit_tie, serve_tie, idle

    def admit(self, sim: QueueSim, s: int) -> bool:
        w = sim.sys.sources[s]
        ql, qm = len(sim.qlocal[s]), len(sim.qmdi[w][s])
        return ql < qm or (ql == qm and self.admit_tie == "local")

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
        mdi_first = self.serve_tie == "mdi"
        for s, d in enumerate(diffs):
            if d > best or (mdi_first and choice == LOCAL and d == best and d > -BIG_M):
                best, choice = d, s
        if best > 0:
            return choice
        if self.idle == "work":  # work-conserving: the best non-empty queue, even without pressure
            open_ = [(d, s) for s, d in enumerate(diffs) if d > -BIG_M]
            if open_:
                return max(open_, key=lambda x: (x[0], -x[1]))[1]
        return IDLE


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


def get_scheduler(name: str, **options: str) -> BackPressure | MaxWeight | ARMDI | Local:
    """A scheduler by name; ``options`` (``RULE_OPTIONS``) are for ``ms-mdi`` only."""
    try:
        cls = SCHEDULERS[name]
    except KeyError:
        raise ConfigError(f"policy: unknown scheduler {name!r} (known: {', '.join(SCHEDULERS)})") from None
    if options and cls is not BackPressure:
        raise ConfigError(f"{next(iter(options))}: a rule option of ms-mdi, not of {name!r}")
    unknown = sorted(set(options) - set(RULE_OPTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a rule option (known: {', '.join(RULE_OPTIONS)})")
    return cls(**options)
