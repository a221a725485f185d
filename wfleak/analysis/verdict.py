"""Turn per-run samples into trends, findings and one verdict.

Pure over the model: it runs in the worker after the runs, and in the CLI on the samples a
worker streamed before it died, so a partial report gets the same judgement.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from statistics import median

from wfleak.analysis.trend import MIN_POINTS, SIGNIFICANCE, trend
from wfleak.model import (
    Finding,
    FindingKind,
    Origin,
    Reason,
    ReasonCode,
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


def thread_starts(runs: Sequence[RunSample]) -> list[int]:
    """Indexes (into ``runs``) of the runs after which more threads were alive than before,
    when the thread count itself does not grow steadily: a thread pool (asyncio's default
    executor behind ``asyncio.to_thread``) starts a worker whenever no idle one is ready, so
    on a busy machine it grows towards its size at runs that timing picks. A run that starts
    threads without end keeps a steady rise, and nothing is set aside for it."""
    counts = [r.threads for r in runs]
    if len(counts) < 2 or not all(counts):
        return []
    if trend("threads", "threads", counts, OBJECT_GROWTH_THRESHOLD).growing:
        return []
    return [k for k in range(1, len(counts)) if counts[k] > counts[k - 1]]


def _without_steps(values: Sequence[float], steps: Sequence[int]) -> list[float]:
    """``values`` with the change at each index of ``steps`` taken out of every later value."""
    if not steps:
        return list(values)
    left_out = set(steps)
    adjusted = [values[0]]
    for k in range(1, len(values)):
        change = 0.0 if k in left_out else values[k] - values[k - 1]
        adjusted.append(adjusted[-1] + change)
    return adjusted


def compute_trends(runs: Sequence[RunSample], settings: Settings) -> list[Trend]:
    ok_runs = list(runs)
    # What a new thread of a pool brings (its Thread, locks, weak references, stack data) is
    # the pool's, not the runs': the runs that started one are left out of the heap trends.
    starts = thread_starts(ok_runs)
    return [
        trend(
            "retained framework objects",
            "objects",
            [r.framework_alive_after_gc for r in ok_runs],
            OBJECT_GROWTH_THRESHOLD,
        ),
        trend(
            "live objects",
            "objects",
            _without_steps([r.gc_objects for r in ok_runs], starts),
            OBJECT_GROWTH_THRESHOLD,
        ),
        trend(
            "retained memory",
            "bytes",
            _without_steps([r.traced_bytes for r in ok_runs], starts),
            settings.growth_bytes_threshold,
        ),
    ]


def thread_note(runs: Sequence[RunSample]) -> str | None:
    """Says which runs' heap changes the trends left out, and why."""
    starts = thread_starts(runs)
    if not starts:
        return None
    first, last = runs[starts[0] - 1].threads, runs[starts[-1]].threads
    which = ", ".join(str(runs[k].index) for k in starts[:8])
    more = f" and {len(starts) - 8} more" if len(starts) > 8 else ""
    return (
        f"{len(starts)} measured run{'s' if len(starts) != 1 else ''} ({which}{more}) started "
        f"a thread that was still running after it ({first} → {last} threads, not growing "
        "steadily: a thread pool filling up); what those runs added to the heap is left out "
        "of the live-object and memory trends"
    )


def direct_retention(runs: Sequence[RunSample]) -> float | None:
    """Watched framework objects from finished runs still reachable after a full collection,
    rising with every run: the per-run rise, or None. Direct evidence, so two runs can show
    it; from ``MIN_POINTS`` runs on, the trend test decides instead (it tells a cache that
    filled and stopped from a leak)."""
    series = [r.framework_alive_after_gc for r in runs]
    if len(series) < 2 or len(series) >= MIN_POINTS:
        return None
    rise = (series[-1] - series[0]) / (len(series) - 1)
    steady = all(later > earlier for earlier, later in pairwise(series))
    return rise if steady and rise >= OBJECT_GROWTH_THRESHOLD else None


