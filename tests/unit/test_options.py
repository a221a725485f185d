"""One declaration per option: every surface is derived from it and says the same thing."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer

from wfleak import options
from wfleak.api import make_settings
from wfleak.cli import app
from wfleak.commands.signature import from_command_line
from wfleak.config import ConfigError, load_config
from wfleak.errors import UsageError
from wfleak.options import generate
from wfleak.options.kinds import Seconds

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", list(generate.generated()), ids=lambda p: p.name)
def test_generated_files_are_current(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == generate.generated()[path], (
        f"{path.name} is out of date: run python -m wfleak.options.generate"
    )


@pytest.mark.parametrize("option", options.OPTIONS, ids=lambda o: o.name)
def test_every_default_passes_its_own_check(option: options.Option[Any]) -> None:
    assert option.check(option.default) == option.default


@pytest.mark.parametrize("command", options.COMMANDS)
def test_each_command_takes_exactly_its_declared_options(command: str) -> None:
    group = typer.main.get_command(app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    flags = {param.name: param.opts for param in params if param.name != "target"}
    declared = options.for_command(command)
    assert flags == {option.name: list(option.flags) for option in declared}


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return load_config(path, {}, require_targets=True)


@pytest.mark.parametrize(
    ("key", "toml", "python", "expected"),
    [
        ("warmup", "-1", -1, "expected an integer ≥ 0, got integer -1"),
        ("iterations", "true", True, "expected an integer ≥ 1 or 'auto', got boolean True"),
        ("timeout", "nan", math.nan, "expected a finite number > 0, got number nan"),
        ("timeout", "inf", math.inf, "expected a finite number > 0, got number inf"),
        ("timeout", "'5'", "5", "expected a number > 0, got string '5'"),
        ("max-time", "-inf", -math.inf, "expected a finite number > 0, got number -inf"),
        ("workflow", "'new'", "new", "expected 'shared' or 'fresh', got string 'new'"),
        ("input", "[1]", [1], "expected a table of field names to values, got array"),
    ],
)
def test_config_and_api_give_the_same_message(
    tmp_path: Path, key: str, toml: str, python: object, expected: str
) -> None:
    with pytest.raises(ConfigError) as from_config:
        load(tmp_path, f"[tool.wfleak]\n{key} = {toml}\n[[tool.wfleak.targets]]\ntarget='a:B'")
    assert from_config.value.message.endswith(f": tool.wfleak.{key}: {expected}")
    name = key.replace("-", "_")
    with pytest.raises(UsageError) as from_api:
        if name == "max_time":
            options.from_python({name: python}, options.api_options())
        else:
            make_settings("a:B", **{name: python})  # type: ignore[misc]
    assert from_api.value.message == f"{name}: {expected}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("iterations", 0, "Invalid value for '--iterations' / '-n': expected an integer ≥ 1"),
        ("timeout", math.nan, "--timeout must be a finite number of seconds (got nan)"),
        ("max_time", math.inf, "--max-time must be a finite number of seconds (got inf)"),
        ("timeout", 0.0, "--timeout must be more than 0 seconds (got 0)"),
        ("input", "[1]", "--input must be a JSON object, got list"),
    ],
)
def test_command_line_values_are_checked_by_the_same_kinds(
    name: str, value: object, message: str
) -> None:
    declared = options.for_command("run")
    raw = {option.name: option.default for option in declared} | {name: value}
    with pytest.raises(UsageError) as raised:
        from_command_line(declared, raw, frozenset({name}))
    assert raised.value.message.startswith(message)


def test_exclusive_options_are_refused_on_the_command_line() -> None:
    declared = options.for_command("check")
    raw = {option.name: option.default for option in declared}
    raw |= {"input": "{}", "input_file": Path("x.json")}
    with pytest.raises(UsageError, match=r"^give --input or --input-file, not both$"):
        from_command_line(declared, raw, frozenset({"input", "input_file"}))


def test_unknown_keyword_names_the_closest_option() -> None:
    with pytest.raises(UsageError) as raised:
        make_settings("a:B", iteration=3)  # type: ignore[call-arg]
    assert raised.value.message == "unknown option 'iteration' (did you mean 'iterations'?)"


def test_seconds_refuse_what_is_not_finite() -> None:
    for value in (math.nan, math.inf, -math.inf, 0, -1, True, "1"):
        with pytest.raises(options.kinds.Invalid):
            Seconds().check(value)
    assert Seconds().check(1) == 1.0


def _examples() -> list[dict[str, Any]]:
    readme_example = re.findall(r"```toml\n(.*?)```", README, flags=re.S)[0]
    samples = (ROOT / "samples" / "wfleak-check.toml").read_text()
    return [tomllib.loads(text)["tool"]["wfleak"] for text in (readme_example, samples)]


def test_published_schema_accepts_the_documented_examples() -> None:
    schema = json.loads(generate.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for example in _examples():
        jsonschema.validate(example, schema)


@pytest.mark.parametrize(
    "table",
    [
        {"iterations": 0},
        {"iteration": 5},
        {"workflow": "new"},
        {"targets": [{"name": "x"}]},
        {"targets": [{"target": "a:B", "input": {}, "input-file": "q.json"}]},
        {"allow": [{"reason": "r"}]},
        {"allow": [{"pattern": "WFL106"}]},
    ],
)
def test_published_schema_refuses_what_the_loader_refuses(
    tmp_path: Path, table: dict[str, Any]
) -> None:
    schema = json.loads(generate.SCHEMA_PATH.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(table, schema)
    lines = ["[tool.wfleak]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in table.items() if k not in ("targets", "allow")]
    if "allow" in table:
        lines.append("allow = [" + ", ".join(_inline(rule) for rule in table["allow"]) + "]")
    for target in table.get("targets", [{"target": "a:B"}]):
        lines.append("[[tool.wfleak.targets]]")
        lines += [f"{k} = {_value(v)}" for k, v in target.items()]
    with pytest.raises(UsageError):
        load(tmp_path, "\n".join(lines))


def _value(value: object) -> str:
    return _inline(value) if isinstance(value, dict) else json.dumps(value)


def _inline(table: object) -> str:
    assert isinstance(table, dict)
    return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + "}"


def test_readme_links_the_schema_and_names_every_keyword() -> None:
    assert "(wfleak/schema/tool-wfleak.json)" in README
    assert "--wfleak-skip" in README and "@pytest.mark.wfleak(" in README
    for option in {*options.api_options(), *options.fixture_options()}:
        assert f"`{option.name}`" in README, option.name
    for option in options.OPTIONS:
        assert f"--wfleak-{option.key}" in README or not option.pytest_option, option.name
        assert option.flag in README or not option.commands, option.flag
        assert f"`{option.key}`" in README or not option.config, option.key
