"""Owners decided from where code lives: real framework, library and user classes."""

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

from wfleak.analysis import owner
from wfleak.analysis.edges import Hop
from wfleak.analysis.explain import _steps, target_step
from wfleak.analysis.patterns import CATALOGUE, match
from wfleak.framework import package_version
from wfleak.model import FindingKind, Origin

USER_MODULE = '''
import contextvars

CURRENT = contextvars.ContextVar("CURRENT")
HISTORY = []


class Context:
    """Named like the framework's, with the framework's attribute names."""

    def __init__(self):
        self._tasks = set()
        self._contexts = set()
        self._in_progress = []
        self._broker_log = []


class Hostile:
    """Every attribute read runs user code."""

    def __getattribute__(self, name):
        raise RuntimeError("user code ran")

    def __class_getitem__(cls, item):
        raise RuntimeError("user code ran")


class Meta(type):
    def __getattribute__(cls, name):
        raise RuntimeError("user code ran")


class Shy(metaclass=Meta):
    pass


def make():
    return Context()
'''


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[types.ModuleType]:
    path = tmp_path / "myapp_state.py"
    path.write_text(textwrap.dedent(USER_MODULE))
    spec = importlib.util.spec_from_file_location("myapp_state", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["myapp_state"] = module
    spec.loader.exec_module(module)
    try:
        yield module
    finally:
        del sys.modules["myapp_state"]
        owner.owner_of_module.cache_clear()


def test_framework_classes_are_the_frameworks_with_their_release() -> None:
    from workflows import Context, Workflow

    for cls in (Context, Workflow):
        found = owner.owner_of_type(cls)
        assert found.origin == Origin.FRAMEWORK
        assert found.package == f"llama-index-workflows {package_version('llama-index-workflows')}"


def test_llama_index_core_engine_reexport_is_the_framework() -> None:
    core = pytest.importorskip("llama_index.core.workflow")
    assert owner.owner_of_type(core.Context).origin == Origin.FRAMEWORK


def test_llama_index_core_outside_the_engine_is_a_library() -> None:
    callbacks = pytest.importorskip("llama_index.core.callbacks")
    found = owner.owner_of_type(callbacks.TokenCountingHandler)
    assert found.origin == Origin.LIBRARY
    assert found.distribution == "llama-index-core"


def test_other_distributions_are_libraries() -> None:
    aiohttp = pytest.importorskip("aiohttp")
    found = owner.owner_of_type(aiohttp.ClientSession)
    assert (found.origin, found.package) == (
        Origin.LIBRARY,
        f"aiohttp {package_version('aiohttp')}",
    )


def test_the_interpreters_own_types_are_nobodys() -> None:
    for tp in (list, dict, asyncio.TimerHandle, contextvars.Context, types.FunctionType):
        assert not owner.owner_of_type(tp).decisive, tp


def test_user_classes_are_the_apps_whatever_their_name(user_module: types.ModuleType) -> None:
    found = owner.owner_of_type(user_module.Context)
    assert found.origin == Origin.APP
    assert found.file.endswith("myapp_state.py")
    assert owner.owner_of_object(user_module).origin == Origin.APP
    assert owner.owner_of_object(user_module.make).origin == Origin.APP


def test_owner_never_runs_user_code(user_module: types.ModuleType) -> None:
    hostile = object.__new__(user_module.Hostile)
    assert owner.owner_of_object(hostile).origin == Origin.APP
    assert owner.reference_owner(hostile, ".anything", None).origin == Origin.APP
    assert owner.owner_of_type(user_module.Shy).origin == Origin.APP
    assert owner.attribute_owner(user_module.Shy(), "x").origin == Origin.APP


def test_a_run_time_module_without_a_file_is_unknown_with_a_reason() -> None:
    module = types.ModuleType("made_at_run_time")
    sys.modules["made_at_run_time"] = module
    try:
        cls = type("Thing", (), {"__module__": "made_at_run_time"})
        found = owner.owner_of_type(cls)
    finally:
        del sys.modules["made_at_run_time"]
        owner.owner_of_module.cache_clear()
    assert found.origin == Origin.UNKNOWN
    assert "made_at_run_time" in found.reason


def test_attribute_owner_is_the_class_that_introduces_it() -> None:
    from workflows import Workflow, step
    from workflows.events import StartEvent, StopEvent

    class MyWorkflow(Workflow):
        @step
        async def go(self, ev: StartEvent) -> StopEvent:
            self.seen = [ev]
            return StopEvent()

    wf = MyWorkflow()
    # The user's subclass is in this test file: the app's.
    assert owner.attribute_owner(wf, "seen").origin == Origin.APP
    framework_attribute = next(
        name for name in vars(wf) if name.startswith("_") and not name.startswith("__")
    )
    assert owner.attribute_owner(wf, framework_attribute).origin == Origin.FRAMEWORK


def test_contextvar_owner_is_the_module_that_defines_it(user_module: types.ModuleType) -> None:
    assert owner.contextvar_owner(user_module.CURRENT).origin == Origin.APP
    stray: contextvars.ContextVar[int] = contextvars.ContextVar("stray")
    found = owner.contextvar_owner(stray)
    assert found.origin == Origin.UNKNOWN and "stray" in found.reason


def test_framework_contextvars_are_the_frameworks() -> None:
    import workflows

    engine_vars = [
        value
        for name, module in list(sys.modules.items())
        if name == "workflows" or name.startswith("workflows.")
        for value in list(vars(module).values())
        if isinstance(value, contextvars.ContextVar)
    ]
    assert workflows is not None
    assert engine_vars, "the engine defines its ContextVars at module level"
    made_here = [v for v in engine_vars if owner.contextvar_owner(v).origin == Origin.FRAMEWORK]
    assert made_here, "the engine makes ContextVars of its own"
    for var in engine_vars:
        if var not in made_here:
            # Imported from another distribution (the instrumentation's): that one's.
            assert owner.contextvar_owner(var).origin == Origin.LIBRARY, var.name


def test_a_user_context_holding_the_frameworks_attribute_names_matches_no_framework_entry(
    user_module: types.ModuleType,
) -> None:
    ctx = user_module.Context()
    item = user_module.Context()
    for label, container in (
        ("._tasks", ctx._tasks),
        ("._contexts", ctx._contexts),
        ("._in_progress", ctx._in_progress),
        ("._broker_log", ctx._broker_log),
    ):
        hops = [
            Hop(user_module, ".HISTORY"),
            Hop([ctx], "[0]"),
            Hop(ctx, label),
            Hop(container, "[0]"),
        ]
        steps = _steps(hops, item)
        assert steps[2].owner == Origin.APP, label
        target = target_step(item)
        for root_kind in (None, "module", "reused Context", "shared workflow"):
            for kind in FindingKind:
                found = match(kind, root_kind, [*steps, target], target, lambda name: "0.12.5")
                assert found is None or found.origin is Origin.APP, (label, found)
    assert all(p.id for p in CATALOGUE)


def test_a_timer_holding_the_frameworks_contextvar_has_the_framework_as_owner() -> None:
    import workflows.runtime  # noqa: F401  (loads the engine's run-time ContextVars)

    engine_var = next(
        value
        for name, module in list(sys.modules.items())
        if name.startswith("workflows.")
        for value in list(vars(module).values())
        if isinstance(value, contextvars.ContextVar)
    )
    payload = ["the run's events"]
    loop = asyncio.new_event_loop()
    try:
        copied = contextvars.copy_context()
        copied.run(engine_var.set, payload)
        handle = loop.call_later(3600, print, context=copied)
        hops = [
            Hop(handle, "._context (copied contextvars)"),
            Hop(copied, f"[ContextVar '{engine_var.name}']"),
        ]
        steps = _steps(hops, payload)
        handle.cancel()
    finally:
        loop.close()
    assert steps[0].owner == owner.PYTHON
    assert steps[1].owner == Origin.FRAMEWORK
    assert steps[1].distribution == "llama-index-workflows"
    found = match(FindingKind.LEAK, "event loop", steps, target_step(payload))
    assert found is None or found.origin is not Origin.APP


def test_distribution_files_are_read_once_and_cover_the_framework() -> None:
    import workflows.context.context as module

    files = owner._distribution_files()
    assert owner._distribution_files() is files
    listed = files[owner._normalise(module.__file__ or "")]
    assert owner._identity(listed) == ("llama-index-workflows", listed.version)


def test_record_rows_are_read_as_csv_paths() -> None:
    record = 'pkg/__init__.py,sha256=abc,10\n"pkg/a,b.py",sha256=def,3\n../../bin/tool.py,,\n'
    assert list(owner._record_paths(record)) == [
        "pkg/__init__.py",
        "pkg/a,b.py",
        "../../bin/tool.py",
    ]


def test_only_paths_that_normalising_would_change_are_normalised() -> None:
    assert owner._is_normal("pkg/sub/mod.py")
    for changed in ("../bin/x.py", "./pkg/x.py", "pkg/../x.py", "pkg//x.py", "/abs/x.py"):
        assert not owner._is_normal(changed), changed
