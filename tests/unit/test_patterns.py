from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pytest
from packaging.version import Version

from wfleak.analysis.paths import RootKind
from wfleak.analysis.patterns import (
    APP,
    CATALOGUE,
    FRAMEWORK,
    LIBRARY,
    PYTHON,
    Affected,
    EdgeRule,
    Pattern,
    Step,
    by_id,
    canonical,
    match,
    version_key,
)
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


def test_framework_and_library_ids_are_1xx_and_app_ids_are_0xx() -> None:
    for pattern in CATALOGUE:
        expected = "0" if pattern.origin is Origin.APP else "1"
        assert pattern.id[3] == expected, pattern.id


@pytest.mark.parametrize(
    "pattern", [p for p in CATALOGUE if p.origin is not Origin.APP], ids=lambda p: p.id
)
def test_every_framework_entry_is_gated_and_matches_only_the_owners_references(
    pattern: Pattern,
) -> None:
    assert pattern.affected, "a framework entry needs the releases it affects"
    owned = [r for r in pattern.rules if r.owner == pattern.origin.value and r.package]
    assert owned, "a framework entry must require a reference made by the owner's own code"
    packages = {canonical(r.package or "") for r in owned}
    assert packages <= {canonical(a.package) for a in pattern.affected}


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
        # A range needs its last affected release or its first fixed one (or both), or a
        # first affected release when no release fixes it yet.
        assert affected.last is not None or affected.fixed_in is not None or affected.first
        if affected.first is not None and affected.last is not None:
            assert Version(affected.first) <= Version(affected.last)
        if affected.fixed_in is not None and affected.last is not None:
            assert Version(affected.last) < Version(affected.fixed_in)


@dataclass(frozen=True)
class Example:
    root_kind: str | None
    steps: tuple[Step, ...]
    target: Step


def _fw(holder: str, label: str, package: str, version: str, role: str = "") -> Step:
    return Step(holder, label, FRAMEWORK, package, version, role)


def _lib(holder: str, label: str, package: str, version: str = "1.0") -> Step:
    return Step(holder, label, LIBRARY, package, version)


def _app(holder: str, label: str) -> Step:
    return Step(holder, label, APP)


def _py(holder: str, label: str) -> Step:
    return Step(holder, label, PYTHON)


CORE_CONTEXT = "llama_index.core.workflow.context.Context"
OLD_CORE = "0.12.10.post1"
CONTEXT_TARGET = Step(CONTEXT, "", FRAMEWORK, "llama-index-workflows", "2.26.1", "context")

