"""One run of a service: the next request of the rotation (or the next ``concurrency`` of
them, sent at once), through the ASGI driver or, with ``--serve``, over HTTP.

A response with an unexpected status, or an exception the app did not handle, makes the run
fail with one line: the request, the status, and a short excerpt of the body (or the
exception's line). The provider keeps only numbers and short text of what it got back.
"""

from __future__ import annotations

import asyncio
import inspect
from http import HTTPStatus
from typing import Any

from wfleak.driver import FailedRun, describe_exception
from wfleak.errors import TargetError, UsageError, WorkflowFailed
from wfleak.model import ContextMode, ServiceRequest, Settings, WorkflowMode
from wfleak.service import web
from wfleak.service.app import is_asgi_app
from wfleak.service.asgi import ErrorCatcher, Exchange, Lifespan, LifespanFailed, Response
from wfleak.target import Target, TargetKind

SHUTDOWN_TIMEOUT_S = 10.0
WORKFLOW_ONLY_OPTIONS = "--input, --workflow, --context, --runner and --workflow-kwargs"


def check_app_settings(settings: Settings) -> None:
    """Options that only mean something for a workflow target, refused before anything runs."""
    given = [
        name
        for name, set_ in (
            ("--input", settings.input is not None),
            ("--workflow", settings.workflow_mode is not WorkflowMode.SHARED),
            ("--context", settings.context_mode is not ContextMode.AUTO),
            ("--runner", settings.runner),
            ("--workflow-kwargs", settings.workflow_kwargs is not None),
        )
        if set_
    ]
    if given:
        raise UsageError(
            f"{given[0]} does not apply to an ASGI app target; its requests come from "
            "--request or --requests"
        )
    if not settings.requests:
        raise UsageError(
            f"{settings.target} is an ASGI app: give the requests to send with --request "
            "'METHOD PATH [JSON]' (or --requests FILE)"
        )


def check_workflow_settings(settings: Settings) -> None:
    if settings.requests or settings.serve or settings.disconnect_after is not None:
        raise UsageError(
            f"{settings.target} is a workflow, not an ASGI app: --request, --requests, "
            "--serve and --disconnect-after apply only to app targets"
        )
    if settings.concurrency != 1:
        raise UsageError("--concurrency applies only to ASGI app targets")


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def judge_response(request: ServiceRequest, response: Response) -> str | None:
    """Why this response makes its run fail, or None when it is a success."""
    if response.error is not None and response.status == 0:
        return f"{request.line}: {response.error}"
    if response.error is not None:
        return f"{request.line} → {_reason(500)}: {response.error}"
    if response.status == 0:
        return f"{request.line}: the app returned without sending a response"
    expected = response.status in request.expect if request.expect else response.status < 400
    if expected:
        return None
    wanted = f" (expected {', '.join(map(str, request.expect))})" if request.expect else ""
    excerpt = f": {response.excerpt}" if response.excerpt else ""
    return f"{request.line} → {_reason(response.status)}{wanted}{excerpt}"


class ServiceProvider:
    """Sends the rotation of requests to the app, one run at a time."""

    def __init__(self, target: Target, settings: Settings) -> None:
        check_app_settings(settings)
        if settings.concurrency < 1:
            raise UsageError(f"--concurrency must be at least 1 (got {settings.concurrency})")
        if settings.disconnect_after is not None and settings.disconnect_after < 1:
            raise UsageError(
                f"--disconnect-after must be at least 1 (got {settings.disconnect_after})"
            )
        self._target = target
        self._requests = list(settings.requests)
        self._concurrency = settings.concurrency
        self._serve = settings.serve
        self._disconnect_after = settings.disconnect_after
        self._next = 0
        self._app: Any = None
        self._lifespan: Lifespan | None = None
        self._catcher: ErrorCatcher | None = None
        self._server: Any = None

    async def _make_app(self) -> Any:
        target = self._target
        if target.kind is TargetKind.APP:
            return target.obj
        try:
            made = target.obj()
            if inspect.isawaitable(made):
                made = await made
        except Exception as exc:
            raise TargetError(f"Factory {target.spec} raised {describe_exception(exc)}") from None
        if not is_asgi_app(made):
            raise TargetError(
                f"Factory {target.spec} returned a {type(made).__name__}, not an ASGI app"
            )
        return made

    async def prepare(self) -> None:
        """Lifespan start-up once, before the warm-up; with --serve, uvicorn starts too."""
        app = await self._make_app()
        self._app = app
        web.serving(app)
        lifespan = Lifespan(app)
        self._lifespan = lifespan
        try:
            await lifespan.startup()
        except LifespanFailed as exc:
            raise WorkflowFailed(f"lifespan start-up failed: {exc}") from None
        self._catcher = ErrorCatcher(app, lifespan.state)
        if self._serve:
            # Imported here: uvicorn and httpx load only when a service is served.
            from wfleak.service.serve import LoopbackServer

            self._server = LoopbackServer(self._catcher, self._concurrency)
            await self._server.start()

    def _batch(self) -> list[ServiceRequest]:
        batch = []
        for _ in range(self._concurrency):
            batch.append(self._requests[self._next % len(self._requests)])
            self._next += 1
        return batch

    async def _send(self, request: ServiceRequest) -> Response:
        if self._server is not None:
            try:
                response: Response = await self._server.send(request, self._disconnect_after)
            except Exception as exc:
                from wfleak.service.serve import describe_transport_error

                return Response(status=0, error=describe_transport_error(exc))
            return response
        assert self._catcher is not None
        return await Exchange(request, self._disconnect_after).run(self._catcher)

    async def run_once(self) -> None:
        assert self._catcher is not None
        batch = self._batch()
        self._catcher.errors.clear()
        if len(batch) == 1:
            responses = [await self._send(batch[0])]
        else:
            responses = list(await asyncio.gather(*(self._send(r) for r in batch)))
        if self._server is not None:
            await self._server.quiesce()
        errors = list(self._catcher.errors)
        self._catcher.errors.clear()
        problems = []
        for request, response in zip(batch, responses, strict=True):
            if errors and response.error is None and response.status in (0, 500):
                response = Response(status=500, error=errors.pop(0))
            problem = judge_response(request, response)
            if problem is not None:
                problems.append(problem)
        # An exception after the response had started: the client got a cut-off body.
        problems += [f"{batch[0].line} → {_reason(500)}: {error}" for error in errors]
        if problems:
            more = f" (and {len(problems) - 1} more of {len(batch)})" if len(problems) > 1 else ""
            raise FailedRun(problems[0] + more)

    async def close(self) -> str | None:
        """Stop serving and shut the app down; a problem is one line for the report."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._lifespan is None:
            return None
        lifespan, self._lifespan = self._lifespan, None
        return await lifespan.shutdown(SHUTDOWN_TIMEOUT_S)

    @property
    def shared_workflow(self) -> Any:
        return None

    @property
    def reused_context(self) -> Any:
        return None

    @property
    def served_app(self) -> Any:
        # An app at module level is reached through its module, by the user's name for it.
        return self._app if self._target.kind is TargetKind.FACTORY else None

    def release(self) -> None:
        self._app = None
        self._catcher = None
        self._lifespan = None
        self._server = None
