"""Typed schemas of the devices YAML, the network YAML and its bandwidth trace, checked at load.

The same approach as plans (:mod:`~splitgym.costmodels.plan`): pydantic models, strict numbers
(``bandwidth_mbps: true`` is not 1 Mbps, ``"300"`` is not 300), finite and in range, the first
problem one line naming the file, the field and the value. Why bounds here: a synthetic trace
allocates ``duration_s / step_s`` points, so ``{step_s: 1e-9, duration_s: 1e9}`` would ask for
exabytes; it is refused before anything is allocated. Devices entries take the keys every reader
uses (the cluster, HiDP, NPTP); a misspelt key is refused, not ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.limits import MAX_LATENCY_MS, MAX_MBPS, MIN_MBPS
from splitgym.costmodels.validation import validate

__all__ = ["DevicesDoc", "NetworkDoc", "TraceDoc", "MAX_TRACE_POINTS", "MAX_DEVICES", "check_devices", "check_network"]

#: the most points a synthetic trace may have (a day at one point per 0.1 s)
MAX_TRACE_POINTS = 1_000_000
#: the most devices a group may list
MAX_DEVICES = 1024

Positive = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
NonNegative = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
#: the physical ranges of :mod:`~splitgym.costmodels.limits` (``latency_ms: 1e300`` is refused)
Mbps = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=MIN_MBPS, le=MAX_MBPS)]
Millis = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_LATENCY_MS)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class DeviceDoc(BaseModel):
    """One entry of ``devices:``: every key some reader takes (the cluster, a profile's form,
    NPTP's memory caps, HiDP's availability and per-node rate); a misspelt key is refused. Profile
    keys' meaning (a known form, a derivation for this board) is checked by ``spec_from_entry``."""

    model_config = ConfigDict(extra="forbid")
    name: Name | int
    board: Name | None = None
    profile: Name | None = None
    # checked where they are read (the cluster's _mb, spec_from_entry), whose messages name the device
    memory_mb: Any = None
    reserved_mb: Any = None
    form: Any = None
    k: Any = None
    knots: Any = None
    derive: Any = None
    activation_share: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=1)] | None = None
    availability: Annotated[list[tuple[NonNegative, Literal[0, 1]]], Field(max_length=100_000)] | None = None
    network_mbps: Mbps | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """``name: 300`` is the device ``"300"`` (YAML reads it as a number); ``""``, blanks,
        booleans and floats are refused in one line (not pydantic's union of two messages)."""
        ok = isinstance(value, str) and value.strip() and len(value) <= 200
        if not ok and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ValueError(f"a device name must be a non-empty string (or an integer), got {value!r}"[:120])
        return value


class DevicesDoc(BaseModel):
    """A devices YAML: a group ``name``, its ``devices``; HiDP's ``leader``, ``network_mbps`` and
    ``latency_ms`` (read by NodeCluster); ``path`` names another file (``devices=file``)."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    devices: Annotated[list[DeviceDoc], Field(min_length=1, max_length=MAX_DEVICES)]
    path: Name | None = None
    leader: Name | None = None
    network_mbps: Mbps | None = None
    latency_ms: Millis | None = None


class TraceDoc(BaseModel):
    """``trace: {csv: FILE}`` or a seeded random walk; ``devices`` (optional) names who follows it."""

    model_config = ConfigDict(extra="forbid")
    csv: Name | None = None
    devices: list[Name] | None = None
    seed: Annotated[int, Field(strict=True, ge=0, lt=2**32)] = 0
    per_device: Annotated[bool, Field(strict=True)] = False
    duration_s: Positive = 3600.0
    step_s: Positive = 60.0
    low_mbps: Mbps = 20.0
    high_mbps: Mbps = 300.0

    @model_validator(mode="after")
    def _bounded(self) -> TraceDoc:
        if self.high_mbps < self.low_mbps:
            raise ValueError(f"high_mbps: {self.high_mbps:g} is below low_mbps {self.low_mbps:g}")
        points = self.duration_s / self.step_s
        if not 1 <= points <= MAX_TRACE_POINTS:
            raise ValueError(
                f"duration_s / step_s: {self.duration_s:g} / {self.step_s:g} gives {points:.3g} points "
                f"(expected 1 to {MAX_TRACE_POINTS:,})"
            )
        return self


class NetworkDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | Annotated[float, Field(strict=True)] | None = None
    bandwidth_mbps: Mbps | None = None
    per_device_mbps: Annotated[list[Mbps], Field(max_length=MAX_DEVICES)] | None = None
    requester_mbps: Mbps | None = None
    latency_ms: Millis | None = None
    overhead_ms: Millis | None = None
    links: Name | None = None
    medium: Literal["switched", "shared"] | None = None
    trace: TraceDoc | None = None
    # HiDP's own keys, read by NodeCluster when a devices YAML doubles as its network
    network_mbps: Mbps | None = None

    @model_validator(mode="after")
    def _has_rate(self) -> NetworkDoc:
        if self.bandwidth_mbps is None and self.per_device_mbps is None:
            raise ValueError(f"network {self.name}: needs bandwidth_mbps or per_device_mbps")
        return self


def check_devices(doc: Any, where: str = "devices") -> None:
    """Refuse a devices mapping that does not fit :class:`DevicesDoc` (one line naming ``where``)."""
    validate(DevicesDoc, doc, where, ConfigError)


def check_network(doc: Any, where: str = "network") -> NetworkDoc:
    """The network mapping, typed, or one line naming ``where``."""
    return validate(NetworkDoc, doc, where, ConfigError)
