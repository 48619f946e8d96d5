"""Benchmark: MSMDI-v0 and NPTP-v0 steps/s, the current step against the step before issue 21's
hot-path work (reference copies kept here, also what tests/test_hot_paths.py compares against).

    python -m splitgym.experiments.bench_steps [--episodes 200] [--repeats 5]

MSMDI-v0: full episodes of the ms-mdi reference action; the old step checked the action with
``np.isin``. NPTP-v0: full episodes of seeded random actions; the old scorer built the
:func:`exchanges` list of :class:`Region` objects and then summed it. Every repeat runs old and
new in turn in one process (side by side); medians over repeats, with the load average before
and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from splitgym.costmodels.graph import DTYPE_BYTES
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles import tile_cost
from splitgym.costmodels.tiles.tile_cost import TileCostModel, TileScore, exchanges
from splitgym.envs import msmdi
from splitgym.envs.msmdi import MSMDIEnv
from splitgym.envs.nptp import NPTPEnv


def legacy_admission(a: np.ndarray, S: int) -> list[int] | None:
    """The MS-MDI action check before issue 21: shape, then ``np.isin``."""
    if a.shape != (S,) or not np.isin(a, (0, 1)).all():
        return None
    return [int(v) for v in a]


_SCORE = TileCostModel.score  # the current method, whose tail (after the loop) did not change


def legacy_rate(rate: Any, elems: int) -> float:
    """``_UnitRate.__call__`` before issue 21 (``np.interp`` on one value)."""
    if elems <= 0:
        return 0.0
    rows = elems / rate.area * rate.h_ref
    if rows < rate.heights[0]:  # below the smallest measured band: linear to zero
        return float(rate.scale * rate.seconds[0] * rows / rate.heights[0])
    return float(rate.scale * np.interp(rows, rate.heights, rate.seconds))


def _legacy_walk(model: TileCostModel, rects: list[Region]) -> tuple[Any, ...]:
    """The old scorer's loop over :func:`exchanges` (verbatim but for the returned tuple)."""
    N, g = model.N, model.graph
    compute, comm_s, comm_b, act = np.zeros(N), np.zeros(N), np.zeros(N), np.zeros(N)
    layer_el = np.zeros(g.num_units)
    messages = 0
    edges = model.counting == "edges"
    ex = exchanges(g, rects)
    prev_own = rects
    for x in ex:
        u = g.units[x.unit]
        c_in, c_out = u.in_shape[0], u.out_shape[0]
        for d in range(N):
            o = x.owned[d]
            compute[d] += legacy_rate(model.rates[d][x.unit], tile_cost._area(o))
            act[d] = max(act[d], (tile_cost._area(x.needed[d]) * c_in + tile_cost._area(o) * c_out) * DTYPE_BYTES)
        for src, dst, piece in x.recv:
            cells = tile_cost._edge_cells(piece, prev_own[dst]) if edges else tile_cost._area(piece)
            if cells == 0:
                continue
            nb = cells * c_in * DTYPE_BYTES
            layer_el[x.unit] += cells * c_in
            comm_b[dst] += nb
            comm_s[dst] += model.seconds(src, dst, nb)
            messages += 1
        prev_own = x.owned
    return compute, comm_s, comm_b, act, layer_el, messages, ex[-1].owned


def legacy_score(model: TileCostModel, rects: Sequence[Region], head_device: str | None = None) -> TileScore:
    """:meth:`TileCostModel.score` before issue 21 (the tail is unchanged, shared)."""
    rects = [Region(*map(int, r)) for r in rects]
    model._walk = lambda rs: _legacy_walk(model, rs)  # type: ignore[method-assign]
    try:
        return _SCORE(model, rects, head_device, path="python")
    finally:
        del model._walk


@contextmanager
def legacy(on: bool):
    """Within: the envs run their pre-issue-21 hot paths (``on=False``: unchanged)."""
    if not on:
        yield
        return
    old_adm, old_score = msmdi.admission_decision, TileCostModel.score
    msmdi.admission_decision = legacy_admission
    TileCostModel.score = legacy_score  # type: ignore[method-assign]
    try:
        yield
    finally:
        msmdi.admission_decision, TileCostModel.score = old_adm, old_score  # type: ignore[method-assign]


def msmdi_run(env: MSMDIEnv, episodes: int) -> Callable[[], int]:
    def run() -> int:
        steps = 0
        for ep in range(episodes):
            env.reset(seed=ep)
            done = False
            while not done:
                _, _, done, _, _ = env.step(env.reference_action("ms-mdi"))
                steps += 1
        return steps

    return run


def nptp_run(env: NPTPEnv, episodes: int) -> Callable[[], int]:
    acts = np.random.default_rng(0).uniform(-1, 1, (episodes, env.episode_steps, 3))

    def run() -> int:
        for ep in acts:
            env.reset()
            for a in ep:
                env.step(a)
        return acts.shape[0] * acts.shape[1]

    return run


def side_by_side(runs: dict[str, Callable[[], int]], repeats: int) -> dict[str, Any]:
    """Median steps/s of each run, old then new in every repeat."""
    load0 = os.getloadavg()
    rates: dict[str, list[float]] = {f"{k}/{v}": [] for k in runs for v in ("old", "new")}
    for _ in range(repeats):
        for name, run in runs.items():
            for variant in ("old", "new"):
                with legacy(variant == "old"):
                    t = time.perf_counter()
                    steps = run()
                    rates[f"{name}/{variant}"].append(steps / (time.perf_counter() - t))
    med = {k: statistics.median(v) for k, v in rates.items()}
    speed = {k: med[f"{k}/new"] / med[f"{k}/old"] for k in runs}
    return {"steps_per_s": med, "speedup": speed, "repeats": repeats, "load": [load0, os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200, help="NPTP-v0 episodes per repeat")
    ap.add_argument("--msmdi-episodes", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    runs = {
        "MSMDI-v0": msmdi_run(MSMDIEnv(), args.msmdi_episodes),
        "NPTP-v0": nptp_run(NPTPEnv(), args.episodes),
    }
    print(json.dumps(side_by_side(runs, args.repeats), indent=1))


if __name__ == "__main__":
    main()
