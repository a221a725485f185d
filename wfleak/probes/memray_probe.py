"""Optional memray recording of the measured runs, summarised by leaked stack."""

from __future__ import annotations

import os
import shlex
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from wfleak.model import Frame, MemrayStack, MemraySummary
from wfleak.probes.memory import display_path, is_own_file, is_user_file

TOP_STACKS = 8
STACK_DEPTH = 12


def _frame(entry: tuple[str, str, int]) -> Frame:
    function, filename, lineno = entry
    return Frame(
        filename=display_path(filename),
        lineno=lineno,
        function=function,
        user=is_user_file(filename),
    )


@dataclass
class MemrayRecording:
    path: str | None
    tracker: Any = None

    @classmethod
    def start(cls, path: str | None) -> MemrayRecording:
        if path is None:
            return cls(None)
        import memray

        if os.path.exists(path):
            os.unlink(path)
        tracker = memray.Tracker(path, native_traces=False, trace_python_allocators=True)
        tracker.__enter__()
        return cls(path, tracker)

    def finish(self) -> MemraySummary | None:
        if self.path is None or self.tracker is None:
            return None
        self.tracker.__exit__(None, None, None)
        self.tracker = None
        return summarise(self.path)


def summarise(path: str) -> MemraySummary:
    """Group the allocations still alive at the end of recording by their first user frame."""
    import memray

    reader = memray.FileReader(path)
    grouped: dict[tuple[str, int], list[Any]] = defaultdict(lambda: [0, 0, None])
    total_size = total_count = 0
    for record in reader.get_leaked_allocation_records(merge_threads=True):
        stack = record.stack_trace(max_stacks=STACK_DEPTH)
        if not stack or is_own_file(stack[0][1]):
            continue
        total_size += record.size
        total_count += record.n_allocations
        frames = [_frame(entry) for entry in stack]
        anchor = next((f for f in frames if f.user), frames[0])
        slot = grouped[(anchor.filename, anchor.lineno)]
        slot[0] += record.size
        slot[1] += record.n_allocations
        if slot[2] is None:
            slot[2] = frames
    stacks = sorted(
        (MemrayStack(size=s, allocations=n, stack=frames) for s, n, frames in grouped.values()),
        key=lambda s: -s.size,
    )
    quoted = shlex.quote(path)
    return MemraySummary(
        file=path,
        leaked_bytes=total_size,
        leaked_allocations=total_count,
        top_stacks=stacks[:TOP_STACKS],
        flamegraph_command=f"memray flamegraph --leaks {quoted}",
    )
