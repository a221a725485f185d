"""Services as targets, end to end: ``python -m wfleak run app.py:app --request ...`` on real
FastAPI, Starlette, uvicorn and the workflow server, in-process and with ``--serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

LEAKY = "samples/service_leaky.py:app"
FIXED = "samples/service_fixed.py:app"
FIXTURES = "tests/fixtures/services.py"
MODES = [pytest.param([], id="in-process"), pytest.param(["--serve"], id="serve")]

# Each leak of the sample: its endpoint, the pattern, the references its path must hold, the
# type it ends at, the web-layer holder the finding names and the sample's line it fixes.
LEAKS = [
    pytest.param(
        "/ask",
        "WFL009",
        [".state", "._state", "['handlers']"],
        "WorkflowHandler",
        "held by app.state.handlers: ",
        "request.app.state.handlers[run_id] = handler",
        id="handlers-in-app-state",
    ),
    pytest.param(
        "/ask/watched",
        "WFL003",
        ["._scheduled"],
        "Task",
        "held by background task `watch` (at samples/service_leaky.py:",
        "asyncio.create_task(watch(handler))",
        id="background-task",
    ),
    pytest.param(
        "/research",
        "WFL009",
        [".state", "._state", "['sessions']", "._event_hooks"],
        "ResearchWorkflow",
        "held by app.state.sessions: ",
        "request.app.state.sessions.append(per_request.session)",
        id="workflow-per-request-with-open-session",
    ),
]


def line_of(path: str, text: str) -> int:
    lines = Path(path).read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def analyse(*args: str) -> dict[str, Any]:
    result = run_cli("run", *args, "--json", "-")
    assert result.code == 0, result.stderr
    report: dict[str, Any] = result.report
    assert report["complete"] is True, report["stop_message"]
    return report


def path_of(finding: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The labels along a finding's path and the type names of its nodes."""
    nodes = {node["id"]: node for node in finding["nodes"]}
    labels = [edge["label"] for edge in finding["edges"]]
    return labels, [nodes[node_id]["type_name"] for node_id in finding["path"]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("endpoint", "pattern", "references", "leaked", "held", "fixed_line"), LEAKS
)
def test_each_leak_of_the_service_is_found_through_the_web_layer(
    mode: list[str],
    endpoint: str,
    pattern: str,
    references: list[str],
    leaked: str,
    held: str,
    fixed_line: str,
) -> None:
    report = analyse(LEAKY, "--request", f'POST {endpoint} {{"q": "hi"}}', "-n", "30", *mode)
    assert report["verdict"] == "leak"
    finding = next(f for f in report["findings"] if f["pattern_id"] == pattern)
    labels, types = path_of(finding)
    assert all(any(ref in label for label in labels) for ref in references), labels
    assert types[-1].endswith(leaked)
    assert finding["count"] >= 30
    # In the web layer's words, owned by the app, fixed at the sample's own line.
    assert held in finding["summary"], finding["summary"]
    assert finding["origin"] == "app"
    site = finding["fix_site"]
    assert (site["filename"], site["lineno"]) == (
        "samples/service_leaky.py",
        line_of("samples/service_leaky.py", fixed_line),
    ), finding["fix"]
    # The tool's own objects (its driver, its HTTP client) are never on a path.
    for other in report["findings"]:
        _, on_path = path_of(other)
        assert not any(t.startswith(("wfleak.", "httpx.")) for t in on_path[:1] + on_path), on_path
    if endpoint != "/research":
        assert not any("httpx" in t for t in types)
    else:
        # Each client's SSL context is C memory no object size counts: said, with where to look.
        rest = next(
            f for f in report["findings"] if f["fingerprint"] == "unaccounted-memory-growth"
        )
        assert "allocated outside them, by C code" in rest["summary"], rest["summary"]
        assert "--memray FILE" in rest["summary"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("endpoint", ["/ask", "/ask/watched", "/research"])
def test_the_fixed_twin_is_ok(mode: list[str], endpoint: str) -> None:
    report = analyse(FIXED, "--request", f'POST {endpoint} {{"q": "hi"}}', "-n", "30", *mode)
    assert report["verdict"] == "ok", [f["title"] for f in report["findings"]]
    assert report["failures"] == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("iterations", ["10", "60"])
def test_the_fixed_twin_stays_ok_at_other_lengths(mode: list[str], iterations: str) -> None:
    """FastAPI and pydantic fill caches once (routes, validators): they must not read as leaks
    however long the analysis is."""
    requests = [
        'POST /ask {"q": "hi"}',
        'POST /ask/watched {"q": "hi"}',
        'POST /research {"q": "x"}',
    ]
    flags = [arg for line in requests for arg in ("--request", line)]
    report = analyse(FIXED, *flags, "-n", iterations, *mode)
    assert report["verdict"] == "ok", [f["title"] for f in report["findings"]]


def test_all_three_leaks_in_one_rotation() -> None:
    requests = [
        'POST /ask {"q": "hi"}',
        'POST /ask/watched {"q": "hi"}',
        'POST /research {"q": "x"}',
    ]
    flags = [arg for line in requests for arg in ("--request", line)]
    report = analyse(LEAKY, *flags, "-n", "30")
    assert any(f["pattern_id"] == "WFL009" for f in report["findings"])
    leaked = {path_of(f)[1][-1].rsplit(".", 1)[-1] for f in report["findings"] if f["path"]}
    assert "WorkflowHandler" in leaked or "ResearchWorkflow" in leaked
    # The watchers that never end are on the loop, one per /ask/watched request.
    assert any(
        row["kind"] == "task" and "watch" in row["description"] and row["count"] == 10
        for row in report["leftovers"]
    ), report["leftovers"]


def test_concurrency_sends_that_many_requests_per_run() -> None:
    report = analyse(LEAKY, "--request", 'POST /ask {"q": "hi"}', "-n", "8", "--concurrency", "3")
    finding = next(f for f in report["findings"] if f["pattern_id"] == "WFL009")
    assert finding["count"] == 3 * 8


@pytest.mark.parametrize("mode", MODES)
def test_the_workflow_server_sample(mode: list[str]) -> None:
    request = 'POST /workflows/greet/run {"start_event": {"name": "Ada"}}'
    leaky = analyse("samples/workflow_server.py:leaky_app", "--request", request, "-n", "30", *mode)
    assert leaky["verdict"] == "leak"
    store = leaky["findings"][0]
    labels, types = path_of(store)
    assert any("_workflow_store" in label for label in labels), labels
    assert any(t.endswith("MemoryWorkflowStore") for t in types)
    # The store was given no bound: the app's configuration, with the bound as the fix.
    assert store["pattern_id"] == "WFL012"
    assert store["origin"] == "app"
    assert "held by the workflow server's in-memory store: " in store["summary"]
    assert "max_completed" in store["fix"]
    fixed = analyse("samples/workflow_server.py:fixed_app", "--request", request, "-n", "30", *mode)
    assert fixed["verdict"] == "ok", [f["title"] for f in fixed["findings"]]


@pytest.mark.parametrize("mode", MODES)
def test_a_factorys_route_closure_is_found_from_the_app_it_made(mode: list[str]) -> None:
    """Only the driver holds the app a factory made: the path starts at it, and the web
    framework's own caches of the route function are no finding of their own."""
    target = f"{FIXTURES}:create_remembering_app"
    report = analyse(target, "--request", "POST /remember", "-n", "30", *mode)
    assert report["verdict"] == "leak"
    findings = [f for f in report["findings"] if f["path"]]
    assert findings and all(f["pattern_id"] == "WFL010" for f in findings), [
        (f["pattern_id"], f["summary"]) for f in findings
    ]
    expected = line_of(FIXTURES, "recent.append(request)")
    for finding in findings:
        assert finding["origin"] == "app"
        assert finding["held_by"].startswith(
            "the closure of route function `create_remembering_app.<locals>.remember` "
            "(POST /remember)"
        ), finding["held_by"]
        assert "<served app FastAPI>" in finding["summary"]
        assert (finding["fix_site"]["filename"], finding["fix_site"]["lineno"]) == (
            FIXTURES,
            expected,
        )


@pytest.mark.parametrize("mode", MODES)
def test_requests_file_headers_query_and_expect(tmp_path: Path, mode: list[str]) -> None:
    lines = [
        # /check answers 422 unless the query, the header and the body all arrived.
        {"method": "POST", "path": "/check?x=1", "headers": {"x-test": "yes"}, "body": "raw"},
        {"method": "GET", "path": "/missing", "expect": 404},
        {"method": "GET", "path": "/redirect"},
    ]
    file = tmp_path / "requests.jsonl"
    file.write_text("\n".join(json.dumps(line) for line in lines))
    report = analyse(
        f"{FIXTURES}:app", "--request", "GET /echo", "--requests", str(file), "-n", "8", *mode
    )
    assert report["failures"] == 0
    assert [f"{r['method']} {r['path']}" for r in report["settings"]["requests"]] == [
        "GET /echo",
        "POST /check?x=1",
        "GET /missing",
        "GET /redirect",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_client_that_leaves_a_stream_ends_the_run(mode: list[str]) -> None:
    target = f"{FIXTURES}:app"
    report = analyse(
        target,
        "--request",
        "GET /forever",
        "--disconnect-after",
        "3",
        "-n",
        "6",
        "--timeout",
        "20",
        *mode,
    )
    assert report["failures"] == 0
    # Without it, the endless stream is read until the run times out.
    result = run_cli(
        "run",
        target,
        "--request",
        "GET /forever",
        "-n",
        "6",
        "--warmup",
        "0",
        "--timeout",
        "1",
        *mode,
    )
    assert result.code == 3
    assert "run 1 failed: timed out after 1s" in result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_an_app_without_lifespan_and_a_factory(mode: list[str]) -> None:
    bare = analyse(f"{FIXTURES}:bare", "--request", "GET /", "-n", "8", *mode)
    assert bare["verdict"] == "ok"
    made = analyse(f"{FIXTURES}:create_app", "--request", "GET /echo", "-n", "8", *mode)
    assert made["verdict"] == "ok"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (
            [f"{FIXTURES}:failing_startup", "--request", "GET /echo"],
            3,
            "wfleak: error: lifespan start-up failed: RuntimeError: database unreachable "
            "(tests/fixtures/services.py:",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /broken"],
            3,
            "wfleak: warm-up run 1 failed: GET /broken → 500 Internal Server Error: ValueError: "
            "the answer could not be computed (tests/fixtures/services.py:",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /missing"],
            3,
            "wfleak: warm-up run 1 failed: GET /missing → 404 Not Found: Not Found",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /echo", "--input", '{"q": 1}'],
            2,
            "wfleak: error: --input does not apply to an ASGI app target; its requests come "
            "from --request or --requests",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /echo", "--workflow", "fresh"],
            2,
            "wfleak: error: --workflow does not apply to an ASGI app target",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /echo", "--workflow-kwargs", '{"a": 1}'],
            2,
            "wfleak: error: --workflow-kwargs does not apply to an ASGI app target",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /echo", "--context", "new"],
            2,
            "wfleak: error: --context does not apply to an ASGI app target",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET /echo", "--runner"],
            2,
            "wfleak: error: tests/fixtures/services.py:app is a Starlette object, not an async "
            "function",
        ),
        (
            [f"{FIXTURES}:app"],
            2,
            "wfleak: error: tests/fixtures/services.py:app is an ASGI app: give the requests to "
            "send with --request 'METHOD PATH [JSON]' (or --requests FILE)",
        ),
        (
            [f"{FIXTURES}:NOT_AN_APP", "--request", "GET /"],
            2,
            "wfleak: error: tests/fixtures/services.py:NOT_AN_APP is a int object, not a "
            "Workflow class, a workflow instance, an ASGI app, or a zero-argument factory",
        ),
        (
            ["samples/clean.py:CleanWorkflow", "--request", "GET /"],
            2,
            "wfleak: error: samples/clean.py:CleanWorkflow is a workflow, not an ASGI app",
        ),
        (
            [f"{FIXTURES}:app", "--request", "GET"],
            2,
            "wfleak: error: --request 'GET': expected 'METHOD PATH [JSON]'",
        ),
    ],
)
def test_bad_input_and_failures_get_one_line(
    mode: list[str], args: list[str], code: int, line: str
) -> None:
    result = run_cli("run", *args, "-n", "6", "--warmup", "1", *mode)
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert any(text.startswith(line) for text in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--input", "{}"), ("--workflow-kwargs", "{}"), ("--input", '{"q": "hi"}')],
)
def test_workflow_options_with_an_app_target_get_one_line_and_exit_2(
    option: str, value: str
) -> None:
    """An empty object is given too: the option is refused, not taken for absent."""
    result = run_cli("run", f"{FIXTURES}:app", "--request", "GET /echo", option, value)
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"wfleak: error: {option} does not apply to an ASGI app target; its requests come "
        "from --request or --requests"
    ], result.stderr
    assert "Traceback" not in result.stdout


