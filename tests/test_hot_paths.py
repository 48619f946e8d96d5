"""Issue 21's hot paths keep their results: MS-MDI's action check accepts and rejects exactly
what the ``np.isin`` check did, and the tile scorer's one-pass loop gives every TileScore field
bit-equal to the old :func:`exchanges`-based scorer (reference copies in experiments/bench_steps);
the numpy path against the loop: tests/test_tile_batch.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.tiles.tile_cost import TileScore, _interp
from splitgym.costmodels.tiles.tile_layouts import (
    all_partitions,
    equal_strips,
    fraction_cuts,
    grid,
    multilevel,
    scale_rects,
    t_layout,
)
from splitgym.costmodels.traffic import SplitMaths
from splitgym.envs.msmdi import MSMDIEnv, admission_decision
from splitgym.envs.nptp import NPTPEnv, decode
from splitgym.experiments.bench_steps import legacy, legacy_admission, legacy_score

from .test_tiles import model_for, small_graph

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # int() of 1+0j, old and new


# -- MS-MDI ---------------------------------------------------------------------------------------
def _actions(rng: np.random.Generator, S: int):
    """Valid and invalid actions of many dtypes and shapes."""
    for _ in range(300):
        n = S if rng.random() < 0.8 else int(rng.integers(0, S + 3))
        yield rng.integers(-2, 4, n)
        yield rng.integers(0, 2, n).astype(rng.choice(["int8", "uint8", "int32", "uint64", "bool"]))
        f = rng.integers(0, 2, n).astype(float)
        if n and rng.random() < 0.5:
            f[rng.integers(n)] = rng.choice([0.5, -0.0, np.nan, np.inf, -1.0, 1.0 + 1e-12, 2.0])
        yield f.astype(rng.choice(["float16", "float32", "float64", "longdouble"]))
        yield f.astype(complex) + (1j if rng.random() < 0.3 else 0)
        yield np.array([int(v) for v in f if np.isfinite(v)], dtype=object)
        yield np.array([str(int(v)) for v in rng.integers(0, 2, n)])
        yield rng.integers(0, 2, (1, n))


def test_admission_check_matches_isin_on_random_actions():
    rng = np.random.default_rng(21)
    seen = {True: 0, False: 0}
    for S in (1, 2, 3, 5):
        for raw in _actions(rng, S):
            a = np.asarray(raw).reshape(-1)
            old, new = legacy_admission(a, S), admission_decision(a, S)
            assert new == old, (raw, raw.dtype)
            assert new is None or all(type(v) is int for v in new)
            seen[old is None] += 1
    assert min(seen.values()) > 500  # both outcomes well covered


def test_step_rejects_what_it_rejected_with_the_same_message():
    env = MSMDIEnv("ms-mdi-3-small")
    rng = np.random.default_rng(5)
    for raw in list(_actions(rng, env.S))[:400]:
        msgs = []
        for old in (True, False):
            env.reset(seed=0)
            with legacy(old):
                try:
                    env.step(raw)
                    msgs.append(None)
                except ValueError as e:
                    msgs.append(str(e))
        assert msgs[0] == msgs[1]


def test_seeded_rollout_is_identical():
    runs = []
    for old in (True, False):
        env = MSMDIEnv("ms-mdi-3-small")
        rng = np.random.default_rng(3)
        out = []
        with legacy(old):
            obs, _ = env.reset(seed=11)
            out.append(obs)
            done = False
            while not done:
                obs, r, done, _, info = env.step(rng.integers(0, 2, env.S))
                out += [obs, r, info["t"]]
        runs.append(out)
    assert len(runs[0]) == len(runs[1]) > 10
    for x, y in zip(*runs):
        assert np.array_equal(x, y)


# -- tile scorer ----------------------------------------------------------------------------------
def _same(a: TileScore, b: TileScore) -> None:
    for f in dataclasses.fields(TileScore):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def _layouts(rng: np.random.Generator, h: int, w: int, n: int):
    for _ in range(60):
        fr = rng.uniform(0, 1, n - 1)
        yield multilevel(h, w, fraction_cuts(h, w, rng.integers(0, 2, n - 1), rng.integers(0, 2, n - 1), fr))
    yield equal_strips(h, w, n)
    yield equal_strips(h, w, n, axis=1)
    for parts in list(all_partitions(3, 3, n))[:40]:
        yield scale_rects(parts, 3, 3, h, w)
    if n == 3:
        yield t_layout(h, w, int(rng.integers(1, h)), int(rng.integers(1, w)))
    if n == 4:
        yield grid(h, w, [0, int(rng.integers(1, h)), h], [0, int(rng.integers(1, w)), w])


def cluster(n: int, mbps: float) -> Cluster:
    return Cluster.from_config(
        {"name": f"t{n}", "devices": [{"name": f"d{i}", "board": "local-cpu"} for i in range(n)]},
        {"name": "n", "bandwidth_mbps": mbps, "latency_ms": 2.0, "overhead_ms": 0.5},
    )


@pytest.mark.parametrize("counting", ["exact", "edges"])
@pytest.mark.parametrize("n", [2, 3, 4])
def test_scores_equal_the_old_scorer_on_random_layouts(counting, n):
    rng = np.random.default_rng(n)
    g = small_graph()
    m = model_for(g, cluster(n, 3.0), counting=counting, memory_mb={"d0": 1.0}, activation_share={"d1": 0.3})
    _, h, w = g.input_shape
    for i, rects in enumerate(_layouts(rng, h, w, n)):
        head = None if i % 3 else f"d{i % n}"
        _same(m.score(rects, head, path="python"), legacy_score(m, rects, head))


def test_scores_equal_the_old_scorer_on_a_branched_model():
    g = ModelGraph.from_torchvision("resnet18", (64, 64))
    m = model_for(g, cluster(3, 8.0), per_row=3e-4)
    rng = np.random.default_rng(0)
    for rects in _layouts(rng, 64, 64, 3):
        _same(m.score(rects, path="python"), legacy_score(m, rects))


def test_nptp_env_scores_equal_the_old_scorer():
    env = NPTPEnv()
    decisions = np.random.default_rng(9).uniform(-1, 1, (150, env.N - 1, 3))
    with legacy(True):
        old = [env.score(d) for d in decisions]
    for d, o in zip(decisions, old):
        _same(env.model.score(decode(d, env.H, env.W), path="python"), o)
    assert env.T_ref == pytest.approx(legacy_score(env.model, equal_strips(env.H, env.W, env.N)).latency, rel=1e-12)


def test_interp_is_numpys():
    rng = np.random.default_rng(1)
    for _ in range(200):
        xs = np.unique(rng.integers(1, 300, int(rng.integers(1, 12)))).astype(float)
        ys = rng.uniform(0, 1, len(xs))
        pts = np.concatenate([rng.uniform(xs[0], xs[-1] * 1.2, 100), xs])
        for x in pts:
            assert _interp(float(x), xs.tolist(), ys.tolist()) == np.interp(x, xs, ys)


@pytest.mark.parametrize(("model", "size"), [("vgg11", 224), ("resnet50", 224), ("inception_v3", 299)])
def test_tabulated_ranges_equal_the_unit_maps(model, size):
    """SplitMaths.ranges looks the unit maps up in tables; the same ranges as applying each map."""
    g = ModelGraph.from_torchvision(model, input_size=size, weights=False)
    maths = SplitMaths(g)
    rng = np.random.default_rng(0)
    for first, last in [(0, g.num_units - 1), (1, 3), (g.num_units // 2, g.num_units - 2)]:
        h = g.units[last].height
        cuts = np.sort(rng.integers(0, h + 1, size=(300, 5)), axis=1)
        cuts[:, 0], cuts[:, -1] = 0, h
        a, b = cuts[:, :-1], cuts[:, 1:]
        got = maths.ranges(first, last, cuts)
        want = [(a, b)]
        for u in range(last, first - 1, -1):
            a, b = g.units[u].row_map(a, b)
            want.append((a, b))
        assert len(got) == len(want)
        for (ga, gb), (wa, wb) in zip(got, want):
            np.testing.assert_array_equal(ga, wa)
            np.testing.assert_array_equal(gb, wb)
