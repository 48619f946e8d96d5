"""Reading a JSON document from disk with every failure as one line of the caller's error type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.inputfile import check_depth, read_text

__all__ = ["read_json"]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: str | Path, kind: str, error: type[SplitgymError]) -> Any:
    """The parsed document at ``path``; ``kind`` ("plan", "profile") names it in the message.
    NaN and Infinity (which Python's json reads by default) are refused, as is deep nesting
    (a RecursionError) and a number of thousands of digits (Python's int limit)."""
    path = Path(path)
    text = read_text(path, kind, error)
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{kind} {path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # NaN/Infinity, or an integer beyond Python's digit limit
        raise error(f"{kind} {path}: not valid JSON ({str(exc).splitlines()[0][:100]})") from None
    except RecursionError:
        raise error(f"{kind} {path}: nested too deep") from None
    check_depth(doc, f"{kind} {path}", error)
    return doc
