from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from packaging.version import Version

from wfleak.analysis.paths import RootKind
from wfleak.analysis.patterns import CATALOGUE, Pattern, Step, by_id, match, version_key
from wfleak.framework import package_version
from wfleak.model import FindingKind, Origin

CONTEXT = "workflows.context.context.Context"


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("0.12.5", "0.12.6"),
        ("0.12.6", "0.12.10.post1"),
        ("0.12.10.post1", "0.12.24"),
        ("0.12.24", "0.12.24.post1"),
        ("0.12.24.post1", "0.12.25"),
        ("0.12.25", "0.14.0"),
        ("2.17.1", "2.17.3"),
        ("1.0rc1", "1.0"),
    ],
)
def test_version_key_orders_releases(lower: str, higher: str) -> None:
    assert version_key(lower) < version_key(higher)
    assert not version_key(higher) < version_key(lower)


def test_version_key_sorts_a_release_list() -> None:
    releases = ["0.14.0", "0.12.24.post1", "0.12.10.post1", "0.12.5", "0.12.25", "0.12.24"]
    assert sorted(releases, key=version_key) == [
        "0.12.5",
        "0.12.10.post1",
        "0.12.24",
        "0.12.24.post1",
        "0.12.25",
        "0.14.0",
    ]


def test_pattern_ids_are_unique_and_well_formed() -> None:
    ids = [pattern.id for pattern in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"WFL\d{3}", pattern_id) for pattern_id in ids)


def test_framework_pattern_ids_are_1xx_and_app_ids_are_0xx() -> None:
    for pattern in CATALOGUE:
        expected = "1" if pattern.origin is Origin.FRAMEWORK else "0"
        assert pattern.id[3] == expected, pattern.id


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_pattern_texts_are_filled_in(pattern: Pattern) -> None:
    for text in (pattern.title, pattern.explanation, pattern.fix, pattern.fix_example):
        assert text.strip()


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_pattern_root_kinds_are_real_root_kinds(pattern: Pattern) -> None:
    known = {kind.value for kind in RootKind}
    assert set(pattern.root_kinds) <= known


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_pattern_affected_ranges_are_consistent(pattern: Pattern) -> None:
    for affected in pattern.affected:
        # A range needs its last affected release or its first fixed one (or both).
        assert affected.last is not None or affected.fixed_in is not None
        if affected.first is not None and affected.last is not None:
            assert Version(affected.first) <= Version(affected.last)
        if affected.fixed_in is not None and affected.last is not None:
            assert Version(affected.last) < Version(affected.fixed_in)


@dataclass(frozen=True)
class Example:
    root_kind: str | None
    steps: tuple[Step, ...]
    target: str


EXAMPLES: dict[str, Example] = {
    "WFL101": Example(
        "shared workflow",
        (Step("llama_index.core.workflow.workflow.MyWorkflow", "._contexts"),),
        "llama_index.core.workflow.context.Context",
    ),
    "WFL102": Example(
        None,
        (
            Step("llama_index.core.workflow.context.Context", "._tasks"),
            Step("set", "{member}"),
        ),
        "llama_index.core.workflow.context.Context",
    ),
    "WFL107": Example(
        None,
        (Step("llama_index.core.workflow.workflow.Workflow", "._contexts"),),
        "llama_index.core.workflow.workflow.Workflow",
    ),
    "WFL103": Example(
        "event loop",
        (Step("asyncio.events.TimerHandle", "._context (copied contextvars)"),),
        CONTEXT,
    ),
    "WFL104": Example(
        "reused Context",
        (Step("llama_index.core.workflow.context.Context", "._in_progress"),),
        "llama_index.core.workflow.events.StopEvent",
    ),
    "WFL105": Example(
        "module",
        (Step("llama_agents.server.store.InMemoryWorkflowStore", "._runs"),),
        "llama_agents.server.store.RunRecord",
    ),
    "WFL106": Example(
        None,
        (Step("function", "closure 'run_workflow'"),),
        "workflows.workflow.Workflow",
    ),
    "WFL009": Example(
        "module",
        (
            Step("fastapi.applications.FastAPI", ".state"),
            Step("starlette.datastructures.State", "._state"),
            Step("dict", "['handlers']"),
        ),
        "workflows.handler.WorkflowHandler",
    ),
    "WFL010": Example(
        "module",
        (
            Step("fastapi.routing.APIRoute", ".endpoint"),
            Step("function", "closure 'recent'"),
            Step("list", "[3]"),
        ),
        "workflows.handler.WorkflowHandler",
    ),
    "WFL001": Example("module", (Step("module", ".HISTORY"), Step("list", "[41]")), CONTEXT),
    "WFL002": Example(
        "shared workflow", (Step("samples.MyWorkflow", ".seen"), Step("list", "[0]")), CONTEXT
    ),
    "WFL003": Example(
        "pending task",
        (Step("_asyncio.Task", "._coro"), Step("coroutine", "local 'ctx' in job() at app.py:3")),
        CONTEXT,
    ),
    "WFL004": Example(
        "event loop",
        (Step("asyncio.events.Handle", "._context (copied contextvars)"),),
        CONTEXT,
    ),
    "WFL005": Example(
        "module", (Step("functools._lru_cache_wrapper", "(cache)"), Step("dict", "[3]")), CONTEXT
    ),
    "WFL006": Example("class", (Step("type", "._cache"), Step("dict", "['run-1']")), CONTEXT),
    "WFL007": Example(
        "module",
        (Step("list", "[0]"), Step("ValueError", ".__traceback__"), Step("traceback", ".tb_frame")),
        CONTEXT,
    ),
    "WFL008": Example(
        "reused Context", (Step("workflows.context.context.Context", "._state"),), CONTEXT
    ),
}


