"""``[tool.wfleak]`` in ``pyproject.toml``: the targets ``wfleak check`` gates, validated.

Keys use the command line's spelling (``max-growth-bytes`` for ``--max-growth-bytes``). The
top-level table holds defaults; each entry of ``targets`` may override any of them. Every
problem is one ``UsageError`` naming the file, the key and what was expected.
"""

from __future__ import annotations

import datetime
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfleak import jsontext, options
from wfleak.errors import UsageError
from wfleak.files import read_text
from wfleak.model import FailOn, ServiceRequest, Thresholds
from wfleak.options.kinds import Invalid, Text, describe

CONFIG_FILE = "pyproject.toml"
TABLE = "tool.wfleak"


class ConfigError(UsageError):
    """A problem in the configuration file."""


CONFIG_OPTIONS = {option.key: option for option in options.config_options()}
TOP_KEYS = (*CONFIG_OPTIONS, "targets")
TARGET_KEYS = ("name", "target", *CONFIG_OPTIONS)
_NAME = Text()


@dataclass(frozen=True)
class TargetConfig:
    """One target to check, with every option resolved (command line, target, defaults)."""

    name: str
    target: str
    options: dict[str, Any]
    """Analysis options by their configuration key; absent means the built-in default."""
    thresholds: Thresholds
    workdir: Path


@dataclass(frozen=True)
class CheckConfig:
    path: Path | None
    targets: list[TargetConfig]
    defaults: dict[str, Any]
    """The top-level table, for a target given on the command line."""


def shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, as the user typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.parent

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{shown(self.path)}: {key}: {problem}")

    def check_keys(self, table: Mapping[str, object], where: str, known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.error(where, f"unknown key '{key}'{hint}")

    def options(self, table: Mapping[str, object], where: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, option in CONFIG_OPTIONS.items():
            if key not in table:
                continue
            try:
                found[key] = option.check(table[key])
            except Invalid as exc:
                raise self.error(f"{where}.{key}{exc.at}", exc.message) from None
        problem = options.exclusive_problem(
            (CONFIG_OPTIONS[key] for key in found), lambda option: option.key
        )
        if problem:
            raise self.error(where, problem)
        if "input-file" in found:
            found["input"] = self.input_file(found.pop("input-file"), f"{where}.input-file")
        if "requests-file" in found:
            key = f"{where}.requests-file"
            from_file = self.requests_file(found.pop("requests-file"), key)
            found["requests"] = [*found.get("requests", []), *from_file]
        return found

    def requests_file(self, name: Path, key: str) -> list[ServiceRequest]:
        from wfleak.service.requests import parse_request_file

        path = self.folder / name
        if not path.is_file():
            raise self.error(key, f"No such file: {path}")
        try:
            return parse_request_file(path)
        except UsageError as exc:
            raise self.error(key, exc.message) from None

    def input_file(self, name: Path, key: str) -> dict[str, Any]:
        path = self.folder / name
        try:
            text = read_text(path, "a JSON file")
        except UsageError as exc:
            raise self.error(key, exc.message) from None
        try:
            value = jsontext.load(text)
        except jsontext.JsonProblem as exc:
            raise self.error(key, f"{path} {exc}") from None
        if not isinstance(value, dict):
            raise self.error(key, f"{path} must hold a JSON object, got {describe(value)}")
        return value


def thresholds_from(options: Mapping[str, Any]) -> Thresholds:
    defaults = Thresholds()
    return Thresholds(
        max_retained_objects=options.get("max-retained-objects", defaults.max_retained_objects),
        max_growth_bytes=options.get("max-growth-bytes", defaults.max_growth_bytes),
        fail_on=FailOn(options.get("fail-on", defaults.fail_on)),
        allow=list(options.get("allow", [])),
        allow_inconclusive=options.get("allow-inconclusive", defaults.allow_inconclusive),
        baseline_tolerance=options.get("baseline-tolerance", defaults.baseline_tolerance),
    )


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win, except that allow rules add up."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "allow":
                merged["allow"] = [*merged.get("allow", []), *value]
            else:
                merged[key] = value
    return merged


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def _plain(value: Any, where: str, path: Path) -> Any:
    """TOML values as JSON can carry them: dates and times become ISO 8601 strings (the
    form a start event's string field parses). NaN and infinity are left to the options'
    checks, which refuse them."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}.{k}" if where else k, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]", path) for i, v in enumerate(value, start=1)]
    return value


def _read_table(path: Path, required: bool) -> dict[str, Any] | None:
    text = read_text(path, "a configuration file")
    try:
        document = _plain(tomllib.loads(text), "", path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown(path)}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{shown(path)}: nested too deeply to read") from None
    table = (
        document.get("tool", {}).get("wfleak") if isinstance(document.get("tool"), dict) else None
    )
    if table is None:
        if required:
            raise ConfigError(f"{shown(path)}: no [{TABLE}] table")
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{shown(path)}: {TABLE}: expected a table, got {describe(table)}")
    return table


def load_config(
    path: Path | None, overrides: Mapping[str, Any], require_targets: bool
) -> CheckConfig:
    """Read ``path`` (or the nearest pyproject.toml) into resolved targets.

    ``overrides`` are options given on the command line; they win over the file.
    """
    explicit = path is not None
    found = path if path is not None else find_config(Path.cwd())
    if found is None:
        if require_targets:
            raise ConfigError(
                f"no {CONFIG_FILE} with a [{TABLE}] table here or above; give a TARGET or "
                "--config FILE"
            )
        return CheckConfig(None, [], dict(overrides))
    table = _read_table(found, required=explicit or require_targets)
    if table is None:
        return CheckConfig(None, [], dict(overrides))
    reader = _Reader(found)
    reader.check_keys(table, TABLE, TOP_KEYS)
    defaults = reader.options(table, TABLE)
    entries = table.get("targets", [])
    if not isinstance(entries, list):
        raise reader.error(
            f"{TABLE}.targets", f"expected an array of tables, got {describe(entries)}"
        )
    targets: list[TargetConfig] = []
    for i, entry in enumerate(entries, start=1):
        where = f"{TABLE}.targets[{i}]"
        if not isinstance(entry, dict):
            raise reader.error(where, f"expected a table, got {describe(entry)}")
        reader.check_keys(entry, where, TARGET_KEYS)
        if "target" not in entry:
            raise reader.error(where, "missing 'target' (e.g. 'package.module:Workflow')")
        for key in ("target", "name"):
            if key in entry:
                try:
                    _NAME.check(entry[key])
                except Invalid as exc:
                    raise reader.error(f"{where}.{key}", exc.message) from None
        options = merge(defaults, reader.options(entry, where), overrides)
        name = str(entry.get("name", entry["target"]))
        if any(t.name == name for t in targets):
            raise reader.error(f"{where}.name", f"another target is already named '{name}'")
        targets.append(
            TargetConfig(
                name=name,
                target=entry["target"],
                options=options,
                thresholds=thresholds_from(options),
                workdir=found.parent.resolve(),
            )
        )
    if require_targets and not targets:
        raise reader.error(f"{TABLE}.targets", "no targets to check")
    return CheckConfig(found, targets, merge(defaults, overrides))


def load_project_config(start: Path) -> CheckConfig:
    """``[tool.wfleak]`` of the nearest pyproject.toml at or above ``start``, or nothing when
    there is none (the pytest fixture reads it when the project has one)."""
    found = find_config(start)
    if found is None or _read_table(found, required=False) is None:
        return CheckConfig(None, [], {})
    return load_config(found, {}, require_targets=False)
