"""``wfleak check`` end to end, in a throwaway project as a user's CI would run it."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT, interrupt_cli, run_cli
from tests.junit_readers import read_junit

FAST = """
iterations = 12
warmup = 2
"""
LEAKY = """
[[tool.wfleak.targets]]
name = "history"
target = "flows/leaky_global.py:LeakyWorkflow"
"""
CLEAN = """
[[tool.wfleak.targets]]
name = "fixed"
target = "flows/fixed_global.py:FixedWorkflow"
"""
CRASHING = """
[[tool.wfleak.targets]]
name = "crashing"
target = "flows/crashing.py:CrashingWorkflow"
"""
CRASHING_SOURCE = """
from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step


class CrashingWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        raise RuntimeError("the model endpoint is down")
"""
ANNOTATION = re.compile(r"^::(error|warning|notice)( [a-z]+=[^,:\n]*(,[a-z]+=[^,:\n]*)*)?::[^\n]*$")


def make_project(folder: Path, *targets: str) -> Path:
    flows = folder / "flows"
    flows.mkdir(parents=True)
    for name in ("leaky_global.py", "fixed_global.py"):
        shutil.copy(ROOT / "samples" / name, flows / name)
    (flows / "crashing.py").write_text(CRASHING_SOURCE)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "service"\n\n[tool.wfleak]' + FAST + "".join(targets)
    )
    return folder


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_leaky_and_clean_targets_fail_with_every_ci_output(tmp_path: Path) -> None:
    project = make_project(tmp_path / "service", LEAKY, CLEAN)
    summary_file = tmp_path / "step-summary.md"
    summary_file.write_text("earlier step\n")
    result = run_cli(
        "check",
        "--json",
        str(tmp_path / "check.json"),
        "--junit-xml",
        str(tmp_path / "junit.xml"),
        "--github",
        cwd=project,
        env={"GITHUB_STEP_SUMMARY": str(summary_file), "GITHUB_WORKSPACE": str(tmp_path)},
    )
    assert result.code == 1, result.stderr
    lines = result.stdout.splitlines()
    history = next(line for line in lines if line.startswith("✗ history"))
    assert "LEAK" in history and "WFL001" in history
    assert any(line.startswith("✓ fixed") and " OK " in line for line in lines)
    assert "fix: Remove or bound `HISTORY.append(ctx)`" in result.stdout
    assert "wfleak check: 1 of 2 passed, 1 failed" in lines

    check = json.loads((tmp_path / "check.json").read_text())
    assert check["kind"] == "check"
    statuses = {t["name"]: t["status"] for t in check["targets"]}
    assert statuses == {"history": "leaking", "fixed": "passed"}
    leaky_report = check["targets"][0]["report"]
    assert leaky_report["findings"][0]["pattern_id"] == "WFL001"

    fix_line = line_of(project / "flows/leaky_global.py", "HISTORY.append(ctx)")
    annotations = [line for line in lines if line.startswith("::")]
    assert annotations and all(ANNOTATION.match(line) for line in annotations)
    assert any(
        line.startswith(f"::error file=service/flows/leaky_global.py,line={fix_line},")
        and "WFL001" in line
        for line in annotations
    )

    step_summary = summary_file.read_text()
    assert step_summary.startswith("earlier step\n## wfleak check: 1 of 2 passed")
    assert "| ❌ | `history` | LEAK |" in step_summary
    assert "| ✅ | `fixed` | OK |" in step_summary
    assert "```mermaid\nflowchart TB" in step_summary

    # What a CI system reads: valid against junit-10.xsd, and the same counts through a
    # JUnit reader.
    parsed = read_junit(tmp_path / "junit.xml")
    assert (parsed.tests, parsed.failures, parsed.errors) == (2, 1, 0)
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {case.get("name"): case for case in suites.iter("testcase")}
    assert set(cases) == {"history", "fixed"}
    failure = cases["history"].find("failure")
    assert failure is not None and "WFL001" in (failure.get("message") or "")
    assert "fix: Remove or bound" in (failure.text or "")
    assert cases["fixed"].find("failure") is None and cases["fixed"].find("error") is None
    assert suites.get("tests") == "2" and suites.get("failures") == "1"

    # The saved result is a baseline: the known leak no longer fails, a new one would.
    baseline = tmp_path / "check.json"
    known = run_cli("check", "history", "--baseline", str(baseline), cwd=project)
    assert known.code == 0, known.stdout + known.stderr
    assert "accepted: A module global keeps every run's Context" in known.stdout
    assert "(in the baseline)" in known.stdout
    without_leak = json.loads(baseline.read_text())
    without_leak["targets"][0]["report"]["findings"] = []
    without_leak["targets"][0]["report"]["runs"] = []
    clean_baseline = tmp_path / "clean-baseline.json"
    clean_baseline.write_text(json.dumps(without_leak))
    regressed = run_cli("check", "history", "--baseline", str(clean_baseline), cwd=project)
    assert regressed.code == 1, regressed.stdout + regressed.stderr
    assert regressed.stdout.startswith("✗ history")


def test_clean_targets_pass(tmp_path: Path) -> None:
    project = make_project(tmp_path / "service", CLEAN)
    result = run_cli("check", cwd=project)
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith("✓ fixed")
    assert result.stdout.splitlines()[-1] == "wfleak check: 1 of 1 passed"


def test_crashing_target_exits_3_and_the_others_are_still_checked(tmp_path: Path) -> None:
    project = make_project(tmp_path / "service", CRASHING, CLEAN)
    result = run_cli("check", "--junit-xml", str(tmp_path / "junit.xml"), cwd=project)
    assert result.code == 3, result.stdout + result.stderr
    crashed = result.stdout.splitlines()[0]
    assert crashed.startswith("! crashing  FAILED")
    assert "RuntimeError: the model endpoint is down" in crashed
    assert any(line.startswith("✓ fixed") for line in result.stdout.splitlines())
    error = ET.parse(tmp_path / "junit.xml").getroot().find(".//testcase[@name='crashing']/error")
    assert error is not None and error.get("type") == "run_failed"


def test_target_that_cannot_be_loaded_exits_2(tmp_path: Path) -> None:
    project = make_project(tmp_path / "service")
    result = run_cli("check", "flows/missing.py:Workflow", cwd=project)
    assert result.code == 2
    assert result.stdout.splitlines()[0].startswith(
        "! flows/missing.py:Workflow  ERROR   No such file: flows/missing.py"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "iterations = 'ten'",
            "tool.wfleak.iterations: expected an integer ≥ 1 or 'auto', got string 'ten'",
        ),
        ("iteration = 5", "tool.wfleak: unknown key 'iteration' (did you mean 'iterations'?)"),
        ("fail-on = 'warning'", "tool.wfleak.fail-on: expected 'leak' or 'cycle', got string"),
        (
            "[[tool.wfleak.targets]]\nname = 'a'",
            "tool.wfleak.targets[1]: missing 'target' (e.g. 'package.module:Workflow')",
        ),
        (
            "[[tool.wfleak.allow]]\npattern = 'WFL106'",
            "tool.wfleak.allow[1]: missing 'reason': say why this finding is accepted",
        ),
    ],
)
def test_broken_config_exits_2_naming_file_and_key(
    tmp_path: Path, table: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.wfleak]\n{table}\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"wfleak: error: pyproject.toml: {message}")
    assert len(result.stderr.splitlines()) == 1


FRESH_WORKFLOW_PER_RUN = """
[[tool.wfleak.targets]]
name = "fresh"
target = "flows/fixed_global.py:FixedWorkflow"
workflow = "fresh"
fail-on = "cycle"
"""


def test_fail_on_cycle_and_an_allow_rule_for_a_framework_finding(tmp_path: Path) -> None:
    # A new workflow per run leaves the runtime's closures to the cyclic GC (WFL106): a CYCLE
    # finding, so it fails only with fail-on = "cycle", and an allow rule accepts it.
    project = make_project(tmp_path / "service", FRESH_WORKFLOW_PER_RUN)
    failing = run_cli("check", cwd=project)
    assert failing.code == 1, failing.stdout + failing.stderr
    assert failing.stdout.startswith("✗ fresh  CYCLE")
    assert "WFL106" in failing.stdout.splitlines()[0]
    passing = run_cli("check", "--fail-on", "leak", cwd=project)
    assert passing.code == 0, passing.stdout + passing.stderr

    config = project / "pyproject.toml"
    config.write_text(
        config.read_text()
        + 'allow = [{ pattern = "WFL106", reason = "a new workflow per run on purpose" }]\n'
    )
    accepted = run_cli("check", cwd=project)
    assert accepted.code == 0, accepted.stdout + accepted.stderr
    assert "accepted: The runtime's per-run closures form cycles" in accepted.stdout
    assert "(a new workflow per run on purpose)" in accepted.stdout


MARKING = """
[[tool.wfleak.targets]]
name = "marking"
target = "flows/lifecycle.py:MarkingWorkflow"
"""


def test_ctrl_c_stops_the_check_keeps_what_was_measured_and_exits_130(tmp_path: Path) -> None:
    project = make_project(tmp_path / "service", MARKING, LEAKY)
    shutil.copy(ROOT / "tests" / "fixtures" / "lifecycle.py", project / "flows" / "lifecycle.py")
    result = interrupt_cli(
        "check", "-n", "100000", "--json", "../check.json", mark=tmp_path / "mark", cwd=project
    )
    assert result.code == 130, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith("- marking  STOPPED")
    assert "history" not in result.stdout
    assert "Traceback" not in result.stderr
    (checked,) = json.loads((tmp_path / "check.json").read_text())["targets"]
    assert checked["status"] == "interrupted"
    assert len(checked["report"]["runs"]) > 0
