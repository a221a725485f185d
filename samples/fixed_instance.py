"""OK: the fixed twin of ``leaky_instance.py``. Per-run state stays in the run; the instance
keeps only a counter."""

from typing import Any

from llama_index.core.workflow import Context, Event, StartEvent, StopEvent, Workflow, step


class Drafted(Event):
    text: str


class FixedWorkflow(Workflow):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finished = 0

    @step
    async def draft(self, ctx: Context, ev: StartEvent) -> Drafted:
        return Drafted(text="draft " * 50)

    @step
    async def finish(self, ctx: Context, ev: Drafted) -> StopEvent:
        self.finished += 1
        return StopEvent(result=len(ev.text))
