"""OK: a plain two-step workflow that keeps nothing after a run."""

from llama_index.core.workflow import Context, Event, StartEvent, StopEvent, Workflow, step


class Question(Event):
    text: str


class CleanWorkflow(Workflow):
    @step
    async def ask(self, ctx: Context, ev: StartEvent) -> Question:
        return Question(text=str(ev.get("topic", "memory")))

    @step
    async def answer(self, ctx: Context, ev: Question) -> StopEvent:
        return StopEvent(result=f"answer about {ev.text}")


async def make_workflow() -> CleanWorkflow:
    """A factory, as services that wire dependencies first often have."""
    return CleanWorkflow(timeout=30)


workflow = CleanWorkflow(timeout=30)
