"""The analysis pipeline: target -> driver -> probes -> analysis -> one Report.

Never prints; progress goes to an observer callback. The phases (see :mod:`wfleak.phases`)
run in order on one event loop: warm-up, measure, settle, and, when the measured runs found a
leak, trace and explain. Each returns a frozen result; the report is built from those alone.

The measured runs are not traced by tracemalloc when the C allocator can count their bytes
(see :mod:`wfleak.probes.allocator`): tracing every allocation makes a run several times
slower. Only when the measured runs find a leak do a few more runs follow with full
tracebacks, to tell where the leaked memory was allocated.
"""

from __future__ import annotations

import asyncio
import importlib.util
import platform
import sys
from dataclasses import dataclass, field, replace

from wfleak import __version__, framework
from wfleak.analysis.trend import MIN_POINTS
from wfleak.analysis.verdict import judge
from wfleak.driver import RunProvider, WorkflowProvider
from wfleak.errors import UsageError
from wfleak.model import Environment, FindingKind, MemraySummary, Report, Settings, StopReason
from wfleak.phases.explain import ExplainResult, explain
from wfleak.phases.instruments import (
    Instruments,
    Tracing,
    collector_paused,
    frozen_heap,
    heap_built_uncollected,
    traced_bytes,
)
from wfleak.phases.measure import Measurer, MeasureResult
from wfleak.phases.progress import Observer, Progress, ignore
from wfleak.phases.report import PhaseResults, build_report
from wfleak.phases.settle import SettleResult, settle
from wfleak.phases.trace import TRACED_RUNS, TraceRecord, TraceResult, trace_allocations
from wfleak.phases.warmup import WarmUp
from wfleak.probes import allocator
from wfleak.probes.failure import ProbeFailed
from wfleak.probes.memray_probe import MemrayRecording
from wfleak.target import Target, TargetKind, load_target

__all__ = ["TRACED_RUNS", "Observer", "Progress", "analyze", "environment"]


def environment() -> Environment:
    versions = framework.versions()
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        wfleak=__version__,
        llama_index_core=versions["llama_index_core"],
        workflows=versions["workflows"],
    )


def validate_settings(settings: Settings) -> None:
    if isinstance(settings.iterations, str):
        if not settings.auto_iterations:
            raise UsageError(f"--iterations must be a number or 'auto' (got {settings.iterations})")
    elif settings.iterations < 1:
        raise UsageError(f"--iterations must be at least 1 (got {settings.iterations})")
    if settings.max_iterations < MIN_POINTS:
        raise UsageError(
            f"--max-iterations must be at least {MIN_POINTS} (got {settings.max_iterations})"
        )
    if settings.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more (got {settings.warmup})")
    if settings.timeout is not None and settings.timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds (got {settings.timeout:g})")
    if settings.trace_frames < 1:
        raise UsageError(f"--trace-frames must be at least 1 (got {settings.trace_frames})")
    if settings.memray_file is not None and importlib.util.find_spec("memray") is None:
        raise UsageError(
            f"--memray needs memray, which is not installed for {sys.executable}: "
            "pip install 'wfleak[memray]' (or pip install memray) in this environment"
        )


def _leaking(settings: Settings, measured: MeasureResult, settled: SettleResult) -> bool:
    assessment = judge(
        measured.runs,
        settings,
        measured.retained_by_type,
        measured.type_growth,
        settled.evidence(),
    )
    return any(f.kind is FindingKind.LEAK for f in assessment.findings)


@dataclass
class _Run:
    """The phase results so far, so an interruption keeps what was already measured."""

    warm_up: WarmUp
    measure: MeasureResult | None = None
    settle: SettleResult = field(default_factory=SettleResult)
    trace: TraceResult = field(default_factory=TraceResult)
    explain: ExplainResult = field(default_factory=ExplainResult)
    memray: MemraySummary | None = None
    measurer: Measurer | None = None
    notes: list[str] = field(default_factory=list)
    """What the provider reported at the end (a lifespan shutdown that failed)."""
    probe_failures: list[str] = field(default_factory=list)
    """Probes outside the measured runs that failed (the memray recording)."""


async def _run_phases(instruments: Instruments, provider: RunProvider, run: _Run) -> None:
    await provider.prepare()
    await _analyse(instruments, provider, run)
    # Last: a shutdown that empties the app's state must not hide what the paths found.
    problem = await provider.close()
    if problem is not None:
        run.notes.append(problem)


