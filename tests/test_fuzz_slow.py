"""Fuzzing every input kind of issue 22, slow part: the whole seeded corpus (over 1,000 cases)
in-process, and the cases that could hang or print a traceback outside ``main`` (FIFOs,
``/dev/zero``, self-symlinks, the known coercions, every 40th case) as real ``splitgym`` processes
with a hard timeout. Figures: experiments/fuzz_report.py (README "Bad input")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from splitgym.experiments.fuzz_report import all_cases
from splitgym.experiments.fuzz_run import run_cases, tally

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _bad(results: list) -> list[str]:
    return [
        f"{r.outcome}: {r.case.kind} {r.case.label!r} {' '.join(r.case.argv)[:100]}: {r.stderr.strip()[-200:]}"
        for r in results
        if r.outcome not in ("clean", "accepted")
    ]


def whole_corpus() -> dict:
    """The whole corpus in-process (in the interpreter that calls it): the bad cases and the totals."""
    cases = all_cases(seed=0)
    results = run_cases(cases, timeout_s=60)
    return {"cases": len(cases), "bad": _bad(results), "total": tally(results)[-1]}


def test_whole_corpus_in_process_is_clean() -> None:
    """In one fresh interpreter, as tests/test_fuzz_inputs.py's slice and for the same reason."""
    code = "import json, tests.test_fuzz_slow as t; print(json.dumps(t.whole_corpus(), default=str))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=3000)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["cases"] >= 1000
    assert not out["bad"], "\n".join(out["bad"][:30])
    total = out["total"]
    assert total["hang"] == total["traceback"] == total["coerced"] == 0


def _hang_prone(case) -> bool:
    """A case that reads a FIFO, a self-symlink or ``/dev/zero``."""
    argv = " ".join(case.argv)
    special = [n for n, b in case.files if b in ("@fifo", "@selflink")]
    return "/dev/zero" in argv or any(f"{{d}}/{n}" in argv or n == "trace.csv" for n in special)


def test_hang_prone_cases_as_processes_are_one_line() -> None:
    cases = all_cases(seed=0)
    picked = [c for c in cases if c.kind != "train Hydra overrides" and _hang_prone(c)]
    picked += cases[::40]
    results = run_cases(picked, subprocess_mode=True, timeout_s=120)
    assert not _bad(results), "\n".join(_bad(results)[:30])
