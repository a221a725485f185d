"""The README stays true: its configuration example loads, and it names every option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from wfleak.cli import app
from wfleak.config import TARGET_KEYS, TOP_KEYS, load_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    example, service = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    (tmp_path / "pyproject.toml").write_text(example)
    config = load_config(tmp_path / "pyproject.toml", {}, require_targets=True)
    assert [t.name for t in config.targets] == ["answer", "myservice.flows:make_agent"]
    assert [r.reason for r in config.targets[1].thresholds.allow] == [
        "framework closure cycle, fixed in our next upgrade",
        "the last run's Context is kept for /debug",
    ]
    (tmp_path / "pyproject.toml").write_text(service)
    (served,) = load_config(tmp_path / "pyproject.toml", {}, require_targets=True).targets
    assert [r.line for r in served.options["requests"]] == ["POST /ask", "GET /health"]
    assert served.options["requests"][0].body == '{"q": "hi"}'
    assert served.options["serve"] is True


def test_bundled_check_configuration_is_valid() -> None:
    config = load_config(ROOT / "samples" / "wfleak-check.toml", {}, require_targets=True)
    assert [t.name for t in config.targets] == ["history", "history-fixed", "clean"]
    for target in config.targets:
        module = target.target.split(":")[0]
        assert (target.workdir / module).is_file()


def test_readme_documents_every_configuration_key() -> None:
    for key in {*TOP_KEYS, *TARGET_KEYS} - {"targets"}:
        assert f"`{key}`" in README, key


@pytest.mark.parametrize("command", ["run", "graph", "check"])
def test_readme_names_every_option_of_every_command(command: str) -> None:
    group = typer.main.get_command(app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    section = README.split(f"## `wfleak {command}`", 1)[1].split("\n## ", 1)[0]
    for param in params:
        for option in param.opts:
            if option.startswith("--") and option != "--help":
                assert option in section or option in README.split("## `wfleak run`")[1], (
                    command,
                    option,
                )
