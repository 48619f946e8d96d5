"""Fuzzing every input kind of issue 22, fast part: the loaders and argument types under
hypothesis (seeded, bounded), and a seeded slice of the corpus run in-process through
``splitgym``. Each bad input must end as one line and status 2: no traceback, no hang, and no
silent coercion for the cases once taken silently. The rest is tests/test_fuzz_slow.py."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitgym.costmodels.config_schema import check_network
from splitgym.costmodels.errors import ConfigError, ProfileError
from splitgym.costmodels.network import BandwidthTrace
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.yamlfile import read_yaml
from splitgym.experiments.cli_args import bounded_float, bounded_int
from splitgym.experiments.fuzz_cases_cli import cli_cases, train_cases
from splitgym.experiments.fuzz_corpus import HOSTILE, Case, base_documents, file_cases, mutate
from splitgym.experiments.fuzz_run import classify, run_cases

ROOT = Path(__file__).resolve().parent.parent

FAST = settings(derandomize=True, max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
numbers = st.one_of(
    st.sampled_from(HOSTILE), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70)
)


@cache
def _base() -> dict[str, Any]:
    return base_documents()


def _write(text: str | bytes, suffix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="splitgym-fuzz-"))
    path = folder / f"in{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


@FAST
@given(st.text(max_size=30))
def test_bounded_argument_types_take_only_their_range(text: str) -> None:
    for parse, low, high in ((bounded_int(1, 64), 1, 64), (bounded_float(0, 600, low_open=True), 0, 600)):
        try:
            value = parse(text)
        except argparse.ArgumentTypeError as exc:
            assert "\n" not in str(exc)
            continue
        assert low <= value <= high and math.isfinite(value) and not (value == 0 and low == 0)


@FAST
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_yaml_files_load_as_a_mapping_or_one_line(data: bytes | str) -> None:
    try:
        doc = read_yaml(_write(data, ".yaml"), "network")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("network")
        return
    assert isinstance(doc, dict)


@FAST
@given(st.dictionaries(st.sampled_from(["bandwidth_mbps", "latency_ms", "requester_mbps", "overhead_ms"]), numbers))
def test_network_numbers_are_finite_and_never_booleans(doc: dict[str, Any]) -> None:
    try:
        net = check_network(doc)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    for key, value in doc.items():  # accepted: exactly the finite, in-range, non-boolean numbers
        assert not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        assert getattr(net, key) == value and value >= 0


@FAST
@given(st.lists(st.tuples(st.sampled_from(["0", "1", "10", "-1", "nan", "inf", "", "x", "1e400", "5"]),
                          st.sampled_from(["1", "50", "0", "-3", "nan", "inf", "", "abc"])), max_size=6))  # fmt: skip
def test_trace_csv_is_a_valid_trace_or_one_line(rows: list[tuple[str, str]]) -> None:
    text = "time_s,mbps\n" + "".join(f"{t},{b}\n" for t, b in rows)
    try:
        trace = BandwidthTrace.from_csv(_write(text, ".csv"))
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert trace.times[0] == 0 and all(b > a for a, b in zip(trace.times, trace.times[1:]))
    assert all(0 < v < math.inf for v in trace.mbps)


@FAST
@given(st.integers(0, 2**32 - 1))
def test_profile_mutations_load_valid_or_one_line(seed: int) -> None:
    import random

    doc, _ = mutate(_base()["profile"], random.Random(seed))
    try:
        prof = DeviceProfile.from_json(json.loads(json.dumps(doc)), where="profile f.json")
    except ProfileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("profile f.json")
        return
    for u in prof.units:  # accepted: every table indexable and finite
        assert u.heights and len(u.seconds) == len(u.heights)
        assert all(math.isfinite(s) and s >= 0 for row in u.seconds for s in row)


def test_classify_separates_the_outcomes() -> None:
    case, must = Case("plan JSON -> simulate", "x", ()), Case("plan JSON -> simulate", "x", (), must_refuse=True)
    assert classify(case, 2, "splitgym simulate: error: plan: bad\n", False) == "clean"
    assert classify(case, 2, "splitgym simulate: error: a\nmore\n", False) == "multi-line"
    assert classify(case, 1, "splitgym simulate: internal error: ...\n", False) == "traceback"
    assert classify(case, 2, "Traceback (most recent call last):\n", False) == "traceback"
    assert classify(case, 0, "", False) == "accepted" and classify(must, 0, "", False) == "coerced"
    assert classify(case, None, "", True) == "hang"


def _corpus_slice() -> list[Case]:
    base = _base()
    cases = file_cases(base, seed=0) + cli_cases(json.dumps(base["plan"])) + train_cases()
    known = [c for c in cases if c.must_refuse and c.kind != "train Hydra overrides"]
    return cases[::9] + known[::3]


def _bad_of_slice() -> list[str]:
    """Run the slice in-process and name every case that did not end clean or accepted."""
    results = run_cases(_corpus_slice(), timeout_s=30)
    return [f"{r.outcome}: {r.case.kind} {r.case.label!r}: {r.stderr.strip()[-200:]}" for r in results
            if r.outcome not in ("clean", "accepted")]  # fmt: skip


def test_corpus_slice_in_process_is_clean() -> None:
    """About 330 cases (every 9th of the corpus, and every 3rd of the must-refuse ones): each
    bad one a clean one-line error, status 2; a mutation that stays valid may be accepted.

    In-process means in one fresh interpreter (a child of this one): pytest's own state (capture
    streams that earlier tests' loggers still point at, closed once those tests end) must not be
    what the cases see, and a case must not leave state behind in the test session either."""
    code = "import json, tests.test_fuzz_inputs as t; print(json.dumps(t._bad_of_slice()))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    bad = json.loads(res.stdout.strip().splitlines()[-1])
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize("text", ["bandwidth_mbps: true\n", "bandwidth_mbps: [1, 2]\n", "bandwidth_mbps: '300'\n"])
def test_boolean_list_or_string_bandwidth_is_not_a_number(text: str) -> None:
    with pytest.raises(ConfigError, match=r"bandwidth_mbps: Input should be a valid number"):
        check_network(yaml.safe_load(text), "network f.yaml")
