"""wfleak.watch() in a real FastAPI service under uvicorn, driven by real HTTP requests."""

from __future__ import annotations

import httpx
import pytest

from tests.live.service import Service, serve, wait_for
from wfleak.live import fork

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

APP = "tests.fixtures.watched_service:app"
LEAKY = "leaky_global.LeakyWorkflow"
FIXED = "fixed_global.FixedWorkflow"
TOKEN = "test-token-0123456789abcdef"
FAST = {"WFLEAK_WATCH_GRACE": "0.1", "WFLEAK_WATCH_COLLECT_EVERY": "0.05"}
EXPLAIN_WAIT = fork.WALL_LIMIT + 60.0
"""The forked analysis is budgeted in CPU time; a loaded machine stretches its wall time."""


def test_leaky_endpoint_is_retained_and_explained_fixed_one_is_not() -> None:
    with serve(APP, WFLEAK_WATCH_TOKEN=TOKEN, **FAST) as service:
        for _ in range(6):
            service.get("/fixed")
        for _ in range(4):
            service.get("/leaky")
        # The leaky runs ended after the fixed ones, so once they are judged every fixed
        # run has been judged too.
        wait_for(
            "4 retained leaky runs",
            lambda: service.metric("wfleak_runs_retained_total", LEAKY) >= 4,
        )
        assert service.metric("wfleak_runs_retained_total", LEAKY) == 4
        assert service.metric("wfleak_retained_runs", LEAKY) == 4
        assert service.metric("wfleak_runs_watched_total", LEAKY) == 4
        assert service.metric("wfleak_runs_watched_total", FIXED) == 6
        assert service.metric("wfleak_runs_retained_total", FIXED) == 0

        assert service.endpoint is not None
        assert httpx.get(service.endpoint + "/report").status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def findings() -> list[dict[str, object]] | None:
            report = httpx.get(service.endpoint + "/report", headers=headers).json()
            return report["findings"] or None

        found = wait_for("a finding for the leaky endpoint", findings, timeout=EXPLAIN_WAIT)
        report = httpx.get(service.endpoint + "/report", headers=headers).json()
        assert report["verdict"] == "leak"
        assert report["runs"] == []
        (finding,) = found
        assert finding["pattern_id"] == "WFL001"
        assert "leaky_global.HISTORY[" in str(finding["summary"])
        assert "samples/leaky_global.py:15" in str(finding["fix"])
        assert "forked copy" in str(finding["explanation"])
        # One structured log record for the new finding, with its path.
        logged = [
            line for line in service.lines if "retained runs of leaky_global.LeakyWorkflow" in line
        ]
        assert len(logged) == 1
        assert "leaky_global.HISTORY[" in logged[0]


def test_fixed_endpoint_leaves_nothing_retained() -> None:
    with serve(APP, **FAST) as service:
        for _ in range(8):
            service.get("/fixed")
        wait_for("8 watched runs", lambda: service.metric("wfleak_runs_watched_total", FIXED) == 8)
        # A leaky run afterwards marks the moment every fixed run has been judged.
        service.get("/leaky")
        wait_for(
            "the leaky run judged", lambda: service.metric("wfleak_runs_retained_total", LEAKY) == 1
        )
        assert service.metric("wfleak_runs_retained_total", FIXED) == 0
        assert service.metric("wfleak_retained_runs", FIXED) == 0
        assert service.metric("wfleak_runs_watched_total", FIXED) == 8


SAMPLE_APP = "tests.fixtures.watched_sample:app"
QUESTION = {"q": "hi"}


def _sample(name: str) -> dict[str, str]:
    return {"WFLEAK_SERVICE_SAMPLE": name, "WFLEAK_WATCH_TOKEN": TOKEN, **FAST}


def _all_decided(service: Service) -> bool:
    return service.get("/_watch/pending").json()["pending"] == 0


@pytest.mark.parametrize(
    ("path", "workflow", "pattern", "holder"),
    [
        (
            "/ask",
            "service_leaky.AnswerWorkflow",
            "WFL009",
            "service_leaky.app → FastAPI.state → State._state['handlers']",
        ),
        (
            "/ask/watched",
            "service_leaky.AnswerWorkflow",
            "WFL003",
            "(local 'handler' in watch() at samples/service_leaky.py:",
        ),
        (
            "/research",
            "service_leaky.ResearchWorkflow",
            "WFL009",
            "service_leaky.app → FastAPI.state → State._state['sessions']",
        ),
    ],
    ids=["handlers-in-app-state", "background-task", "session-per-request"],
)
def test_each_leak_of_the_service_sample_is_retained_with_its_holder(
    path: str, workflow: str, pattern: str, holder: str
) -> None:
    with serve(SAMPLE_APP, **_sample("service_leaky")) as service:
        for _ in range(3):
            service.post(path, QUESTION)
        wait_for("every run decided", lambda: _all_decided(service))
        assert service.metric("wfleak_runs_watched_total", workflow) == 3
        assert service.metric("wfleak_runs_retained_total", workflow) == 3
        assert service.metric("wfleak_retained_runs", workflow) == 3
        (finding,) = wait_for(
            "the finding", lambda: service.report()["findings"], timeout=EXPLAIN_WAIT
        )
    assert finding["pattern_id"] == pattern
    assert finding["origin"] == "app"
    assert holder in str(finding["summary"])
    assert "forked copy" in str(finding["explanation"])


def test_the_fixed_service_sample_retains_nothing() -> None:
    paths = ["/ask", "/ask/watched", "/research"]
    with serve(SAMPLE_APP, **_sample("service_fixed")) as service:
        for path in paths:
            for _ in range(3):
                service.post(path, QUESTION)
        wait_for("every run decided", lambda: _all_decided(service))
        for workflow, runs in (
            ("service_fixed.AnswerWorkflow", 6),
            ("service_fixed.ResearchWorkflow", 3),
        ):
            assert service.metric("wfleak_runs_watched_total", workflow) == runs
            assert service.metric("wfleak_runs_retained_total", workflow) == 0
            assert service.metric("wfleak_retained_runs", workflow) == 0
        report = service.report()
    assert report["verdict"] == "ok"
    assert report["findings"] == []
