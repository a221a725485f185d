"""A pytest plugin: assert inside a test that a workflow does not leak.

Registered through the ``pytest11`` entry point, so installing wfleak is enough::

    def test_service_workflow_does_not_leak(wfleak_check):
        wfleak_check("myapp.flows:ServiceWorkflow", iterations=30, input={"query": "hi"})

The fixture runs the same analysis and gate as ``wfleak check`` (in a worker process, started
in pytest's root directory) and fails the test with the finding, its path and its fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from wfleak.model import AllowRule, FailOn, Report, TargetStatus, Thresholds


class WorkflowCheck(Protocol):
    def __call__(
        self,
        target: str | Callable[..., Any] | type,
        *,
        max_retained_objects: int = ...,
        fail_on: FailOn | str = ...,
        allow: Sequence[AllowRule] = ...,
        max_time: float | None = ...,
        **options: Any,
    ) -> Report: ...


@pytest.fixture
def wfleak_check(request: pytest.FixtureRequest) -> WorkflowCheck:
    """Run a workflow many times and fail the test if it leaks beyond the thresholds.

    Takes the target ('module:Workflow', 'file.py:attr' relative to the root directory, or an
    importable class or factory), the thresholds of ``wfleak check`` and any option of
    :func:`wfleak.analyze`; returns the report when the workflow passes.
    """
    # Imported here: the plugin loads in every pytest session of an environment with wfleak.
    from wfleak.api import make_settings, run_analysis
    from wfleak.errors import WfleakError
    from wfleak.gate import evaluate
    from wfleak.report.junit import violation_texts

    root = Path(str(request.config.rootpath))

    def check(
        target: str | Callable[..., Any] | type,
        *,
        max_retained_objects: int = Thresholds.max_retained_objects,
        fail_on: FailOn | str = FailOn.LEAK,
        allow: Sequence[AllowRule] = (),
        max_time: float | None = None,
        **options: Any,
    ) -> Report:
        try:
            settings = make_settings(target, **options)
            report = run_analysis(settings, max_time=max_time, cwd=root)
        except WfleakError as exc:
            pytest.fail(f"wfleak: {exc.message}", pytrace=False)
        thresholds = Thresholds(
            max_retained_objects=max_retained_objects,
            max_growth_bytes=settings.growth_bytes_threshold,
            fail_on=FailOn(fail_on),
            allow=list(allow),
        )
        judgement = evaluate(report, thresholds)
        if judgement.status is not TargetStatus.PASSED:
            texts = violation_texts(report, judgement.violations)
            if judgement.status is TargetStatus.RUN_FAILED:
                texts.insert(0, report.stop_message or "the workflow failed")
            pytest.fail(
                f"wfleak: {settings.target} does not pass "
                f"({report.verdict.value.upper()}):\n\n" + "\n\n".join(texts),
                pytrace=False,
            )
        return report

    return check
