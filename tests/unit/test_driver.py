from __future__ import annotations

import pytest

from wfleak.driver import check_modes, describe_exception
from wfleak.errors import UsageError
from wfleak.model import ContextMode, WorkflowMode
from wfleak.target import TargetKind


@pytest.mark.parametrize(
    ("kind", "workflow", "context", "message"),
    [
        (TargetKind.INSTANCE, WorkflowMode.FRESH, ContextMode.AUTO, "--workflow fresh needs"),
        (TargetKind.CLASS, WorkflowMode.FRESH, ContextMode.REUSE, "--context reuse cannot"),
        (TargetKind.RUNNER, WorkflowMode.FRESH, ContextMode.AUTO, "--runner performs"),
        (TargetKind.RUNNER, WorkflowMode.SHARED, ContextMode.NEW, "--runner performs"),
    ],
)
def test_invalid_mode_combinations(
    kind: TargetKind, workflow: WorkflowMode, context: ContextMode, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        check_modes(kind, workflow, context)


VALID = [
    (kind, context)
    for kind in TargetKind
    for context in ContextMode
    if kind is not TargetKind.RUNNER or context is ContextMode.AUTO
]


@pytest.mark.parametrize(("kind", "context"), VALID)
def test_every_valid_combination_is_accepted(kind: TargetKind, context: ContextMode) -> None:
    check_modes(kind, WorkflowMode.SHARED, context)


def test_describe_exception_is_one_line_with_the_user_frame() -> None:
    def user_code() -> None:
        raise ValueError("bad\nsecond line")

    try:
        user_code()
    except ValueError as exc:
        text = describe_exception(exc)
    assert text.startswith("ValueError: bad (tests/unit/test_driver.py:")
    assert "\n" not in text
