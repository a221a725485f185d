"""The JUnit file of ``wfleak check`` is what CI readers accept: valid against junit-10.xsd and
read back by a JUnit parser with the right outcome per target."""

from __future__ import annotations

from pathlib import Path

import junitparser
import pytest
import xmlschema

from tests.junit_readers import junit_schema, read_junit
from wfleak.model import CheckReport, Environment, TargetResult, TargetStatus, Thresholds, Violation
from wfleak.report.junit import render_junit

ENVIRONMENT = Environment(python="3.11.7", platform="Linux", wfleak="0.1.0")


def target(name: str, status: TargetStatus, **fields: object) -> TargetResult:
    return TargetResult(
        name=name, target=f"flows:{name}", status=status, thresholds=Thresholds(), **fields
    )  # type: ignore[arg-type]


EVERY_STATUS = CheckReport(
    environment=ENVIRONMENT,
    targets=[
        target("clean", TargetStatus.PASSED, duration_s=1.5),
        target(
            "history",
            TargetStatus.LEAKING,
            violations=[Violation("LEAK: 12 × Context retained <via> HISTORY & co")],
            duration_s=2.25,
        ),
        target("broken", TargetStatus.NOT_LOADED, message="No module named 'flows'"),
        target("crashing", TargetStatus.RUN_FAILED, message="run 3 raised KeyError: 'x'"),
        target("stopped", TargetStatus.INTERRUPTED),
    ],
)


def write(tmp_path: Path, check: CheckReport) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(check), encoding="utf-8")
    return path


def test_every_status_is_valid_against_the_schema(tmp_path: Path) -> None:
    path = write(tmp_path, EVERY_STATUS)
    assert junit_schema().is_valid(str(path))


def test_a_reader_sees_each_target_s_outcome(tmp_path: Path) -> None:
    parsed = read_junit(write(tmp_path, EVERY_STATUS))
    assert (parsed.tests, parsed.failures, parsed.errors) == (5, 1, 2)
    (suite,) = list(parsed)
    assert suite.skipped == 1
    outcomes = {case.name: [type(r).__name__ for r in case.result] for case in suite}
    assert outcomes == {
        "clean": [],
        "history": ["Failure"],
        "broken": ["Error"],
        "crashing": ["Error"],
        "stopped": ["Skipped"],
    }
    history = next(case for case in suite if case.name == "history")
    (failure,) = history.result
    assert isinstance(failure, junitparser.Failure)
    assert failure.message == "LEAK: 12 × Context retained <via> HISTORY & co"
    assert history.time == pytest.approx(2.25)


def test_an_empty_check_is_valid(tmp_path: Path) -> None:
    parsed = read_junit(write(tmp_path, CheckReport(environment=ENVIRONMENT, targets=[])))
    assert parsed.tests == 0


def test_the_validator_rejects_what_readers_reject(tmp_path: Path) -> None:
    # The check is real: the attribute this file used to carry on <testsuites> fails it.
    text = render_junit(EVERY_STATUS).replace(
        '<testsuites name="wfleak"', '<testsuites skipped="1" name="wfleak"'
    )
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        read_junit(path)
