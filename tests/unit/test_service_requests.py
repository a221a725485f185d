"""Requests for app targets: the command-line form, JSON lines, tables, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfleak.errors import UsageError
from wfleak.model import ServiceRequest
from wfleak.service.asgi import Response
from wfleak.service.provider import judge_response
from wfleak.service.requests import (
    parse_request_file,
    parse_request_line,
    parse_request_table,
    request_from,
)


def test_line_splits_at_the_first_two_spaces_and_the_rest_is_json() -> None:
    request = parse_request_line('post /ask?stream=1 {"q": "hi there"}')
    assert request.method == "POST"
    assert request.path == "/ask?stream=1"
    assert request.body == '{"q": "hi there"}'
    assert ["content-type", "application/json"] in request.headers


def test_line_without_a_body_sends_none() -> None:
    assert parse_request_line("GET /health") == ServiceRequest("GET", "/health")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "POST",
            "--request 'POST': expected 'METHOD PATH [JSON]', e.g. 'POST /ask {\"q\": \"hi\"}'",
        ),
        (
            "FETCH /x",
            "--request 'FETCH /x': method must be one of DELETE, GET, HEAD, OPTIONS, "
            "PATCH, POST, PUT (got 'FETCH')",
        ),
        ("GET x", "--request 'GET x': path must start with '/' and hold no spaces (got 'x')"),
        (
            "POST /ask {q}",
            "--request 'POST /ask {q}': the body is not valid JSON: Expecting "
            "property name enclosed in double quotes at position 1",
        ),
    ],
)
def test_bad_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_request_line(line)
    assert caught.value.message == message


def test_table_takes_headers_body_and_expect() -> None:
    request = parse_request_table(
        {"method": "put", "path": "/x", "headers": {"X-Test": "1"}, "body": "raw", "expect": 201},
        "here",
    )
    assert request == ServiceRequest("PUT", "/x", [["X-Test", "1"]], "raw", [201])
    listed = parse_request_table({"method": "GET", "path": "/", "expect": [200, 404]}, "here")
    assert listed.expect == [200, 404]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "/"}, "here: missing 'method'"),
        (
            {"method": "GET", "path": "/", "json": {}, "body": ""},
            "here: give 'json' or 'body', not both",
        ),
        (
            {"method": "GET", "path": "/", "expect": "200"},
            "here: expect must be an HTTP status or a list of them (got '200')",
        ),
        (
            {"method": "GET", "path": "/", "expect": [200, True]},
            "here: expect must be an HTTP status or a list of them (got [200, True])",
        ),
        (
            {"method": "GET", "path": "/", "header": {}},
            "here: unknown key 'header' (known: method, path, headers, json, body, expect)",
        ),
        (
            {"method": "GET", "path": "/", "headers": {"a": 1}},
            "here: headers must be an object of header names to strings",
        ),
        (
            {"method": "GET", "path": "/", "body": {"a": 1}},
            "here: body must be a string (use 'json' for a JSON body)",
        ),
    ],
)
def test_bad_tables_say_what_is_wrong(entry: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_request_table(entry, "here")
    assert caught.value.message == message


def test_file_reads_json_lines_and_names_the_bad_line(tmp_path: Path) -> None:
    good = tmp_path / "requests.jsonl"
    good.write_text(
        '{"method": "GET", "path": "/a"}\n\n{"method": "POST", "path": "/b", "json": [1]}\n'
    )
    assert [r.line for r in parse_request_file(good)] == ["GET /a", "POST /b"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"method": "GET", "path": "/a"}\n[1]\n')
    with pytest.raises(UsageError) as caught:
        parse_request_file(bad, "--requests bad.jsonl")
    assert caught.value.message == "--requests bad.jsonl:2: expected a JSON object, got list"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="holds no requests"):
        parse_request_file(empty)


def test_request_from_takes_strings_tables_and_models() -> None:
    model = ServiceRequest("GET", "/")
    assert request_from(model) is model
    assert request_from("GET /").line == "GET /"
    assert request_from({"method": "GET", "path": "/"}).line == "GET /"
    with pytest.raises(UsageError):
        request_from(3)


@pytest.mark.parametrize(
    ("request_", "response", "problem"),
    [
        (ServiceRequest("GET", "/"), Response(200), None),
        (ServiceRequest("GET", "/"), Response(307), None),
        (ServiceRequest("GET", "/"), Response(404, "not here"), "GET / → 404 Not Found: not here"),
        (ServiceRequest("GET", "/", expect=[404]), Response(404), None),
        (ServiceRequest("GET", "/", expect=[201]), Response(200), "GET / → 200 OK (expected 201)"),
        (
            ServiceRequest("POST", "/ask"),
            Response(500, error="ValueError: boom (app.py:3)"),
            "POST /ask → 500 Internal Server Error: ValueError: boom (app.py:3)",
        ),
        (
            ServiceRequest("GET", "/"),
            Response(0),
            "GET /: the app returned without sending a response",
        ),
        (
            ServiceRequest("GET", "/"),
            Response(0, error="ReadError: reset"),
            "GET /: ReadError: reset",
        ),
    ],
)
def test_which_responses_fail_a_run(
    request_: ServiceRequest, response: Response, problem: str | None
) -> None:
    assert judge_response(request_, response) == problem
