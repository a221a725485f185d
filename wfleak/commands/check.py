"""``wfleak check``: the leak gate for CI, configured in ``[tool.wfleak]`` of pyproject.toml."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfleak import lifecycle, options
from wfleak.commands import common, parallel
from wfleak.commands.signature import Given, command
from wfleak.config import TargetConfig, load_config, thresholds_from
from wfleak.errors import ExitCode, UsageError, WfleakError
from wfleak.model import CheckReport, TargetResult, TargetStatus
from wfleak.options.kinds import AUTO

if TYPE_CHECKING:
    from rich.console import Console

    from wfleak.baseline import Baseline
    from wfleak.report.progress import Verbosity

# The analysis stack (api, gate, reports) is imported when a check runs, so that --help and
# usage errors answer at once.

EXIT_CODES = (
    "Exit codes: 0 every target passed; 1 at least one target leaks beyond its thresholds; "
    "2 usage or configuration error, or a target could not be loaded; 3 a target's workflow "
    "failed, timed out, hung or crashed; 4 nothing leaks beyond its thresholds, but at least "
    "one target is INCONCLUSIVE (too few runs, a failed probe, --max-time reached); 130 "
    "interrupted (Ctrl-C); 143 terminated (SIGTERM); 129 hung up (SIGHUP). With several "
    "targets the first of 130/143/129, 2, 3, 1, 4 that applies. Stopped by a signal, every "
    "output is still written with the targets checked."
)
_EXIT_FOR = {
    TargetStatus.PASSED: ExitCode.OK,
    TargetStatus.LEAKING: ExitCode.FINDINGS,
    TargetStatus.RUN_FAILED: ExitCode.WORKFLOW_FAILED,
    TargetStatus.NOT_LOADED: ExitCode.USAGE,
    TargetStatus.INTERRUPTED: ExitCode.INTERRUPTED,
    TargetStatus.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
}
_PRECEDENCE = (
    ExitCode.INTERRUPTED,
    ExitCode.USAGE,
    ExitCode.WORKFLOW_FAILED,
    ExitCode.FINDINGS,
    ExitCode.INCONCLUSIVE,
)


def exit_code(results: list[TargetResult]) -> ExitCode:
    codes = {_EXIT_FOR[r.status] for r in results}
    code = next((code for code in _PRECEDENCE if code in codes), ExitCode.OK)
    return common.signal_exit_code() if code is ExitCode.INTERRUPTED else code


def _settings_kwargs(configured: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``make_settings`` from options by configuration key."""
    return {
        option.name: configured[option.key]
        for option in options.setting_options()
        if option.key in configured
    }


def check_target(
    config: TargetConfig,
    baseline: Baseline | None,
    console: Console | None,
    verbosity: Verbosity | None = None,
    named: bool = False,
    show_secrets: bool = False,
) -> TargetResult:
    """One target analysed and judged; ``console`` shows its progress (none when targets run
    side by side in a terminal: one progress display at a time fits it), ``named`` puts the
    target's name in the progress lines."""
    from wfleak.api import make_settings, run_analysis
    from wfleak.gate import evaluate
    from wfleak.report.progress import ProgressDisplay, Verbosity

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
        display = ProgressDisplay(
            console or common.console(stderr=True),
            verbosity=(verbosity or Verbosity.NORMAL) if console else Verbosity.QUIET,
            name=config.name if named else None,
        )
        with display as progress:
            report = run_analysis(
                settings,
                max_time=config.options.get("max-time"),
                cwd=config.workdir,
                observer=progress.update,
                show_secrets=show_secrets,
            )
    except lifecycle.Interrupted as stopped:
        return result(TargetStatus.INTERRUPTED, message=lifecycle.describe(stopped.signum))
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


