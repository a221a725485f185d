"""Turn per-run samples into trends, findings and one verdict.

Pure over the model: it runs in the worker after the runs, and in the CLI on the samples a
worker streamed before it died, so a partial report gets the same judgement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import median

from wfleak.analysis.trend import trend
from wfleak.model import (
    Finding,
    FindingKind,
    Origin,
    RunSample,
    Settings,
    Trend,
    TypeGrowth,
    Verdict,
)

OBJECT_GROWTH_THRESHOLD = 0.5
"""Objects per run: one object leaked every other run is already a leak."""
CYCLE_RUN_SHARE = 0.5
"""Share of measured runs that must leave framework objects to the cyclic GC for CYCLE."""


def format_bytes(value: float) -> str:
    sign = "-" if value < 0 else ""
    size = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{sign}{size:.0f} {unit}" if unit == "B" else f"{sign}{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_growth(value: float) -> str:
    """Bytes per run with their sign: ``+21.8 KiB``, ``-25 B``."""
    return f"{'+' if value >= 0 else ''}{format_bytes(value)}"


def _counts_text(counts: dict[str, int], limit: int = 4) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{n} {name}" for name, n in ordered[:limit])
    if len(ordered) > limit:
        text += f", +{len(ordered) - limit} more types"
    return text


def compute_trends(runs: Sequence[RunSample], settings: Settings) -> list[Trend]:
    ok_runs = list(runs)
    return [
        trend(
            "retained framework objects",
            "objects",
            [r.framework_alive_after_gc for r in ok_runs],
            OBJECT_GROWTH_THRESHOLD,
        ),
        trend("live objects", "objects", [r.gc_objects for r in ok_runs], OBJECT_GROWTH_THRESHOLD),
        trend(
            "retained memory",
            "bytes",
            [r.traced_bytes for r in ok_runs],
            settings.growth_bytes_threshold,
        ),
    ]


def _leak_findings(
    trends: Sequence[Trend],
    retained_by_type: dict[str, int],
    type_growth: Sequence[TypeGrowth],
    last_retained: int,
) -> list[Finding]:
    by_metric = {t.metric: t for t in trends}
    findings: list[Finding] = []
    framework = by_metric["retained framework objects"]
    if framework.growing:
        retained = _counts_text(retained_by_type) or f"{last_retained} framework objects"
        findings.append(
            Finding(
                kind=FindingKind.LEAK,
                title="Framework objects from finished runs stay reachable",
                summary=(
                    f"{retained} from finished runs are still reachable "
                    f"after a full gc.collect(), +{framework.slope:.1f} per run"
                ),
                fingerprint="retained-framework-objects",
                count=sum(retained_by_type.values()) or last_retained,
            )
        )
    objects = by_metric["live objects"]
    if objects.growing and not framework.growing:
        growth = {t.type_name: t.delta for t in type_growth[:4]}
        findings.append(
            Finding(
                kind=FindingKind.LEAK,
                title="Live objects grow with every run",
                summary=(
                    f"+{objects.slope:.1f} objects per run survive a full gc.collect()"
                    + (f" (growing: {_counts_text(growth)})" if growth else "")
                ),
                fingerprint="live-object-growth",
                count=round(objects.slope),
            )
        )
    memory = by_metric["retained memory"]
    if memory.growing:
        findings.append(
            Finding(
                kind=FindingKind.LEAK,
                title="Memory retained after GC grows with every run",
                summary=f"+{format_bytes(memory.slope)} per run stays allocated after a full "
                "gc.collect()",
                fingerprint="retained-memory-growth",
                bytes_per_run=memory.slope,
            )
        )
    return findings


def _cycle_findings(runs: Sequence[RunSample], settings: Settings) -> list[Finding]:
    if not runs:
        return []
    with_framework = [r for r in runs if r.cycle_framework_types]
    bytes_per_run = median(r.cycle_bytes for r in runs)
    objects_per_run = median(r.cycle_objects for r in runs)
    framework_share = len(with_framework) / len(runs)
    if framework_share < CYCLE_RUN_SHARE and bytes_per_run < settings.cycle_bytes_threshold:
        return []
    types: Counter[str] = Counter()
    for run in with_framework:
        types.update(run.cycle_framework_types)
    per_run = {name: round(n / len(runs)) or 1 for name, n in types.items()}
    held = f"; each holds {_counts_text(per_run)}" if per_run else ""
    return [
        Finding(
            kind=FindingKind.CYCLE,
            title="Runs leave reference cycles that only the cyclic GC frees",
            summary=(
                f"{objects_per_run:.0f} objects ({format_bytes(bytes_per_run)}) per run are "
                f"freed only by gc.collect(){held}; until a collection runs, that memory lingers"
            ),
            fingerprint="cycle-garbage",
            count=len(with_framework) or len(runs),
            bytes_per_run=float(bytes_per_run),
            origin=Origin.UNKNOWN,
        )
    ]


def judge(
    runs: Sequence[RunSample],
    settings: Settings,
    retained_by_type: dict[str, int],
    type_growth: Sequence[TypeGrowth],
) -> tuple[Verdict, list[Trend], list[Finding]]:
    # Failed runs are measured too: error paths are a classic source of leaks.
    measured = list(runs)
    trends = compute_trends(measured, settings)
    last_retained = measured[-1].framework_alive_after_gc if measured else 0
    findings = _leak_findings(
        trends, retained_by_type, type_growth, last_retained
    ) + _cycle_findings(measured, settings)
    verdict = max(
        (Verdict(f.kind.value) for f in findings), key=lambda v: v.severity, default=Verdict.OK
    )
    return verdict, trends, findings
