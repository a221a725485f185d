"""wfleak.watch() on llama-index-core 0.12, where the run entry point, the handler (an
asyncio Future) and the Context are the old engine's own."""

from __future__ import annotations

import json

import pytest

from tests.old_releases import ROOT, release_python, run_script

pytestmark = [pytest.mark.old_release, pytest.mark.slow]

SEED = "samples/seed_shared_workflow.py:SeedWorkflow"


def test_watch_finds_the_seed_leak_on_0_12() -> None:
    python = release_python("llama-index-core==0.12.10.post1", "prometheus-client")
    result = run_script(python, ROOT / "tests/fixtures/watch_runs.py", SEED, "5")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    label = "seed_shared_workflow.SeedWorkflow"
    assert seen["counts"]["wfleak_runs_watched_total"] == {label: 5}
    assert seen["counts"]["wfleak_runs_retained_total"] == {label: 5}
    (finding,) = seen["report"]["findings"]
    assert finding["pattern_id"] == "WFL101"
    assert finding["origin"] == "framework"
    assert "<shared workflow SeedWorkflow>._contexts" in finding["summary"]


def test_watch_sees_nothing_retained_once_fixed() -> None:
    python = release_python("llama-index-core==0.12.25", "prometheus-client")
    result = run_script(python, ROOT / "tests/fixtures/watch_runs.py", SEED, "5")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["counts"]["wfleak_runs_watched_total"] == {"seed_shared_workflow.SeedWorkflow": 5}
    assert seen["counts"]["wfleak_runs_retained_total"] == {}
    assert seen["report"]["findings"] == []
