"""Bad input, tried as a new user would: one clear line, the documented exit code, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli

CLEAN = "samples/clean.py:CleanWorkflow"
BROKEN = "tests/fixtures/broken.py"

CASES = [
    (["run", "no_such_module_xyz:W"], 2, "No module named 'no_such_module_xyz'"),
    (
        ["run", "no_such_pkg_xyz.sub:W"],
        2,
        "No module named 'no_such_pkg_xyz' (importing 'no_such_pkg_xyz.sub')",
    ),
    (["run", "samples/missing.py:W"], 2, "No such file: samples/missing.py"),
    (["run", "samples/clean.py"], 2, "Invalid target 'samples/clean.py'"),
    (["run", "samples/clean.py:Nope"], 2, "'samples.clean' has no attribute 'Nope'"),
    (
        ["run", "tests/fixtures/syntax_error.py:W"],
        2,
        "Syntax error in tests/fixtures/syntax_error.py:3: invalid syntax",
    ),
    (
        ["run", "tests/fixtures/raises_on_import.py:W"],
        2,
        "Error while importing 'tests.fixtures.raises_on_import' "
        "(tests/fixtures/raises_on_import.py:5): KeyError: 'WFLEAK_TEST_SURELY_UNSET_API_KEY'",
    ),
    (
        ["run", "samples/clean.py:CleanWorkflw"],
        2,
        "'samples.clean' has no attribute 'CleanWorkflw'; did you mean 'CleanWorkflow'",
    ),
    (
        ["run", f"{BROKEN}:NOT_A_WORKFLOW"],
        2,
        f"{BROKEN}:NOT_A_WORKFLOW is a int object, not a Workflow class, a workflow instance, "
        "an ASGI app, or a zero-argument factory returning one",
    ),
    (
        ["run", f"{BROKEN}:factory_raising"],
        2,
        f"Factory {BROKEN}:factory_raising raised RuntimeError: no database ({BROKEN}:",
    ),
    (
        ["run", f"{BROKEN}:factory_returning_wrong_type"],
        2,
        f"Factory {BROKEN}:factory_returning_wrong_type returned a int, not a Workflow",
    ),
    (
        ["run", f"{BROKEN}:not_a_factory"],
        2,
        f"{BROKEN}:not_a_factory is a factory that needs arguments; it must take none",
    ),
    (
        ["run", f"{BROKEN}:TopicWorkflow"],
        2,
        """NeedsTopic needs topic: pass --input '{"topic": "..."}'""",
    ),
    (["run", CLEAN, "--input", "{bad"], 2, "--input is not valid JSON: Expecting property name"),
    (["run", CLEAN, "--input", "[1]"], 2, "--input must be a JSON object, got list"),
    (["run", CLEAN, "--input-file", "nowhere.json"], 2, "No such file: nowhere.json"),
    (["run", CLEAN, "--input", "{}", "--input-file", "x.json"], 2, "give --input or"),
    (["run", CLEAN, "-n", "0"], 2, "Invalid value for '--iterations' / '-n'"),
    (["run", CLEAN, "-n", "-5"], 2, "Invalid value for '--iterations' / '-n'"),
    (["run", CLEAN, "--warmup", "-1"], 2, "Invalid value for '--warmup'"),
    (["run", CLEAN, "--timeout", "0"], 2, "--timeout must be more than 0 seconds (got 0)"),
    (["run", CLEAN, "--max-time", "-1"], 2, "--max-time must be more than 0 seconds (got -1)"),
    (["run", CLEAN, "--workflow", "bogus"], 2, "Invalid value for '--workflow'"),
    (["run", CLEAN, "--context", "bogus"], 2, "Invalid value for '--context'"),
    (
        ["run", "samples/clean.py:workflow", "--workflow", "fresh"],
        2,
        "--workflow fresh needs a Workflow class or a factory; the target is one instance",
    ),
    (
        ["run", CLEAN, "--workflow", "fresh", "--context", "reuse"],
        2,
        "--context reuse cannot be combined with --workflow fresh",
    ),
    (["run", CLEAN, "--runner"], 2, f"{CLEAN} is a class CleanWorkflow, not an async function"),
    (
        ["run", CLEAN, "--json", "no/such/dir/r.json"],
        2,
        "--json no/such/dir/r.json: no such directory no/such/dir",
    ),
    (["run", CLEAN, "--json", "samples"], 2, "--json samples is a directory"),
    (["check", CLEAN, "--baseline", "nowhere.json"], 2, "No such file: nowhere.json"),
    (
        ["check", CLEAN, "--baseline", "samples/clean.py"],
        2,
        "Not a wfleak report: samples/clean.py is not valid JSON",
    ),
    (["check", "--config", "nowhere.toml"], 2, "No such file: nowhere.toml"),
    (["check", "--config", "samples"], 2, "Is a directory, not a configuration file: samples"),
    (["check", "--config", "README.md"], 2, "README.md: not valid TOML"),
    (["check"], 2, "pyproject.toml: no [tool.wfleak] table"),
    (["check", CLEAN, "--junit-xml", "samples"], 2, "--junit-xml samples is a directory"),
    (["check", CLEAN, "--json", "-", "--github"], 2, "--json - and --github both write to"),
    (["check", CLEAN, "--fail-on", "bogus"], 2, "Invalid value for '--fail-on'"),
    (["check", CLEAN, "--timeout", "0"], 2, "--timeout must be more than 0 seconds (got 0)"),
    (["check", CLEAN, "--input", "[1]"], 2, "--input must be a JSON object, got list"),
]


@pytest.mark.parametrize(("args", "code", "line"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_gets_one_line_and_exit_code(args: list[str], code: int, line: str) -> None:
    result = run_cli(*args)
    assert result.code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"wfleak: error: {line}")
    assert "Traceback" not in result.stdout


DEEP = "[" * 30_000 + "]" * 30_000
HOSTILE = [
    (
        "timeout nan",
        ["run", CLEAN, "--timeout", "nan"],
        "--timeout must be a finite number of seconds (got nan)",
    ),
    (
        "timeout inf",
        ["run", CLEAN, "--timeout", "inf"],
        "--timeout must be a finite number of seconds (got inf)",
    ),
    (
        "max-time nan",
        ["run", CLEAN, "--max-time", "nan"],
        "--max-time must be a finite number of seconds (got nan)",
    ),
    (
        "check max-time inf",
        ["check", CLEAN, "--max-time", "inf"],
        "--max-time must be a finite number of seconds (got inf)",
    ),
    (
        "input NaN",
        ["run", CLEAN, "--input", '{"x": NaN}'],
        "--input holds NaN, which is not standard JSON: use a number or null",
    ),
    (
        "input Infinity",
        ["check", CLEAN, "--input", '{"x": -Infinity}'],
        "--input holds -Infinity, which is not standard JSON: use a number or null",
    ),
    (
        "deep input",
        ["run", CLEAN, "--input", '{"x": ' + DEEP + "}"],
        "--input is nested too deeply to read",
    ),
    (
        "deep input-file",
        ["run", CLEAN, "--input-file", "{tmp}/deep.json"],
        "--input-file {tmp}/deep.json is nested too deeply to read",
    ),
    (
        "input-file /dev/zero",
        ["run", CLEAN, "--input-file", "/dev/zero"],
        "/dev/zero is larger than 64 MiB: not a JSON file",
    ),
    (
        "deep graph --from",
        ["graph", "--from", "{tmp}/deep.json", "-o", "{tmp}/g.dot"],
        "Not a wfleak report: {tmp}/deep.json is nested too deeply",
    ),
    (
        "deep baseline",
        ["check", CLEAN, "--baseline", "{tmp}/deep.json"],
        "Not a wfleak report: {tmp}/deep.json is nested too deeply",
    ),
    (
        "config input-file /dev/zero",
        ["check", "--config", "{tmp}/zero.toml"],
        "{tmp}/zero.toml: tool.wfleak.input-file: /dev/zero is larger than 64 MiB: not a JSON file",
    ),
    (
        "long file name",
        ["run", "a" * 300 + ".py:W"],
        "Invalid target '"
        + "a" * 59
        + "…': the name '"
        + "a" * 59
        + "…' is longer than the 255 bytes a file name may have",
    ),
    (
        "20 000-part name",
        ["run", "a." * 20_000 + "a:W"],
        "Invalid target '"
        + "a." * 29
        + "a…': 40003 characters, more than the 1024 a target may have",
    ),
    (
        "3 000 folders deep",
        ["run", "a/" * 3_000 + "x.py:W"],
        "Invalid target '"
        + "a/" * 29
        + "a…': 6006 characters, more than the 1024 a target may have",
    ),
    (
        "escape in target",
        ["run", "x\x1b[2J.py:W"],
        "Invalid target 'x\\x1b[2J.py:W': it holds control characters",
    ),
]


@pytest.fixture
def hostile_files(tmp_path: Path) -> Path:
    (tmp_path / "deep.json").write_text('{"x": ' + DEEP + "}")
    (tmp_path / "zero.toml").write_text('[tool.wfleak]\ninput-file = "/dev/zero"\n')
    return tmp_path


@pytest.mark.usefixtures("nothing_left")
@pytest.mark.parametrize(("args", "line"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_input_gets_one_line_and_exit_2(
    hostile_files: Path, args: list[str], line: str
) -> None:
    tmp = str(hostile_files)
    result = run_cli(*(arg.replace("{tmp}", tmp) for arg in args))
    assert result.code == 2, result.stderr[-500:]
    assert result.stderr.strip().splitlines() == [f"wfleak: error: {line.replace('{tmp}', tmp)}"]
    assert "Traceback" not in result.stdout


def test_unreadable_input_file(tmp_path: Path) -> None:
    folder = tmp_path / "input.json"
    folder.mkdir()
    result = run_cli("run", CLEAN, "--input-file", str(folder))
    assert result.code == 2
    assert result.stderr.strip() == f"wfleak: error: Is a directory, not a JSON file: {folder}"


def test_check_help_teaches_the_exit_codes() -> None:
    result = run_cli("check", "--help")
    assert result.code == 0
    flat = " ".join(result.stdout.split())
    assert "Exit codes: 0 every target passed; 1 at least one target leaks" in flat
    assert "2 usage or configuration error, or a target could not be loaded" in flat


def test_help_teaches_the_exit_codes() -> None:
    result = run_cli("run", "--help")
    assert result.code == 0
    flat = " ".join(result.stdout.split())
    assert "Exit codes: 0 analysis done" in flat
    assert "130 interrupted" in flat
    for option in ("--iterations", "--workflow", "--context", "--runner", "--memray", "--json"):
        assert option in result.stdout


def test_hostile_reprs_eq_and_hash_do_not_break_the_report() -> None:
    result = run_cli(
        "run", "tests/fixtures/hostile.py:HostileObjectsWorkflow", "-n", "8", "--json", "-"
    )
    assert result.code == 0, result.stderr[-2000:]
    report = result.report
    assert report["verdict"] == "leak"
    assert "Traceback" not in result.stderr
    # No label anywhere is allowed to carry a megabyte repr.
    assert len(result.stdout) < 200_000
    labels = [n["label"] for f in report["findings"] for n in f["nodes"]]
    assert labels and all(len(label) <= 80 for label in labels)
    assert any(f["pattern_id"] == "WFL001" for f in report["findings"])


def test_megabytes_printed_by_the_workflow_stay_out_of_the_report() -> None:
    result = run_cli("run", "tests/fixtures/hostile.py:ChattyWorkflow", "-n", "6", "--json", "-")
    assert result.code == 0
    assert result.report["verdict"] == "ok"
    assert "chatter" not in result.stdout and "noise" not in result.stderr


def test_workflow_writing_to_the_report_path_cannot_corrupt_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    import os

    os.environ["WFLEAK_TEST_CLOBBER"] = str(out)
    try:
        result = run_cli(
            "run",
            "tests/fixtures/hostile.py:OutputClobberingWorkflow",
            "-n",
            "6",
            "--json",
            str(out),
        )
    finally:
        del os.environ["WFLEAK_TEST_CLOBBER"]
    assert result.code == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "ok"
    assert report["schema_version"] == 2


@pytest.mark.parametrize("command", ["run app.py:Flow", "check", "graph --from r.json -o r.mmd"])
def test_a_current_directory_that_no_longer_exists_is_one_line(
    tmp_path: Path, command: str
) -> None:
    gone = tmp_path / "gone"
    script = f"mkdir {gone} && cd {gone} && rmdir {gone} && exec {sys.executable} -m wfleak"
    script += f" {command}"
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=cli_env())
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "wfleak: error: the current directory no longer exists: change to the project's "
        "directory and run again"
    )