def _leak_findings(
    trends: Sequence[Trend],
    retained_by_type: dict[str, int],
    type_growth: Sequence[TypeGrowth],
    runs: Sequence[RunSample],
) -> list[Finding]:
    by_metric = {t.metric: t for t in trends}
    findings: list[Finding] = []
    framework = by_metric["retained framework objects"]
    last_retained = runs[-1].framework_alive_after_gc if runs else 0
    rise = framework.slope if framework.growing else direct_retention(runs)
    if rise is not None:
        retained = _counts_text(retained_by_type) or f"{last_retained} framework objects"
        findings.append(
            Finding(
                kind=FindingKind.LEAK,
                title="Framework objects from finished runs stay reachable",
                summary=(
                    f"{retained} from finished runs are still reachable "
                    f"after a full gc.collect(), +{rise:.1f} per run"
                ),
                fingerprint="retained-framework-objects",
                count=sum(retained_by_type.values()) or last_retained,
                objects_per_run=rise,
                origin_reason=TREND_OWNER,
            )
        )
    objects = by_metric["live objects"]
    if objects.growing and rise is None:
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
                objects_per_run=objects.slope,
                origin_reason=TREND_OWNER,
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
                origin_reason=TREND_OWNER,
            )
        )
    return findings


TREND_OWNER = "a measured trend, not a retention path: no reference to decide the owner from"


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
            objects_per_run=float(objects_per_run),
            origin=Origin.UNKNOWN,
            origin_reason="no ring of these cycles was examined, so no reference to decide from",
        )
    ]


SETTLED_SHARE = 2 / 3
"""Share of a series' growth over the runs that the settle phase must free for that growth
to count as held until a timer fired rather than leaked."""


@dataclass(frozen=True)
class Settled:
    """What the settle phase saw once the runs' timers had fired."""

    waited_s: float
    retained: int
    """Framework objects from the runs still reachable after the wait and a collection."""
    bytes_freed: int = 0
    objects_freed: int = 0
    rescheduled: list[str] = field(default_factory=list)
    """Timers that scheduled themselves again during the wait."""
    later: list[tuple[str, float]] = field(default_factory=list)
    """Timers of the runs due after the wait: callback and seconds left."""


def _settled_away(
    findings: list[Finding], runs: Sequence[RunSample], settled: Settled
) -> list[Finding]:
    """The trend and retention findings that settling did not dissolve.

    A timer that scheduled itself again holds for good what its copied context refers to;
    that is a leak when it is every run's (each run's timer goes on), not when it is one run's
    (a live client's clean-up timer, the latest run's context): what the wait freed says which.
    """
    grown = len(runs) - 1
    first = runs[0].framework_alive_after_gc
    kept = []
    for finding in findings:
        if finding.fingerprint == "retained-framework-objects":
            survives = settled.retained - first >= OBJECT_GROWTH_THRESHOLD * grown
        elif finding.fingerprint == "retained-memory-growth":
            survives = settled.bytes_freed < SETTLED_SHARE * finding.bytes_per_run * grown
        elif finding.fingerprint == "live-object-growth":
            survives = settled.objects_freed < SETTLED_SHARE * finding.objects_per_run * grown
        else:
            survives = True
        if survives:
            kept.append(finding)
    return kept


PENDING_TIMER_HORIZON_S = 60.0
"""Timers due within this many seconds after the settle phase make retention they may hold
INCONCLUSIVE (a longer ``--settle`` can tell); timers due later than that, one per run, hold
each run for longer than any request takes, so what they hold stays a LEAK."""


def _pending_timer_reasons(
    findings: list[Finding], runs: Sequence[RunSample], settled: Settled
) -> tuple[list[Finding], list[Reason]]:
    """Retention that per-run timers due soon after the wait may still hold cannot be judged
    yet: INCONCLUSIVE with the deadline, unless a timer rescheduled itself (a LEAK)."""
    if not settled.later or settled.rescheduled:
        return findings, []
    latest = max(left for _, left in settled.later)
    names = sorted({name for name, _ in settled.later})
    reason = Reason(
        ReasonCode.HELD_BY_PENDING_TIMER,
        f"{len(settled.later)} timer{'s' if len(settled.later) != 1 else ''} the runs "
        f"scheduled ({', '.join(names[:3])}) still pending after the settle phase, the last "
        f"due in {latest:.1f} s"
        + (
            f": what they hold is judged once they fire, so run with --settle "
            f"{math.ceil(latest) + 1}"
            if latest <= PENDING_TIMER_HORIZON_S
            else ", longer than any run takes: each holds what it refers to until then"
        ),
    )
    per_run = len(settled.later) >= len(runs) / 2
    if not per_run or latest > PENDING_TIMER_HORIZON_S:
        return findings, [reason]
    retention = {"retained-framework-objects", "live-object-growth", "retained-memory-growth"}
    return [f for f in findings if f.fingerprint not in retention], [reason]


