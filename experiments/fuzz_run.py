"""Running fuzz cases (:mod:`fuzz_corpus`) through ``splitgym`` and classifying what happened.

Outcomes, one per case: ``clean`` (status 2 and one line on stderr: the goal for a bad input),
``accepted`` (status 0 where the input may be valid: a harmless mutation), ``coerced`` (status 0
for a case that must be refused), ``multi-line`` (status 2 but more than one line), ``traceback``
(a Python traceback, or status 1: an exception the code did not expect) and ``hang`` (past the time
limit). In-process runs call :func:`splitgym.experiments.cli.main` with a SIGALRM time limit (fast:
~0.1 s a case); subprocess runs start ``python -m splitgym.experiments.cli`` as a user would, with
a hard timeout, and see everything the process prints.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from splitgym.experiments.fuzz_corpus import KINDS, Case, write_files

__all__ = ["OUTCOMES", "Result", "classify", "run_case", "run_cases", "tally"]

OUTCOMES = ("clean", "accepted", "coerced", "multi-line", "traceback", "hang")
#: stderr lines that are not the program's: torch's glog-style warnings, progress bars
_NOISE = re.compile(r"^[WIE]\d{4} \d\d:\d\d:\d\d|\r|\d+%\|")


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: str
    status: int | None
    stderr: str
    seconds: float


def classify(case: Case, status: int | None, stderr: str, timed_out: bool) -> str:
    """One of :data:`OUTCOMES` for a finished (or timed-out) run."""
    if timed_out:
        return "hang"
    if "Traceback (most recent call last)" in stderr or status not in (0, 2):
        return "traceback"
    if status == 0:
        return "coerced" if case.must_refuse else "accepted"
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not _NOISE.search(ln)]
    return "clean" if len(lines) == 1 and lines[0].startswith("splitgym") else "multi-line"


class _Hang(BaseException):
    """Raised by SIGALRM: not an Exception, so the code under test cannot swallow it."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise _Hang

    before = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def _in_process(argv: list[str], timeout_s: float) -> tuple[int | None, str, bool]:
    from splitgym.experiments.cli import main

    err, out = io.StringIO(), io.StringIO()
    status: int | None = None
    timed_out = False
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            with _alarm(timeout_s):
                status = main(argv)
        except _Hang:
            timed_out = True
        except SystemExit as exc:  # Hydra's own exits
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - what escapes main is exactly what is measured
            traceback.print_exc(file=err)
            status = 1
    return status, err.getvalue(), timed_out


def _subprocess(argv: list[str], timeout_s: float, cwd: Path) -> tuple[int | None, str, bool]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPLITGYM_DEBUG", "HYDRA_FULL_ERROR")}
    try:
        res = subprocess.run(
            [sys.executable, "-m", "splitgym.experiments.cli", *argv],
            capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        return None, str(exc.stderr or ""), True
    return res.returncode, res.stderr, False


def run_case(case: Case, root: Path, subprocess_mode: bool = False, timeout_s: float = 60.0) -> Result:
    """Write the case's files into a fresh folder under ``root``, run it, classify it."""
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        write_files(case, folder)
        argv = [a.replace("{d}", str(folder)) for a in case.argv]
        t0 = time.perf_counter()
        if subprocess_mode:
            status, stderr, hung = _subprocess(argv, timeout_s, folder)
        else:
            status, stderr, hung = _in_process(argv, timeout_s)
        took = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Result(case, classify(case, status, stderr, hung), status, stderr[-2000:], took)


def run_cases(cases: Iterable[Case], subprocess_mode: bool = False, timeout_s: float = 60.0) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="splitgym-fuzz-") as root:
        return [run_case(c, Path(root), subprocess_mode, timeout_s) for c in cases]


def tally(results: list[Result]) -> list[dict[str, object]]:
    """One row per input kind: cases tried and how many ended in each outcome."""
    rows = []
    for kind in KINDS:
        mine = [r for r in results if r.case.kind == kind]
        if mine:
            rows.append({"input": kind, "tried": len(mine), **{o: sum(r.outcome == o for r in mine) for o in OUTCOMES}})
    if rows:
        rows.append({"input": "total", **{k: sum(int(r[k]) for r in rows) for k in ("tried", *OUTCOMES)}})
    return rows
