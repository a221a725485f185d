"""What values an option takes: one check per kind, shared by every way of giving a value.

A kind checks a Python value (from ``[tool.wfleak]``, the API, a pytest marker) and says in
one phrase what it expected; it also says what text type the command line converts to, how
the JSON Schema describes it, and how the typed keyword arguments spell it. The surfaces
only add where the value came from (``pyproject.toml: tool.wfleak.warmup: ...``,
``warmup: ...``, ``Invalid value for '--warmup': ...``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from wfleak import jsontext
from wfleak.errors import UsageError
from wfleak.model import AllowRule, ServiceRequest

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


class Invalid(ValueError):
    """A value an option does not take. ``at`` is the place inside the value (``[2].reason``)."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.at = at


class CommandLineError(ValueError):
    """A command-line value refused with a message that already names the flag."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def describe(value: object) -> str:
    """``integer 3``, ``boolean True``, ``string 'x'``, ``table``: what the user gave."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, list | tuple):
        return "array"
    kind = kinds.get(type(value), type(value).__name__)
    return f"{kind} {value!r}"


class Kind(Generic[T]):
    """How one kind of value is checked, typed and described."""

    expected: str = ""
    """What a refused value should have been, as in "expected {expected}, got ..."."""
    command_line_type: Any = str
    """The type typer converts the command-line text to before :meth:`from_command_line`."""
    annotation: str = "object"
    """The type of the value in the generated keyword arguments (see ``generate.py``)."""
    imports: tuple[tuple[str, str], ...] = ()
    """``(module, name)`` pairs that :attr:`annotation` needs."""

    def check(self, value: object) -> T:
        """The value, normalised; raises :class:`Invalid`."""
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the value in ``[tool.wfleak]``."""
        raise NotImplementedError

    def refuse(self, value: object) -> Invalid:
        return Invalid(f"expected {self.expected}, got {describe(value)}")

    def from_command_line(self, value: Any, flag: str) -> T:
        """The value of ``flag`` as typer converted it; :class:`Invalid` or
        :class:`CommandLineError` when it is refused."""
        return self.check(value)


class Count(Kind[int]):
    """A whole number of at least ``minimum``: runs, frames, bytes, objects."""

    command_line_type = int
    annotation = "int"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.expected = f"an integer ≥ {minimum}"

    def check(self, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < self.minimum:
            raise self.refuse(value)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum}


AUTO = "auto"


class CountOrAuto(Kind[int | str]):
    """A whole number of at least ``minimum``, or ``'auto'`` for wfleak to decide."""

    command_line_type = str
    annotation = "int | str"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.expected = f"an integer ≥ {minimum} or '{AUTO}'"

    def check(self, value: object) -> int | str:
        if value == AUTO:
            return AUTO
        if not isinstance(value, int) or isinstance(value, bool) or value < self.minimum:
            raise self.refuse(value)
        return value

    def from_command_line(self, value: Any, flag: str) -> int | str:
        text = str(value).strip()
        if text.lower() == AUTO:
            return AUTO
        try:
            number = int(text)
        except ValueError:
            raise self.refuse(text) from None
        return self.check(number)

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "integer", "minimum": self.minimum}, {"const": AUTO}]}


class Seconds(Kind[float]):
    """A finite duration of more than 0 seconds (or of 0 or more, with ``zero``: 0 turns
    the waiting off)."""

    command_line_type = float
    annotation = "float"

    def __init__(self, zero: bool = False) -> None:
        self.zero = zero
        self.expected = "a number ≥ 0" if zero else "a number > 0"

    def _too_small(self, value: float) -> bool:
        return value < 0 if self.zero else value <= 0

    def check(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refuse(value)
        if not math.isfinite(value):
            raise Invalid(f"expected a finite {self.expected[2:]}, got {describe(value)}")
        if self._too_small(value):
            raise self.refuse(value)
        return float(value)

    def from_command_line(self, value: Any, flag: str) -> float:
        if not math.isfinite(value):
            raise CommandLineError(f"{flag} must be a finite number of seconds (got {value:g})")
        if self._too_small(value):
            least = "0 seconds or more" if self.zero else "more than 0 seconds"
            raise CommandLineError(f"{flag} must be {least} (got {value:g})")
        return float(value)

    def schema(self) -> dict[str, Any]:
        bound = "minimum" if self.zero else "exclusiveMinimum"
        return {"type": "number", bound: 0}


class Share(Kind[float]):
    """A finite proportion of 0 or more: 0.25 is +25 %."""

    command_line_type = float
    annotation = "float"
    expected = "a number ≥ 0 (0.25 is +25 %)"

    def check(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refuse(value)
        if not math.isfinite(value) or value < 0:
            raise self.refuse(value)
        return float(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": 0}


class Choice(Kind[E]):
    """One of a ``str`` enum's values."""

    def __init__(self, choices: type[E]) -> None:
        self.choices = choices
        self.command_line_type = choices
        self.expected = " or ".join(f"'{member.value}'" for member in choices)
        self.annotation = f"{choices.__name__} | str"
        self.imports = ((choices.__module__, choices.__name__),)

    def check(self, value: object) -> E:
        if not isinstance(value, str) or value not in {m.value for m in self.choices}:
            raise self.refuse(value)
        return self.choices(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": [member.value for member in self.choices]}


class Flag(Kind[bool]):
    command_line_type = bool
    annotation = "bool"
    expected = "true or false"

    def check(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.refuse(value)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Fields(Kind[dict[str, object]]):
    """Field names to values: a TOML table, a mapping, or a JSON object on the command line."""

    annotation = "Mapping[str, object]"
    imports = (("collections.abc", "Mapping"),)
    expected = "a table of field names to values"

    def check(self, value: object) -> dict[str, object]:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self.refuse(value)
        # The fields travel to the worker and into the report as standard JSON.
        try:
            jsontext.check_value(dict(value))
        except jsontext.JsonProblem as exc:
            raise Invalid(str(exc)) from None
        return dict(value)

    def from_command_line(self, value: Any, flag: str) -> dict[str, object]:
        try:
            return jsontext.load_object(value)
        except jsontext.JsonProblem as exc:
            raise CommandLineError(f"{flag} {exc}") from None

    def schema(self) -> dict[str, Any]:
        return {"type": "object"}


class Text(Kind[str]):
    """A non-empty string: a name, or a path in ``[tool.wfleak]`` read relative to the file."""

    annotation = "str"
    expected = "a non-empty string"

    def check(self, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(value)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


class InputPath(Kind[Path]):
    """A file that is read; relative paths are taken from where the value was given."""

    command_line_type = Path
    annotation = "str | os.PathLike[str]"
    imports = (("os", ""),)
    expected = "a path"

    def check(self, value: object) -> Path:
        if isinstance(value, os.PathLike) or (isinstance(value, str) and value.strip()):
            return Path(value)
        raise self.refuse(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


class OutputPath(Kind[str]):
    """A file that is written; ``-`` is stdout where the option says so."""

    annotation = "str | os.PathLike[str]"
    imports = (("os", ""),)
    expected = "a path"

    def check(self, value: object) -> str:
        if isinstance(value, os.PathLike) or (isinstance(value, str) and value.strip()):
            return os.fspath(value)
        raise self.refuse(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


class AllowRules(Kind[list[AllowRule]]):
    """Accepted findings: ``AllowRule`` objects, or tables of ``reason`` and ``pattern`` or
    ``type`` in ``[tool.wfleak]``."""

    annotation = "Sequence[AllowRule]"
    imports = (("collections.abc", "Sequence"), ("wfleak.model", "AllowRule"))
    expected = "an array of tables"
    KEYS = ("reason", "pattern", "type")

    def check(self, value: object) -> list[AllowRule]:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise self.refuse(value)
        return [self._rule(entry, f"[{i}]") for i, entry in enumerate(value, start=1)]

    def _rule(self, entry: object, at: str) -> AllowRule:
        if isinstance(entry, AllowRule):
            return entry
        if not isinstance(entry, Mapping):
            raise Invalid(f"expected a table, got {describe(entry)}", at)
        unknown = [key for key in entry if key not in self.KEYS]
        if unknown:
            raise Invalid(f"unknown key '{unknown[0]}'", at)
        for name in self.KEYS:
            if name in entry and not (isinstance(entry[name], str) and entry[name].strip()):
                raise Invalid(
                    f"expected a non-empty string, got {describe(entry[name])}", f"{at}.{name}"
                )
        if "reason" not in entry:
            raise Invalid("missing 'reason': say why this finding is accepted", at)
        if ("pattern" in entry) == ("type" in entry):
            raise Invalid("give exactly one of 'pattern' (e.g. 'WFL106') or 'type'", at)
        return AllowRule(
            reason=entry["reason"], pattern=entry.get("pattern"), type=entry.get("type")
        )

    def schema(self) -> dict[str, Any]:
        rule = {"type": "string", "minLength": 1}
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"reason": rule, "pattern": rule, "type": rule},
                "required": ["reason"],
                "oneOf": [{"required": ["pattern"]}, {"required": ["type"]}],
                "additionalProperties": False,
            },
        }


class Requests(Kind[list[ServiceRequest]]):
    """Requests for an ASGI app target: ``'METHOD PATH [JSON]'`` strings, tables of
    ``method``, ``path``, ``headers``, ``json`` or ``body``, ``expect``, or ``ServiceRequest``
    objects; on the command line, the flag is repeated."""

    command_line_type = list[str]
    annotation = "Sequence[ServiceRequest | str | Mapping[str, object]]"
    imports = (
        ("collections.abc", "Sequence"),
        ("collections.abc", "Mapping"),
        ("wfleak.model", "ServiceRequest"),
    )
    expected = "an array of requests ('METHOD PATH [JSON]' strings or tables)"

    def check(self, value: object) -> list[ServiceRequest]:
        from wfleak.service.requests import request_from

        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise self.refuse(value)
        if not value:
            raise Invalid(f"expected {self.expected}, got an empty array")
        found = []
        for i, entry in enumerate(value, start=1):
            try:
                found.append(request_from(entry))
            except UsageError as exc:
                raise Invalid(exc.message, f"[{i}]") from None
        return found

    def from_command_line(self, value: Any, flag: str) -> list[ServiceRequest]:
        from wfleak.service.requests import parse_request_line

        try:
            return [parse_request_line(line) for line in value]
        except UsageError as exc:
            raise CommandLineError(exc.message) from None

    def schema(self) -> dict[str, Any]:
        table = {
            "type": "object",
            "properties": {
                "method": {"type": "string"},
                "path": {"type": "string", "pattern": "^/"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "json": {},
                "body": {"type": "string"},
                "expect": {
                    "oneOf": [
                        {"type": "integer"},
                        {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                    ]
                },
            },
            "required": ["method", "path"],
            "not": {"required": ["json", "body"]},
            "additionalProperties": False,
        }
        return {
            "type": "array",
            "minItems": 1,
            "items": {"oneOf": [{"type": "string", "minLength": 1}, table]},
        }
