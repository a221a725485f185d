"""What the commands that run an analysis share: the TARGET argument, settings from the
options, progress, output files and exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from wfleak import lifecycle, options
from wfleak.commands.signature import Given
from wfleak.errors import ExitCode, UsageError
from wfleak.files import read_text
from wfleak.model import Report, ServiceRequest, Settings, StopReason
from wfleak.options.kinds import CommandLineError, Fields
from wfleak.report import safety

if TYPE_CHECKING:
    from rich.console import Console

    from wfleak.report.progress import Verbosity

# rich is imported when something is printed, so that --help answers at once.

Target = Annotated[
    str,
    typer.Argument(
        help="What to analyse: 'package.module:Workflow' or 'path/to/file.py:attr'. The "
        "attribute may be a Workflow class, a workflow instance, an ASGI app (FastAPI, "
        "Starlette; driven with --request), or a zero-argument (async) factory returning "
        "one; with --runner, an async function doing one run.",
        metavar="TARGET",
        show_default=False,
    ),
]


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    from wfleak.report.streams import ReaderMayLeave

    stream = ReaderMayLeave(sys.stderr if stderr else sys.stdout)
    return Console(file=stream, stderr=stderr, highlight=False, soft_wrap=False)  # type: ignore[arg-type]


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"wfleak: error: {safety.terminal(message)}", markup=False
    )
    raise typer.Exit(int(code))


def read_run_input(path: Path) -> dict[str, Any]:
    """The start-event fields in the JSON file given to --input-file."""
    text = read_text(path, "a JSON file")
    try:
        return Fields().from_command_line(text, f"--input-file {path}")
    except CommandLineError as exc:
        raise UsageError(exc.message) from None


def read_requests(path: Path) -> list[ServiceRequest]:
    """The requests in the JSON-lines file given to --requests."""
    from wfleak.service.requests import parse_request_file

    return parse_request_file(path, f"--requests {path}")


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
    from wfleak.serde import dumps

    write_output(dumps(report), path)


def signal_exit_code() -> ExitCode:
    """130, 143 or 129: the code for the signal that stopped the command."""
    signum = lifecycle.received()
    return ExitCode(lifecycle.exit_code(signum)) if signum is not None else ExitCode.INTERRUPTED


def exit_code_for(report: Report) -> ExitCode:
    """0 for any finished analysis, INCONCLUSIVE and ``--max-time`` reached included (the
    runs are judged, the workflow is not blamed); 3 when the workflow itself failed, timed
    out, hung or crashed; the signal's code once one stopped the command, however far the
    analysis got."""
    if lifecycle.received() is not None or report.stop is StopReason.TERMINATED:
        return signal_exit_code()
    if report.stop is StopReason.INTERRUPTED:
        return ExitCode.INTERRUPTED
    if report.stop is None or report.stop is StopReason.MAX_TIME:
        return ExitCode.OK
    return ExitCode.WORKFLOW_FAILED


def settings_keywords(given: Given, command: str) -> dict[str, Any]:
    """The keyword arguments of :func:`wfleak.api.make_settings` from a command's options."""
    keywords = {
        option.name: given[option]
        for option in options.for_command(command)
        if option.setting is not None
    }
    input_file = given[options.INPUT_FILE]
    if input_file is not None:
        keywords["input"] = read_run_input(input_file)
    requests_file = given[options.REQUESTS_FILE]
    if requests_file is not None:
        keywords["requests"] = [*(keywords.get("requests") or []), *read_requests(requests_file)]
    return keywords


def build_settings(target: str, given: Given, command: str) -> Settings:
    """Settings for an analysis from the options of ``command``; problems are ``UsageError``."""
    from wfleak.api import make_settings

    return make_settings(target, **settings_keywords(given, command))


def verbosity(given: Given) -> Verbosity:
    from wfleak.report.progress import Verbosity

    if given[options.QUIET]:
        return Verbosity.QUIET
    return Verbosity.VERBOSE if given[options.VERBOSE] else Verbosity.NORMAL


def analyze_with_progress(settings: Settings, given: Given, cwd: str | None = None) -> Report:
    from rich.console import Console

    from wfleak.api import run_analysis
    from wfleak.report.progress import ProgressDisplay

    display = ProgressDisplay(Console(stderr=True), verbosity=verbosity(given))
    with display as progress:
        return run_analysis(
            settings,
            max_time=given[options.MAX_TIME],
            cwd=cwd,
            observer=progress.update,
            show_secrets=given[options.SHOW_SECRETS],
        )


def report_stop(report: Report) -> ExitCode:
    """The exit code for a finished analysis, with the one line that explains a stop."""
    code = exit_code_for(report)
    if report.stop_message and report.stop is not None:
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"wfleak: {safety.terminal(report.stop_message)}", markup=False
        )
    return code
