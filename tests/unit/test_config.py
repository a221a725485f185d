"""``[tool.wfleak]``: resolution order, and one exact message per kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfleak.config import ConfigError, load_config
from wfleak.errors import UsageError
from wfleak.model import AllowRule, FailOn


def write(folder: Path, text: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text(text)
    return path


def test_command_line_beats_target_beats_top_level(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[tool.wfleak]
iterations = 40
warmup = 1
fail-on = "cycle"
allow = [{ pattern = "WFL106", reason = "framework closure" }]

[[tool.wfleak.targets]]
target = "flows.py:A"
iterations = 20
timeout = 5
allow = [{ type = "Context", reason = "last run kept on purpose" }]

[[tool.wfleak.targets]]
name = "b"
target = "flows.py:B"
""",
    )
    config = load_config(path, {"warmup": 5}, require_targets=True)
    first, second = config.targets
    assert first.name == "flows.py:A" and second.name == "b"
    assert first.options["iterations"] == 20 and second.options["iterations"] == 40
    assert first.options["warmup"] == 5 and second.options["warmup"] == 5
    assert first.options["timeout"] == 5 and "timeout" not in second.options
    assert first.thresholds.fail_on is FailOn.CYCLE
    assert first.thresholds.allow == [
        AllowRule(reason="framework closure", pattern="WFL106"),
        AllowRule(reason="last run kept on purpose", type="Context"),
    ]
    assert second.thresholds.allow == [AllowRule(reason="framework closure", pattern="WFL106")]
    assert first.workdir == tmp_path.resolve()


def test_input_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "q.json").write_text(json.dumps({"query": "hi"}))
    path = write(
        tmp_path,
        '[tool.wfleak]\n[[tool.wfleak.targets]]\ntarget = "f.py:W"\ninput-file = "inputs/q.json"\n',
    )
    (target,) = load_config(path, {}, require_targets=True).targets
    assert target.options["input"] == {"query": "hi"}


def test_nearest_pyproject_above_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[tool.wfleak]\n[[tool.wfleak.targets]]\ntarget = "f.py:W"\n')
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    config = load_config(None, {}, require_targets=True)
    assert config.path == tmp_path / "pyproject.toml"
    assert [t.target for t in config.targets] == ["f.py:W"]


def test_a_target_on_the_command_line_needs_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {"iterations": 7}, require_targets=False)
    assert config.path is None and config.defaults == {"iterations": 7}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[tool.wfleak]\nwarmup = -1",
            "tool.wfleak.warmup: expected an integer ≥ 0, got integer -1",
        ),
        (
            "[tool.wfleak]\ntimeout = true",
            "tool.wfleak.timeout: expected a number > 0, got boolean True",
        ),
        (
            "[tool.wfleak]\ninput = 3",
            "tool.wfleak.input: expected a table of field names to values, got integer 3",
        ),
        (
            "[tool.wfleak]\nworkflow = 'new'",
            "tool.wfleak.workflow: expected 'shared' or 'fresh', got string 'new'",
        ),
        (
            "[tool.wfleak]\ntargets = 'a:B'",
            "tool.wfleak.targets: expected an array of tables, got string 'a:B'",
        ),
        (
            "[tool.wfleak]\n[[tool.wfleak.targets]]\ntarget = 'a:B'\nmax-growth = 1",
            "tool.wfleak.targets[1]: unknown key 'max-growth' (did you mean 'max-growth-bytes'?)",
        ),
        (
            "[tool.wfleak]\n[[tool.wfleak.targets]]\ntarget = 'a:B'\n"
            "[[tool.wfleak.targets]]\ntarget = 'a:B'",
            "tool.wfleak.targets[2].name: another target is already named 'a:B'",
        ),
        (
            "[tool.wfleak]\n[[tool.wfleak.targets]]\ntarget = 'a:B'\n"
            "input = {}\ninput-file = 'x.json'",
            "tool.wfleak.targets[1]: give input or input-file, not both",
        ),
        (
            "[tool.wfleak]\n[[tool.wfleak.targets]]\ntarget = 'a:B'\ninput-file = 'x.json'",
            "tool.wfleak.targets[1].input-file: No such file: {folder}/x.json",
        ),
        (
            "[tool.wfleak]\nallow = [{ reason = 'r' }]",
            "tool.wfleak.allow[1]: give exactly one of 'pattern' (e.g. 'WFL106') or 'type'",
        ),
        (
            "[tool.wfleak]\nallow = [{ reason = 'r', id = 'x' }]",
            "tool.wfleak.allow[1]: unknown key 'id'",
        ),
        ("[tool.wfleak]", "tool.wfleak.targets: no targets to check"),
        ("[tool.other]\nx = 1", "no [tool.wfleak] table"),
        (
            "[tool.wfleak\n",
            "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 13)",
        ),
    ],
)
def test_each_mistake_names_file_key_and_expectation(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, {}, require_targets=True)
    assert raised.value.message == f"{path}: " + problem.format(folder=tmp_path)


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        load_config(tmp_path / "ci.toml", {}, require_targets=True)
    assert raised.value.message == f"No such file: {tmp_path / 'ci.toml'}"
