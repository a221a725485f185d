"""Parsing JSON that the user wrote, with one line for every way it can be wrong.

Only standard JSON: ``NaN`` and ``Infinity`` are refused, since no report that carries them
could be read by ``jq`` or JavaScript, and nesting deeper than the parser can follow is a
clear error, not a ``RecursionError``.
"""

from __future__ import annotations

import json
from typing import Any


class JsonProblem(ValueError):
    """What is wrong with a JSON text, phrased to follow the name of where it came from."""


def _refuse_constant(name: str) -> Any:
    raise JsonProblem(f"holds {name}, which is not standard JSON: use a number or null")


def load(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise JsonProblem("is nested too deeply to read") from None


def load_object(text: str) -> dict[str, Any]:
    value = load(text)
    if not isinstance(value, dict):
        raise JsonProblem(f"must be a JSON object, got {type(value).__name__}")
    return value


def check_value(value: object) -> None:
    """Refuse a value that cannot travel as standard JSON (to the worker, into a report)."""
    try:
        json.dumps(value, allow_nan=False)
    except TypeError as exc:
        raise JsonProblem(f"holds a value JSON cannot carry ({exc})") from None
    except ValueError:
        raise JsonProblem("holds NaN or infinity, which is not standard JSON") from None
    except RecursionError:
        raise JsonProblem("is nested too deeply to send to the worker") from None
