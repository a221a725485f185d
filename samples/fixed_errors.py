"""OK: the fixed twin of ``leaky_errors.py``. It remembers the message, not the exception."""

from collections import deque

from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

RECENT_ERRORS: deque[str] = deque(maxlen=20)


def lookup(ctx: Context, key: str) -> str:
    raise KeyError(key)


class FixedWorkflow(Workflow):
    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        try:
            return StopEvent(result=lookup(ctx, "missing"))
        except KeyError as exc:
            RECENT_ERRORS.append(f"lookup failed: {exc!r}")
            return StopEvent(result="fallback")
