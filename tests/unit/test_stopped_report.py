"""A report cut short by a signal or --max-time: its verdict follows the stop."""

from __future__ import annotations

import pytest

from tests.factories import leak, report
from wfleak.model import ReasonCode, StopReason, Verdict
from wfleak.phases.report import stopped


@pytest.mark.parametrize("stop", [StopReason.INTERRUPTED, StopReason.TERMINATED])
def test_quiet_runs_cut_short_by_a_signal_are_inconclusive_not_ok(stop: StopReason) -> None:
    cut = stopped(report(), stop, f"{stop.value} after 10 measured runs")
    assert cut.verdict is Verdict.INCONCLUSIVE
    assert [r.code for r in cut.reasons] == [ReasonCode.STOPPED]
    assert cut.reasons[0].message.startswith(f"{stop.value} after 10 measured runs: ")
    assert not cut.complete


def test_a_leak_the_runs_already_show_stays_a_leak_when_a_signal_cuts_them_short() -> None:
    cut = stopped(report(leak()), StopReason.INTERRUPTED, "interrupted after 10 measured runs")
    assert cut.verdict is Verdict.LEAK


def test_max_time_gives_its_own_reason_and_replaces_an_earlier_stop_reason() -> None:
    signalled = stopped(report(), StopReason.INTERRUPTED, "interrupted after 3 measured runs")
    cut = stopped(signalled, StopReason.MAX_TIME, "stopped by --max-time after 3 measured runs")
    assert [r.code for r in cut.reasons] == [ReasonCode.BUDGET_EXCEEDED]
