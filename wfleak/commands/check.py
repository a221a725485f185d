"""``wfleak check``: the leak gate for CI, configured in ``[tool.wfleak]`` of pyproject.toml."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from wfleak.api import make_settings, run_analysis
from wfleak.baseline import Baseline, load_baseline
from wfleak.commands import common
from wfleak.config import THRESHOLD_OPTIONS, TargetConfig, load_config, thresholds_from
from wfleak.errors import ExitCode, UsageError, WfleakError
from wfleak.gate import evaluate
from wfleak.model import (
    CheckReport,
    ContextMode,
    FailOn,
    TargetResult,
    TargetStatus,
    Thresholds,
    WorkflowMode,
)
from wfleak.pipeline import environment
from wfleak.report import github, summary
from wfleak.report.junit import render_junit
from wfleak.report.progress import ProgressDisplay
from wfleak.serde import dumps

EXIT_CODES = (
    "Exit codes: 0 every target passed; 1 at least one target leaks beyond its thresholds; "
    "2 usage or configuration error, or a target could not be loaded; 3 a target's workflow "
    "failed, timed out, hung or crashed; 130 interrupted. With several targets the first of "
    "130, 2, 3, 1 that applies."
)
_EXIT_FOR = {
    TargetStatus.PASSED: ExitCode.OK,
    TargetStatus.LEAKING: ExitCode.FINDINGS,
    TargetStatus.RUN_FAILED: ExitCode.WORKFLOW_FAILED,
    TargetStatus.NOT_LOADED: ExitCode.USAGE,
    TargetStatus.INTERRUPTED: ExitCode.INTERRUPTED,
}
_PRECEDENCE = (ExitCode.INTERRUPTED, ExitCode.USAGE, ExitCode.WORKFLOW_FAILED, ExitCode.FINDINGS)


def exit_code(results: list[TargetResult]) -> ExitCode:
    codes = {_EXIT_FOR[r.status] for r in results}
    return next((code for code in _PRECEDENCE if code in codes), ExitCode.OK)


def _settings_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    skip = {"allow", "max-time", *THRESHOLD_OPTIONS}
    kwargs = {key.replace("-", "_"): value for key, value in options.items() if key not in skip}
    if "max-growth-bytes" in options:
        kwargs["max_growth_bytes"] = options["max-growth-bytes"]
    return kwargs


def check_target(
    config: TargetConfig,
    baseline: Baseline | None,
    console: Console,
) -> TargetResult:
    started = time.monotonic()

    def result(status: TargetStatus, **fields: Any) -> TargetResult:
        return TargetResult(
            name=config.name,
            target=config.target,
            status=status,
            thresholds=config.thresholds,
            workdir=str(config.workdir),
            duration_s=time.monotonic() - started,
            **fields,
        )

    try:
        settings = make_settings(config.target, **_settings_kwargs(config.options))
        with ProgressDisplay(console) as progress:
            report = run_analysis(
                settings,
                max_time=config.options.get("max-time"),
                cwd=config.workdir,
                observer=progress.update,
            )
    except WfleakError as exc:
        failed = exc.exit_code is ExitCode.WORKFLOW_FAILED
        status = TargetStatus.RUN_FAILED if failed else TargetStatus.NOT_LOADED
        return result(status, message=exc.message)
    entry = baseline.entry(config.name, config.target) if baseline is not None else None
    judgement = evaluate(report, config.thresholds, entry)
    return result(
        judgement.status,
        message=report.stop_message or "",
        violations=judgement.violations,
        accepted=judgement.accepted,
        report=report,
    )


def _overrides(
    *,
    iterations: int | None,
    warmup: int | None,
    workflow: WorkflowMode | None,
    context: ContextMode | None,
    runner: bool | None,
    workflow_kwargs: str | None,
    input_json: str | None,
    input_file: Path | None,
    timeout: float | None,
    keep_going: bool | None,
    max_time: float | None,
    trace_frames: int | None,
    max_retained_objects: int | None,
    max_growth_bytes: int | None,
    fail_on: FailOn | None,
) -> dict[str, Any]:
    """Options given on the command line, by their configuration key."""
    run_input = common.parse_run_input(input_json, input_file)
    common.check_durations(timeout, max_time)
    given: dict[str, Any] = {
        "iterations": iterations,
        "warmup": warmup,
        "workflow": workflow.value if workflow else None,
        "context": context.value if context else None,
        "runner": runner,
        "timeout": timeout,
        "keep-going": keep_going,
        "max-time": max_time,
        "trace-frames": trace_frames,
        "max-retained-objects": max_retained_objects,
        "max-growth-bytes": max_growth_bytes,
        "fail-on": fail_on.value if fail_on else None,
        "input": run_input,
    }
    if workflow_kwargs is not None:
        given["workflow-kwargs"] = common.parse_json_object(workflow_kwargs, "--workflow-kwargs")
    return {key: value for key, value in given.items() if value is not None}


def _targets(
    target: str | None, config_path: Path | None, overrides: dict[str, Any]
) -> tuple[list[TargetConfig], Path | None]:
    config = load_config(config_path, overrides, require_targets=target is None)
    if target is None:
        return config.targets, config.path
    for configured in config.targets:
        if target in (configured.name, configured.target):
            return [configured], config.path
    return [
        TargetConfig(
            name=target,
            target=target,
            options=config.defaults,
            thresholds=thresholds_from(config.defaults),
            workdir=Path.cwd(),
        )
    ], config.path


def _write_github(check: CheckReport) -> None:
    for line in github.annotation_lines(check, github.workspace()):
        typer.echo(line)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(github.job_summary(check))
        except OSError as exc:
            common.fail(f"could not write $GITHUB_STEP_SUMMARY {step_summary}: {exc.strerror}")


def check(
    target: Annotated[
        str | None,
        typer.Argument(
            help="Check this one target ('module:Workflow' or 'file.py:attr', or the name of "
            "a configured target) instead of every target in [tool.wfleak].",
            metavar="TARGET",
            show_default=False,
        ),
    ] = None,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read [tool.wfleak] from this TOML file instead of the nearest pyproject.toml.",
        ),
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option("--iterations", "-n", help="Measured runs [default: 50].", min=1),
    ] = None,
    warmup: Annotated[
        int | None, typer.Option(help="Unmeasured runs first [default: 3].", min=0)
    ] = None,
    workflow: Annotated[
        WorkflowMode | None,
        typer.Option("--workflow", help="shared or fresh workflow per run [default: shared]."),
    ] = None,
    context: Annotated[
        ContextMode | None,
        typer.Option("--context", help="auto, new or reuse Context per run [default: auto]."),
    ] = None,
    runner: Annotated[
        bool | None,
        typer.Option(
            "--runner/--no-runner",
            help="The target is an async function doing one complete run.",
            show_default=False,
        ),
    ] = None,
    workflow_kwargs: common.WorkflowKwargs = None,
    input_json: common.InputJson = None,
    input_file: common.InputFile = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds one run may take [default: 60].")
    ] = None,
    keep_going: Annotated[
        bool | None,
        typer.Option(
            "--keep-going/--no-keep-going",
            help="Count failed runs and keep measuring.",
            show_default=False,
        ),
    ] = None,
    max_time: Annotated[
        float | None,
        typer.Option(help="Hard wall-clock limit in seconds for each target's analysis."),
    ] = None,
    trace_frames: Annotated[
        int | None,
        typer.Option(help="Frames tracemalloc keeps after a leak is found [default: 10].", min=1),
    ] = None,
    max_retained_objects: Annotated[
        int | None,
        typer.Option(
            help="Framework objects from finished runs allowed to stay reachable when no "
            f"finding accounts for them [default: {Thresholds.max_retained_objects}].",
            min=0,
        ),
    ] = None,
    max_growth_bytes: Annotated[
        int | None,
        typer.Option(
            help="Retained-memory growth per run, in bytes, that counts as a leak "
            f"[default: {Thresholds.max_growth_bytes}].",
            min=1,
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="leak: only LEAK findings fail; cycle: CYCLE findings (memory left to the "
            "cyclic GC) fail too [default: leak].",
        ),
    ] = None,
    baseline_path: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="REPORT.json",
            help="A saved 'check --json' (or 'run --json') result: fail only on findings it "
            "does not have.",
        ),
    ] = None,
    json_path: Annotated[
        str | None,
        typer.Option("--json", metavar="PATH", help="Write every target's full report as JSON."),
    ] = None,
    junit_path: Annotated[
        str | None,
        typer.Option("--junit-xml", metavar="PATH", help="Write JUnit XML, a test per target."),
    ] = None,
    github_output: Annotated[
        bool,
        typer.Option(
            "--github",
            help="Print GitHub Actions annotations at the leaking lines and append a Markdown "
            "summary with the top finding's diagram to $GITHUB_STEP_SUMMARY.",
        ),
    ] = False,
) -> None:
    """Fail the build when a workflow leaks: analyse every target in [tool.wfleak].

    Each target in pyproject.toml's [tool.wfleak] is run and judged against its thresholds:
    a LEAK finding fails it (a CYCLE finding too with --fail-on cycle) unless the allowlist
    accepts it; so do more retained framework objects than --max-retained-objects. Options
    given here override the file for every target. See the README for the configuration keys.
    """
    try:
        if json_path == "-" and github_output:
            raise UsageError("--json - and --github both write to stdout; give --json a file")
        overrides = _overrides(
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
            max_retained_objects=max_retained_objects,
            max_growth_bytes=max_growth_bytes,
            fail_on=fail_on,
        )
        targets, found_config = _targets(target, config_path, overrides)
        for path, option in ((json_path, "--json"), (junit_path, "--junit-xml")):
            if path is not None:
                common.check_writable(path, option)
        baseline = load_baseline(baseline_path) if baseline_path is not None else None
    except WfleakError as exc:
        common.fail(exc.message, exc.exit_code)
    out = common.console(stderr=json_path == "-")
    progress_console = Console(stderr=True)
    results: list[TargetResult] = []
    name_width = max(len(t.name) for t in targets)
    for configured in targets:
        checked = check_target(configured, baseline, progress_console)
        summary.render_target(checked, out, name_width)
        results.append(checked)
        if checked.status is TargetStatus.INTERRUPTED:
            break
    outcome = CheckReport(
        environment=environment(),
        targets=results,
        config=str(found_config) if found_config else None,
        baseline=str(baseline_path) if baseline_path else None,
    )
    out.print(summary.totals_line(outcome), markup=False, highlight=False)
    if json_path is not None:
        common.write_output(dumps(outcome), json_path)
    if junit_path is not None:
        common.write_output(render_junit(outcome), junit_path)
    if github_output:
        _write_github(outcome)
    raise typer.Exit(int(exit_code(results)))
