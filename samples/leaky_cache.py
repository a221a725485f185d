"""LEAK: an unbounded cache keyed by something unique to each request.

``functools.cache`` (an ``lru_cache`` without a bound) never evicts, and a request id never
repeats, so every run adds an entry forever. The fixed twin is ``fixed_cache.py``.
"""

import functools
import uuid

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step


@functools.cache
def embed(request_id: str) -> list[float]:
    return [float(i) for i in range(256)]


class LeakyWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        vector = embed(str(uuid.uuid4()))
        return StopEvent(result=sum(vector))
