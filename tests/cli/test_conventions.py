"""Command-line conventions: -h, -V, examples that parse, completion, -q/-v, a light --help."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
import typer

from tests.conftest import ROOT, cli_env, run_cli
from wfleak import __version__
from wfleak.cli import app

COMMANDS = ["run", "graph", "check"]


@pytest.mark.parametrize("args", [[], *([c] for c in COMMANDS)], ids=["wfleak", *COMMANDS])
def test_short_help_is_the_help_and_teaches_by_example(args: list[str]) -> None:
    short = run_cli(*args, "-h")
    assert short.code == 0, short.stderr
    assert short.stdout == run_cli(*args, "--help").stdout
    assert "Examples:" in short.stdout


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str) -> None:
    result = run_cli(flag)
    assert (result.code, result.stdout) == (0, f"wfleak {__version__}\n")


def _examples(command: typer.core.TyperCommand | typer.core.TyperGroup) -> list[list[str]]:
    epilog = command.epilog or ""
    lines = epilog.split("Examples:", 1)[1].split("\n\n\b\n", 1)[1].split("\n\n", 1)[0]
    return [shlex.split(line, comments=True) for line in lines.splitlines()]


def test_every_example_parses_with_the_options_it_names() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    examples = _examples(group)
    for name in COMMANDS:
        examples += _examples(group.commands[name])  # type: ignore[arg-type]
    assert len(examples) >= 3 + len(COMMANDS)
    for words in examples:
        assert words[0] == "wfleak", words
        if words[1].startswith("-"):
            continue
        command = group.commands[words[1]]
        # make_context parses the arguments without running the command; an unknown option,
        # a missing value or a bad choice raises.
        command.make_context(words[1], words[2:])


def test_graph_usage_shows_the_optional_target_once() -> None:
    usage = run_cli("graph", "--help").stdout.splitlines()[0]
    assert usage == "Usage: wfleak graph [OPTIONS] [TARGET]"


def test_shell_completion_completes_commands_and_choices() -> None:
    def complete(words: str, index: int) -> list[str]:
        env = cli_env() | {
            "_WFLEAK_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(index),
        }
        process = subprocess.run(
            [sys.executable, "-m", "wfleak"], capture_output=True, text=True, env=env, cwd=ROOT
        )
        return process.stdout.split()

    assert complete("wfleak ch", 1) == ["check"]
    assert complete("wfleak run t.py:W --context ", 4) == ["auto", "new", "reuse"]
    script = run_cli("--show-completion", "bash")
    assert script.code == 0 and "_WFLEAK_COMPLETE" in script.stdout


def test_quiet_and_verbose_exclude_each_other() -> None:
    result = run_cli("run", "samples/clean.py:CleanWorkflow", "-q", "-v")
    assert result.code == 2
    assert result.stderr.startswith("wfleak: error: give --quiet or --verbose, not both")


def test_verbose_prints_a_line_per_phase_and_quiet_prints_no_progress() -> None:
    verbose = run_cli("run", "samples/clean.py:CleanWorkflow", "-n", "6", "-v")
    assert verbose.code == 0, verbose.stderr
    lines = [line for line in verbose.stderr.splitlines() if line.startswith("wfleak: ")]
    assert [line.rsplit(" in ", 1)[0] for line in lines] == [
        "wfleak: importing target",
        "wfleak: warming up 3/3",
        "wfleak: measuring runs 6/6",
        "wfleak: analysing heap",
    ]
    quiet = run_cli("run", "samples/clean.py:CleanWorkflow", "-n", "6", "-q")
    assert quiet.code == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if line.startswith("wfleak: ")]


def test_help_does_not_import_the_analysis_stack() -> None:
    probe = (
        "import sys\n"
        "from wfleak.cli import main\n"
        "try:\n"
        "    main(['run', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'llama_index', "
        "'workflows') or m in ('wfleak.pipeline', 'wfleak.api', 'wfleak.isolation', "
        "'wfleak.analysis')]\n"
        "print(heavy, file=sys.stderr)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), cwd=ROOT
    )
    assert process.stderr.strip() == "[]"
    assert "Usage: wfleak run" in process.stdout


def test_the_command_leaves_its_heap_out_of_the_interpreters_last_collections() -> None:
    # Freezing everything on the way out spares the exit a walk over every object the command
    # made (a fifth of a second's worth after the report arrives, on a big report).
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen'))\n"
        "sys.argv = ['wfleak', '--version']\n"
        "from wfleak.__main__ import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=cli_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "frozen"
