"""A pytest plugin: assert inside a test that a workflow does not leak.

Registered through the ``pytest11`` entry point, so installing wfleak is enough::

    def test_service_workflow_does_not_leak(wfleak_check):
        wfleak_check("myapp.flows:ServiceWorkflow", iterations=30, input={"query": "hi"})

The fixture runs the same analysis and gate as ``wfleak check`` (in a worker process, started
in pytest's root directory) and fails the test with the finding, its path and its fix.

Each option is resolved, later winning: the built-in default, ``[tool.wfleak]`` of the
nearest ``pyproject.toml`` (the top level, then the configured target whose name or import
string is the fixture's target), ``@pytest.mark.wfleak(...)`` on the test, the fixture
call's own arguments, and last ``pytest --wfleak-iterations N``, which shortens or deepens
every check of a session. ``pytest --wfleak-skip`` skips the tests that use the fixture.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Unpack

import pytest

from wfleak import options
from wfleak.options import Option
from wfleak.options.kinds import CommandLineError, Flag, Invalid

if TYPE_CHECKING:
    from wfleak.model import Report
    from wfleak.options.typed import CheckOptions

MARKER = "wfleak"
SKIP_DEST = "wfleak_skip"


class WorkflowCheck(Protocol):
    def __call__(
        self, target: str | Callable[..., Any] | type, /, **given: Unpack[CheckOptions]
    ) -> Report: ...


def _flag(option: Option[Any]) -> str:
    return f"--wfleak-{option.key}"


def _dest(option: Option[Any]) -> str:
    return f"wfleak_{option.name}"


def _pytest_options() -> list[Option[Any]]:
    return [option for option in options.OPTIONS if option.pytest_option]


def _parser(option: Option[Any]) -> Callable[[str], Any]:
    """Text from pytest's command line to the option's value, refused as argparse expects."""

    def parse(text: str) -> Any:
        try:
            value = option.kind.command_line_type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {option.kind.expected}, got {text!r}"
            ) from None
        try:
            return option.kind.from_command_line(value, _flag(option))
        except (Invalid, CommandLineError) as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wfleak", "memory-leak checks of LlamaIndex workflows (wfleak)")
    for option in _pytest_options():
        help_text = f"{option.help} Wins over [tool.wfleak], the marker and the call."
        if isinstance(option.kind, Flag):
            group.addoption(_flag(option), action="store_true", dest=_dest(option), help=help_text)
        else:
            group.addoption(
                _flag(option),
                dest=_dest(option),
                type=_parser(option),
                metavar=option.metavar,
                default=None,
                help=help_text,
            )
    group.addoption(
        "--wfleak-skip",
        action="store_true",
        dest=SKIP_DEST,
        help="Skip the tests that use the wfleak_check fixture (the reason is in the summary).",
    )


def pytest_configure(config: pytest.Config) -> None:
    names = ", ".join(option.name for option in options.fixture_options())
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): defaults of the wfleak_check fixture in this test ({names}); "
        "the fixture call's own arguments win.",
    )


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    """The keywords of the closest ``@pytest.mark.wfleak``, nearest (test) first."""
    given: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            raise _MarkerError("@pytest.mark.wfleak takes keyword arguments only")
        given.update(marker.kwargs)
    return given


class _MarkerError(Exception):
    pass


def _by_name(by_key: Mapping[str, Any]) -> dict[str, Any]:
    """Resolved ``[tool.wfleak]`` options (by key) as the fixture's keywords."""
    known = {option.key: option.name for option in options.fixture_options()}
    return {known[key]: value for key, value in by_key.items() if key in known}


@pytest.fixture
def wfleak_check(request: pytest.FixtureRequest) -> WorkflowCheck:
    """Run a workflow many times and fail the test if it leaks beyond the thresholds.

    Takes the target ('module:Workflow', 'file.py:attr' relative to the root directory, or an
    importable class or factory), the thresholds of ``wfleak check`` and any option of
    :func:`wfleak.analyze`; returns the report when the workflow passes. Defaults come from
    ``[tool.wfleak]`` and ``@pytest.mark.wfleak(...)``.
    """
    if request.config.getoption(SKIP_DEST):
        pytest.skip("wfleak: skipped by --wfleak-skip")
    # Imported here: the plugin loads in every pytest session of an environment with wfleak.
    from wfleak.api import make_settings, run_analysis, target_string
    from wfleak.config import load_project_config, merge
    from wfleak.errors import UsageError, WfleakError
    from wfleak.gate import evaluate
    from wfleak.model import FailOn, TargetStatus, Thresholds
    from wfleak.report.junit import violation_texts

    root = Path(str(request.config.rootpath))
    fixture_options = options.fixture_options()
    command_line = {
        option.name: value
        for option in _pytest_options()
        if (value := request.config.getoption(_dest(option))) not in (None, False)
    }

    def resolve(target: str, given: Mapping[str, object]) -> tuple[str, dict[str, Any], Path]:
        """The target to analyse, its options from every layer, and where to start it."""
        try:
            marked = options.from_python(_marker_options(request.node), fixture_options)
        except _MarkerError as exc:
            raise UsageError(str(exc)) from None
        except UsageError as exc:
            raise UsageError(f"@pytest.mark.wfleak: {exc.message}") from None
        called = options.from_python(given, fixture_options)
        project = load_project_config(root)
        configured = next((t for t in project.targets if target in (t.name, t.target)), None)
        from_file = _by_name(configured.options if configured else project.defaults)
        # None stands for "not given", so it leaves what an earlier layer set.
        layers = [{k: v for k, v in layer.items() if v is not None} for layer in (marked, called)]
        resolved = merge(from_file, *layers, command_line)
        if configured is None:
            return target, resolved, root
        return configured.target, resolved, configured.workdir

    def check(target: str | Callable[..., Any] | type, /, **given: Unpack[CheckOptions]) -> Report:
        problem = None
        try:
            name, resolved, workdir = resolve(target_string(target), given)
            keywords = {
                option.name: resolved[option.name]
                for option in options.setting_options()
                if option.name in resolved
            }
            settings = make_settings(name if isinstance(target, str) else target, **keywords)
            report = run_analysis(settings, max_time=resolved.get("max_time"), cwd=workdir)
        except WfleakError as exc:
            problem = exc.message
        if problem is not None:
            # Outside the except block, so the failure does not chain wfleak's own exception.
            pytest.fail(f"wfleak: {problem}", pytrace=False)
        thresholds = Thresholds(
            max_retained_objects=resolved.get(
                "max_retained_objects", options.MAX_RETAINED_OBJECTS.default
            ),
            max_growth_bytes=settings.growth_bytes_threshold,
            fail_on=FailOn(resolved.get("fail_on", FailOn.LEAK)),
            allow=list(resolved.get("allow") or []),
            allow_inconclusive=resolved.get(
                "allow_inconclusive", options.ALLOW_INCONCLUSIVE.default
            ),
        )
        judgement = evaluate(report, thresholds)
        for warning in report.warnings:
            # Shown in pytest's warnings summary, also when the check passes.
            warnings.warn(f"wfleak: {warning}", UserWarning, stacklevel=2)
        if judgement.status is not TargetStatus.PASSED:
            texts = [
                *(f"warning: {w}" for w in report.warnings),
                *violation_texts(report, judgement.violations),
            ]
            if judgement.status is TargetStatus.RUN_FAILED:
                texts.insert(0, report.stop_message or "the workflow failed")
            pytest.fail(
                f"wfleak: {settings.target} does not pass "
                f"({report.verdict.value.upper()}):\n\n" + "\n\n".join(texts),
                pytrace=False,
            )
        return report

    return check
