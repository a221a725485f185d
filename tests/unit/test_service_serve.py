"""--serve: uvicorn on a loopback port schedules nothing of its own while the runs are
measured, and each run ends with the server holding none of its connections or tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from wfleak.model import ServiceRequest
from wfleak.probes.leftovers import scheduled_timers, wake_ups
from wfleak.service.serve import LoopbackServer


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/", hello)])


def live_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    return [t for t in scheduled_timers(loop) if not t.cancelled()]


def serving(check: Callable[[LoopbackServer], Awaitable[None]]) -> None:
    async def main() -> None:
        server = LoopbackServer(APP, concurrency=1)
        await server.start()
        try:
            await check(server)
        finally:
            await server.stop()

    asyncio.run(main())


def test_the_idle_server_schedules_no_timer() -> None:
    async def check(server: LoopbackServer) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            await asyncio.sleep(0)
        # uvicorn's own main loop would keep a 0.1 s timer of its polling on the loop.
        assert live_timers(loop) == []

    serving(check)


def test_a_run_ends_with_no_connection_task_or_timer_of_the_server() -> None:
    async def check(server: LoopbackServer) -> None:
        loop = asyncio.get_running_loop()
        state: Any = server._server.server_state
        response = await server.send(ServiceRequest("GET", "/"), None)
        await server.quiesce()
        assert response.status == 200
        assert (state.connections, state.tasks) == (set(), set())
        assert live_timers(loop) == []

    serving(check)


def test_a_keep_alive_connection_and_its_timer_do_not_outlive_the_run() -> None:
    async def check(server: LoopbackServer) -> None:
        loop = asyncio.get_running_loop()
        state: Any = server._server.server_state
        request = ServiceRequest("GET", "/", headers=[["connection", "keep-alive"]])
        response = await server.send(request, None)
        # Kept alive, the connection waits with uvicorn's keep-alive timer.
        assert response.status == 200
        assert state.connections
        assert live_timers(loop)
        await server.quiesce()
        assert state.connections == set()
        assert live_timers(loop) == []
        # The client's pool notices the closed connection and opens a new one.
        again = await server.send(request, None)
        await server.quiesce()
        assert again.status == 200

    serving(check)


def test_a_timer_that_only_wakes_a_pending_task_is_the_tasks() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def sleeper() -> None:
            while True:
                await asyncio.sleep(30)

        waiting = loop.create_future()

        async def waiter() -> None:
            await waiting

        tasks = [asyncio.create_task(sleeper()), asyncio.create_task(waiter())]
        await asyncio.sleep(0)
        own = loop.call_later(30, print)
        wake = loop.call_later(30, waiting.set_result, None)
        found = wake_ups(scheduled_timers(loop), tasks)
        try:
            assert id(own) not in found
            assert found[id(wake)] is tasks[1]
            assert [task for task in found.values() if task is tasks[0]] == [tasks[0]]
            assert len(found) == 2
        finally:
            own.cancel()
            for task in tasks:
                task.cancel()

    asyncio.run(main())
