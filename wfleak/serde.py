"""JSON round-trip for the result model, driven by the dataclasses' own type hints."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from wfleak.errors import UsageError
from wfleak.model import SCHEMA_VERSION, CheckReport, Report

T = TypeVar("T")

READABLE_SCHEMAS = (1, SCHEMA_VERSION)
"""Schema 1 lacks only what schema 2 added with defaults (reasons, per-run rates), so it is
read as it is; anything it holds that no longer fits is refused in one line."""


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """``value`` with every float JSON cannot carry replaced: NaN by null, infinities by the
    largest finite float of their sign, so that every report is standard JSON (``jq`` and
    JavaScript reject ``NaN`` and ``Infinity``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else math.copysign(sys.float_info.max, value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(cls: Any, data: Any) -> Any:
    """Rebuild a value of type ``cls``; raises ``ValueError`` on a shape mismatch."""
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(cls)
        if data is None and type(None) in options:
            return None
        last_error: Exception | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return from_jsonable(option, data)
            except (ValueError, TypeError) as exc:
                last_error = exc
        raise ValueError(str(last_error))
    if origin is list:
        (item,) = typing.get_args(cls)
        if not isinstance(data, list):
            raise ValueError(f"expected a list, got {type(data).__name__}")
        return [from_jsonable(item, v) for v in data]
    if origin is dict:
        _key, item = typing.get_args(cls)
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        return {str(k): from_jsonable(item, v) for k, v in data.items()}
    if cls is object or cls is Any:
        return data
    if isinstance(cls, type) and issubclass(cls, Enum):
        return cls(data)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {cls.__name__}")
        hints = _hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = from_jsonable(hints[f.name], data[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"missing field {f.name!r} in {cls.__name__}")
        return cls(**kwargs)
    if cls is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if cls is float and data is None:
        # How json_safe writes NaN.
        return math.nan
    if isinstance(cls, type) and isinstance(data, cls):
        return data
    raise ValueError(f"expected {getattr(cls, '__name__', cls)}, got {type(data).__name__}")


def dumps(result: Report | CheckReport) -> str:
    return json.dumps(json_safe(to_jsonable(result)), indent=2, allow_nan=False) + "\n"


def loads(text: str, source: str = "<string>") -> Report:
    """Parse a saved report; every way it can be wrong is one clear ``UsageError``."""
    result = loads_result(text, source)
    if isinstance(result, CheckReport):
        raise UsageError(f"{source} is a 'wfleak check' result, not a 'wfleak run' report")
    return result


def loads_result(text: str, source: str = "<string>") -> Report | CheckReport:
    """Parse a saved 'run' report or 'check' result, whichever ``text`` holds."""
    if not text.strip():
        raise UsageError(f"Not a wfleak report: {source} is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"Not a wfleak report: {source} is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise UsageError(f"Not a wfleak report: {source} is nested too deeply") from None
    is_check = isinstance(data, dict) and data.get("kind") == "check"
    if (
        not isinstance(data, dict)
        or "schema_version" not in data
        or ("verdict" not in data and not is_check)
    ):
        raise UsageError(f"Not a wfleak report: {source} has no schema_version/verdict")
    version = data["schema_version"]
    if version not in READABLE_SCHEMAS:
        raise UsageError(
            f"Unsupported report schema {version!r} in {source} "
            f"(this wfleak reads schemas {READABLE_SCHEMAS[0]} to {SCHEMA_VERSION})"
        )
    try:
        result: Report | CheckReport = from_jsonable(CheckReport if is_check else Report, data)
    except (ValueError, TypeError, RecursionError) as exc:
        if version != SCHEMA_VERSION:
            raise UsageError(
                f"{source} was made by an older wfleak (schema {version}): regenerate it"
            ) from None
        raise UsageError(f"Not a wfleak report: {source}: {exc}") from None
    return result
