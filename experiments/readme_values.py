"""Single figures in the README's prose rendered from their CSVs, so that a quoted number cannot
drift from its data when the CSV is made again (experiments/readme_figures.py calls this).

A span sits on one line::

    <!-- v: CSV [KEY=VALUE ...] COL [agg=median|min|max|mean|count] [fmt=FORMAT] -->TEXT<!-- /v -->

The filters keep the rows whose column KEY reads VALUE (several filters must all hold); COL is a
column or a small arithmetic expression over columns (``a/b``, ``100*(1-a/b)``: + - * / numbers
and column names only, parsed with :mod:`ast`, never evaluated by Python); ``agg`` reduces the
selected rows' values (without it exactly one row must match, so a span over a multi-seed CSV
cannot quietly pick one seed); FORMAT is a format string with one field (``{:.2f}x``). Words are
split like a shell's (:mod:`shlex`), so a value with spaces can be quoted. A span written inside
inline code (an odd number of backticks before it on its line) or in a fenced code block is
documentation, not a span.
"""

from __future__ import annotations

import ast
import operator
import re
import shlex
import statistics
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitgym.experiments.results_csv import read_csv

__all__ = ["SPAN", "Span", "AGGS", "parse", "evaluate", "spans", "value", "render", "first_difference"]

SPAN = re.compile(r"<!-- v: (?P<args>.*?) -->(?P<text>.*?)<!-- /v -->")
OPEN = "<!-- v:"

AGGS: dict[str, Callable[[list[Any]], Any]] = {
    "median": statistics.median,
    "min": min,
    "max": max,
    "mean": statistics.fmean,
    "count": len,
}
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_SIGNS: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


@dataclass(frozen=True)
class Span:
    """One span as written: where it is, what it reads, and how it renders."""

    line: int
    csv: str
    filters: tuple[tuple[str, str], ...]
    col: str
    agg: str | None
    fmt: str
    text: str

    def where(self) -> str:
        """The span named for an error: line, CSV and filters."""
        sel = " ".join(f"{k}={v}" for k, v in self.filters)
        return f"README line {self.line}: span <{self.csv}{' ' + sel if sel else ''} {self.col}>"


class _Empty(Exception):
    """A selected row's cell is empty: a one-row span refuses it, an ``agg`` skips the row (as
    ``results_csv.seed_spread`` skips missing values)."""


def _fail(where: str, why: str) -> SystemExit:
    return SystemExit(f"readme_values: {where}: {why}")


def _check_fmt(fmt: str, where: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
    except ValueError as e:
        raise _fail(where, f"fmt={fmt!r} is not a format string ({e})") from None
    if len(fields) != 1 or fields[0] not in ("", "0"):
        raise _fail(where, f"fmt={fmt!r} needs exactly one field, like {{:.2f}}")
    return fmt


def parse(args: str, text: str = "", line: int = 0) -> Span:
    """The span whose opening marker holds ``args`` (the words after ``v:``)."""
    where = f"README line {line}: span <{args}>"
    try:
        words = shlex.split(args)
    except ValueError as e:
        raise _fail(where, f"cannot split its words ({e})") from None
    if not words:
        raise _fail(where, "names no CSV")
    named = [w.split("=", 1) for w in words[1:] if w.startswith(("agg=", "fmt="))]
    opts = dict(named)
    if len(opts) != len(named):
        raise _fail(where, "gives agg= or fmt= twice")
    rest = [w for w in words[1:] if not w.startswith(("agg=", "fmt="))]
    cols = [w for w in rest if "=" not in w]
    if len(cols) != 1:
        raise _fail(where, f"needs one column or expression (a word without '='), got {len(cols)}: {cols}")
    agg = opts.get("agg")
    if agg is not None and agg not in AGGS:
        raise _fail(where, f"agg={agg!r} is unknown (known: {', '.join(AGGS)})")
    filters = tuple(tuple(w.split("=", 1)) for w in rest if "=" in w)
    fmt = _check_fmt(opts.get("fmt", "{}"), where)
    return Span(line, words[0], filters, cols[0], agg, fmt, text)  # type: ignore[arg-type]


def _compile(expr: str, where: str) -> ast.expr:
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError:
        raise _fail(where, f"{expr!r} is neither a column nor an expression of + - * / over columns") from None
    for node in ast.walk(tree):
        ok = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant, *_OPS, *_SIGNS)
        if not isinstance(node, ok) or (isinstance(node, ast.Constant) and type(node.value) not in (int, float)):
            raise _fail(where, f"{expr!r} uses {type(node).__name__}: only + - * /, numbers and column names")
    return tree


def _eval(node: ast.expr, row: dict[str, Any], where: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        cell = row.get(node.id)
        if cell is None:
            raise _Empty(node.id)
        if not isinstance(cell, int | float):
            raise _fail(where, f"column {node.id} is {cell!r} in a selected row, not a number")
        return cell
    if isinstance(node, ast.UnaryOp):
        return _SIGNS[type(node.op)](_eval(node.operand, row, where))
    assert isinstance(node, ast.BinOp)  # _compile let nothing else through
    left, right = _eval(node.left, row, where), _eval(node.right, row, where)
    if isinstance(node.op, ast.Div) and right == 0:
        raise _fail(where, "divides by zero in a selected row")
    return _OPS[type(node.op)](left, right)


def evaluate(expr: str, row: dict[str, Any], where: str = "expression") -> Any:
    """``expr`` (a column, or + - * / over columns and numbers) on one row; a plain column's cell
    is returned as it is (a string column renders too); an empty cell raises ``_Empty``."""
    if expr in row:
        if row[expr] is None:
            raise _Empty(expr)
        return row[expr]
    return _eval(_known(expr, row, where), row, where)


def _known(expr: str, row: dict[str, Any], where: str) -> ast.expr:
    """``expr`` parsed, every name in it a column of ``row``."""
    tree = _compile(expr, where)
    unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(row))
    if unknown:
        raise _fail(where, f"column {unknown[0]} is not in the CSV (columns: {', '.join(row)})")
    return tree