def test_every_pattern_has_an_example() -> None:
    assert set(EXAMPLES) == {pattern.id for pattern in CATALOGUE}


def _installed_in_affected_range(pattern: Pattern) -> bool:
    if not pattern.affected:
        return True
    for affected in pattern.affected:
        installed = package_version(affected.package)
        if installed is None:
            continue
        low_ok = affected.first is None or Version(installed) >= Version(affected.first)
        if affected.last is None:
            # Only the first fixed release is on record.
            if low_ok and Version(installed) < Version(affected.fixed_in or "0"):
                return True
        elif low_ok and Version(installed) <= Version(affected.last):
            return True
    return False


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_pattern_matches_its_example(pattern: Pattern) -> None:
    example = EXAMPLES[pattern.id]
    matched = pattern.matches(example.root_kind, example.steps, example.target)
    assert matched is _installed_in_affected_range(pattern)


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_pattern_without_its_required_references_or_root_does_not_match(pattern: Pattern) -> None:
    example = EXAMPLES[pattern.id]
    if pattern.rules:
        assert not pattern.matches(example.root_kind, (), example.target)
        unrelated = (Step("somewhere.Holder", ".unrelated"),)
        assert not pattern.matches(example.root_kind, unrelated, example.target)
    if pattern.root_kinds:
        assert not pattern.matches("no such root", example.steps, example.target)
    if pattern.target != ".*":
        assert not pattern.matches(example.root_kind, example.steps, "builtins.bytes")


def test_match_module_global_holding_a_context_is_wfl001() -> None:
    steps = [Step("module", ".HISTORY"), Step("list", "[41]")]
    found = match(FindingKind.LEAK, "module", steps, CONTEXT)
    assert found is by_id("WFL001")


def test_match_shared_workflow_holding_a_context_is_wfl002() -> None:
    steps = [Step("samples.leaky_self.MyWorkflow", ".seen"), Step("list", "[0]")]
    found = match(FindingKind.LEAK, "shared workflow", steps, CONTEXT)
    assert found is by_id("WFL002")


def test_match_respects_the_finding_kind() -> None:
    steps = [Step("module", ".HISTORY"), Step("list", "[41]")]
    assert match(FindingKind.CYCLE, "module", steps, CONTEXT) is None


def test_match_module_global_holding_something_else_is_not_wfl001() -> None:
    steps = [Step("module", ".HISTORY"), Step("list", "[41]")]
    assert match(FindingKind.LEAK, "module", steps, "builtins.bytes") is None


def test_by_id_unknown_raises() -> None:
    with pytest.raises(KeyError):
        by_id("WFL999")


@pytest.mark.parametrize(
    ("installed", "affected"),
    [
        (None, False),
        ("2.13.9", False),
        ("2.14.0rc1", False),  # a pre-release of the first affected release comes before it
        ("2.14.0", True),
        ("2.16.2", True),
        ("2.17.1", True),
        ("2.17.1.post1", False),
        ("2.17.3", False),
        ("2.26.1", False),
    ],
)
def test_affected_range_against_installed_version(
    monkeypatch: pytest.MonkeyPatch, installed: str | None, affected: bool
) -> None:
    pattern = by_id("WFL103")
    (only,) = pattern.affected
    assert (only.first, only.last) == ("2.14.0", "2.17.1")
    asked: list[str] = []

    def fake_version(name: str) -> str | None:
        asked.append(name)
        return installed

    monkeypatch.setattr("wfleak.analysis.patterns.package_version", fake_version)
    assert pattern.applies_to_installed() is affected
    assert asked == ["llama-index-workflows"]
    # The independent oracle agrees with the expectation written above.
    if installed is not None:
        assert (Version(only.first) <= Version(installed) <= Version(only.last)) is affected


def test_readme_lists_every_pattern_id() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for pattern in CATALOGUE:
        assert f"| {pattern.id} |" in readme
