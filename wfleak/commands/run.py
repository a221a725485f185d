"""``wfleak run``: run a workflow many times, measure, and give a verdict."""

from __future__ import annotations

import os

import typer

from wfleak import lifecycle, options
from wfleak.commands import common
from wfleak.commands.signature import Given, command
from wfleak.errors import UsageError

EXIT_CODES = (
    "Exit codes: 0 analysis done (whatever it found, INCONCLUSIVE included, and when "
    "--max-time stopped it after some runs); 2 usage or target error; "
    "3 the workflow itself failed, timed out, hung or crashed; 130 interrupted (Ctrl-C); "
    "143 terminated (SIGTERM); 129 hung up (SIGHUP)."
)


@command("run", common.Target)
def run(target: str, given: Given) -> None:
    """Run a workflow many times, measure what each run leaves behind, and give a verdict.

    The verdict is LEAK (objects or memory from finished runs stay reachable after a full
    garbage collection), CYCLE (runs leave reference cycles that only the cyclic GC frees, so
    memory lingers) or OK. Each finding names what holds the memory, where it was made, and
    how to fix it.
    """
    from wfleak.report import terminal

    settings = common.build_settings(target, given, "run")
    json_path = given[options.JSON]
    memray_file = given[options.MEMRAY]
    if json_path is not None:
        common.check_writable(json_path, "--json")
    if memray_file is not None:
        common.check_writable(memray_file, "--memray")
        if os.path.exists(memray_file) and not given[options.FORCE]:
            raise UsageError(
                f"--memray: {memray_file} exists; give --force to overwrite it or another FILE"
            )
    # From here a signal stops the worker and the report of what it measured is still
    # printed and written; a second signal exits at once.
    with lifecycle.deferred():
        report = common.analyze_with_progress(settings, given)
        # With the JSON on stdout, the human report moves to stderr.
        terminal.render(report, common.console(stderr=json_path == "-"))
        if json_path is not None:
            common.write_json(report, json_path)
        code = common.report_stop(report)
    raise typer.Exit(int(code))


COMMAND = run
EXAMPLES = (
    "wfleak run samples/leaky_global.py:LeakyWorkflow --iterations 100",
    'wfleak run myapp.flows:make_agent --workflow fresh --input \'{"query": "hi"}\'',
    "wfleak run myapp.flows:AnswerWorkflow --json report.json --memray run.bin",
)
