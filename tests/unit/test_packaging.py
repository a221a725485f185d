"""The project installs as documented: extras that exist, no engine forced, typed, licensed."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
README = (ROOT / "README.md").read_text()
SETUP = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]


def extras_named(command: str) -> set[str]:
    (extras,) = re.findall(r"pip install -q -e '\.\[([a-z,]+)\]'", command)
    return set(extras.split(","))


def setup_commands() -> list[str]:
    return [block for block in re.findall(r"```\n(.*?)```", SETUP, flags=re.S) if "-e '." in block]


def test_readme_setup_commands_name_extras_that_exist() -> None:
    try_it, tests = setup_commands()
    assert extras_named(try_it) == {"core"}
    assert "samples/" in try_it
    assert extras_named(tests) == {"core", "test"}
    assert tests.strip().endswith(".venv/bin/python -m pytest")
    assert extras_named(try_it) | extras_named(tests) <= set(PROJECT["optional-dependencies"])


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    (_, tests) = setup_commands()
    assert "'.[core,test]'" in ci
    assert "-m pytest" in ci
    assert tests.strip().startswith("python3 -m venv .venv")


def test_no_engine_or_optional_tool_is_forced() -> None:
    names = [re.split(r"[<>=\[ ;]", d, maxsplit=1)[0] for d in PROJECT["dependencies"]]
    assert not {"llama-index-core", "llama-index-workflows", "memray", "objgraph"} & set(names)
    extras = PROJECT["optional-dependencies"]
    assert extras["core"] == ["llama-index-core>=0.11.0,<0.15"]
    assert extras["workflows"] == ["llama-index-workflows>=1.0,<3"]
    assert any(d.startswith("memray") for d in extras["memray"])
    assert any(d.startswith("objgraph") for d in extras["bench"])


def test_typed_licensed_and_classified() -> None:
    assert (ROOT / "wfleak" / "py.typed").exists()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PROJECT["license"] == "MIT"
    versions = {c.rsplit(" :: ", 1)[1] for c in PROJECT["classifiers"] if "Python :: 3." in c}
    assert versions == {"3.11", "3.12", "3.13"}
    assert PROJECT["requires-python"] == ">=3.11"
    assert set(PROJECT["urls"]) >= {"Homepage", "Source", "Issues", "Changelog"}


def test_benchmarks_name_their_extra() -> None:
    assert "pip install -e\n'.[bench]'" in README or "pip install -e '.[bench]'" in README
