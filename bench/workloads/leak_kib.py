"""Leaks 1 KiB per run and no GC-tracked object: bytes appended to a module-level list."""

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step

PAYLOADS: list[bytes] = []
SIZE = 1024


class LeakKibWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        PAYLOADS.append(bytes(SIZE))
        return StopEvent(result="done")
