"""Drive runs of the target the way a long-lived service would.

One workflow instance for all runs (``shared``) or a new one per run (``fresh``); the Context
made by ``run()`` (``auto``), a new ``Context(wf)`` per run (``new``), or one Context carried
across runs (``reuse``); or, with ``--runner``, a user coroutine that performs one whole run.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import traceback
from dataclasses import dataclass
from typing import Any, Protocol

from wfleak import framework
from wfleak.errors import TargetError, UsageError
from wfleak.model import ContextMode, WorkflowMode
from wfleak.probes.memory import display_path, is_user_file
from wfleak.service.app import is_asgi_app
from wfleak.target import Target, TargetKind


class FailedRun(Exception):
    """A run that failed without an exception of the target's to describe (a service's
    response with an unexpected status); the message is the run's one line."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class RunProvider(Protocol):
    """What the pipeline drives: a workflow, or a service taking requests."""

    async def prepare(self) -> None: ...

    async def run_once(self) -> None: ...

    async def close(self) -> str | None: ...

    @property
    def shared_workflow(self) -> Any: ...

    @property
    def reused_context(self) -> Any: ...

    @property
    def served_app(self) -> Any:
        """The app a factory made, which only the driver holds (None otherwise)."""
        ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    ok: bool
    error: str | None = None
    timed_out: bool = False


def check_modes(kind: TargetKind, workflow_mode: WorkflowMode, context_mode: ContextMode) -> None:
    """Reject combinations that cannot mean anything, before anything runs."""
    if kind is TargetKind.RUNNER:
        if workflow_mode is not WorkflowMode.SHARED or context_mode is not ContextMode.AUTO:
            raise UsageError(
                "--runner performs whole runs itself; --workflow and --context do not apply"
            )
        return
    if workflow_mode is WorkflowMode.FRESH and kind is TargetKind.INSTANCE:
        raise UsageError(
            "--workflow fresh needs a Workflow class or a factory; the target is one instance"
        )
    if workflow_mode is WorkflowMode.FRESH and context_mode is ContextMode.REUSE:
        raise UsageError(
            "--context reuse cannot be combined with --workflow fresh: a Context belongs to "
            "one workflow instance"
        )


def describe_exception(exc: BaseException) -> str:
    """``Type: message (file:line)`` at the deepest user frame; keeps no frame alive."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if is_user_file(frame.filename):
            where = f" ({display_path(frame.filename)}:{frame.lineno})"
            break
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ")
    return f"{text[:300]}{where}"


class WorkflowProvider:
    """Makes the workflow (and Context) for each run according to the modes."""

    def __init__(
        self,
        target: Target,
        workflow_mode: WorkflowMode,
        context_mode: ContextMode,
        workflow_kwargs: dict[str, Any],
        run_input: dict[str, Any],
    ) -> None:
        check_modes(target.kind, workflow_mode, context_mode)
        if workflow_kwargs and target.kind is not TargetKind.CLASS:
            raise UsageError("--workflow-kwargs applies only when the target is a Workflow class")
        self._target = target
        self._workflow_mode = workflow_mode
        self._context_mode = context_mode
        self._workflow_kwargs = workflow_kwargs
        self._input = run_input
        self._shared: Any = None
        self._context: Any = None

    async def prepare(self) -> None:
        """Build what lives across runs: the shared workflow and the reused Context."""
        if self._target.kind is TargetKind.RUNNER:
            return
        if self._workflow_mode is WorkflowMode.SHARED:
            self._shared = await self._make_workflow()
            self._check_input(self._shared)
        else:
            self._check_input(await self._make_workflow())
        if self._context_mode is ContextMode.REUSE:
            self._context = self._new_context(self._shared)

    async def _make_workflow(self) -> Any:
        target = self._target
        if target.kind is TargetKind.INSTANCE:
            return target.obj
        if target.kind is TargetKind.CLASS:
            try:
                return target.obj(**self._workflow_kwargs)
            except Exception as exc:
                raise TargetError(
                    f"Could not create {target.spec}: {describe_exception(exc)}"
                ) from None
        try:
            made = target.obj()
            if inspect.isawaitable(made):
                made = await made
        except Exception as exc:
            raise TargetError(f"Factory {target.spec} raised {describe_exception(exc)}") from None
        if not framework.is_workflow(made) and is_asgi_app(made):
            raise UsageError(
                f"Factory {target.spec} returned an ASGI app: give the requests to send with "
                "--request 'METHOD PATH [JSON]' (or --requests FILE)"
            )
        if not framework.is_workflow(made):
            raise TargetError(
                f"Factory {target.spec} returned a {type(made).__name__}, not a Workflow"
            )
        return made

    def _check_input(self, workflow: Any) -> None:
        """Name the start-event fields a run needs and was not given, before any run."""
        start_event = getattr(workflow, "_start_event_class", None)
        fields = getattr(start_event, "model_fields", None)
        if not isinstance(start_event, type) or not isinstance(fields, dict):
            return
        missing = [
            name
            for name, info in fields.items()
            if name not in self._input and getattr(info, "is_required", lambda: False)()
        ]
        if missing:
            example = json.dumps({name: "..." for name in missing})
            raise UsageError(
                f"{start_event.__name__} needs {', '.join(missing)}: pass --input '{example}'"
            )

    def _new_context(self, workflow: Any) -> Any:
        return framework.engine_for(workflow).context(workflow)

    async def run_once(self) -> None:
        """One complete run; exceptions propagate to the caller."""
        if self._target.kind is TargetKind.RUNNER:
            await self._target.obj()
            return
        if self._workflow_mode is WorkflowMode.SHARED:
            workflow = self._shared
        else:
            workflow = await self._make_workflow()
        if self._context_mode is ContextMode.NEW:
            handler = workflow.run(ctx=self._new_context(workflow), **self._input)
        elif self._context_mode is ContextMode.REUSE:
            handler = workflow.run(ctx=self._context, **self._input)
        else:
            handler = workflow.run(**self._input)
        await handler

    @property
    def shared_workflow(self) -> Any:
        return self._shared

    @property
    def reused_context(self) -> Any:
        return self._context

    @property
    def served_app(self) -> Any:
        return None

    async def close(self) -> str | None:
        return None

    def release(self) -> None:
        self._shared = None
        self._context = None


def _drop_tracebacks(exc: BaseException) -> None:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]


async def run_with_timeout(provider: RunProvider, timeout: float | None) -> RunOutcome:
    """Run once; a failure becomes a one-line description, with no traceback kept alive."""
    try:
        if timeout is None:
            await provider.run_once()
        else:
            await asyncio.wait_for(provider.run_once(), timeout)
    except TimeoutError:
        return RunOutcome(ok=False, error=f"timed out after {timeout:g}s", timed_out=True)
    except FailedRun as failed:
        return RunOutcome(ok=False, error=failed.description)
    except Exception as exc:
        description = describe_exception(exc)
        # The tracebacks' frames hold the run's locals (its Context, handler, events), and so
        # do those of the exceptions it was raised from: dropped before the probes look, so a
        # failed run is measured like the others.
        _drop_tracebacks(exc)
        del exc
        return RunOutcome(ok=False, error=description)
    return RunOutcome(ok=True)