async def _analyse(instruments: Instruments, provider: RunProvider, run: _Run) -> None:
    settings = instruments.settings
    warmup = await run.warm_up.run(provider)
    if warmup.stop is not None:
        return
    instruments.warm_own_code_paths()
    measurer = run.measurer = Measurer(instruments)
    record: TraceRecord | None = None
    # Freeze before tracing starts: collecting and freezing a large heap under tracemalloc
    # would take seconds that belong to no run.
    with frozen_heap():
        tracing = Tracing()
        if tracing.by_caller or not allocator.supported():
            # One frame is all the measured runs need from tracemalloc: the byte count.
            tracing.start(1)
            instruments.allocated = traced_bytes
        recording = _start_recording(run, settings.memray_file)
        try:
            await measurer.measure(provider)
            run.settle = await settle(instruments)
            # The recording covers the measured runs and nothing after them.
            _finish_recording(run, recording)
            run.measure = measurer.result()
            if (run.measure.stop is None or settings.keep_going) and _leaking(
                settings, run.measure, run.settle
            ):
                tracing.start(settings.trace_frames)
                with collector_paused():
                    record = await _traced(instruments, provider, run)
        finally:
            _finish_recording(run, recording)
            tracing.stop()
    if run.trace.failure is None:
        run.trace = TraceResult.of(record)
    # The index is built untraced: tracing its millions of small allocations would cost
    # more than building it.
    if record is not None:
        candidates = record.candidates
        del record
        run.explain = explain(instruments, provider, candidates)


def _start_recording(run: _Run, path: str | None) -> MemrayRecording:
    try:
        return MemrayRecording.start(path)
    except Exception as exc:
        run.probe_failures.append(ProbeFailed.of("starting the memray recording", exc).message)
        return MemrayRecording(None)


def _finish_recording(run: _Run, recording: MemrayRecording) -> None:
    if recording.path is None or recording.tracker is None:
        return
    try:
        run.memray = recording.finish()
    except Exception as exc:
        recording.tracker = None
        run.probe_failures.append(ProbeFailed.of("the memray recording", exc).message)


async def _traced(instruments: Instruments, provider: RunProvider, run: _Run) -> TraceRecord | None:
    """The traced runs; a tracing that fails leaves the leak without its allocation sites
    and paths, and says why."""
    assert run.measure is not None
    try:
        return await trace_allocations(instruments, provider, run.measure)
    except ProbeFailed as failed:
        run.trace = TraceResult(failure=failed.message)
    except Exception as exc:
        run.trace = TraceResult(failure=ProbeFailed.of("tracing the allocations", exc).message)
    return None


def make_provider(target: Target, settings: Settings) -> RunProvider:
    """A service provider for an ASGI app (or a factory given requests), else a workflow's."""
    if target.kind is TargetKind.APP or (target.kind is TargetKind.FACTORY and settings.requests):
        # Imported here: the service layer is only loaded for services.
        from wfleak.service.provider import ServiceProvider

        return ServiceProvider(target, settings)
    from wfleak.service.provider import check_workflow_settings

    check_workflow_settings(settings)
    return WorkflowProvider(
        target,
        settings.workflow_mode,
        settings.context_mode,
        dict(settings.workflow_kwargs or {}),
        dict(settings.input or {}),
    )


def analyze(settings: Settings, observer: Observer = ignore) -> Report:
    """Load the target, run it, probe every measured run, and return the report."""
    validate_settings(settings)
    observer(Progress("load", 0, 1, message=settings.target))
    with heap_built_uncollected():
        target = load_target(settings.target, runner=settings.runner)
    provider = make_provider(target, settings)
    instruments = Instruments(settings, observer)
    run = _Run(WarmUp(instruments))
    loop = asyncio.new_event_loop()
    interrupted = False
    try:
        loop.run_until_complete(_run_phases(instruments, provider, run))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        provider.release()
        _close_loop(loop)
    try:
        if run.measure is None and run.measurer is not None:
            run.measure = run.measurer.result()
    finally:
        if run.measurer is not None:
            run.measurer.close()
    explained = run.explain
    if run.notes:
        explained = replace(explained, notes=[*explained.notes, *run.notes])
    results = PhaseResults(
        warmup=run.warm_up.result(),
        measure=run.measure or MeasureResult(runs=[]),
        settle=run.settle,
        trace=run.trace,
        explain=explained,
        memray=run.memray,
        probe_failures=list(run.probe_failures),
    )
    if interrupted:
        measured = len(results.measure.runs)
        results = replace(
            results,
            stop=StopReason.INTERRUPTED,
            stop_message=f"interrupted after {measured} measured runs",
        )
    return build_report(settings, environment(), results)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the runs left pending so the loop closes without warnings."""
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(
                asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 5)
            )
    except (TimeoutError, RuntimeError, KeyboardInterrupt):
        pass
    finally:
        loop.close()
