"""LEAK: failed lookups are remembered as exception objects.

An exception keeps its traceback, the traceback keeps its frames, and the frames keep their
locals, here the run's Context and events. The fixed twin is ``fixed_errors.py``.
"""

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

RECENT_ERRORS: list[Exception] = []


def lookup(ctx: Context, key: str) -> str:
    raise KeyError(key)


class LeakyWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        try:
            return StopEvent(result=lookup(ctx, "missing"))
        except KeyError as exc:
            RECENT_ERRORS.append(exc)
            return StopEvent(result="fallback")
