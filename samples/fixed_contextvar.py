"""OK: the fixed twin of ``leaky_contextvar.py``. The ContextVar is reset when the step is
done, and the one pending retry timer is scheduled with an empty context, so it holds no run."""

import asyncio
import contextvars

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

CURRENT_CONTEXT: contextvars.ContextVar[Context] = contextvars.ContextVar("current_context")
_pending_retry: asyncio.TimerHandle | None = None


def retry_later() -> None:
    """Would retry failed uploads; it only needs to run once an hour."""
    global _pending_retry
    _pending_retry = None


def schedule_retry() -> None:
    global _pending_retry
    if _pending_retry is None:
        _pending_retry = asyncio.get_running_loop().call_later(
            3600, retry_later, context=contextvars.Context()
        )


class FixedWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        token = CURRENT_CONTEXT.set(ctx)
        try:
            schedule_retry()
            return StopEvent(result="done")
        finally:
            CURRENT_CONTEXT.reset(token)
