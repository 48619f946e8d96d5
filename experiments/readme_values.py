"""Single figures in the README's prose rendered from their CSVs, so that a quoted number cannot
drift from its data when the CSV is made again (experiments/readme_figures.py calls this).

A span sits on one line::

    <!-- v: CSV [FILTER ...] COL [agg=median|min|max|mean|count|iqm] [fmt=FORMAT] -->TEXT<!-- /v -->

A FILTER is ``KEY=VALUE`` (the cell as written; a number also matches its own spelling),
``KEY!=VALUE``, or ``KEY>X`` ``KEY>=X`` ``KEY<X`` ``KEY<=X`` (numbers compared as numbers; a cell
that is not a number is a one-line error, an empty one passes no comparison); the rows kept pass
every filter. COL is a column or a small arithmetic expression over columns (``a/b``,
``100*(1-a/b)``: experiments/readme_expr.py); ``agg`` (median, min, max, mean, count, or iqm: the
interquartile mean ``splitgym benchmark`` reports) reduces the selected rows' values (without it
exactly one row must match, so a span over a multi-seed CSV cannot quietly pick one seed); FORMAT
is a format string with one field (``{:.2f}x``). Words are split like a shell's (:mod:`shlex`).

A figure that needs two rows or two CSVs (a ratio of two runs, "5 of 8") is built from named
values: ``<!-- let: NAME = CSV [FILTER ...] COL [agg=...] -->`` defines NAME and renders nothing;
``<!-- v: = EXPR [fmt=FORMAT] -->TEXT<!-- /v -->`` renders + - * / over names and numbers. Names
are read in one pass, top to bottom: one is defined above its first use, and once.

A span or let written inside inline code (an odd number of backticks before it on its line) or
in a fenced code block is documentation, not a marker.
"""

from __future__ import annotations

import ast
import re
import shlex
import statistics
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitgym.experiments.readme_expr import FILTER, Empty, compile_expr, eval_expr, evaluate, fail, known, matches
from splitgym.experiments.results_csv import read_csv

__all__ = ["SPAN", "LET", "EXPR", "Span", "AGGS", "parse", "parse_let", "evaluate", "spans", "value", "render"]
__all__ += ["first_difference", "csvs"]

SPAN = re.compile(r"<!-- v: (?P<args>.*?) -->(?P<text>.*?)<!-- /v -->")
LET = re.compile(r"<!-- let: (?P<args>.*?) -->")
OPENS = {SPAN: ("span", "<!-- v:", "close with '<!-- /v -->'"), LET: ("let", "<!-- let:", "end with '-->'")}
EXPR = "="  # the CSV word of a span over named values

AGGS: dict[str, Callable[[list[Any]], Any]] = {
    "median": statistics.median,
    "min": min,
    "max": max,
    "mean": statistics.fmean,
    "count": len,
}


def _iqm(values: list[Any]) -> float:
    """The interquartile mean, as ``splitgym benchmark`` reports it (rliable's ``aggregate_iqm``:
    scipy's 25 % trimmed mean over every value)."""
    from scipy.stats import trim_mean  # scipy comes with rliable (``.[eval]``)

    return float(trim_mean(values, proportiontocut=0.25, axis=None))


AGGS["iqm"] = _iqm


@dataclass(frozen=True)
class Span:
    """One span (or a let's selection) as written: where it is, what it reads, how it renders.
    ``csv`` is :data:`EXPR` for an expression over named values (``col`` is the expression)."""

    line: int
    csv: str
    filters: tuple[tuple[str, str, str], ...]
    col: str
    agg: str | None
    fmt: str
    text: str

    def where(self) -> str:
        """The span named for an error: line, CSV and filters."""
        sel = " ".join(f"{k}{op}{v}" for k, op, v in self.filters)
        return f"README line {self.line}: span <{self.csv}{' ' + sel if sel else ''} {self.col}>"


