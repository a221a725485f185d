"""Leaks one small object per run: an ``Entry`` appended to a module-level list."""

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step


class Entry:
    pass


SEEN: list[Entry] = []


class LeakObjectWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        SEEN.append(Entry())
        return StopEvent(result="done")
