"""Every holder of the leaked runs is a finding of its own, listed in the same order on every
Python version, each with its own line to change."""

from __future__ import annotations

from tests.conftest import ROOT, run_cli

TWO_HOLDERS = "tests/fixtures/two_holders.py"


def line_of(text: str) -> int:
    lines = (ROOT / TWO_HOLDERS).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_a_global_and_a_class_registry_keeping_the_same_contexts_are_two_findings() -> None:
    result = run_cli("run", f"{TWO_HOLDERS}:TwoHoldersWorkflow", "-n", "12", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == "leak"
    leaks = [f for f in report["findings"] if f["kind"] == "leak" and f["path"]]
    # Both keep the same Contexts, so they tie on size and count: the fingerprint orders them.
    assert [f["summary"].split(" retained via ")[1].split("[")[0] for f in leaks] == [
        "tests.fixtures.two_holders.Registry.by_run",
        "tests.fixtures.two_holders.HISTORY",
    ]
    assert [f["count"] for f in leaks] == [12, 12]
    # Each names the other, and their memory is counted once.
    assert leaks[0]["also_held_by"] == [leaks[1]["fingerprint"]]
    assert leaks[1]["also_held_by"] == [leaks[0]["fingerprint"]]
    assert [f["fix_site"]["lineno"] for f in leaks] == [
        line_of("Registry.by_run[len(HISTORY)] = ctx"),
        line_of("HISTORY.append(ctx)"),
    ]
    assert all(f["origin"] == "app" for f in leaks)
