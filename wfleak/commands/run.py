"""``wfleak run``: run a workflow many times, measure, and give a verdict."""

from __future__ import annotations

from typing import Annotated

import typer

from wfleak.commands import common
from wfleak.errors import WfleakError
from wfleak.model import ContextMode, WorkflowMode
from wfleak.report import terminal

EXIT_CODES = (
    "Exit codes: 0 analysis done (whatever it found); 2 usage or target error; "
    "3 the workflow failed, timed out, hung or crashed; 130 interrupted."
)


def run(
    target: common.Target,
    iterations: common.Iterations = 50,
    warmup: common.Warmup = 3,
    workflow: common.WorkflowOption = WorkflowMode.SHARED,
    context: common.ContextOption = ContextMode.AUTO,
    runner: common.Runner = False,
    workflow_kwargs: common.WorkflowKwargs = None,
    input_json: common.InputJson = None,
    input_file: common.InputFile = None,
    timeout: common.Timeout = 60.0,
    keep_going: common.KeepGoing = False,
    max_time: common.MaxTime = None,
    memray_file: Annotated[
        str | None,
        typer.Option(
            "--memray",
            metavar="FILE",
            help="Also record the measured runs with memray into this file.",
        ),
    ] = None,
    trace_frames: common.TraceFrames = 10,
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
    memory lingers) or OK. Each finding names what holds the memory, where it was made, and
    how to fix it.
    """
    try:
        settings = common.build_settings(
            target=target,
            iterations=iterations,
            warmup=warmup,
            workflow=workflow,
            context=context,
            runner=runner,
            workflow_kwargs=workflow_kwargs,
            input_json=input_json,
            input_file=input_file,
            timeout=timeout,
            keep_going=keep_going,
            max_time=max_time,
            trace_frames=trace_frames,
            memray_file=memray_file,
        )
        if json_path is not None:
            common.check_writable(json_path, "--json")
        if memray_file is not None:
            common.check_writable(memray_file, "--memray")
        report = common.analyze_with_progress(settings, max_time)
    except WfleakError as exc:
        common.fail(exc.message, exc.exit_code)
    # With the JSON on stdout, the human report moves to stderr.
    terminal.render(report, common.console(stderr=json_path == "-"))
    if json_path is not None:
        common.write_json(report, json_path)
    raise typer.Exit(int(common.report_stop(report)))
