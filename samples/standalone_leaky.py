"""LEAK, on the standalone engine: every run's Context is kept in a module-level list.

The same bug as ``leaky_global.py``, written against llama-index-workflows (the ``workflows``
package) alone, for projects that run workflows without llama-index-core.
"""

from workflows import Context, Workflow, step
from workflows.events import StartEvent, StopEvent

HISTORY: list[Context] = []


class LeakyWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        HISTORY.append(ctx)
        return StopEvent(result="done")