def test_keep_going_counts_failed_responses() -> None:
    report = analyse(
        f"{FIXTURES}:app", "--request", "GET /missing", "-n", "6", "--warmup", "1", "--keep-going"
    )
    assert report["failures"] == 7
    assert report["runs"][0]["error"] == "GET /missing → 404 Not Found: Not Found"


def test_api_and_check_take_requests(tmp_path: Path) -> None:
    import wfleak

    report = wfleak.analyze(LEAKY, requests=['POST /ask {"q": "hi"}'], iterations=8, cwd=Path.cwd())
    assert report.verdict.value == "leak"
    assert any(f.pattern_id == "WFL009" for f in report.findings)
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.wfleak]\niterations = 8\n\n"
        "[[tool.wfleak.targets]]\n"
        f'name = "leaky"\ntarget = "{root / LEAKY}"\n'
        'requests = ["POST /ask {\\"q\\": \\"hi\\"}", '
        '{ method = "GET", path = "/runs/x", expect = 404 }]\n\n'
        "[[tool.wfleak.targets]]\n"
        f'name = "fixed"\ntarget = "{root / FIXED}"\nserve = true\n'
        'requests = ["POST /ask {\\"q\\": \\"hi\\"}"]\n'
    )
    result = run_cli("check", "--config", str(tmp_path / "pyproject.toml"), cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    assert "leaky" in result.stdout and "fixed" in result.stdout