EXAMPLES: dict[str, Example] = {
    "WFL101": Example(
        "shared workflow",
        (
            _fw("samples.MyWorkflow", "._contexts", "llama-index-core", OLD_CORE, "workflow"),
            _py("set", "{member}"),
        ),
        Step(CORE_CONTEXT, "", FRAMEWORK, "llama-index-core", OLD_CORE, "context"),
    ),
    "WFL102": Example(
        None,
        (
            _fw(CORE_CONTEXT, "._tasks", "llama-index-core", OLD_CORE, "context"),
            _py("set", "{member}"),
        ),
        Step(CORE_CONTEXT, "", FRAMEWORK, "llama-index-core", OLD_CORE, "context"),
    ),
    "WFL107": Example(
        None,
        (
            _fw(
                "llama_index.core.workflow.workflow.Workflow",
                "._contexts",
                "llama-index-core",
                OLD_CORE,
                "workflow",
            ),
        ),
        Step("llama_index.core.workflow.workflow.Workflow", "", FRAMEWORK, "llama-index-core"),
    ),
    "WFL103": Example(
        "event loop",
        (
            _py("asyncio.events.TimerHandle", "._context (copied contextvars)"),
            _fw(
                "_contextvars.Context",
                "[ContextVar 'current_run']",
                "llama-index-workflows",
                "2.17.1",
            ),
        ),
        CONTEXT_TARGET,
    ),
    "WFL104": Example(
        "reused Context",
        (_fw(CORE_CONTEXT, "._in_progress", "llama-index-core", "0.12.5", "context"),),
        Step("llama_index.core.workflow.events.StopEvent", "", FRAMEWORK, role="event"),
    ),
    "WFL108": Example(
        "reused Context",
        (_fw(CONTEXT, "._broker_log", "llama-index-workflows", "2.8.3", "context"),),
        Step("workflows.events.StopEvent", "", FRAMEWORK, "llama-index-workflows", role="event"),
    ),
    "WFL109": Example(
        "event loop",
        (
            _py("asyncio.events.TimerHandle", "._context (copied contextvars)"),
            _fw(
                "_contextvars.Context",
                "[ContextVar 'step_worker']",
                "llama-index-workflows",
                "2.26.1",
            ),
            _fw("workflows.runtime.types.results.StepWorkerContext", ".event", "", ""),
        ),
        Step("samples.Middle", "", APP, role="event"),
    ),
    "WFL110": Example(
        "module",
        (
            _app("module", ".SESSIONS"),
            _py("dict", "['chat-1']"),
            _fw(CORE_CONTEXT, "._broker_log", "llama-index-core", "0.12.6", "context"),
        ),
        Step("samples.Middle", "", APP, role="event"),
    ),
    "WFL111": Example(
        "reused Context",
        (
            _fw(CORE_CONTEXT, "._tasks", "llama-index-core", "0.12.6", "context"),
            _py("set", "{member}"),
        ),
        Step("_asyncio.Task", "", PYTHON),
    ),
    "WFL105": Example(
        "module",
        (
            _lib(
                "llama_agents.server.store.InMemoryWorkflowStore",
                "._runs",
                "llama-agents-server",
                "0.1.5",
            ),
        ),
        Step("llama_agents.server.store.RunRecord", "", LIBRARY, "llama-agents-server", "0.1.5"),
    ),
    "WFL106": Example(
        None,
        (_fw("function", "closure 'run_workflow'", "llama-index-workflows", "2.26.1"),),
        Step("workflows.workflow.Workflow", "", FRAMEWORK, role="workflow"),
    ),
    "WFL012": Example(
        "module",
        (
            _app("module", ".server"),
            _lib(
                "llama_agents.server.server.WorkflowServer",
                "._workflow_store",
                "llama-agents-server",
            ),
            _lib(
                "llama_agents.server._store.memory_workflow_store.MemoryWorkflowStore",
                ".handlers",
                "llama-agents-server",
            ),
        ),
        Step("workflows.events.StopEvent", "", FRAMEWORK, role="event"),
    ),
    "WFL009": Example(
        "module",
        (
            _app("module", ".app"),
            _lib("fastapi.applications.FastAPI", ".state", "fastapi"),
            _lib("starlette.datastructures.State", "._state", "starlette"),
            _py("dict", "['handlers']"),
        ),
        Step("workflows.handler.WorkflowHandler", "", FRAMEWORK, role="handler"),
    ),
    "WFL010": Example(
        "module",
        (
            _lib("fastapi.routing.APIRoute", ".endpoint", "fastapi"),
            _app("function", "closure 'recent'"),
            _py("list", "[3]"),
        ),
        Step("workflows.handler.WorkflowHandler", "", FRAMEWORK, role="handler"),
    ),
    "WFL001": Example("module", (_app("module", ".HISTORY"), _py("list", "[41]")), CONTEXT_TARGET),
    "WFL002": Example(
        "shared workflow", (_app("samples.MyWorkflow", ".seen"), _py("list", "[0]")), CONTEXT_TARGET
    ),
    "WFL011": Example(
        "event loop",
        (
            _py("asyncio.events.TimerHandle", "._args[0]"),
            replace(
                _fw("_asyncio.Task", "._coro", "llama-index-workflows", "2.26.1"), pending=True
            ),
            _fw(
                "coroutine",
                "local 'ctx' in _run() at workflows/x.py:3",
                "llama-index-workflows",
                "2.26.1",
            ),
        ),
        CONTEXT_TARGET,
    ),
    "WFL003": Example(
        "pending task",
        (_app("_asyncio.Task", "._coro"), _app("coroutine", "local 'ctx' in job() at app.py:3")),
        CONTEXT_TARGET,
    ),
    "WFL004": Example(
        "event loop",
        (
            _py("asyncio.events.Handle", "._context (copied contextvars)"),
            _app("_contextvars.Context", "[ContextVar 'CURRENT_RUN']"),
        ),
        CONTEXT_TARGET,
    ),
    "WFL005": Example(
        "module",
        (
            _app("module", ".embed"),
            _py("functools._lru_cache_wrapper", "(cache)"),
            _py("dict", "[3]"),
        ),
        Step("list", "", PYTHON),
    ),
    "WFL006": Example("class", (_app("type", "._cache"), _py("dict", "['run-1']")), CONTEXT_TARGET),
    "WFL007": Example(
        "module",
        (_py("list", "[0]"), _py("ValueError", ".__traceback__"), _py("traceback", ".tb_frame")),
        CONTEXT_TARGET,
    ),
    "WFL008": Example(
        "reused Context",
        (_fw(CONTEXT, "._state", "llama-index-workflows", "2.26.1", "context"),),
        CONTEXT_TARGET,
    ),
}


