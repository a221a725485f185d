"""LEAK: the shared workflow instance collects every run's Context and events.

Services build one workflow at start-up and run it per request, so anything a step stores on
``self`` lives as long as the service. The fixed twin is ``fixed_instance.py``.
"""

from typing import Any

from llama_index.core.workflow import Context, Event, StartEvent, StopEvent, Workflow, step


class Drafted(Event):
    text: str


class LeakyWorkflow(Workflow):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Context, Event]] = []

    @step
    async def draft(self, ctx: Context, ev: StartEvent) -> Drafted:
        return Drafted(text="draft " * 50)

    @step
    async def finish(self, ctx: Context, ev: Drafted) -> StopEvent:
        self.seen.append((ctx, ev))
        return StopEvent(result=len(ev.text))
