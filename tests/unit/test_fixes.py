"""Fixes computed from the finding: its owner, the user's names and lines, the run mode."""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfleak.analysis import fixes, owner
from wfleak.analysis.edges import Hop
from wfleak.analysis.explain import _steps, target_step
from wfleak.analysis.paths import Root, RootKind
from wfleak.analysis.patterns import APP, FRAMEWORK, LIBRARY, PYTHON, Step, by_id, match
from wfleak.model import FindingKind, Origin, WorkflowMode

RING = [
    Step("workflows.workflow.Workflow", "._runtime", FRAMEWORK, "llama-index-workflows", "2.26.1"),
    Step("function", "closure 'handler'", FRAMEWORK, "llama-index-workflows", "2.26.1"),
    Step("dict", "['wf']", PYTHON),
]


def test_a_ring_inside_the_framework_is_the_frameworks_and_shared_is_not_told_to_share() -> None:
    shared = fixes.cycle_fix(None, RING, WorkflowMode.SHARED)
    assert shared.origin is Origin.FRAMEWORK
    assert shared.package == "llama-index-workflows 2.26.1"
    assert shared.title is not None and "inside llama-index-workflows 2.26.1" in shared.title
    assert "already shared" in shared.fix and "share it" not in shared.fix
    fresh = fixes.cycle_fix(None, RING, WorkflowMode.FRESH)
    assert "create the workflow once and share it" in fresh.fix


def test_wfl106_never_tells_a_shared_workflow_to_share_itself() -> None:
    pattern = by_id("WFL106")
    steps = [
        Step("function", "closure 'run_workflow'", FRAMEWORK, "llama-index-workflows", "2.26.1")
    ]
    assert match(FindingKind.CYCLE, None, steps, "workflows.workflow.Workflow") is pattern
    shared = fixes.cycle_fix(pattern, steps, WorkflowMode.SHARED)
    assert "Create the workflow once" not in shared.fix
    assert "already shared" in shared.fix
    assert "llama-index-workflows 2.26.1 is affected" in shared.fix
    fresh = fixes.cycle_fix(pattern, steps, WorkflowMode.FRESH)
    assert fresh.fix.startswith("Create the workflow once and share it")


def test_a_ring_through_the_users_reference_is_the_apps() -> None:
    ring = [*RING, Step("myapp.Cache", ".last", APP)]
    found = fixes.cycle_fix(None, ring, WorkflowMode.SHARED)
    assert found.origin is Origin.APP
    assert "`Cache.last`" in found.fix


def test_a_frames_locals_do_not_make_a_framework_ring_the_apps() -> None:
    ring = [*RING, Step("frame", "local 'ctx' in go() at app.py:3", APP)]
    assert fixes.cycle_fix(None, ring, WorkflowMode.SHARED).origin is Origin.FRAMEWORK


def test_a_ring_of_plumbing_only_is_unknown_with_a_reason() -> None:
    found = fixes.cycle_fix(None, [Step("dict", "['a']", PYTHON)], None)
    assert found.origin is Origin.UNKNOWN and "interpreter's own" in found.reason


def test_path_owner_is_the_first_reference_anyone_can_change() -> None:
    steps = [
        Step("asyncio.events.TimerHandle", "._context", PYTHON),
        Step("_contextvars.Context", "[ContextVar 'x']", LIBRARY, "aiohttp", "3.14.5"),
        Step("myapp.Thing", ".x", APP),
    ]
    found = fixes.path_owner(None, steps)
    assert (found.origin, found.package) == (Origin.LIBRARY, "aiohttp 3.14.5")


def test_path_owner_of_plumbing_only_is_the_leaked_objects() -> None:
    steps = [Step("asyncio.events.TimerHandle", "._args[0]", PYTHON)]
    leaked = Step("_asyncio.Task", "", FRAMEWORK, "llama-index-workflows", "2.26.1")
    assert fixes.path_owner(None, steps, leaked=leaked).origin == Origin.FRAMEWORK
    alone = fixes.path_owner(None, steps)
    assert alone.origin == Origin.UNKNOWN and alone.reason


def test_path_owner_of_wfleaks_own_reference_says_it_is_the_tools() -> None:
    found = fixes.path_owner(None, [Step("module", "._libc", owner.WFLEAK)])
    assert found.origin == Origin.UNKNOWN and "wfleak's own" in found.reason


def test_framework_fix_names_the_release_on_the_path() -> None:
    pattern = by_id("WFL103")
    steps = [Step("_contextvars.Context", "[x]", FRAMEWORK, "llama-index-workflows", "2.16.2")]
    text = fixes.framework_fix(pattern, steps, versions=lambda name: None)
    assert "llama-index-workflows 2.16.2 is affected" in text