def _overrides(given: Given) -> dict[str, Any]:
    """Options given on the command line, by their configuration key."""
    overrides = {
        option.key: value for option, value in given.on_command_line().items() if option.config
    }
    if "input-file" in overrides:
        overrides["input"] = common.read_run_input(overrides.pop("input-file"))
    if "requests-file" in overrides:
        from_file = common.read_requests(overrides.pop("requests-file"))
        overrides["requests"] = [*overrides.get("requests", []), *from_file]
    return overrides


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


def _jobs(requested: int | str, targets: int) -> int:
    """Worker processes to run at once: never more than there are targets."""
    wanted = parallel.available_cores() if requested == AUTO else int(requested)
    return max(1, min(wanted, targets))


def _write_github(check: CheckReport) -> None:
    from wfleak.report import github

    for line in github.annotation_lines(check, github.workspace()):
        typer.echo(line)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(github.job_summary(check))
        except OSError as exc:
            common.fail(f"could not write $GITHUB_STEP_SUMMARY {step_summary}: {exc.strerror}")


CheckTarget = Annotated[
    str | None,
    typer.Argument(
        help="Check this one target ('module:Workflow' or 'file.py:attr', or the name of "
        "a configured target) instead of every target in [tool.wfleak].",
        metavar="TARGET",
        show_default=False,
    ),
]


@command("check", CheckTarget, None)
def check(target: str | None, given: Given) -> None:
    """Fail the build when a workflow leaks: analyse every target in [tool.wfleak].

    Each target in pyproject.toml's [tool.wfleak] is run and judged against its thresholds:
    a LEAK finding fails it (a CYCLE finding too with --fail-on cycle) unless the allowlist
    accepts it; so do more retained framework objects than --max-retained-objects. Options
    given here override the file for every target. See the README for the configuration keys.
    """
    from wfleak.baseline import load_baseline
    from wfleak.pipeline import environment
    from wfleak.report import summary
    from wfleak.report.junit import render_junit
    from wfleak.serde import dumps

    json_path = given[options.JSON]
    junit_path = given[options.JUNIT_XML]
    github_output = given[options.GITHUB]
    baseline_path = given[options.BASELINE]
    if json_path == "-" and github_output:
        raise UsageError("--json - and --github both write to stdout; give --json a file")
    targets, found_config = _targets(target, given[options.CONFIG_FILE], _overrides(given))
    for path, option in ((json_path, "--json"), (junit_path, "--junit-xml")):
        if path is not None:
            common.check_writable(path, option)
    baseline = load_baseline(baseline_path) if baseline_path is not None else None
    out = common.console(stderr=json_path == "-")
    jobs = _jobs(given[options.JOBS], len(targets))
    stderr = common.console(stderr=True)
    # Side by side, bars would overwrite each other; a log's named heartbeat lines do not.
    progress_console = stderr if jobs == 1 or not stderr.is_terminal else None
    verbosity = common.verbosity(given)
    named = len(targets) > 1
    results: list[TargetResult] = []
    name_width = max(len(t.name) for t in targets)
    show_secrets = given[options.SHOW_SECRETS]
    # From here a signal stops the running targets only (each worker sends what it
    # measured) and no further target starts; every finished target's outputs are still
    # written. A second signal exits at once.
    with lifecycle.deferred():
        for checked in parallel.in_order(
            targets,
            lambda configured: check_target(
                configured, baseline, progress_console, verbosity, named, show_secrets
            ),
            jobs,
            stop_requested=lambda: lifecycle.received() is not None,
            is_final=lambda checked: checked.status is TargetStatus.INTERRUPTED,
        ):
            summary.render_target(checked, out, name_width)
            results.append(checked)
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
        code = exit_code(results)
        if lifecycle.received() is not None:
            code = common.signal_exit_code()
    raise typer.Exit(int(code))


COMMAND = check
EXAMPLES = (
    "wfleak check --github --junit-xml wfleak-junit.xml --json wfleak.json",
    "wfleak check --config samples/wfleak-check.toml --iterations 10 -j auto",
    "wfleak check answer --baseline main.json",
)
