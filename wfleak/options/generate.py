"""The files derived from the option declarations, and ``python -m wfleak.options.generate``.

Two files are generated rather than built at import time: the JSON Schema of
``[tool.wfleak]`` (published for editors and validators) and the typed keyword arguments
(type checkers read source, not registries). ``tests/unit/test_options.py`` fails when either
is out of date; running this module rewrites both.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from wfleak import options
from wfleak.options import Option
from wfleak.options.kinds import Text

PACKAGE = Path(__file__).resolve().parent.parent
SCHEMA_PATH = PACKAGE / "schema" / "tool-wfleak.json"
TYPED_PATH = PACKAGE / "options" / "typed.py"
SCHEMA_ID = "https://github.com/wfleak/wfleak/blob/main/wfleak/schema/tool-wfleak.json"


def _property(option: Option[Any]) -> dict[str, Any]:
    described: dict[str, Any] = {"description": option.help, **option.kind.schema()}
    if option.default is not None:
        described["default"] = option.default
    return described


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``[tool.wfleak]`` in pyproject.toml."""
    keys = {option.key: _property(option) for option in options.config_options()}
    exclusive = [
        {"not": {"required": [first.key, second.key]}}
        for first, second in options.EXCLUSIVE
        if first.config and second.config
    ]
    target = {
        "type": "object",
        "description": "One workflow to check; its keys override the top-level ones.",
        "properties": {
            "target": {
                "description": "'module:attr' or 'file.py:attr', as for 'wfleak run'.",
                **Text().schema(),
            },
            "name": {"description": "The target's name in every output.", **Text().schema()},
            **keys,
        },
        "required": ["target"],
        "additionalProperties": False,
        "allOf": exclusive,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "[tool.wfleak]",
        "description": "Configuration of 'wfleak check' in pyproject.toml: defaults for every "
        "target at the top level, the targets in [[tool.wfleak.targets]].",
        "type": "object",
        "properties": {
            **keys,
            "targets": {"type": "array", "items": target},
        },
        "additionalProperties": False,
        "allOf": exclusive,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _typed_dict(name: str, base: str, doc: str, members: list[Option[Any]]) -> list[str]:
    lines = ["", "", f"class {name}({base}, total=False):", f'    """{doc}"""', ""]
    lines += [f"    {option.name}: {_annotation(option)}" for option in members]
    return lines


def _annotation(option: Option[Any]) -> str:
    if option.default is None:
        return f"{option.kind.annotation} | None"
    return option.kind.annotation


def typed_text() -> str:
    """The source of :mod:`wfleak.options.typed`."""
    settings = options.setting_options()
    analyze = [o for o in options.api_options() if o not in settings]
    check = [o for o in options.fixture_options() if o not in settings and o not in analyze]
    needed = {pair for o in (*settings, *analyze, *check) for pair in o.kind.imports}
    plain = sorted(module for module, name in needed if not name)
    grouped: dict[str, set[str]] = {}
    for module, name in needed:
        if name:
            grouped.setdefault(module, set()).add(name)
    stdlib = [f"import {module}" for module in plain]
    stdlib += [
        f"from {module} import {', '.join(sorted(names))}"
        for module, names in sorted(grouped.items())
        if not module.startswith("wfleak")
    ]
    own = [
        f"from {module} import {', '.join(sorted(names))}"
        for module, names in sorted(grouped.items())
        if module.startswith("wfleak")
    ]
    lines = [
        '"""The keyword arguments of the Python API and the pytest fixture, typed.',
        "",
        "Generated from :mod:`wfleak.options` by ``python -m wfleak.options.generate``; do not",
        "edit. The checks, defaults and help are in :mod:`wfleak.options`.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *stdlib,
        "from typing import TypedDict",
        "",
        *own,
    ]
    lines += _typed_dict(
        "SettingsOptions",
        "TypedDict",
        "Keyword arguments of :func:`wfleak.api.make_settings`.",
        settings,
    )
    lines += _typed_dict(
        "AnalyzeOptions",
        "SettingsOptions",
        "Keyword arguments of :func:`wfleak.analyze`.",
        analyze,
    )
    lines += _typed_dict(
        "CheckOptions",
        "AnalyzeOptions",
        "Keyword arguments of the ``wfleak_check`` fixture and ``@pytest.mark.wfleak``.",
        check,
    )
    return "\n".join(lines) + "\n"


def generated() -> dict[Path, str]:
    return {SCHEMA_PATH: schema_text(), TYPED_PATH: typed_text()}


def main() -> int:
    for path, text in generated().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(PACKAGE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