def nothing_installed(_name: str) -> str | None:
    """The version lookup of an environment without any of the affected releases: a match
    can then only come from the release named on the path."""
    return None


def test_every_pattern_has_an_example() -> None:
    assert set(EXAMPLES) == {pattern.id for pattern in CATALOGUE}


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_pattern_matches_its_example_on_an_affected_release(pattern: Pattern) -> None:
    example = EXAMPLES[pattern.id]
    assert pattern.matches(example.root_kind, example.steps, example.target, nothing_installed)
    # The catalogue's first match is this entry (the order puts the specific ones first).
    kind_first = match(
        pattern.kind,
        example.root_kind,
        [*example.steps, example.target],
        example.target,
        nothing_installed,
    )
    assert kind_first is pattern


@pytest.mark.parametrize("pattern", CATALOGUE, ids=lambda p: p.id)
def test_each_rule_of_a_pattern_is_needed(pattern: Pattern) -> None:
    """Replacing any rule (or the root kinds, root owner, target) with nonsense turns the
    example's match off: the example exercises every part of the entry."""
    example = EXAMPLES[pattern.id]
    args = (example.root_kind, example.steps, example.target, nothing_installed)
    for k in range(len(pattern.rules)):
        rules = list(pattern.rules)
        rules[k] = EdgeRule(holder="nonsense", label="nonsense")
        assert not replace(pattern, rules=tuple(rules)).matches(*args), k
    if pattern.root_kinds:
        assert not replace(pattern, root_kinds=("nonsense",)).matches(*args)
    if pattern.root_owner is not None:
        assert not replace(pattern, root_owner="nonsense").matches(*args)
    if pattern.target_roles:
        assert not replace(pattern, target_roles=("nonsense",)).matches(*args)
    if pattern.target != ".*":
        assert not replace(pattern, target="nonsense").matches(*args)
    if pattern.affected:
        nonsense = tuple(
            replace(a, first="99.0", last="99.1", fixed_in="99.2") for a in pattern.affected
        )
        assert not replace(pattern, affected=nonsense).matches(*args)


def _with_version(steps: tuple[Step, ...], package: str, version: str) -> tuple[Step, ...]:
    return tuple(
        replace(s, version=version) if canonical(s.distribution) == canonical(package) else s
        for s in steps
    )


