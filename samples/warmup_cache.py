"""OK: a bounded cache that fills during the first runs and then stays flat.

Memory rises at first, which a naive "did it grow?" check would call a leak; wfleak's trend
test sees the plateau.
"""

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step

TEMPLATES: dict[int, str] = {}
_calls = 0


def template(slot: int) -> str:
    if slot not in TEMPLATES:
        TEMPLATES[slot] = f"template {slot} " * 200
    return TEMPLATES[slot]


class WarmupCacheWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        global _calls
        _calls += 1
        # Ten templates in all: the cache fills during the first ten runs, then never grows.
        return StopEvent(result=len(template(_calls % 10)))
