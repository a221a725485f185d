"""OK: the fixed twin of ``leaky_cache.py``. The cache has a bound, so it fills once and then
only replaces entries."""

import functools
import uuid

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step


@functools.lru_cache(maxsize=2)
def embed(request_id: str) -> list[float]:
    return [float(i) for i in range(256)]


class FixedWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        vector = embed(str(uuid.uuid4()))
        return StopEvent(result=sum(vector))