@pytest.mark.parametrize("pattern", [p for p in CATALOGUE if p.affected], ids=lambda p: p.id)
def test_gated_pattern_does_not_match_outside_its_releases(pattern: Pattern) -> None:
    example = EXAMPLES[pattern.id]
    for affected in pattern.affected:
        outside = [v for v in (affected.fixed_in,) if v is not None]
        if affected.first is not None:
            outside.append("0.0.1")
        assert outside, "a range needs a release outside it"
        for version in outside:
            steps = _with_version(example.steps, affected.package, version)
            target = _with_version((example.target,), affected.package, version)[0]
            assert not pattern.matches(example.root_kind, steps, target, nothing_installed), version
        for version in (affected.first, affected.last):
            if version is not None:
                steps = _with_version(example.steps, affected.package, version)
                assert pattern.matches(example.root_kind, steps, example.target, nothing_installed)


@pytest.mark.parametrize("pattern", [p for p in CATALOGUE if p.affected], ids=lambda p: p.id)
def test_gate_falls_back_to_the_installed_release(pattern: Pattern) -> None:
    """Without a release on the path, the installed one decides (the lookup is injected)."""
    example = EXAMPLES[pattern.id]
    (affected, *_) = pattern.affected
    bare = tuple(replace(s, version="") for s in example.steps)
    inside = affected.last or affected.first or "0.0.1"
    assert pattern.matches(example.root_kind, bare, example.target, lambda name: inside)
    outside = affected.fixed_in or "0.0.1"
    assert not pattern.matches(example.root_kind, bare, example.target, lambda name: outside)
    assert not pattern.matches(example.root_kind, bare, example.target, nothing_installed)


def _as_users(step: Step) -> Step:
    """The same reference made by a user class of the same name."""
    if step.owner in (FRAMEWORK, LIBRARY):
        return Step(step.holder, step.label, APP)
    return step


@pytest.mark.parametrize(
    "pattern", [p for p in CATALOGUE if p.origin is not Origin.APP], ids=lambda p: p.id
)
def test_user_lookalikes_never_match_a_framework_entry(pattern: Pattern) -> None:
    example = EXAMPLES[pattern.id]
    steps = tuple(_as_users(s) for s in example.steps)
    affected = pattern.affected[0]
    in_range = lambda name: affected.last or affected.first  # noqa: E731
    assert not pattern.matches(example.root_kind, steps, _as_users(example.target), in_range)


@pytest.mark.parametrize(
    ("label", "role"),
    [
        ("._tasks", "context"),
        ("._contexts", ""),
        ("._in_progress", "context"),
        ("._broker_log", "context"),
        ("._streaming_queue", "context"),
    ],
)
def test_a_user_class_named_context_matches_no_framework_entry(label: str, role: str) -> None:
    steps = [Step("myapp.state.Context", label, APP), Step("set", "{member}", PYTHON)]
    target = Step("myapp.state.Context", "", APP)
    for root_kind in (None, "module", "reused Context", "shared workflow"):
        for kind in FindingKind:
            found = match(kind, root_kind, [*steps, target], target, lambda name: OLD_CORE)
            assert found is None or found.origin is Origin.APP, found


def test_match_module_global_holding_a_context_is_wfl001() -> None:
    found = match(FindingKind.LEAK, "module", EXAMPLES["WFL001"].steps, CONTEXT_TARGET)
    assert found is by_id("WFL001")


def test_wfleaks_own_cache_is_not_wfl005() -> None:
    steps = [Step("module", "._libc", "wfleak"), _py("functools._lru_cache_wrapper", "(cache)")]
    assert match(FindingKind.LEAK, "module", steps, Step("dict", "", PYTHON)) is None


def test_a_library_module_global_is_not_wfl001() -> None:
    steps = [_lib("module", ".REGISTRY", "somelib"), _py("list", "[41]")]
    assert match(FindingKind.LEAK, "module", steps, CONTEXT_TARGET) is None


