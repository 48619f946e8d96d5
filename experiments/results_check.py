"""Which results rows the code has moved past: every stale or unknown row per CSV, and the README
figures that rest on them.

    python -m splitgym.experiments.results_check                       # every CSV under experiments/results
    python -m splitgym.experiments.results_check experiments/results/nptp_gap.csv
    python -m splitgym.experiments.results_check --mark-unknown        # give pre-provenance rows commit=unknown

A row is *fresh* when none of the paths its command depends on (experiments/dependencies.py)
changed between its commit and HEAD, *stale* when some did (they are listed), *unknown* when it
has no commit, or one this repository does not hold. Exit status 1 when any row is stale or
unknown, so a check can gate a merge.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import re
from collections import Counter
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_csv
from splitgym.costmodels.provenance import REPO, UNKNOWN, changed_since
from splitgym.experiments.dependencies import module_of, paths_of
from splitgym.experiments.results_csv import PROVENANCE, RESULTS_DIR

__all__ = ["status", "stale_rows", "refusal", "check_csv", "readme_uses", "main"]

MARKER = re.compile(r"<!-- results: (?P<args>[^>]*)-->")


def status(row: dict[str, Any], repo: Path = REPO, _memo: dict | None = None) -> tuple[str, list[str]]:
    """``("fresh" | "stale" | "unknown", changed files)`` for one row."""
    key = (str(row.get("commit") or UNKNOWN), str(row.get("command") or UNKNOWN), repo)
    if _memo is not None and key in _memo:
        return _memo[key]
    changed = changed_since(key[0], paths_of(module_of(key[1]), repo), repo)
    got = ("unknown", []) if changed is None else (("stale", changed) if changed else ("fresh", []))
    if _memo is not None:
        _memo[key] = got
    return got


def stale_rows(rows: list[dict[str, Any]], repo: Path = REPO) -> list[tuple[dict[str, Any], str, list[str]]]:
    """``(row, status, changed files)`` for every row that is not fresh."""
    memo: dict = {}
    return [(r, *s) for r in rows if (s := status(r, repo, memo))[0] != "fresh"]


def _files(changed: list[str], most: int = 4) -> str:
    more = f" and {len(changed) - most} more" if len(changed) > most else ""
    return ", ".join(changed[:most]) + more


def refusal(csv_path: Path, bad: list[tuple[dict[str, Any], str, list[str]]], keys: tuple[str, ...], hint: str) -> str:
    """One line refusing to carry ``bad`` rows: the CSV, the first row by ``keys``, what changed."""
    row, state, changed = bad[0]
    name = " ".join(f"{k}={row.get(k)}" for k in keys)
    why = f"changed since {str(row['commit'])[:10]}: {_files(changed)}" if state == "stale" else "no known commit"
    more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
    return f"{csv_path}: row {name} is {state} ({why}){more}; {hint}"


def _raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def check_csv(path: Path, repo: Path = REPO) -> list[str]:
    """Lines describing ``path``'s rows that are not fresh ([] when all are)."""
    counts: Counter = Counter()
    stale: dict[tuple[str, str], list[str]] = {}
    rows = _raw_rows(path)
    for row, state, changed in stale_rows(rows, repo):
        counts[state] += 1
        if state == "stale":
            stale[(str(row["commit"])[:10], str(row["command"]))] = changed
    lines = []
    if counts["unknown"]:
        lines.append(f"{path}: {counts['unknown']} of {len(rows)} rows unknown (no commit this repository holds)")
    for (commit, command), changed in stale.items():
        lines.append(f"{path}: stale rows of {commit} ({command}): changed {_files(changed)}")
    return lines


def _names(line: str, csv_path: Path) -> bool:
    """Whether a README line names ``csv_path``: by name, as ``stem.{csv,md}``, or by a glob in
    backticks (``hidp_*``, ``nptp_*.csv``)."""
    if csv_path.name in line or f"{csv_path.stem}.{{" in line:
        return True
    globs = [g.split("/")[-1] for g in re.findall(r"`([^`\s]*\*[^`\s]*)`", line)]
    return any(fnmatch.fnmatch(csv_path.name, g if "." in g else g + ".csv") for g in globs)


def readme_uses(readme: Path, csv_path: Path) -> list[str]:
    """Where the README rests on ``csv_path``: its generated blocks and the lines naming the file."""
    if not readme.exists():
        return []
    uses = []
    for i, line in enumerate(readme.read_text().splitlines(), 1):
        m = MARKER.search(line)
        if m and csv_path.name in {Path(w).name for w in m["args"].split()}:
            uses.append(f"block line {i}")
        elif not m and _names(line, csv_path):
            uses.append(f"line {i}")
    return uses


def mark_unknown(path: Path) -> bool:
    """Give a CSV's rows without provenance ``commit=unknown`` and ``command=unknown`` (never a
    guessed commit); True when the file changed."""
    rows = _raw_rows(path)
    if not rows or all(r.get(k) for r in rows for k in PROVENANCE):
        return False
    atomic_csv(path, [{**r, **{k: r.get(k) or UNKNOWN for k in PROVENANCE}} for r in rows])
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="*", help=f"CSV files (default: every *.csv under {RESULTS_DIR})")
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--mark-unknown", action="store_true", help="write commit=unknown into rows without provenance")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.csv] or sorted(Path(RESULTS_DIR).rglob("*.csv"))
    paths = [p for p in paths if "runs" not in p.parts]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"results_check: no CSV file {missing[0]}")
    bad, blocks = 0, []
    for path in paths:
        if args.mark_unknown and mark_unknown(path):
            print(f"{path}: rows without provenance marked commit={UNKNOWN}")
        lines = check_csv(path)
        if lines:
            bad += 1
            uses = readme_uses(Path(args.readme), path)
            print("\n".join(lines) + (f"\n  README rests on it: {', '.join(uses)}" if uses else ""))
            blocks += [f"{u.removeprefix('block ')} ({path.name})" for u in uses if u.startswith("block")]
    print(f"{bad} of {len(paths)} CSV files hold stale or unknown rows")
    if blocks:
        print(f"README tables generated from them: {', '.join(blocks)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
