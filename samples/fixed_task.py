"""OK: the fixed twin of ``leaky_task.py``. The background task is cancelled when the step is
done with it, so it cannot outlive the run."""

import asyncio
import contextlib

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step


async def heartbeat(ctx: Context) -> None:
    while True:
        await asyncio.sleep(3600)


class FixedWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        task = asyncio.create_task(heartbeat(ctx))
        try:
            return StopEvent(result="done")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
