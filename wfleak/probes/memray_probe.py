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
OWNER_DEPTH = 64
"""Frames read to find whose an allocation is; a step's stack is rarely deeper."""
FRAMEWORK_PATHS = ("workflows/", "llama_index/")
"""Where the framework's files live, relative to their import root."""


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


def _framework_file(filename: str) -> bool:
    return display_path(filename).startswith(FRAMEWORK_PATHS)


def _owner(stack: list[tuple[str, str, int]]) -> str:
    """Whose allocation this is: the innermost frame in wfleak, the user's project or the
    framework decides; a stack with none of them (or no stack) is no one's in particular."""
    for _, filename, _ in stack:
        if is_own_file(filename):
            return "own"
        if is_user_file(filename) or _framework_file(filename):
            return "user"
    return "other"


def summarise(path: str) -> MemraySummary:
    """Split what was still allocated at the end of recording by owner, and group the user's
    share by its first user frame."""
    import memray

    reader = memray.FileReader(path)
    grouped: dict[tuple[str, int], list[Any]] = defaultdict(lambda: [0, 0, None])
    bytes_by_owner = {"user": 0, "own": 0, "other": 0}
    total_size = total_count = user_count = 0
    for record in reader.get_leaked_allocation_records(merge_threads=True):
        total_size += record.size
        total_count += record.n_allocations
        stack = record.stack_trace(max_stacks=OWNER_DEPTH)
        owner = _owner(stack)
        bytes_by_owner[owner] += record.size
        if owner != "user":
            continue
        user_count += record.n_allocations
        frames = [_frame(entry) for entry in stack[:STACK_DEPTH]]
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
        user_bytes=bytes_by_owner["user"],
        user_allocations=user_count,
        own_bytes=bytes_by_owner["own"],
        other_bytes=bytes_by_owner["other"],
    )
