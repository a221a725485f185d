"""Every bundled sample gets the right verdict from one ``wfleak run`` at the defaults."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

SAMPLES = [
    ("samples/leaky_global.py:LeakyWorkflow", "leak"),
    ("samples/fixed_global.py:FixedWorkflow", "ok"),
    ("samples/leaky_instance.py:LeakyWorkflow", "leak"),
    ("samples/fixed_instance.py:FixedWorkflow", "ok"),
    ("samples/leaky_task.py:LeakyWorkflow", "leak"),
    ("samples/fixed_task.py:FixedWorkflow", "ok"),
    ("samples/leaky_cache.py:LeakyWorkflow", "leak"),
    ("samples/fixed_cache.py:FixedWorkflow", "ok"),
    ("samples/clean.py:CleanWorkflow", "ok"),
    ("samples/warmup_cache.py:WarmupCacheWorkflow", "ok"),
]


@pytest.mark.parametrize(("target", "verdict"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_verdict(target: str, verdict: str) -> None:
    result = run_cli("run", target, "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == verdict
    assert report["complete"] is True
    assert len(report["runs"]) == report["settings"]["iterations"]
    # The human report went to stderr and names the verdict word.
    assert verdict.upper() in result.stderr


def test_leaky_task_leaves_pending_tasks_on_the_loop() -> None:
    report = run_cli("run", "samples/leaky_task.py:LeakyWorkflow", "-n", "8", "--json", "-").report
    assert [r["pending_tasks"] for r in report["runs"]] == list(range(1, 9))
    assert any(
        row["kind"] == "task" and "heartbeat" in row["description"] and row["count"] == 8
        for row in report["leftovers"]
    )


def test_leaky_global_retains_one_context_per_run() -> None:
    report = run_cli(
        "run", "samples/leaky_global.py:LeakyWorkflow", "-n", "10", "--json", "-"
    ).report
    finding = next(
        f for f in report["findings"] if f["fingerprint"] == "retained-framework-objects"
    )
    assert "10 Context" in finding["summary"]
    sites = [s["frame"] for s in report["allocation_sites"] if s["frame"]["user"]]
    assert any(s["filename"] == "samples/leaky_global.py" for s in sites)


@pytest.mark.parametrize(
    "target",
    [
        "samples/clean.py:workflow",
        "samples/clean.py:make_workflow",
        "samples.clean:CleanWorkflow",
    ],
)
def test_instance_factory_and_module_targets(target: str) -> None:
    result = run_cli("run", target, "-n", "8", "--json", "-")
    assert result.code == 0, result.stderr
    assert result.report["verdict"] == "ok"
