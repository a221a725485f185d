"""LEAK: a ContextVar holds the run, and a timer scheduled during the run copies it.

asyncio copies the current contextvars into every callback it schedules, so the retry timer
keeps the whole run (its Context, events, state) until it fires, an hour later. The fixed twin
is ``fixed_contextvar.py``.
"""

import asyncio
import contextvars

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

CURRENT_CONTEXT: contextvars.ContextVar[Context] = contextvars.ContextVar("current_context")


def retry_later() -> None:
    """Would retry a failed upload; it only needs to run once an hour."""


class LeakyWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        CURRENT_CONTEXT.set(ctx)
        asyncio.get_running_loop().call_later(3600, retry_later)
        return StopEvent(result="done")
