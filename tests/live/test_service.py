"""wfleak.watch() in a real FastAPI service under uvicorn, driven by real HTTP requests."""

from __future__ import annotations

import httpx
import pytest

from tests.live.service import serve, wait_for

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

APP = "tests.fixtures.watched_service:app"
LEAKY = "leaky_global.LeakyWorkflow"
FIXED = "fixed_global.FixedWorkflow"
TOKEN = "test-token-0123456789abcdef"
FAST = {"WFLEAK_WATCH_GRACE": "0.1", "WFLEAK_WATCH_COLLECT_EVERY": "0.05"}


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

        found = wait_for("a finding for the leaky endpoint", findings)
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
