"""The arithmetic and the comparisons a README span may use (experiments/readme_values.py), kept
apart from the span syntax so that a column expression, a named-value expression and a filter all
go through one small evaluator.

An expression is + - * / over numbers and names (columns of a row, or names a ``let`` defined),
parsed with :mod:`ast` and walked here, never evaluated by Python. A filter compares a cell with a
value: ``=`` matches the cell as written (a number also matches its own spelling), ``!=`` is its
negation, ``> >= < <=`` compare numbers as numbers and refuse a cell that is not one.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Empty", "fail", "compile_expr", "eval_expr", "evaluate", "known", "FILTER", "COMPARE", "matches"]

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_SIGNS: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}

# KEY OP VALUE: the key stops at the first operator character, so a value may hold '=' itself.
FILTER = re.compile(r"^(?P<key>[^=<>!]+)(?P<op>!=|>=|<=|=|>|<)(?P<value>.*)$")
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class Empty(Exception):
    """A selected row's cell is empty: a one-row span refuses it, an ``agg`` skips the row (as
    ``results_csv.seed_spread`` skips missing values)."""


def fail(where: str, why: str) -> SystemExit:
    """The one-line error every README span problem ends in."""
    return SystemExit(f"readme_values: {where}: {why}")


def compile_expr(expr: str, where: str) -> ast.expr:
    """``expr`` parsed, refused in one line unless it is + - * / over numbers and names."""
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError:
        raise fail(where, f"{expr!r} is neither a column nor an expression of + - * / over columns") from None
    for node in ast.walk(tree):
        ok = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant, *_OPS, *_SIGNS)
        if not isinstance(node, ok) or (isinstance(node, ast.Constant) and type(node.value) not in (int, float)):
            raise fail(where, f"{expr!r} uses {type(node).__name__}: only + - * /, numbers and column names")
    return tree


def eval_expr(node: ast.expr, env: Mapping[str, Any], where: str, noun: str = "column") -> Any:
    """A compiled expression over ``env`` (a row's cells, or the named values)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        cell = env.get(node.id)
        if cell is None:
            raise Empty(node.id)
        if not isinstance(cell, int | float) or isinstance(cell, bool):
            raise fail(where, f"{noun} {node.id} is {cell!r} in a selected row, not a number")
        return cell
    if isinstance(node, ast.UnaryOp):
        return _SIGNS[type(node.op)](eval_expr(node.operand, env, where, noun))
    assert isinstance(node, ast.BinOp)  # compile_expr let nothing else through
    left, right = eval_expr(node.left, env, where, noun), eval_expr(node.right, env, where, noun)
    if isinstance(node.op, ast.Div) and right == 0:
        raise fail(where, "divides by zero in a selected row")
    return _OPS[type(node.op)](left, right)


def known(expr: str, row: Mapping[str, Any], where: str) -> ast.expr:
    """``expr`` parsed, every name in it a column of ``row``."""
    tree = compile_expr(expr, where)
    unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(row))
    if unknown:
        raise fail(where, f"column {unknown[0]} is not in the CSV (columns: {', '.join(row)})")
    return tree


def evaluate(expr: str, row: Mapping[str, Any], where: str = "expression") -> Any:
    """``expr`` (a column, or + - * / over columns and numbers) on one row; a plain column's cell
    is returned as it is (a string column renders too); an empty cell raises ``Empty``."""
    if expr in row:
        if row[expr] is None:
            raise Empty(expr)
        return row[expr]
    return eval_expr(known(expr, row, where), row, where)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_number(cell: Any) -> bool:
    return isinstance(cell, int | float) and not isinstance(cell, bool)


def _equal(cell: Any, want: str) -> bool:
    """Exact match on the cell as written; a number also matches its own spelling (``300`` = 300.0)."""
    if ("" if cell is None else str(cell)) == want:
        return True
    number = _number(want)
    return _is_number(cell) and number is not None and number == cell


def matches(cell: Any, op: str, want: str, where: str, key: str) -> bool:
    """Whether ``cell`` passes the filter ``key op want``. A comparison needs a number on both
    sides (one-line error otherwise); an empty cell passes none of ``> >= < <=`` (it has no value
    to compare, as an ``agg`` skips it) and passes ``!=`` unless VALUE is empty too."""
    if op == "=":
        return _equal(cell, want)
    if op == "!=":
        return not _equal(cell, want)
    number = _number(want)
    if number is None:
        raise fail(where, f"filter {key}{op}{want} compares with {want!r}, not a number")
    if cell is None:
        return False
    if not _is_number(cell):
        raise fail(where, f"filter {key}{op}{want}: column {key} is {cell!r} in a row, not a number")
    return COMPARE[op](cell, number)
