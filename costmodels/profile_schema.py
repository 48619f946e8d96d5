"""The typed schema of a profile JSON file, checked when it is read.

Why: a profile's tables are indexed and interpolated (``heights[-1]``, ``np.interp``), so
``heights: []``, string heights or fewer seconds than heights would fail later as an IndexError or
a ValueError, and a NaN or infinite latency would be printed as ``inf ms`` or priced as a huge
negative time. Here each is one line naming the file, the unit and the value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from splitgym.costmodels.errors import ProfileError
from splitgym.costmodels.limits import MAX_SECONDS
from splitgym.costmodels.validation import validate

__all__ = ["ProfileDoc", "check_profile"]

#: the most measured points per axis of one unit (a 4096-row input at every row)
MAX_POINTS = 4096

#: a measured time, within the physical range of :mod:`~splitgym.costmodels.limits`
Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_SECONDS)]
Size = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Axis = Annotated[list[Size], Field(min_length=1, max_length=MAX_POINTS)]


class UnitDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    heights: Axis
    widths: Axis
    seconds: Annotated[list[list[Seconds]], Field(min_length=1, max_length=MAX_POINTS)]

    @model_validator(mode="after")
    def _shape(self) -> UnitDoc:
        for axis in ("heights", "widths"):
            values = getattr(self, axis)
            if any(b <= a for a, b in zip(values, values[1:])):
                raise ValueError(f"{axis}: must strictly increase, got {values[:6]}")
        rows, cols = len(self.heights), len(self.widths)
        if len(self.seconds) != rows or any(len(r) != cols for r in self.seconds):
            got = len(self.seconds)
            raise ValueError(f"seconds: expected {rows} rows of {cols} (heights x widths), got {got} rows")
        return self


class ProfileDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["splitgym.profile"]
    version: Literal[1]
    name: str
    board: str
    kind: Literal["measured", "derived", "fitted"]
    model: str
    input: tuple[Size, Size, Size]
    meta: dict[str, Any] = {}
    head_seconds: Seconds
    units: Annotated[list[UnitDoc], Field(min_length=1, max_length=10_000)]


def check_profile(doc: Any, where: str) -> None:
    """Refuse a profile document that does not fit :class:`ProfileDoc`, in one line."""
    validate(ProfileDoc, doc, where, ProfileError)
