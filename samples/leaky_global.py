"""LEAK: every run's Context is appended to a module-level list and never let go.

A common way to "keep the last results around for debugging" that grows without bound in a
long-lived service. The fixed twin is ``fixed_global.py``.
"""

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

HISTORY: list[Context] = []


class LeakyWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        HISTORY.append(ctx)
        return StopEvent(result="done")