USER_MODULE = """
import contextvars
from llama_index.core.callbacks import TokenCountingHandler

usage_meter = TokenCountingHandler()
REQUEST_RUN = contextvars.ContextVar("request_run")


def start(run):
    REQUEST_RUN.set(run)
"""


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[types.ModuleType]:
    pytest.importorskip("llama_index.core.callbacks")
    path = tmp_path / "myservice_flows.py"
    path.write_text(textwrap.dedent(USER_MODULE))
    spec = importlib.util.spec_from_file_location("myservice_flows", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["myservice_flows"] = module
    spec.loader.exec_module(module)
    try:
        yield module
    finally:
        del sys.modules["myservice_flows"]
        owner.owner_of_module.cache_clear()


def test_a_kept_library_counter_is_reset_not_weakref(user_module: types.ModuleType) -> None:
    from llama_index.core.callbacks.token_counting import TokenCountingEvent

    meter = user_module.usage_meter
    event = TokenCountingEvent(
        prompt="p", completion="c", prompt_token_count=1, completion_token_count=1
    )
    meter.llm_token_counts.append(event)
    hops = [
        Hop(user_module, ".usage_meter"),
        Hop(meter, ".llm_token_counts"),
        Hop(meter.llm_token_counts, "[0]"),
    ]
    steps = _steps(hops, event)
    leaked = target_step(event)
    assert [s.owner for s in steps] == [APP, LIBRARY, PYTHON]
    pattern = match(FindingKind.LEAK, "module", [*steps, leaked], leaked)
    assert pattern is None
    who = fixes.path_owner(pattern, steps, leaked=leaked)
    root = Root(RootKind.MODULE, "myservice_flows")
    fix = fixes.leak_fix(pattern, root, hops, steps, [user_module, meter, event], {}, who)
    assert "usage_meter.reset_counts()" in fix.text
    assert "weakref" not in fix.text
    assert fix.example.startswith("usage_meter.reset_counts()")
    assert fix.site is not None and fix.site.lineno == 5
    meter.llm_token_counts.clear()


def test_an_app_contextvar_fix_names_the_users_variable_and_line(
    user_module: types.ModuleType,
) -> None:
    run = ["the run"]
    loop = asyncio.new_event_loop()
    try:
        copied = contextvars.copy_context()
        copied.run(user_module.start, run)
        handle = loop.call_later(3600, print, context=copied)
        hops = [
            Hop(handle, "._context (copied contextvars)"),
            Hop(copied, "[ContextVar 'request_run']"),
        ]
        steps = _steps(hops, run)
        handle.cancel()
    finally:
        loop.close()
    leaked = Step("workflows.context.context.Context", "", FRAMEWORK, role="context")
    pattern = match(FindingKind.LEAK, "event loop", [*steps, leaked], leaked)
    assert pattern is by_id("WFL004")
    who = fixes.path_owner(pattern, steps)
    fix = fixes.leak_fix(
        pattern, Root(RootKind.EVENT_LOOP, "loop"), hops, steps, [handle, copied, run], {}, who
    )
    assert "REQUEST_RUN.set(run)" in fix.text
    assert fix.site is not None and fix.site.lineno == 10
    assert "REQUEST_RUN.reset(previous)" in fix.example
    assert "CURRENT_RUN" not in fix.example


def test_a_timer_holding_the_frameworks_contextvar_gets_what_the_user_can_do() -> None:
    import workflows.runtime.types.plugin as plugin

    engine_var = next(v for v in vars(plugin).values() if isinstance(v, contextvars.ContextVar))
    run = ["the run"]
    loop = asyncio.new_event_loop()
    try:
        copied = contextvars.copy_context()
        copied.run(engine_var.set, run)
        handle = loop.call_later(3600, print, context=copied)
        hops = [
            Hop(handle, "._context (copied contextvars)"),
            Hop(copied, f"[ContextVar '{engine_var.name}']"),
        ]
        steps = _steps(hops, run)
        handle.cancel()
    finally:
        loop.close()
    leaked = target_step(run)
    pattern = match(FindingKind.LEAK, "event loop", [*steps, leaked], leaked)
    assert pattern is None or pattern.origin is not Origin.APP
    who = fixes.path_owner(pattern, steps, leaked=leaked)
    assert who.origin == Origin.FRAMEWORK
    fix = fixes.leak_fix(
        pattern, Root(RootKind.EVENT_LOOP, "loop"), hops, steps, [handle, copied, run], {}, who
    )
    assert "context=contextvars.Context()" in fix.text
    assert "Reset the ContextVar" not in fix.text


def test_a_library_timer_says_which_library_object_to_close() -> None:
    aiohttp = pytest.importorskip("aiohttp")
    from aiohttp import helpers

    loop = asyncio.new_event_loop()
    try:
        handle = loop.call_later(3600, helpers.set_result, None, None)
        text = fixes._timer_here(handle)
        mine = loop.call_later(3600, print)
        assert fixes._timer_here(mine) == ""  # a builtin: nobody's to close
        handle.cancel()
        mine.cancel()
    finally:
        loop.close()
    assert f"aiohttp {aiohttp.__version__}'s (`set_result`)" in text
    assert "close the aiohttp object that owns it" in text


def test_a_timer_of_a_library_object_names_that_object() -> None:
    aiohttp = pytest.importorskip("aiohttp")

    async def scheduled() -> str:
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector()
        handle = loop.call_later(3600, connector.close)
        try:
            return fixes._timer_here(handle)
        finally:
            handle.cancel()
            await connector.close()

    text = asyncio.run(scheduled())
    assert "close the `TCPConnector` that owns it" in text


def test_a_library_counter_registered_in_the_librarys_settings_is_reset() -> None:
    callbacks = pytest.importorskip("llama_index.core.callbacks")
    from llama_index.core.callbacks.token_counting import TokenCountingEvent

    handler = callbacks.TokenCountingHandler()
    manager = callbacks.CallbackManager([handler])
    event = TokenCountingEvent(
        prompt="p", completion="c", prompt_token_count=1, completion_token_count=1
    )
    handler.llm_token_counts.append(event)
    hops = [
        Hop(manager, ".handlers"),
        Hop(manager.handlers, "[0]"),
        Hop(handler, ".llm_token_counts"),
        Hop(handler.llm_token_counts, "[0]"),
    ]
    steps = _steps(hops, event)
    assert steps[0].owner == LIBRARY
    who = fixes.path_owner(None, steps, leaked=target_step(event))
    root = Root(RootKind.MODULE, "llama_index.core")
    fix = fixes.leak_fix(None, root, hops, steps, [manager, handler, event], {}, who)
    assert "call its `reset_counts()` when a run ends" in fix.text
    assert "close or cancel" not in fix.text
