"""A service with a big heap and a deep leak.

Importing the module builds about ``WFLEAK_BENCH_OBJECTS`` (default one million) GC-tracked
objects, as a service with loaded models, caches and configuration would have. Every run
leaks one ``Leaked`` object ``DEPTH`` references below the module global ``RETAINED``.
"""

import os

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step

OBJECTS = int(os.environ.get("WFLEAK_BENCH_OBJECTS", "1000000"))
DEPTH = 20
"""References from ``RETAINED`` down to each leaked object."""


class Record:
    def __init__(self, key: int) -> None:
        self.key = key
        self.tags = [key]


# Each record is three tracked objects: the instance, its attribute dict and its tag list.
CATALOGUE = [Record(key) for key in range(OBJECTS // 3)]
for record in CATALOGUE:
    record.__dict__  # noqa: B018 (materialises the instance dict, as real services do)

RETAINED: list[object] = []


class Leaked:
    """What every run leaves behind."""


def bury(obj: object, depth: int) -> list[object]:
    """``obj`` wrapped so that the returned list reaches it through ``depth`` references."""
    holder: list[object] = [obj]
    for _ in range(depth - 1):
        holder = [holder]
    return holder


class BigHeapWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        # RETAINED -> list (1) -> ... -> list (DEPTH - 1) -> Leaked (DEPTH)
        RETAINED.append(bury(Leaked(), DEPTH - 1))
        return StopEvent(result="done")
