"""The shape of the original report (run-llama/llama_index #18107): one shared workflow, many
runs, each storing a sizeable value in its Context.

On llama-index-core up to 0.12.24.post1 this leaks (``run()`` creating the Context) or leaves
every run's Context to the cyclic GC (a fresh ``Context(wf)`` per run: ``--context new``);
from 0.12.25 on it is clean. Run it under the release you are on:

    wfleak run samples/seed_shared_workflow.py:SeedWorkflow
    wfleak run samples/seed_shared_workflow.py:SeedWorkflow --context new
"""

from typing import Any

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step


async def remember(ctx: Context, key: str, value: Any) -> None:
    """Context state across releases: ``ctx.store`` on current ones, ``ctx.set`` on 0.12."""
    store = getattr(ctx, "store", None)
    if store is not None:
        await store.set(key, value)
    else:
        await ctx.set(key, value)


class SeedWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        await remember(ctx, "document", "x" * 100_000)
        return StopEvent(result="done")
