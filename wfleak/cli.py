"""The command line: parse options, call the core, render, map errors to exit codes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from wfleak import __version__
from wfleak.errors import ExitCode, UsageError, WfleakError
from wfleak.isolation import analyze_in_worker
from wfleak.model import ContextMode, Report, Settings, StopReason, WorkflowMode
from wfleak.report import terminal
from wfleak.report.progress import ProgressDisplay
from wfleak.serde import dumps

EXIT_CODES_HELP = (
    "Exit codes: 0 analysis done (whatever it found); 2 usage or target error; "
    "3 the workflow failed, timed out, hung or crashed; 130 interrupted."
)

app = typer.Typer(
    name="wfleak",
    help="Find, explain and guard against memory leaks in LlamaIndex workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wfleak {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Find, explain and guard against memory leaks in LlamaIndex workflows."""


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


def read_input_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"Is a directory, not a JSON file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read {path}: {exc}") from None
    return parse_json_object(text, f"--input-file {path}")


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


def write_json(report: Report, path: str) -> None:
    text = dumps(report)
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"could not write {path}: {exc.strerror}")


def exit_code_for(report: Report) -> ExitCode:
    if report.stop is StopReason.INTERRUPTED:
        return ExitCode.INTERRUPTED
    if report.stop is not None:
        return ExitCode.WORKFLOW_FAILED
    return ExitCode.OK


@app.command(epilog=EXIT_CODES_HELP)
def run(
    target: Annotated[
        str,
        typer.Argument(
            help="What to analyse: 'package.module:Workflow' or 'path/to/file.py:attr'. The "
            "attribute may be a Workflow class, a workflow instance, or a zero-argument "
            "(async) factory returning one; with --runner, an async function doing one run.",
            metavar="TARGET",
            show_default=False,
        ),
    ],
    iterations: Annotated[
        int, typer.Option("--iterations", "-n", help="Measured runs.", min=1)
    ] = 50,
    warmup: Annotated[
        int, typer.Option(help="Unmeasured runs first, so caches can fill.", min=0)
    ] = 3,
    workflow: Annotated[
        WorkflowMode,
        typer.Option(
            "--workflow",
            help="shared: one workflow instance for all runs (how services run them); "
            "fresh: a new one per run.",
        ),
    ] = WorkflowMode.SHARED,
    context: Annotated[
        ContextMode,
        typer.Option(
            "--context",
            help="auto: run() creates the Context; new: pass a fresh Context(wf) per run; "
            "reuse: carry one Context across runs.",
        ),
    ] = ContextMode.AUTO,
    runner: Annotated[
        bool,
        typer.Option(
            "--runner",
            help="The target is a zero-argument async function that performs one complete run.",
        ),
    ] = False,
    workflow_kwargs: Annotated[
        str | None,
        typer.Option(
            metavar="JSON", help="JSON object of keyword arguments for the Workflow class."
        ),
    ] = None,
    input_json: Annotated[
        str | None,
        typer.Option(
            "--input", metavar="JSON", help="JSON object of start-event fields passed to run()."
        ),
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option(help="Read the start-event fields from a JSON file.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds one run may take before it counts as failed.")
    ] = 60.0,
    keep_going: Annotated[
        bool,
        typer.Option(help="Count failed runs and keep measuring (error paths leak too)."),
    ] = False,
    max_time: Annotated[
        float | None,
        typer.Option(help="Hard wall-clock limit in seconds for the whole analysis."),
    ] = None,
    memray_file: Annotated[
        str | None,
        typer.Option("--memray", help="Also record the measured runs with memray into this file."),
    ] = None,
    trace_frames: Annotated[
        int, typer.Option(help="Frames tracemalloc keeps per allocation.", min=1)
    ] = 10,
    json_path: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="PATH",
            help="Write the full report as JSON to this file ('-': stdout).",
        ),
    ] = None,
) -> None:
    """Run a workflow many times, measure what each run leaves behind, and give a verdict.

    The verdict is LEAK (objects or memory from finished runs stay reachable after a full
    garbage collection), CYCLE (runs leave reference cycles that only the cyclic GC frees, so
    memory lingers) or OK.
    """
    try:
        if input_json is not None and input_file is not None:
            raise UsageError("give --input or --input-file, not both")
        run_input = (
            read_input_file(input_file)
            if input_file is not None
            else parse_json_object(input_json, "--input")
            if input_json is not None
            else {}
        )
        kwargs = parse_json_object(workflow_kwargs, "--workflow-kwargs") if workflow_kwargs else {}
        if timeout <= 0:
            raise UsageError(f"--timeout must be more than 0 seconds (got {timeout:g})")
        if max_time is not None and max_time <= 0:
            raise UsageError(f"--max-time must be more than 0 seconds (got {max_time:g})")
        if json_path is not None:
            check_writable(json_path, "--json")
        if memray_file is not None:
            check_writable(memray_file, "--memray")
        settings = Settings(
            target=target,
            iterations=iterations,
            warmup=warmup,
            workflow_mode=workflow,
            context_mode=context,
            runner=runner,
            timeout=timeout,
            keep_going=keep_going,
            trace_frames=trace_frames,
            memray_file=os.path.abspath(memray_file) if memray_file else None,
            input=run_input,
            workflow_kwargs=kwargs,
        )
        # With the JSON on stdout, the human report moves to stderr.
        console = Console(stderr=json_path == "-", highlight=False)
        with ProgressDisplay(Console(stderr=True)) as progress:
            report = analyze_in_worker(settings, progress.update, max_time=max_time)
    except WfleakError as exc:
        fail(exc.message, exc.exit_code)
    terminal.render(report, console)
    if json_path is not None:
        write_json(report, json_path)
    code = exit_code_for(report)
    if report.stop_message and code is not ExitCode.OK:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"wfleak: {report.stop_message}", markup=False
        )
    raise typer.Exit(int(code))


def _one_line_usage_error(exc: Exception) -> int | None:
    """The exit code for a command-line parsing error after printing it as one line, or None
    when ``exc`` is not one (typer's vendored click raises these; they carry both)."""
    format_message = getattr(exc, "format_message", None)
    exit_code = getattr(exc, "exit_code", None)
    if not callable(format_message) or not isinstance(exit_code, int):
        return None
    context = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
        typer.echo(context.get_help())
        return int(ExitCode.USAGE)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    message = " ".join(str(format_message()).split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"wfleak: error: {message}{hint}", markup=False
    )
    return exit_code


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="wfleak", standalone_mode=False)
    except Exception as exc:
        handled = _one_line_usage_error(exc)
        if handled is None:
            raise
        code = handled
    sys.exit(code if isinstance(code, int) else 0)
