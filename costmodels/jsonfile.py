"""Reading a JSON document from disk with every failure as one line of the caller's error type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from splitgym.costmodels.errors import SplitgymError

__all__ = ["read_json"]


def read_json(path: str | Path, kind: str, error: type[SplitgymError]) -> Any:
    """The parsed document at ``path``; ``kind`` ("plan", "profile") names it in the message."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(f"{kind}: no such file {str(path)!r}") from None
    except IsADirectoryError:
        raise error(f"{kind}: {str(path)!r} is a directory, not a {kind} file") from None
    except UnicodeDecodeError:
        raise error(f"{kind} {path}: not a text (UTF-8) file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{kind} {path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
