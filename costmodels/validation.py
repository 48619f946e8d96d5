"""Pydantic validation errors as one line naming the field and the bad value.

Every typed schema of the project (plans, devices and network YAMLs, traces, profiles) reports its
first problem through :func:`first_error`, so all of them read alike:
``network conf/network/x.yaml: latency_ms: Input should be greater than or equal to 0 (got -1)``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from splitgym.costmodels.errors import SplitgymError

__all__ = ["first_error", "validate"]

M = TypeVar("M", bound=BaseModel)


def first_error(exc: ValidationError) -> str:
    """The first of pydantic's errors: ``field.path: message (got value)``."""
    e = exc.errors()[0]
    loc = ".".join(str(p) for p in e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "value_error":  # our validators: the message already shows the value
        return f"{loc}: {msg}" if loc else msg
    value = e.get("input")
    shown = json.dumps(value) if isinstance(value, (int, float, str, list, bool)) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{loc or 'document'}: {msg} (got {shown})"


def validate(model: type[M], doc: Any, where: str, error: type[SplitgymError]) -> M:
    """``doc`` as ``model``, or one line of ``error`` prefixed by ``where`` (the file)."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise error(f"{where}: {first_error(exc)}") from None
