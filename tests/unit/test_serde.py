from __future__ import annotations

import json

import pytest

from wfleak.errors import UsageError
from wfleak.model import (
    AllocationSite,
    ContextMode,
    Edge,
    Environment,
    Finding,
    FindingKind,
    Frame,
    Leftover,
    MemrayStack,
    MemraySummary,
    Node,
    Origin,
    Report,
    RunSample,
    Settings,
    StopReason,
    Trend,
    TypeGrowth,
    Verdict,
    WorkflowMode,
)
from wfleak.serde import dumps, loads


def full_report() -> Report:
    frame = Frame(filename="samples/x.py", lineno=3, function="f", user=True)
    return Report(
        target="samples/x.py:W",
        environment=Environment(python="3.11", platform="linux", wfleak="0", workflows="2.0"),
        settings=Settings(
            target="samples/x.py:W",
            iterations=2,
            warmup=1,
            workflow_mode=WorkflowMode.FRESH,
            context_mode=ContextMode.NEW,
            timeout=1.5,
            input={"topic": "x", "n": [1, 2]},
        ),
        verdict=Verdict.CYCLE,
        runs=[
            RunSample(index=1, ok=True, duration_s=0.1, cycle_framework_types={"Context": 1}),
            RunSample(index=2, ok=False, duration_s=0.2, error="ValueError: no"),
        ],
        stop=StopReason.FAILED,
        stop_message="run 2 failed",
        trends=[Trend("m", "bytes", 1.0, 0.5, 0.2, 1024.0, False)],
        findings=[
            Finding(
                kind=FindingKind.CYCLE,
                title="t",
                summary="s",
                origin=Origin.FRAMEWORK,
                nodes=[Node(id="n1", type_name="Context", label="ctx", size=48, framework=True)],
                edges=[Edge(source="n1", target="n1", label="._self")],
                path=["n1"],
                allocation_sites=[frame],
            )
        ],
        type_growth=[TypeGrowth("dict", 1, 5)],
        allocation_sites=[AllocationSite(frame=frame, size_delta=10, count_delta=1, stack=[frame])],
        leftovers=[Leftover(kind="timer", description="cb", count=2, cancelled=True)],
        memray=MemraySummary(
            file="m.bin",
            leaked_bytes=5,
            leaked_allocations=1,
            top_stacks=[MemrayStack(size=5, allocations=1, stack=[frame])],
        ),
    )


def test_report_round_trips_through_json() -> None:
    report = full_report()
    text = dumps(report)
    assert loads(text) == report
    data = json.loads(text)
    assert data["verdict"] == "cycle"
    assert data["schema_version"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Not a wfleak report: r.json is empty"),
        ('{"verdict": "ok', "Not a wfleak report: r.json is not valid JSON"),
        ('{"name": "package.json"}', "Not a wfleak report: r.json has no schema_version/verdict"),
        ('{"schema_version": 99, "verdict": "ok"}', "Unsupported report schema 99 in r.json"),
        ('{"schema_version": 2, "verdict": "maybe"}', "Not a wfleak report: r.json:"),
        (
            '{"schema_version": 1, "verdict": "maybe"}',
            "r.json was made by an older wfleak (schema 1): regenerate it",
        ),
    ],
)
def test_bad_saved_reports_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        loads(text, "r.json")
    assert excinfo.value.message.startswith(message)


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_serialises_to_its_word(verdict: Verdict) -> None:
    report = Report(
        target="t",
        environment=Environment(python="3", platform="p", wfleak="0"),
        settings=Settings(target="t", iterations=1, warmup=0),
        verdict=verdict,
        runs=[],
    )
    assert json.loads(dumps(report))["verdict"] == verdict.value
    assert loads(dumps(report)).verdict is verdict
