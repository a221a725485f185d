"""OK: the fixed twin of ``leaky_global.py``. It keeps what it needs from each run (a small
summary in a bounded deque) instead of the run's Context."""

from collections import deque

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

HISTORY: deque[str] = deque(maxlen=3)


class FixedWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        HISTORY.append("done")
        return StopEvent(result="done")
