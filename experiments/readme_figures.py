"""README tables generated from their CSVs, so that no quoted figure can drift from its data.

    python -m splitgym.experiments.readme_figures            # check: exit 1 naming the first block that differs
    python -m splitgym.experiments.readme_figures --write    # regenerate every block in place

A block is the text between ``<!-- results: <csv> [<csv> ...] view=<name> -->`` and
``<!-- /results -->`` (the markers sit on their own lines, outside the table); ``view`` picks a
renderer from :data:`VIEWS` (experiments/readme_views.py), which gets the rows of each CSV named,
in order. The paper's own figures, which no CSV holds, live in the renderer beside the columns
they are compared with. tests/test_readme_figures.py regenerates every block and asserts the
README equals it.

Single figures in the prose are ``<!-- v: ... -->TEXT<!-- /v -->`` spans, rendered by
experiments/readme_values.py in the same pass (its docstring gives the syntax); the
``<!-- results-status -->`` block says which of the CSVs quoted hold rows the code on main did
not make (experiments/readme_status.py).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from splitgym.costmodels.atomic import atomic_write
from splitgym.experiments import readme_values
from splitgym.experiments.readme_status import STATUS, render_status
from splitgym.experiments.readme_views import VIEWS
from splitgym.experiments.results_csv import read_csv

__all__ = ["BLOCK", "blocks", "regenerate", "main"]

BLOCK = re.compile(r"(?P<open><!-- results: (?P<args>[^>]*?) -->\n)(?P<body>.*?)(?P<close><!-- /results -->)", re.S)


def _parse(args: str) -> tuple[list[str], str]:
    words = args.split()
    views = [w.removeprefix("view=") for w in words if w.startswith("view=")]
    csvs = [w for w in words if not w.startswith("view=")]
    if len(views) != 1 or not csvs:
        raise SystemExit(f"readme_figures: marker '<!-- results: {args} -->' needs CSV paths and one view=NAME")
    if views[0] not in VIEWS:
        raise SystemExit(f"readme_figures: view={views[0]!r} is unknown (known: {', '.join(sorted(VIEWS))})")
    return csvs, views[0]


def blocks(text: str) -> list[tuple[list[str], str, str]]:
    """Every block's ``(CSV paths, view, body as written)``."""
    return [(*_parse(m["args"]), m["body"]) for m in BLOCK.finditer(text)]


def render(csvs: list[str], view: str, root: Path) -> str:
    tables = []
    for name in csvs:
        if not (root / name).is_file():
            raise SystemExit(f"readme_figures: view={view} reads {name}, which does not exist")
        tables.append(read_csv(root / name))
    return VIEWS[view](*tables).rstrip("\n") + "\n"


def regenerate(text: str, root: Path) -> str:
    """``text`` with every block's body and every inline span rendered again from its CSVs
    (under ``root``)."""

    def one(m: re.Match[str]) -> str:
        csvs, view = _parse(m["args"])
        return m["open"] + render(csvs, view, root) + m["close"]

    text = readme_values.render(BLOCK.sub(one, text), root)
    return render_status(text, [c for csvs, _, _ in blocks(text) for c in csvs], root)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--root", default=".", help="where the CSV paths in the markers start (the checkout)")
    ap.add_argument("--write", action="store_true", help="rewrite the blocks in place")
    args = ap.parse_args(argv)
    path = Path(args.readme)
    text = path.read_text()
    new = regenerate(text, Path(args.root))
    if args.write:
        if new != text:
            atomic_write(path, new)
        counts = f"{len(blocks(new))} blocks and {len(readme_values.spans(new))} spans"
        print(f"{path}: {counts} regenerated" + ("" if new != text else " (unchanged)"))
        return 0
    for (csvs, view, body), (_, _, fresh) in zip(blocks(text), blocks(new)):
        if body != fresh:
            print(f"{path}: block view={view} ({', '.join(csvs)}) differs from its CSV; run with --write")
            return 1
    old, now = STATUS.search(text), STATUS.search(new)
    if old and now and old["body"] != now["body"]:
        print(f"{path}: the results-status block no longer says which quoted CSVs are stale; run with --write")
        return 1
    differs = readme_values.first_difference(text, Path(args.root))
    if differs:
        print(f"{path}: {differs}; run with --write")
        return 1
    print(f"{path}: {len(blocks(text))} blocks and {len(readme_values.spans(text))} spans match their CSVs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
