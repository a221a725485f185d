"""``--serve``: the app under uvicorn on a loopback port of the worker's own event loop, with
requests sent over real sockets by an HTTP client.

uvicorn's signal handling is off (wfleak's own rules for Ctrl-C and termination apply), and so
is its lifespan: wfleak runs the lifespan itself, as in-process, so a failed start-up is
reported the same way in both modes. Readiness is uvicorn's own start-up finishing, not a
delay.

What the server itself schedules must not pass for what the runs left on the loop, so the
server schedules nothing while the runs are measured: it waits for its stop on an event instead
of polling on a 0.1 s timer, and every run ends only once the server has closed the run's
connections (with their keep-alive timers) and its request tasks have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn

from wfleak.errors import WorkflowFailed
from wfleak.model import ServiceRequest
from wfleak.service.asgi import EXCERPT_BYTES, ASGIApp, Response, excerpt_of

HOST = "127.0.0.1"
SHUTDOWN_GRACE_S = 5
CLOSE_TICKS = 100
"""Loop iterations a run waits for the server to see its closed connections go."""


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        # Before uvicorn's own __init__, which sets should_exit.
        self._exit = asyncio.Event()
        super().__init__(config)
        self.ready = asyncio.Event()

    @property
    def should_exit(self) -> bool:
        return self._exit.is_set()

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value:
            self._exit.set()
        else:
            self._exit.clear()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        # uvicorn's own loop sleeps 0.1 s between checks of should_exit: a new timer every
        # tick, scheduled during the runs, that would read as a timer the runs left and make
        # the settle phase's verdict depend on when it last fired. One tick sets the default
        # headers (the Date header then stays the start-up's); the stop is an event.
        if not await self.on_tick(0):
            await self._exit.wait()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


class LoopbackServer:
    """uvicorn serving the app on 127.0.0.1 (a free port), and the client that calls it."""

    def __init__(self, app: ASGIApp, concurrency: int) -> None:
        config = uvicorn.Config(
            app,
            host=HOST,
            port=0,
            lifespan="off",
            log_config=None,
            log_level=logging.WARNING,
            access_log=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server = _Server(config)
        self._concurrency = concurrency
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve())
        await self._server.ready.wait()
        servers = getattr(self._server, "servers", [])
        sockets = [s for server in servers for s in (server.sockets or ())]
        if not self._server.started or not sockets:
            raise WorkflowFailed(f"uvicorn could not serve the app on {HOST}")
        port = sockets[0].getsockname()[1]
        limits = httpx.Limits(
            max_connections=self._concurrency, max_keepalive_connections=self._concurrency
        )
        self._client = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            follow_redirects=False,
            timeout=None,
            limits=limits,
            trust_env=False,
        )

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot bind; the start-up reports it.
            pass
        finally:
            self._server.ready.set()

    async def send(self, request: ServiceRequest, disconnect_after: int | None) -> Response:
        assert self._client is not None
        headers = [(name, value) for name, value in request.headers]
        if not any(name.lower() == "connection" for name, _ in headers):
            # One connection per request: uvicorn's keep-alive timer, scheduled from inside
            # the response, would hold the last request's contextvars for its 5 s and blur
            # one run into the next.
            headers.append(("connection", "close"))
        excerpt = bytearray()
        chunks = 0
        async with self._client.stream(
            request.method, request.path, content=request.body.encode(), headers=headers
        ) as response:
            status = response.status_code
            async for chunk in response.aiter_raw():
                if not chunk:
                    continue
                chunks += 1
                if len(excerpt) < EXCERPT_BYTES:
                    excerpt += chunk[: EXCERPT_BYTES - len(excerpt)]
                if disconnect_after is not None and chunks >= disconnect_after:
                    # Leaving the block unread closes the connection: the server sees the
                    # client go away.
                    break
        return Response(status=status, excerpt=excerpt_of(bytes(excerpt)))

    async def quiesce(self) -> None:
        """End the run as in-process: once the server's request tasks have finished (a
        FastAPI background task runs in them, after the response) and it holds no connection.

        An idle keep-alive connection is closed as uvicorn closes it at shutdown, so neither
        it nor its keep-alive timer outlives the run it served.
        """
        state = self._server.server_state
        while state.tasks:
            await asyncio.wait(set(state.tasks))
        for connection in list(state.connections):
            connection.shutdown()
        # A closed transport tells its protocol on a later loop iteration.
        for _ in range(CLOSE_TICKS):
            if not state.connections:
                break
            await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), SHUTDOWN_GRACE_S * 2)
        if not self._task.done():
            self._task.cancel()
        self._task = None


def describe_transport_error(exc: BaseException) -> str:
    message: Any = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ")
