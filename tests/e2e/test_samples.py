"""Every bundled sample gets the right verdict from one ``wfleak run`` at the defaults."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, run_cli


def line_of(path: str, text: str) -> int:
    lines = (ROOT / path).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


SAMPLES = [
    ("samples/leaky_global.py:LeakyWorkflow", "leak"),
    ("samples/fixed_global.py:FixedWorkflow", "ok"),
    ("samples/leaky_instance.py:LeakyWorkflow", "leak"),
    ("samples/fixed_instance.py:FixedWorkflow", "ok"),
    ("samples/leaky_task.py:LeakyWorkflow", "leak"),
    ("samples/fixed_task.py:FixedWorkflow", "ok"),
    ("samples/leaky_cache.py:LeakyWorkflow", "leak"),
    ("samples/fixed_cache.py:FixedWorkflow", "ok"),
    ("samples/leaky_errors.py:LeakyWorkflow", "leak"),
    ("samples/fixed_errors.py:FixedWorkflow", "ok"),
    ("samples/leaky_contextvar.py:LeakyWorkflow", "leak"),
    ("samples/fixed_contextvar.py:FixedWorkflow", "ok"),
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
    per_run = report["runs"][0]["framework_alive_after_gc"]
    assert per_run > 0
    assert report["runs"][-1]["framework_alive_after_gc"] == 10 * per_run
    finding = next(f for f in report["findings"] if f["pattern_id"] == "WFL001")
    assert finding["summary"].startswith("10 × Context")
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


EXPLAINED = [
    (
        "leaky_global",
        "WFL001",
        "samples.leaky_global.HISTORY[",
        "Remove or bound `HISTORY.append(ctx)` at samples/leaky_global.py:{line}",
        "HISTORY.append(ctx)",
    ),
    (
        "leaky_instance",
        "WFL002",
        "<shared workflow LeakyWorkflow>.seen[",
        "Remove or bound `self.seen.append((ctx, ev))` at samples/leaky_instance.py:{line}",
        "self.seen.append",
    ),
    (
        "leaky_task",
        "WFL003",
        "<event loop>._scheduled[",
        "The task is created at samples/leaky_task.py:{line}",
        "asyncio.create_task(heartbeat(ctx))",
    ),
    (
        "leaky_cache",
        "WFL005",
        "samples.leaky_cache.embed",
        "The cache is defined at samples/leaky_cache.py:{line}",
        "@functools.cache",
    ),
    (
        "leaky_errors",
        "WFL007",
        "samples.leaky_errors.RECENT_ERRORS[",
        "Remove or bound `RECENT_ERRORS.append(exc)` at samples/leaky_errors.py:{line}",
        "RECENT_ERRORS.append(exc)",
    ),
    (
        "leaky_contextvar",
        "WFL004",
        "TimerHandle._context (copied contextvars) → Context[ContextVar 'current_context']",
        "Reset the ContextVar with its token",
        "",
    ),
]


@pytest.mark.parametrize(
    ("sample", "pattern", "path", "fix", "line_text"), EXPLAINED, ids=[e[0] for e in EXPLAINED]
)
def test_leaky_sample_is_explained(
    sample: str, pattern: str, path: str, fix: str, line_text: str
) -> None:
    result = run_cli("run", f"samples/{sample}.py:LeakyWorkflow", "-n", "12", "--json", "-")
    assert result.code == 0, result.stderr
    findings = [f for f in result.report["findings"] if f["kind"] == "leak"]
    # One finding per cause: the objects a run leaves behind are grouped, not listed.
    assert len(findings) == 1, [f["summary"] for f in findings]
    (finding,) = findings
    assert finding["pattern_id"] == pattern
    assert finding["origin"] == "app"
    assert path in finding["summary"]
    if line_text:
        fix = fix.format(line=line_of(f"samples/{sample}.py", line_text))
    assert fix in finding["fix"]
    assert finding["retained_bytes"] > 0
    nodes = {node["id"]: node for node in finding["nodes"]}
    assert nodes[finding["path"][0]]["root"] is True
    assert [e["source"] for e in finding["edges"]] == finding["path"][:-1]
    assert [e["target"] for e in finding["edges"]] == finding["path"][1:]
    # The human report shows the same finding with its fix.
    assert pattern in result.stderr


def test_fresh_workflow_per_run_on_the_current_release_is_a_framework_cycle() -> None:
    result = run_cli(
        "run", "samples/clean.py:CleanWorkflow", "--workflow", "fresh", "-n", "12", "--json", "-"
    )
    report = result.report
    assert report["verdict"] == "cycle"
    (finding,) = report["findings"]
    assert finding["pattern_id"] == "WFL106"
    assert finding["origin"] == "framework"
    assert "closure 'run_workflow'" in [e["label"] for e in finding["edges"]]
    assert all(run["cycle_framework_types"].get("CleanWorkflow") == 1 for run in report["runs"])
    # The same workflow shared across runs, as services run it, leaves nothing.
    shared = run_cli("run", "samples/clean.py:CleanWorkflow", "-n", "12", "--json", "-").report
    assert shared["verdict"] == "ok"
