"""The public Python API: one call runs the whole analysis and returns the report.

The command line is built on these functions; so are the pytest plugin and ``wfleak check``.
Problems with the arguments or the target raise :class:`wfleak.errors.WfleakError` (its
``exit_code`` says which kind); a workflow that fails or times out is not an exception but a
report with ``stop`` set, so what was measured before is never lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, Unpack

from wfleak.errors import UsageError
from wfleak.isolation import analyze_in_worker
from wfleak.model import ContextMode, Report, Settings, WorkflowMode
from wfleak.pipeline import Progress

DEFAULT_ITERATIONS = 50
DEFAULT_WARMUP = 3
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_TRACE_FRAMES = 10
DEFAULT_GROWTH_BYTES = Settings.growth_bytes_threshold


def _choice(value: Any, kind: type[WorkflowMode] | type[ContextMode], name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise UsageError(f"{name} must be one of {choices} (got {value!r})") from None


def _object_dict(value: Mapping[str, object] | None, name: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise UsageError(f"{name} must be a mapping of field names to values")
    return dict(value)


def target_string(target: str | Callable[..., Any] | type) -> str:
    """``'module:attr'`` for a class or function, so the worker process can import it."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or module == "__main__":
        raise UsageError(
            f"cannot import {target!r} in a worker process; pass 'module:attr' for an "
            "object defined at module level in an importable module"
        )
    return f"{module}:{qualname}"


class AnalysisOptions(TypedDict, total=False):
    """The keyword options of :func:`make_settings` and :func:`analyze`."""

    iterations: int
    warmup: int
    workflow: WorkflowMode | str
    context: ContextMode | str
    runner: bool
    input: Mapping[str, object] | None
    workflow_kwargs: Mapping[str, object] | None
    timeout: float
    keep_going: bool
    trace_frames: int
    memray: str | os.PathLike[str] | None
    max_growth_bytes: int


def make_settings(
    target: str | Callable[..., Any] | type,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    warmup: int = DEFAULT_WARMUP,
    workflow: WorkflowMode | str = WorkflowMode.SHARED,
    context: ContextMode | str = ContextMode.AUTO,
    runner: bool = False,
    input: Mapping[str, object] | None = None,
    workflow_kwargs: Mapping[str, object] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    keep_going: bool = False,
    trace_frames: int = DEFAULT_TRACE_FRAMES,
    memray: str | os.PathLike[str] | None = None,
    max_growth_bytes: int = DEFAULT_GROWTH_BYTES,
) -> Settings:
    """Validated settings for one analysis; every problem is one ``UsageError``."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise UsageError(f"iterations must be a whole number of at least 1 (got {iterations!r})")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UsageError(f"warmup must be a whole number of 0 or more (got {warmup!r})")
    if isinstance(trace_frames, bool) or not isinstance(trace_frames, int) or trace_frames < 1:
        raise UsageError(
            f"trace_frames must be a whole number of at least 1 (got {trace_frames!r})"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise UsageError(f"timeout must be more than 0 seconds (got {timeout!r})")
    if isinstance(max_growth_bytes, bool) or not isinstance(max_growth_bytes, int):
        raise UsageError(f"max_growth_bytes must be a whole number (got {max_growth_bytes!r})")
    if max_growth_bytes < 1:
        raise UsageError(f"max_growth_bytes must be at least 1 (got {max_growth_bytes})")
    return Settings(
        target=target_string(target),
        iterations=iterations,
        warmup=warmup,
        workflow_mode=_choice(workflow, WorkflowMode, "workflow"),
        context_mode=_choice(context, ContextMode, "context"),
        runner=bool(runner),
        timeout=float(timeout),
        keep_going=bool(keep_going),
        trace_frames=trace_frames,
        memray_file=os.path.abspath(memray) if memray else None,
        input=_object_dict(input, "input"),
        workflow_kwargs=_object_dict(workflow_kwargs, "workflow_kwargs"),
        growth_bytes_threshold=max_growth_bytes,
    )


def _ignore(_: Progress) -> None:
    return None


def run_analysis(
    settings: Settings,
    *,
    max_time: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    observer: Callable[[Progress], None] | None = None,
) -> Report:
    """Analyse with ready-made settings, in a worker process started in ``cwd``."""
    if max_time is not None and (isinstance(max_time, bool) or max_time <= 0):
        raise UsageError(f"max_time must be more than 0 seconds (got {max_time!r})")
    if cwd is not None and not os.path.isdir(cwd):
        raise UsageError(f"No such directory: {os.fspath(cwd)}")
    return analyze_in_worker(
        settings,
        observer or _ignore,
        max_time=max_time,
        cwd=os.fspath(cwd) if cwd is not None else None,
    )


def analyze(
    target: str | Callable[..., Any] | type,
    *,
    max_time: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    observer: Callable[[Progress], None] | None = None,
    **options: Unpack[AnalysisOptions],
) -> Report:
    """Run a workflow ``iterations`` times after ``warmup`` runs and report what leaks.

    ``target`` is ``'package.module:Workflow'``, ``'path/to/file.py:attr'`` (relative to
    ``cwd``), or the class or factory itself when it is importable by its module name;
    ``options`` are those of :func:`make_settings`. The analysis runs in a worker process, so
    the caller's heap neither hides nor causes leaks.
    """
    settings = make_settings(target, **options)
    return run_analysis(settings, max_time=max_time, cwd=cwd, observer=observer)
