"""LEAK: a step starts a background task that never finishes.

The task's coroutine holds the run's Context, and the loop's timer holds the task, so every run
stays reachable from the event loop for as long as the service lives. The fixed twin is
``fixed_task.py``.
"""

import asyncio

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step


async def heartbeat(ctx: Context) -> None:
    while True:  # nothing ever stops this loop
        await asyncio.sleep(3600)


class LeakyWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        asyncio.create_task(heartbeat(ctx))  # noqa: RUF006 (the bug this sample shows)
        return StopEvent(result="done")
