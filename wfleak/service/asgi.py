"""wfleak's own ASGI driver: lifespan start-up and shutdown, requests with streamed bodies,
and clients that go away.

httpx's ASGITransport buffers whole bodies and runs no lifespan, so it cannot drop a client
after a few chunks of a stream or start the app as a server does. The callables handed to the
app are bound methods of wfleak's own classes, so a reference the app keeps to them never
reads as a path through the application.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from wfleak.driver import describe_exception
from wfleak.model import ServiceRequest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXCERPT_BYTES = 200
"""How much of a failed response's body the report quotes."""
ASGI_VERSION = {"version": "3.0", "spec_version": "2.3"}
SERVER_ERROR = b"Internal Server Error"


class LifespanFailed(Exception):
    """The app's lifespan start-up failed; the message is its one line."""


@dataclass(frozen=True)
class Response:
    """What one request got: numbers and short text only, never the app's objects."""

    status: int
    excerpt: str = ""
    error: str | None = None
    """The one line of an exception the app did not handle."""


def excerpt_of(body: bytes) -> str:
    text = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    # The app's bytes go into terminal lines and reports: no control characters.
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())


class ErrorCatcher:
    """Wraps the app as a server does: an exception the app lets escape becomes a 500 (when
    no response was started) and is recorded as one line for the run that caused it."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self.errors: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # As uvicorn does: each request sees a shallow copy of what the lifespan stored.
            scope["state"] = dict(self._state)
        guard = _StartGuard(send)
        try:
            await self._app(scope, receive, guard.send)
        except Exception as exc:
            self.errors.append(describe_exception(exc))
            # The traceback's frames hold the request's locals.
            exc.__traceback__ = None
            del exc
            if not guard.started:
                await guard.send({"type": "http.response.start", "status": 500, "headers": []})
                await guard.send({"type": "http.response.body", "body": SERVER_ERROR})


class _StartGuard:
    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        if message.get("type") == "http.response.start":
            self.started = True
        await self._send(message)


class Lifespan:
    """The lifespan protocol, run once: start-up before the warm-up, shutdown at the end."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._asked = False
        self._supported = True
        self._error: str | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": dict(ASGI_VERSION), "state": self.state}
        try:
            await self._app(scope, self._receive, self._send)
        except Exception as exc:
            self._error = describe_exception(exc)
            exc.__traceback__ = None
            del exc
        finally:
            await self._outbox.put({"type": "wfleak.lifespan.ended"})

    async def _receive(self) -> Message:
        self._asked = True
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        await self._outbox.put(dict(message))

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._outbox.get()
        kind = reply.get("type")
        if kind == "lifespan.startup.complete":
            return
        if kind == "lifespan.startup.failed":
            raise LifespanFailed(self._failure_line(reply))
        # The app ended without answering.
        if not self._asked:
            # It never read the start-up message: it has no lifespan (uvicorn's "auto").
            self._supported = False
            return
        raise LifespanFailed(self._error or "the app ended its lifespan during start-up")

    def _failure_line(self, reply: Message) -> str:
        if self._error is None and self._task is not None and not self._task.done():
            return _last_line(reply.get("message")) or "lifespan.startup.failed"
        return self._error or _last_line(reply.get("message")) or "lifespan.startup.failed"

    async def shutdown(self, timeout: float | None) -> str | None:
        """Shut the app down; a problem is returned as one line, not raised."""
        if self._task is None or not self._supported or self._task.done():
            return None
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            reply = await asyncio.wait_for(self._outbox.get(), timeout)
        except TimeoutError:
            self._task.cancel()
            return f"lifespan shutdown did not finish within {timeout:g}s"
        if reply.get("type") == "lifespan.shutdown.failed":
            return f"lifespan shutdown failed: {_last_line(reply.get('message')) or '?'}"
        if reply.get("type") == "wfleak.lifespan.ended" and self._error is not None:
            return f"lifespan shutdown failed: {self._error}"
        return None


def _last_line(message: object) -> str:
    if not isinstance(message, str):
        return ""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def split_target(path: str) -> tuple[str, bytes]:
    raw_path, _, query = path.partition("?")
    return raw_path, query.encode("latin-1", errors="replace")


class Exchange:
    """One request sent straight through the app's ASGI interface."""

    def __init__(self, request: ServiceRequest, disconnect_after: int | None) -> None:
        self._request = request
        self._disconnect_after = disconnect_after
        self._body_sent = False
        self._gone = asyncio.Event()
        self._chunks = 0
        self._status = 0
        self._excerpt = bytearray()

    def scope(self) -> Scope:
        raw_path, query = split_target(self._request.path)
        headers = [(b"host", b"wfleak")]
        headers += [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self._request.headers
        ]
        body = self._request.body.encode()
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        return {
            "type": "http",
            "asgi": dict(ASGI_VERSION),
            "http_version": "1.1",
            "method": self._request.method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1", errors="replace"),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }

    async def receive(self) -> Message:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self._request.body.encode(), "more_body": False}
        # Nothing more to read: the next message is the client going away.
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self._gone.is_set():
            # As uvicorn does: what is sent to a client that left is dropped.
            return
        kind = message.get("type")
        if kind == "http.response.start":
            self._status = int(message.get("status", 0))
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if body:
                self._chunks += 1
                if len(self._excerpt) < EXCERPT_BYTES:
                    self._excerpt += body[: EXCERPT_BYTES - len(self._excerpt)]
            if not message.get("more_body", False) or (
                self._disconnect_after is not None and self._chunks >= self._disconnect_after
            ):
                self._gone.set()

    def _left_early(self) -> bool:
        return self._disconnect_after is not None and self._chunks >= self._disconnect_after

    async def run(self, app: ASGIApp) -> Response:
        await app(self.scope(), self.receive, self.send)
        self._gone.set()
        return Response(status=self._status, excerpt=excerpt_of(bytes(self._excerpt)))