def test_a_global_holding_a_library_event_is_not_wfl001() -> None:
    """A token-counting handler's events are not the engine's: no "keep an id of the ctx"."""
    steps = [
        _app("module", ".token_counter"),
        _lib("TokenCountingHandler", ".llm_token_counts", "llama-index-core"),
    ]
    target = Step(
        "llama_index.core.callbacks.schema.TokenCountingEvent", "", LIBRARY, "llama-index-core"
    )
    assert match(FindingKind.LEAK, "module", steps, target) is None


def test_match_shared_workflow_holding_a_context_is_wfl002() -> None:
    found = match(FindingKind.LEAK, "shared workflow", EXAMPLES["WFL002"].steps, CONTEXT_TARGET)
    assert found is by_id("WFL002")


def test_the_frameworks_attribute_on_a_shared_workflow_is_not_wfl002() -> None:
    steps = [_fw("samples.MyWorkflow", "._contexts", "llama-index-core", "0.10.68", "workflow")]
    found = match(FindingKind.LEAK, "shared workflow", steps, CONTEXT_TARGET, nothing_installed)
    assert found is not None and found.origin is Origin.FRAMEWORK


def test_a_timer_holding_a_framework_contextvar_is_not_wfl004() -> None:
    steps = [
        _py("asyncio.events.TimerHandle", "._context (copied contextvars)"),
        _fw(
            "_contextvars.Context", "[ContextVar 'step_worker']", "llama-index-workflows", "2.26.1"
        ),
    ]
    found = match(FindingKind.LEAK, "event loop", steps, CONTEXT_TARGET, nothing_installed)
    assert found is None or found.origin is not Origin.APP


def test_a_finished_framework_task_is_not_an_abandoned_run() -> None:
    steps = [Step("_asyncio.Task", "._coro", FRAMEWORK, "llama-index-workflows", "2.26.1")]
    found = match(FindingKind.LEAK, "module", steps, CONTEXT_TARGET)
    assert found is None or found.id != "WFL011"


def test_match_respects_the_finding_kind() -> None:
    assert match(FindingKind.CYCLE, "module", EXAMPLES["WFL001"].steps, CONTEXT_TARGET) is None


def test_match_module_global_holding_something_else_is_not_wfl001() -> None:
    steps = EXAMPLES["WFL001"].steps
    assert match(FindingKind.LEAK, "module", steps, Step("bytes", "", PYTHON)) is None


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


def test_open_ended_range_has_no_fixed_release() -> None:
    open_ended = Affected("llama-index-workflows", "2.17.3", None, None)
    assert open_ended.includes("2.17.3") and open_ended.includes("3.0")
    assert not open_ended.includes("2.17.1")
    assert "no release fixes it yet" in open_ended.describe()


def test_readme_lists_every_pattern_id() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for pattern in CATALOGUE:
        assert f"| {pattern.id} |" in readme


def test_a_users_contextvar_named_step_worker_is_the_apps_timer_finding() -> None:
    """A ContextVar of the user's called ``step_worker`` is WFL004 (reset it), not WFL109."""
    steps = [
        _py("asyncio.events.TimerHandle", "._context (copied contextvars)"),
        _app("_contextvars.Context", "[ContextVar 'step_worker']"),
    ]
    found = match(FindingKind.LEAK, "event loop", steps, CONTEXT_TARGET, lambda name: "2.26.1")
    assert found is by_id("WFL004")


@pytest.mark.parametrize(
    ("version", "expected"), [("2.8.3", "WFL108"), ("2.9.0", None), ("2.26.1", None)]
)
def test_the_workflows_broker_log_entry_ends_with_the_2_9_runtime(
    version: str, expected: str | None
) -> None:
    steps = [_fw(CONTEXT, "._broker_log", "llama-index-workflows", version, "context")]
    target = Step(
        "workflows.events.StopEvent", "", FRAMEWORK, "llama-index-workflows", role="event"
    )
    found = match(FindingKind.LEAK, "reused Context", steps, target, nothing_installed)
    assert (
        found.id if found is not None and found.origin is Origin.FRAMEWORK else None
    ) == expected
