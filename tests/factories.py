"""Shared factories for the result model: per-run samples, findings and reports.

The unit tests of the verdict, the accounting and the gate build their inputs here, so each
test states only what it is about (a series of retained objects, a finding's rate) and the
rest is a plausible, quiet run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from wfleak.analysis.verdict import decide
from wfleak.model import (
    Environment,
    Finding,
    FindingKind,
    Node,
    Reason,
    Report,
    RunSample,
    Settings,
    StopReason,
)

KIB = 1024


def sample(index: int = 1, **fields: Any) -> RunSample:
    """One measured run that left nothing behind, unless ``fields`` say otherwise."""
    defaults: dict[str, Any] = {
        "ok": True,
        "duration_s": 0.01,
        "gc_objects": 5000,
        "traced_bytes": 10_000_000,
        "framework_created": 20,
    }
    return RunSample(index=index, **(defaults | fields))


def runs(
    count: int,
    *,
    retained: Sequence[int] | int = 0,
    bytes_per_run: float = 0.0,
    objects_per_run: float = 0.0,
    cycle_bytes: int = 0,
    cycle_objects: int = 0,
    ok: bool = True,
    framework_created: int = 20,
    **fields: Any,
) -> list[RunSample]:
    """``count`` measured runs whose series grow by the given amounts per run."""
    series = [retained] * count if isinstance(retained, int) else list(retained)
    assert len(series) == count
    return [
        sample(
            k + 1,
            ok=ok,
            framework_created=framework_created,
            framework_alive_after_gc=series[k],
            framework_alive_before_gc=series[k],
            traced_bytes=10_000_000 + round(bytes_per_run * k),
            gc_objects=5000 + round(objects_per_run * k),
            cycle_bytes=cycle_bytes,
            cycle_objects=cycle_objects,
            **fields,
        )
        for k in range(count)
    ]


def settings(iterations: int = 10, **fields: Any) -> Settings:
    return Settings(target="app.py:Flow", iterations=iterations, warmup=0, **fields)


def leak(
    pattern: str | None = "WFL001",
    leaked: str = "Context",
    *,
    count: int = 20,
    size: int = 2 * KIB,
    framework: bool = True,
    **fields: Any,
) -> Finding:
    """An explained LEAK: ``count`` objects of ``leaked``, ``size`` bytes each, held through
    a module list."""
    return Finding(
        kind=FindingKind.LEAK,
        title="A module global keeps every run's Context",
        summary=f"{count} × {leaked} retained via app.HISTORY[3] → {leaked}",
        fingerprint=f"module|app|{pattern}|{leaked}",
        pattern_id=pattern,
        count=count,
        retained_bytes=size,
        path=["n0", "n1", "n2"],
        nodes=[
            Node("n0", "module", "app", 0, root=True),
            Node("n1", "list", "HISTORY", 0),
            Node("n2", leaked, leaked, size, framework=framework),
        ],
        **fields,
    )


def trend_leak(fingerprint: str = "retained-memory-growth", **fields: Any) -> Finding:
    """A LEAK from a trend alone, without a path."""
    defaults: dict[str, Any] = {
        "title": "Memory retained after GC grows with every run",
        "summary": "+64.0 KiB per run stays allocated after a full gc.collect()",
    }
    return Finding(kind=FindingKind.LEAK, fingerprint=fingerprint, **(defaults | fields))


def cycle(**fields: Any) -> Finding:
    return Finding(
        kind=FindingKind.CYCLE,
        title="Runs leave reference cycles that only the cyclic GC frees",
        summary="40 objects per run are freed only by gc.collect()",
        fingerprint="cycle|Context._workflow",
        pattern_id="WFL107",
        path=["n0", "n1"],
        nodes=[Node("n0", "Context", "ctx", 0), Node("n1", "Workflow", "wf", 0)],
        **fields,
    )


def report(
    *findings: Finding,
    measured: Sequence[RunSample] | None = None,
    retained: int = 0,
    reasons: Sequence[Reason] = (),
    stop: StopReason | None = None,
    **fields: Any,
) -> Report:
    """A report over ``measured`` runs (ten quiet ones by default), its verdict decided
    from its findings and reasons as the pipeline does."""
    measured = list(measured) if measured is not None else runs(10, retained=retained)
    return Report(
        target="app.py:Flow",
        environment=Environment(python="3.11", platform="linux", wfleak="0"),
        settings=settings(len(measured)),
        verdict=decide(findings, reasons),
        runs=measured,
        reasons=list(reasons),
        findings=list(findings),
        stop=stop,
        stop_message="run 2 failed" if stop else None,
        **fields,
    )


def with_runs(report_: Report, measured: Sequence[RunSample]) -> Report:
    return replace(report_, runs=list(measured), settings=settings(len(measured)))
