"""Pieces of the CI output that a runner parses: annotation escaping and exit precedence."""

from __future__ import annotations

import pytest

from wfleak.commands.check import exit_code
from wfleak.errors import ExitCode
from wfleak.model import TargetResult, TargetStatus, Thresholds
from wfleak.report.github import command


def test_annotation_escapes_what_the_runner_would_parse() -> None:
    line = command("error", "50% of runs\nleak: a, b", "wfleak: app, v2", ("src/a,b.py", 15))
    assert line == (
        "::error file=src/a%2Cb.py,line=15,title=wfleak%3A app%2C v2::50%25 of runs%0Aleak: a, b"
    )


def test_annotation_without_a_site_has_only_a_title() -> None:
    assert command("warning", "m", "t") == "::warning title=t::m"


def result(status: TargetStatus) -> TargetResult:
    return TargetResult(name=status.value, target="a:B", status=status, thresholds=Thresholds())


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([], ExitCode.OK),
        ([TargetStatus.PASSED], ExitCode.OK),
        ([TargetStatus.PASSED, TargetStatus.LEAKING], ExitCode.FINDINGS),
        ([TargetStatus.LEAKING, TargetStatus.RUN_FAILED], ExitCode.WORKFLOW_FAILED),
        ([TargetStatus.RUN_FAILED, TargetStatus.NOT_LOADED], ExitCode.USAGE),
        ([TargetStatus.NOT_LOADED, TargetStatus.INTERRUPTED], ExitCode.INTERRUPTED),
    ],
)
def test_exit_code_is_the_most_serious_outcome(
    statuses: list[TargetStatus], code: ExitCode
) -> None:
    assert exit_code([result(s) for s in statuses]) is code