def _check_fmt(fmt: str, where: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
    except ValueError as e:
        raise fail(where, f"fmt={fmt!r} is not a format string ({e})") from None
    if len(fields) != 1 or fields[0] not in ("", "0"):
        raise fail(where, f"fmt={fmt!r} needs exactly one field, like {{:.2f}}")
    return fmt


def _words(args: str, where: str) -> tuple[list[str], dict[str, str]]:
    """The words that are not options, and the options (``agg=``, ``fmt=``) given at most once."""
    try:
        words = shlex.split(args)
    except ValueError as e:
        raise fail(where, f"cannot split its words ({e})") from None
    named = [w.split("=", 1) for w in words if w.startswith(("agg=", "fmt="))]
    opts = dict(named)
    if len(opts) != len(named):
        raise fail(where, "gives agg= or fmt= twice")
    return [w for w in words if not w.startswith(("agg=", "fmt="))], opts


def parse(args: str, text: str = "", line: int = 0) -> Span:
    """The span whose opening marker holds ``args`` (the words after ``v:``)."""
    where = f"README line {line}: span <{args}>"
    words, opts = _words(args, where)
    if not words:
        raise fail(where, "names no CSV")
    fmt = _check_fmt(opts.get("fmt", "{}"), where)
    if words[0] == EXPR:
        if "agg" in opts:
            raise fail(where, "an expression over named values takes fmt= only (give agg= in its lets)")
        if len(words) == 1:
            raise fail(where, "names no expression after '='")
        expr = " ".join(words[1:])
        compile_expr(expr, where)
        return Span(line, EXPR, (), expr, None, fmt, text)
    cols = [w for w in words[1:] if not FILTER.match(w)]
    if len(cols) != 1:
        raise fail(where, f"needs one column or expression (a word without = != < > <= >=), got {len(cols)}: {cols}")
    agg = opts.get("agg")
    if agg is not None and agg not in AGGS:
        raise fail(where, f"agg={agg!r} is unknown (known: {', '.join(AGGS)})")
    filters = tuple((m["key"], m["op"], m["value"]) for m in map(FILTER.match, words[1:]) if m)
    return Span(line, words[0], filters, cols[0], agg, fmt, text)


def parse_let(args: str, line: int = 0) -> tuple[str, Span]:
    """The name a ``<!-- let: NAME = ... -->`` defines and the selection it reads."""
    where = f"README line {line}: let <{args}>"
    name, eq, rest = args.strip().partition(" = ")
    if not eq or not name.isidentifier():
        raise fail(where, "needs 'NAME = CSV [FILTER ...] COL [agg=...]' with NAME a word (letters, digits, _)")
    if any(w.startswith("fmt=") for w in rest.split()):
        raise fail(where, "a let renders nothing: give fmt= in the span that uses it")
    return name, parse(rest, "", line)


def _select(span: Span, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for key, _, _ in span.filters:
        if key not in rows[0]:
            raise fail(span.where(), f"filter column {key} is not in the CSV (columns: {', '.join(rows[0])})")
    chosen = [r for r in rows if all(matches(r[k], op, v, span.where(), k) for k, op, v in span.filters)]
    if not chosen:
        raise fail(span.where(), f"no row of {span.csv} matches")
    if span.agg is None and len(chosen) > 1:
        raise fail(span.where(), f"{len(chosen)} rows match; add filters or agg=median|min|max|mean|count|iqm")
    return chosen


def _reduce(span: Span, rows: list[dict[str, Any]]) -> Any:
    """The span's value before formatting: one row's, or the selected rows' reduced."""
    if not rows:
        raise fail(span.where(), f"{span.csv} has no rows")
    chosen = _select(span, rows)
    if span.agg == "count":
        if span.col not in chosen[0]:
            known(span.col, chosen[0], span.where())
        return len(chosen)
    vals = []
    for r in chosen:
        try:
            vals.append(evaluate(span.col, r, span.where()))
        except Empty as e:
            if span.agg is None:
                raise fail(span.where(), f"column {e} is empty in the selected row") from None
    if not vals:
        raise fail(span.where(), f"{span.col} is empty in every selected row")
    if span.agg is None:
        return vals[0]
    try:
        return AGGS[span.agg](vals)
    except TypeError:
        raise fail(span.where(), f"agg={span.agg} needs numbers, got {vals[0]!r}") from None


def _named(span: Span, names: dict[str, tuple[Any, int]]) -> Any:
    """An expression span's value over the names defined above it."""
    tree = compile_expr(span.col, span.where())
    for n in sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(names)):
        defined = ", ".join(names) or "none"
        raise fail(span.where(), f"name {n} is not defined above this line (defined: {defined})")
    return eval_expr(tree, {k: v for k, (v, _) in names.items()}, span.where(), noun="name")


def _format(span: Span, out: Any) -> str:
    try:
        return span.fmt.format(out)
    except (ValueError, TypeError) as e:
        raise fail(span.where(), f"fmt={span.fmt!r} cannot format {out!r} ({e})") from None


def value(span: Span, rows: list[dict[str, Any]]) -> str:
    """The span's text rendered from ``rows`` (its CSV's)."""
    return _format(span, _reduce(span, rows))


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


def _markers(n: int, line: str, carried: int) -> list[re.Match[str]]:
    """The line's spans and lets outside code, in the order they are written."""
    found = []
    for pattern, (kind, opener, why) in OPENS.items():
        ms = [m for m in pattern.finditer(line) if not _in_code(line, m.start(), carried)]
        opened = sum(1 for m in re.finditer(re.escape(opener), line) if not _in_code(line, m.start(), carried))
        if opened != len(ms):
            raise fail(f"README line {n}", f"a {kind} opens with '{opener}' but does not {why} on its line")
        found += ms
    return sorted(found, key=lambda m: m.start())


def spans(text: str) -> list[Span]:
    """Every span in ``text``, parsed (a malformed one is a one-line error naming its line)."""
    return [
        parse(m["args"], m["text"], n)
        for n, line, odd in _visible(text)
        for m in _markers(n, line, odd)
        if m.re is SPAN
    ]


def csvs(text: str) -> list[str]:
    """The CSV paths every span and let reads, in order of first use (expressions read none)."""
    found = []
    for n, line, odd in _visible(text):
        for m in _markers(n, line, odd):
            span = parse(m["args"], m["text"], n) if m.re is SPAN else parse_let(m["args"], n)[1]
            if span.csv != EXPR:
                found.append(span.csv)
    return list(dict.fromkeys(found))


class _Tables:
    """Each CSV read once per rendering."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, list[dict[str, Any]]] = {}

    def rows(self, span: Span) -> list[dict[str, Any]]:
        if span.csv not in self.cache:
            if not (self.root / span.csv).is_file():
                raise fail(span.where(), f"{span.csv} does not exist")
            self.cache[span.csv] = read_csv(self.root / span.csv)
        return self.cache[span.csv]


def _rendered(text: str, root: Path) -> Iterator[tuple[int, re.Match[str], Span, str]]:
    """``(line, match, span, fresh TEXT)`` of every span, top to bottom, the lets defined as the
    pass meets them (so a name is known only below its let)."""
    tables = _Tables(root)
    names: dict[str, tuple[Any, int]] = {}

    def raw(span: Span) -> Any:
        return _named(span, names) if span.csv == EXPR else _reduce(span, tables.rows(span))

    for n, line, odd in _visible(text):
        for m in _markers(n, line, odd):
            if m.re is SPAN:
                span = parse(m["args"], m["text"], n)
                yield n, m, span, _format(span, raw(span))
                continue
            name, span = parse_let(m["args"], n)
            if name in names:
                raise fail(f"README line {n}: let {name}", f"{name} is already defined on README line {names[name][1]}")
            names[name] = (raw(span), n)


def render(text: str, root: Path) -> str:
    """``text`` with every span's TEXT rendered again from its CSV (paths under ``root``)."""
    lines = text.splitlines(keepends=True)
    done: dict[int, tuple[list[str], int]] = {}
    for n, m, _, fresh in _rendered(text, root):
        out, last = done.get(n, ([], 0))
        done[n] = ([*out, lines[n - 1][last : m.start("text")], fresh], m.end("text"))
    for n, (out, last) in done.items():
        lines[n - 1] = "".join(out) + lines[n - 1][last:]
    return "".join(lines)


def first_difference(text: str, root: Path) -> str | None:
    """The first span whose TEXT differs from its rendering, named with what it shows and what
    its CSV gives; None when every span matches."""
    for _, _, span, fresh in _rendered(text, root):
        if fresh != span.text:
            return f"{span.where()} reads {span.text!r}, its CSV gives {fresh!r}"
    return None