def evidence_reasons(runs: Sequence[RunSample]) -> list[Reason]:
    """What keeps these runs from supporting OK: none measured, all failed with nothing to
    measure, or too few for the trend tests."""
    if not runs:
        return [
            Reason(
                ReasonCode.NO_MEASURED_RUNS,
                "no run was measured, so nothing supports a verdict: let at least "
                f"{MIN_POINTS} measured runs finish",
            )
        ]
    reasons: list[Reason] = []
    if all(not r.ok and not r.framework_created for r in runs):
        reasons.append(
            Reason(
                ReasonCode.RUNS_FAILED,
                f"all {len(runs)} measured runs failed before making any framework object, so "
                "they show nothing a working run would leave: fix the failure (see the runs' "
                "errors) and run again",
            )
        )
    if len(runs) < MIN_POINTS:
        reasons.append(
            Reason(
                ReasonCode.TOO_FEW_RUNS,
                f"{len(runs)} measured run{'s' if len(runs) != 1 else ''}: the trend tests of "
                f"memory and live objects need at least {MIN_POINTS}, so run at least "
                f"{MIN_POINTS} iterations",
            )
        )
    return reasons


def uncertain_growth_reasons(trends: Sequence[Trend], runs: int) -> list[Reason]:
    """Trends that rise as a leak would, over all runs and in their second half, without the
    significance a growth verdict needs: more runs decide them, so they stand against OK."""
    if runs < MIN_POINTS:
        return []
    return [
        Reason(
            ReasonCode.GROWTH_UNCERTAIN,
            f"{t.metric} rose +{_amount(t, t.slope)} per run over {runs} measured runs, "
            f"at or over the {_amount(t, t.threshold)} threshold, but not beyond the runs' noise "
            f"(p = {t.p_value:.2g}, a leak needs below {SIGNIFICANCE:g}): run more iterations "
            f"(--iterations {max(2 * runs, 50)}) to tell a leak from noise",
        )
        for t in trends
        if not t.growing and t.rises_like_a_leak
    ]


def _amount(trend: Trend, value: float) -> str:
    return format_bytes(value) if trend.unit == "bytes" else f"{value:g} {trend.unit}"


def decide(findings: Sequence[Finding], reasons: Sequence[Reason]) -> Verdict:
    """LEAK or CYCLE from the findings; without one, INCONCLUSIVE when a reason stands
    against OK, else OK."""
    return max(
        (Verdict(f.kind.value) for f in findings),
        key=lambda v: v.severity,
        default=Verdict.INCONCLUSIVE if reasons else Verdict.OK,
    )


@dataclass(frozen=True)
class Assessment:
    trends: list[Trend]
    findings: list[Finding]
    reasons: list[Reason] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return decide(self.findings, self.reasons)


def judge(
    runs: Sequence[RunSample],
    settings: Settings,
    retained_by_type: dict[str, int],
    type_growth: Sequence[TypeGrowth],
    settled: Settled | None = None,
) -> Assessment:
    """Trends, findings and the reasons against OK, from the measured runs and, when the
    settle phase waited for the runs' timers, from what was left once they fired."""
    # Failed runs are measured too: error paths are a classic source of leaks.
    measured = list(runs)
    trends = compute_trends(measured, settings)
    leaks = _leak_findings(trends, retained_by_type, type_growth, measured)
    reasons = evidence_reasons(measured) + uncertain_growth_reasons(trends, len(measured))
    if settled is not None and measured:
        if settled.waited_s > 0:
            leaks = _settled_away(leaks, measured, settled)
        leaks, pending = _pending_timer_reasons(leaks, measured, settled)
        reasons += pending
    return Assessment(trends, leaks + _cycle_findings(measured, settings), reasons)


def per_run(finding: Finding, runs: int) -> Finding:
    """An explained LEAK with its per-run rates: what its path holds, spread over the runs."""
    if finding.kind is not FindingKind.LEAK or not finding.path or runs < 1:
        return finding
    return replace(
        finding,
        objects_per_run=finding.count / runs,
        bytes_per_run=finding.count * finding.retained_bytes / runs,
    )
