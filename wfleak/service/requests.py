"""The requests sent to an app target: ``--request 'METHOD PATH [JSON]'``, ``--requests FILE``
(JSON lines) and ``requests = [...]`` in ``[tool.wfleak]``, all parsed into one model.

Every problem is one ``UsageError`` that names where the bad request came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfleak.errors import UsageError
from wfleak.files import read_text
from wfleak.model import ServiceRequest

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_KEYS = ("method", "path", "headers", "json", "body", "expect")
JSON_CONTENT_TYPE = "application/json"
EXAMPLE_LINE = 'POST /ask {"q": "hi"}'


def _problem(where: str, message: str) -> UsageError:
    return UsageError(f"{where}: {message}" if where else message)


def _method(value: object, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise _problem(where, f"method must be one of {known} (got {value!r})")
    return value.upper()


def _path(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c.isspace() for c in value):
        raise _problem(where, f"path must start with '/' and hold no spaces (got {value!r})")
    return value


def _expect(value: object, where: str) -> list[int]:
    statuses = value if isinstance(value, list) else [value]
    found = [
        s for s in statuses if isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599
    ]
    if not statuses or len(found) != len(statuses):
        raise _problem(where, f"expect must be an HTTP status or a list of them (got {value!r})")
    return found


def _headers(value: object, where: str) -> list[list[str]]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _problem(where, "headers must be an object of header names to strings")
    return [[str(k), str(v)] for k, v in value.items()]


def _json_request(
    method: str, path: str, payload: object, headers: list[list[str]], expect: list[int]
) -> ServiceRequest:
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers = [*headers, ["content-type", JSON_CONTENT_TYPE]]
    return ServiceRequest(method, path, headers, json.dumps(payload), expect)


def parse_request_line(text: str, where: str | None = None) -> ServiceRequest:
    """``'POST /ask {"q": "hi"}'``: split at the first two spaces; the rest is the JSON body."""
    where = f"--request {text!r}" if where is None else where
    parts = text.strip().split(" ", 2)
    if len(parts) < 2:
        raise _problem(where, f"expected 'METHOD PATH [JSON]', e.g. {EXAMPLE_LINE!r}")
    method, path = _method(parts[0], where), _path(parts[1], where)
    if len(parts) == 2 or not parts[2].strip():
        return ServiceRequest(method=method, path=path)
    try:
        payload = json.loads(parts[2])
    except json.JSONDecodeError as exc:
        raise _problem(
            where, f"the body is not valid JSON: {exc.msg} at position {exc.pos}"
        ) from None
    return _json_request(method, path, payload, [], [])


def parse_request_table(entry: Mapping[str, Any], where: str) -> ServiceRequest:
    """One request given as an object: ``method``, ``path``, optional ``headers``, ``json`` or
    ``body``, ``expect``."""
    unknown = [key for key in entry if key not in REQUEST_KEYS]
    if unknown:
        known = ", ".join(REQUEST_KEYS)
        raise _problem(where, f"unknown key {unknown[0]!r} (known: {known})")
    for key in ("method", "path"):
        if key not in entry:
            raise _problem(where, f"missing {key!r}")
    if "json" in entry and "body" in entry:
        raise _problem(where, "give 'json' or 'body', not both")
    method, path = _method(entry["method"], where), _path(entry["path"], where)
    headers = _headers(entry["headers"], where) if "headers" in entry else []
    expect = _expect(entry["expect"], where) if "expect" in entry else []
    if "json" in entry:
        return _json_request(method, path, entry["json"], headers, expect)
    body = entry.get("body", "")
    if not isinstance(body, str):
        raise _problem(where, "body must be a string (use 'json' for a JSON body)")
    return ServiceRequest(method=method, path=path, headers=headers, body=body, expect=expect)


def parse_request_file(path: Path, shown: str | None = None) -> list[ServiceRequest]:
    """JSON lines, one request object per line; blank lines are skipped."""
    text = read_text(path, "a requests file")
    name = shown or str(path)
    found: list[ServiceRequest] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _problem(where, f"not valid JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(entry, dict):
            raise _problem(where, f"expected a JSON object, got {type(entry).__name__}")
        found.append(parse_request_table(entry, where))
    if not found:
        raise _problem(name, "holds no requests")
    return found


def request_from(entry: object) -> ServiceRequest:
    """One request given as a model object, a ``'METHOD PATH [JSON]'`` string or a table
    (from ``[tool.wfleak]``, the Python API or a pytest marker)."""
    if isinstance(entry, ServiceRequest):
        return entry
    if isinstance(entry, str):
        return parse_request_line(entry, where="")
    if isinstance(entry, Mapping):
        return parse_request_table(entry, where="")
    raise UsageError(f"expected a 'METHOD PATH [JSON]' string or a table, got {entry!r}")
