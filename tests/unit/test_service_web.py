"""The web layer of a retention path, named as the service's developer names it, on real
FastAPI, Starlette and workflow-server objects."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llama_agents.server import MemoryWorkflowStore
from starlette.routing import Route

import samples.service_leaky as leaky
import tests.fixtures.services as fixtures
from wfleak.analysis.edges import Hop
from wfleak.analysis.paths import Root, RootKind
from wfleak.service.web import web_holder

MODULE_ROOT = Root(RootKind.MODULE, "samples.service_leaky")


def line_of(path: str, text: str) -> int:
    lines = Path(path).read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def test_app_state_is_named_with_the_line_that_fills_it() -> None:
    app: Any = leaky.app
    handlers: dict[str, object] = {"run": object()}
    state = app.state
    hops = [
        Hop(leaky, ".app"),
        Hop(app, ".state"),
        Hop(state, "._state"),
        Hop({"handlers": handlers}, "['handlers']"),
        Hop(handlers, "['run']"),
    ]
    found = web_holder(MODULE_ROOT, hops, handlers["run"])
    assert found is not None
    assert found.name == "app.state.handlers"
    assert "starlette" in found.detail and "`State`" in found.detail
    assert found.line is not None and found.site is not None
    expected = line_of(leaky.__file__, "request.app.state.handlers[run_id] = handler")
    assert (found.site.filename, found.site.lineno) == ("samples/service_leaky.py", expected)


def test_a_route_functions_closure_names_the_route() -> None:
    recent: list[object] = []

    async def items(request: Any) -> Any:
        recent.append(request)

    route = Route("/items", items, methods=["GET"])
    hops = [Hop(route, ".endpoint"), Hop(items, "closure 'recent'"), Hop(recent, "[0]")]
    found = web_holder(Root(RootKind.MODULE, "app"), hops, object())
    assert found is not None
    assert found.name.startswith("the closure of route function `")
    assert "items`" in found.name and "/items" in found.name and "GET" in found.name
    assert "`recent`" in found.detail


def test_an_unbounded_cache_behind_depends_is_a_dependencys_cache() -> None:
    cache = fixtures.settings_for
    hops = [Hop(fixtures, ".settings_for"), Hop(cache, "<cache>")]
    found = web_holder(Root(RootKind.MODULE, "tests.fixtures.services"), hops, object())
    assert found is not None
    assert found.name == "the cache of dependency `settings_for`"
    assert found.site is not None and found.site.filename == "tests/fixtures/services.py"


def test_a_background_task_is_named_with_where_it_waits_and_where_it_was_made() -> None:
    async def main() -> None:
        async def watch() -> None:
            while True:
                await asyncio.sleep(30)

        task = asyncio.create_task(watch())
        await asyncio.sleep(0)
        try:
            found = web_holder(Root(RootKind.EVENT_LOOP, "loop"), [Hop(object(), "._ready")], task)
            assert found is not None
            assert found.name.startswith("background task `")
            assert "watch`" in found.name and "tests/unit/test_service_web.py:" in found.name
            assert "still running" in found.detail
        finally:
            task.cancel()

    asyncio.run(main())


def test_the_workflow_servers_store_says_whether_it_has_a_bound() -> None:
    unbounded = web_holder(MODULE_ROOT, [Hop(MemoryWorkflowStore(max_completed=None), ".x")], 1)
    bounded = web_holder(MODULE_ROOT, [Hop(MemoryWorkflowStore(max_completed=5), ".x")], 1)
    assert unbounded is not None and bounded is not None
    assert unbounded.name == bounded.name == "the workflow server's in-memory store"
    assert "no bound" in unbounded.detail and "no bound" not in bounded.detail


def test_a_plain_module_global_has_no_web_holder() -> None:
    history: list[object] = [object()]
    hops = [Hop(leaky, ".HISTORY"), Hop(history, "[0]")]
    assert web_holder(MODULE_ROOT, hops, history[0]) is None