def _matches(cell: Any, want: str) -> bool:
    """Exact match on the cell as written; a number also matches its own spelling (``300`` = 300.0)."""
    if ("" if cell is None else str(cell)) == want:
        return True
    try:
        return isinstance(cell, int | float) and not isinstance(cell, bool) and float(want) == cell
    except ValueError:
        return False


def _select(span: Span, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    columns = set(rows[0]) if rows else set()
    for key, _ in span.filters:
        if key not in columns:
            raise _fail(span.where(), f"filter column {key} is not in the CSV (columns: {', '.join(rows[0])})")
    chosen = [r for r in rows if all(_matches(r[k], v) for k, v in span.filters)]
    if not chosen:
        raise _fail(span.where(), f"no row of {span.csv} matches")
    if span.agg is None and len(chosen) > 1:
        raise _fail(span.where(), f"{len(chosen)} rows match; add filters or agg=median|min|max|mean|count")
    return chosen


def value(span: Span, rows: list[dict[str, Any]]) -> str:
    """The span's text rendered from ``rows`` (its CSV's)."""
    if not rows:
        raise _fail(span.where(), f"{span.csv} has no rows")
    chosen = _select(span, rows)
    if span.agg == "count":
        if span.col not in chosen[0]:
            _known(span.col, chosen[0], span.where())
        return span.fmt.format(len(chosen))
    vals = []
    for r in chosen:
        try:
            vals.append(evaluate(span.col, r, span.where()))
        except _Empty as e:
            if span.agg is None:
                raise _fail(span.where(), f"column {e} is empty in the selected row") from None
    if not vals:
        raise _fail(span.where(), f"{span.col} is empty in every selected row")
    if span.agg is None:
        out = vals[0]
    else:
        try:
            out = AGGS[span.agg](vals)
        except TypeError:
            raise _fail(span.where(), f"agg={span.agg} needs numbers, got {vals[0]!r}") from None
    try:
        return span.fmt.format(out)
    except (ValueError, TypeError) as e:
        raise _fail(span.where(), f"fmt={span.fmt!r} cannot format {out!r} ({e})") from None


def _visible(text: str) -> Iterator[tuple[int, str, int]]:
    """``(line number, line, backticks open before it)`` of every line outside fenced code
    blocks; inline code may run over lines within a paragraph, so the count carries on until a
    blank line."""
    fenced, carried = False, 0
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        if line.lstrip().startswith("```"):
            fenced, carried = not fenced, 0
        elif not fenced:
            yield n, line, carried
            carried = 0 if not line.strip() else (carried + line.count("`")) % 2


def _in_code(line: str, at: int, carried: int) -> bool:
    return (carried + line[:at].count("`")) % 2 == 1


def _spans_in(n: int, line: str, carried: int) -> Iterator[re.Match[str]]:
    matched = 0
    for m in SPAN.finditer(line):
        if not _in_code(line, m.start(), carried):
            matched += 1
            yield m
    opened = sum(1 for m in re.finditer(re.escape(OPEN), line) if not _in_code(line, m.start(), carried))
    if opened != matched:
        raise _fail(f"README line {n}", f"a span opens with '{OPEN}' but does not close with '<!-- /v -->' on its line")


def spans(text: str) -> list[Span]:
    """Every span in ``text``, parsed (a malformed one is a one-line error naming its line)."""
    return [parse(m["args"], m["text"], n) for n, line, odd in _visible(text) for m in _spans_in(n, line, odd)]


class _Tables:
    """Each CSV read once per rendering."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, list[dict[str, Any]]] = {}

    def rows(self, span: Span) -> list[dict[str, Any]]:
        if span.csv not in self.cache:
            if not (self.root / span.csv).is_file():
                raise _fail(span.where(), f"{span.csv} does not exist")
            self.cache[span.csv] = read_csv(self.root / span.csv)
        return self.cache[span.csv]


def render(text: str, root: Path) -> str:
    """``text`` with every span's TEXT rendered again from its CSV (paths under ``root``)."""
    tables = _Tables(root)
    lines = text.splitlines(keepends=True)
    for n, line, odd in _visible(text):
        out, last = [], 0
        for m in _spans_in(n, line, odd):
            span = parse(m["args"], m["text"], n)
            out += [line[last : m.start("text")], value(span, tables.rows(span))]
            last = m.end("text")
        lines[n - 1] = "".join(out) + line[last:]
    return "".join(lines)


def first_difference(text: str, root: Path) -> str | None:
    """The first span whose TEXT differs from its rendering, named with what it shows and what
    its CSV gives; None when every span matches."""
    tables = _Tables(root)
    for span in spans(text):
        fresh = value(span, tables.rows(span))
        if fresh != span.text:
            return f"{span.where()} reads {span.text!r}, its CSV gives {fresh!r}"
    return None
