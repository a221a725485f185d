"""The command line: parse options, call the core, render, map errors to exit codes."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from wfleak import __version__
from wfleak.commands import check as check_command
from wfleak.commands import graph as graph_command
from wfleak.commands import run as run_command
from wfleak.errors import ExitCode

ROOT_EXAMPLES = (
    "wfleak run samples/leaky_global.py:LeakyWorkflow --iterations 100",
    "wfleak graph --from report.json -o leak.svg",
    "wfleak check --github --junit-xml wfleak-junit.xml",
    "wfleak --install-completion    # tab completion for this shell",
)

app = typer.Typer(
    name="wfleak",
    help="Find, explain and guard against memory leaks in LlamaIndex workflows.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def epilog(examples: tuple[str, ...], exit_codes: str = "") -> str:
    """Examples kept as typed (click rewraps a paragraph unless it starts with \\b)."""
    lines = "\n".join(f"  {example}" for example in examples)
    text = f"Examples:\n\n\b\n{lines}"
    return f"{text}\n\n{exit_codes}" if exit_codes else text


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wfleak {__version__}")
        raise typer.Exit()


@app.callback(epilog=epilog(ROOT_EXAMPLES))
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Find, explain and guard against memory leaks in LlamaIndex workflows."""


for module in (run_command, graph_command, check_command):
    app.command(epilog=epilog(module.EXAMPLES, module.EXIT_CODES))(module.COMMAND)


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
    from wfleak.report import safety

    message = safety.terminal(" ".join(str(format_message()).split()))
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"wfleak: error: {message}{hint}", markup=False
    )
    return exit_code


def _tolerant_streams() -> None:
    """Characters the terminal's encoding lacks are escaped, never an error: a report on an
    ASCII-only CI log must not turn into a traceback and the exit code for a leak."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(errors="backslashreplace")


def _require_current_directory() -> None:
    """Targets, configurations and outputs are found from the current directory; one that
    was deleted under the shell is one line, whichever command meets it first."""
    try:
        os.getcwd()
    except FileNotFoundError:
        from wfleak.launch import NO_CURRENT_DIRECTORY

        sys.stderr.write(f"wfleak: error: {NO_CURRENT_DIRECTORY}\n")
        sys.exit(int(ExitCode.USAGE))


def main(argv: list[str] | None = None) -> None:
    _tolerant_streams()
    _require_current_directory()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="wfleak", standalone_mode=False)
    except Exception as exc:
        handled = _one_line_usage_error(exc)
        if handled is None:
            raise
        code = handled
    sys.exit(code if isinstance(code, int) else 0)
