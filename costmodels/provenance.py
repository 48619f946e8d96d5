"""Which code made a result: the git commit of the checkout and the command line, per CSV row.

Why: a README figure used to be carried from CSV rows whose training code had changed since
(issue #19, item 1: DistrEdge's 1.19x became 1.11x when re-run). Every results row now records
``commit`` and ``command``; :func:`changed_since` says which of the paths a row depends on changed
between its commit and HEAD, so a stale row can be refused instead of carried.

A row made with uncommitted changes in its dependencies is stamped ``<sha>+dirty.<hash>``, the
hash of ``git diff HEAD`` over those paths: it is fresh only while HEAD is that commit and the
diff is the same (so a test run in a dirty checkout can reuse what it made a moment ago, and a
row made on code nobody committed never passes for committed code). Without git (an installed
wheel, a copy without ``.git``) every stamp is ``unknown``, said once on stderr, never a crash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "UNKNOWN",
    "REPO",
    "SOURCE",
    "head",
    "commit_stamp",
    "command_line",
    "changed_since",
    "stamp_rows",
    "write_run_provenance",
    "read_run_provenance",
]

UNKNOWN = "unknown"
#: the checkout this package is imported from (``costmodels/`` sits at its top level); a
#: non-editable install has no ``.git`` above it and gets ``unknown`` stamps
REPO = Path(__file__).resolve().parent.parent
#: the package's source folders (and its configs): what every result depends on by default
SOURCE = ("costmodels", "envs", "agents", "executors", "conf")
RUN_FILE = "provenance.json"  # in a training run's folder: the commit the run was launched on


def _git(repo: Path, *args: str) -> str | None:
    """``git -C repo args``'s stdout, or None when git or the repository is missing. ``repo`` must
    be a checkout's top (``.git`` in it): a wheel installed in a venv inside some checkout must
    not take that checkout's commit."""
    if not (repo / ".git").exists():
        return None
    try:
        res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


@functools.cache
def _say_unknown(repo: Path) -> None:
    print(f"provenance: {repo} is not a git checkout; results are stamped commit={UNKNOWN}", file=sys.stderr)


def head(repo: Path = REPO) -> str | None:
    """HEAD's full sha, or None (no git)."""
    out = _git(repo, "rev-parse", "--verify", "-q", "HEAD")
    return out.strip() if out else None


def _diff_hash(repo: Path, paths: Sequence[str]) -> str | None:
    """A short hash of the uncommitted changes to ``paths`` (None: there are none)."""
    diff = _git(repo, "diff", "HEAD", "--", *paths)
    return hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None


def commit_stamp(paths: Sequence[str], repo: Path = REPO) -> str:
    """``<sha>``, ``<sha>+dirty.<diffhash>`` when ``paths`` have uncommitted changes, or ``unknown``."""
    sha = head(repo)
    if sha is None:
        _say_unknown(repo)
        return UNKNOWN
    dirty = _diff_hash(repo, paths)
    return f"{sha}+dirty.{dirty}" if dirty else sha


def command_line(argv: Sequence[str] | None = None) -> str:
    """The process's command as one shell line: ``python -m <module> ...`` when run with ``-m``
    (argv[0] is then the module's file), else the program's name and its arguments."""
    argv = list(sys.argv if argv is None else argv)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return shlex.join(["python", "-m", spec.name.removesuffix(".__main__"), *argv[1:]])
    prog = Path(argv[0]).name if argv else "python"
    return shlex.join([prog, *argv[1:]])


def changed_since(commit: str, paths: Sequence[str], repo: Path = REPO) -> list[str] | None:
    """The files under ``paths`` that differ between ``commit`` and HEAD ([] : fresh); None when
    the commit is ``unknown``, not in this repository, or git is missing. Several commits joined
    by ``|`` (a summary row over runs) are stale when any one is; a dirty stamp is fresh only at
    its own HEAD with the same uncommitted diff (see the module docstring)."""
    if not commit or commit == UNKNOWN:
        return None
    changed: set[str] = set()
    for one in str(commit).split("|"):
        sha, _, dirty = one.partition("+dirty.")
        if _git(repo, "cat-file", "-e", f"{sha}^{{commit}}") is None:
            return None
        out = _git(repo, "diff", "--name-only", sha, "HEAD", "--", *paths)
        if out is None:
            return None
        changed.update(out.split())
        if dirty and (head(repo) != sha or _diff_hash(repo, paths) != dirty):
            changed.add(f"(uncommitted changes at {sha[:10]})")
    return sorted(changed)


def stamp_rows(
    rows: Iterable[dict[str, Any]], paths: Sequence[str], command: str | None = None, repo: Path = REPO
) -> list[dict[str, Any]]:
    """``rows`` with ``commit`` and ``command`` set where a row has none of its own (a row carried
    from an older CSV, or collected from a training run, keeps the provenance it brought)."""
    rows = list(rows)
    if any(not r.get("commit") or not r.get("command") for r in rows):
        stamp, cmd = commit_stamp(paths, repo), command or command_line()
        for r in rows:
            r["commit"] = r.get("commit") or stamp
            r["command"] = r.get("command") or cmd
    return rows


def write_run_provenance(folder: Path, paths: Sequence[str], command: str, repo: Path = REPO) -> dict[str, str]:
    """Record in a training run's folder the commit it is launched on, before it starts: the row
    collected from it later gets the run's commit, not the collector's."""
    from splitgym.costmodels.atomic import atomic_write

    prov = {"commit": commit_stamp(paths, repo), "command": command}
    atomic_write(Path(folder) / RUN_FILE, json.dumps(prov, indent=1) + "\n")
    return prov


def read_run_provenance(folder: Path) -> dict[str, str]:
    """What :func:`write_run_provenance` recorded; ``unknown`` for runs made before it existed."""
    path = Path(folder) / RUN_FILE
    if not path.exists():
        return {"commit": UNKNOWN, "command": UNKNOWN}
    got = json.loads(path.read_text())
    return {"commit": str(got.get("commit") or UNKNOWN), "command": str(got.get("command") or UNKNOWN)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m splitgym.costmodels.provenance RUN COMMAND...``: record in a run folder, before a
    training launched from a shell (the Makefile), the commit it trains on."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m splitgym.costmodels.provenance RUN_FOLDER COMMAND...", file=sys.stderr)
        return 2
    prov = write_run_provenance(Path(args[0]), (*SOURCE, "experiments"), shlex.join(args[1:]))
    print(f"{args[0]}: commit {prov['commit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
