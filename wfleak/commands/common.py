"""Options shared by the commands that run an analysis, and the helpers behind them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from wfleak.api import DEFAULT_GROWTH_BYTES, make_settings, run_analysis
from wfleak.errors import ExitCode, UsageError
from wfleak.files import read_text
from wfleak.model import ContextMode, Report, Settings, StopReason, WorkflowMode
from wfleak.report.progress import ProgressDisplay
from wfleak.serde import dumps

Target = Annotated[
    str,
    typer.Argument(
        help="What to analyse: 'package.module:Workflow' or 'path/to/file.py:attr'. The "
        "attribute may be a Workflow class, a workflow instance, or a zero-argument "
        "(async) factory returning one; with --runner, an async function doing one run.",
        metavar="TARGET",
        show_default=False,
    ),
]
Iterations = Annotated[int, typer.Option("--iterations", "-n", help="Measured runs.", min=1)]
Warmup = Annotated[int, typer.Option(help="Unmeasured runs first, so caches can fill.", min=0)]
WorkflowOption = Annotated[
    WorkflowMode,
    typer.Option(
        "--workflow",
        help="shared: one workflow instance for all runs (how services run them); "
        "fresh: a new one per run.",
    ),
]
ContextOption = Annotated[
    ContextMode,
    typer.Option(
        "--context",
        help="auto: run() creates the Context; new: pass a fresh Context(wf) per run; "
        "reuse: carry one Context across runs.",
    ),
]
Runner = Annotated[
    bool,
    typer.Option(
        "--runner",
        help="The target is a zero-argument async function that performs one complete run.",
    ),
]
WorkflowKwargs = Annotated[
    str | None,
    typer.Option(metavar="JSON", help="JSON object of keyword arguments for the Workflow class."),
]
InputJson = Annotated[
    str | None,
    typer.Option("--input", metavar="JSON", help="JSON object of start-event fields for run()."),
]
InputFile = Annotated[
    Path | None, typer.Option(help="Read the start-event fields from a JSON file.")
]
Timeout = Annotated[
    float, typer.Option(help="Seconds one run may take before it counts as failed.")
]
KeepGoing = Annotated[
    bool, typer.Option(help="Count failed runs and keep measuring (error paths leak too).")
]
MaxTime = Annotated[
    float | None, typer.Option(help="Hard wall-clock limit in seconds for the whole analysis.")
]
TraceFrames = Annotated[
    int,
    typer.Option(help="Frames tracemalloc keeps in the runs traced after a leak is found.", min=1),
]


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"wfleak: error: {message}", markup=False
    )
    raise typer.Exit(int(code))


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object, got {type(value).__name__}")
    return value


def parse_run_input(input_json: str | None, input_file: Path | None) -> dict[str, Any] | None:
    """The start-event fields from --input or --input-file; None when neither is given."""
    if input_json is not None and input_file is not None:
        raise UsageError("give --input or --input-file, not both")
    if input_file is not None:
        return parse_json_object(read_text(input_file, "a JSON file"), f"--input-file {input_file}")
    if input_json is not None:
        return parse_json_object(input_json, "--input")
    return None


def check_durations(timeout: float | None, max_time: float | None) -> None:
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds (got {timeout:g})")
    if max_time is not None and max_time <= 0:
        raise UsageError(f"--max-time must be more than 0 seconds (got {max_time:g})")


def check_writable(path: str, option: str) -> None:
    """Refuse an output path that cannot be written before any run starts."""
    if path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path} is a directory")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"{option} {path} is not writable")


def write_output(data: str | bytes, path: str) -> None:
    if path == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
        return
    try:
        Path(path).write_bytes(data if isinstance(data, bytes) else data.encode())
    except OSError as exc:
        fail(f"could not write {path}: {exc.strerror}")


def write_json(report: Report, path: str) -> None:
    write_output(dumps(report), path)


def exit_code_for(report: Report) -> ExitCode:
    if report.stop is StopReason.INTERRUPTED:
        return ExitCode.INTERRUPTED
    if report.stop is not None:
        return ExitCode.WORKFLOW_FAILED
    return ExitCode.OK


def build_settings(
    *,
    target: str,
    iterations: int,
    warmup: int,
    workflow: WorkflowMode,
    context: ContextMode,
    runner: bool,
    workflow_kwargs: str | None,
    input_json: str | None,
    input_file: Path | None,
    timeout: float,
    keep_going: bool,
    max_time: float | None,
    trace_frames: int,
    memray_file: str | None = None,
    max_growth_bytes: int = DEFAULT_GROWTH_BYTES,
) -> Settings:
    """Validate the run options; every problem is one ``UsageError``."""
    run_input = parse_run_input(input_json, input_file) or {}
    kwargs = parse_json_object(workflow_kwargs, "--workflow-kwargs") if workflow_kwargs else {}
    check_durations(timeout, max_time)
    return make_settings(
        target,
        iterations=iterations,
        warmup=warmup,
        workflow=workflow,
        context=context,
        runner=runner,
        input=run_input,
        workflow_kwargs=kwargs,
        timeout=timeout,
        keep_going=keep_going,
        trace_frames=trace_frames,
        memray=memray_file,
        max_growth_bytes=max_growth_bytes,
    )


def analyze_with_progress(
    settings: Settings, max_time: float | None, cwd: str | None = None
) -> Report:
    with ProgressDisplay(Console(stderr=True)) as progress:
        return run_analysis(settings, max_time=max_time, cwd=cwd, observer=progress.update)


def report_stop(report: Report) -> ExitCode:
    """The exit code for a finished analysis, with the one line that explains a stop."""
    code = exit_code_for(report)
    if report.stop_message and code is not ExitCode.OK:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"wfleak: {report.stop_message}", markup=False
        )
    return code
