"""The worker process: runs one analysis and streams events back to the CLI.

Started by :mod:`wfleak.isolation` as ``python -m wfleak.worker EVENTS_FD PARENT_PID`` with the
settings as JSON on stdin, in a process group of its own. Everything it tells the parent goes
through the events pipe as JSON lines, never through stdout, which belongs to the user's code.
Once its report is sent it exits at once: a thread or a child process the runs left behind is
reported, and never keeps the parent waiting.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import sys
import threading
from collections import Counter
from dataclasses import replace
from typing import Any

from wfleak import framework
from wfleak.errors import WfleakError
from wfleak.model import Leftover, Report, Settings
from wfleak.phases.instruments import collector_paused
from wfleak.pipeline import Progress, analyze
from wfleak.probes import collector
from wfleak.serde import from_jsonable, json_safe, to_jsonable

PR_SET_PDEATHSIG = 1


class EventPipe:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send(self, event: dict[str, Any]) -> None:
        data = (json.dumps(json_safe(event), allow_nan=False) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def progress(self, progress: Progress) -> None:
        self.send({"type": "progress", "progress": to_jsonable(progress)})


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this process when the parent dies, however it dies (SIGKILL
    included): a workflow left running would keep making paid model calls."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            # The process's own symbols include libc's: no library search, which would start
            # ldconfig in a subprocess.
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        # The parent died before the request took effect.
        os._exit(1)


def _child_processes() -> Counter[str]:
    """Live processes this worker started (directly or in its process group), by name."""
    found: Counter[str] = Counter()
    me, group = os.getpid(), os.getpgrp()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        name, _, rest = stat.partition("(")[2].rpartition(")")
        fields = rest.split()
        if len(fields) < 3 or fields[0] == "Z":
            continue
        if int(fields[1]) == me or int(fields[2]) == group:
            found[name] += 1
    return found


def leftovers() -> list[Leftover]:
    """Threads and child processes still running after the analysis: they hold memory too,
    and wfleak ends them with the worker."""
    rows: list[Leftover] = []
    # Numbered workers of one pool ("asyncio_0", "Thread-3 (worker)") count as one kind.
    threads = Counter(
        re.sub(r"[_-]?\d+", "", thread.name, count=1) or thread.name
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and thread.is_alive()
    )
    for name, count in sorted(threads.items()):
        rows.append(Leftover(kind="thread", description=name, count=count))
    for name, count in sorted(_child_processes().items()):
        rows.append(Leftover(kind="child process", description=name, count=count))
    return rows


def _finish(code: int) -> None:
    """Exit now: the interpreter's normal exit would join the threads the runs left behind
    (forever, for one blocked in a sleep) and walk the whole heap once more."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _import_engines() -> None:
    """Import the workflow engines before reading the settings: loading any target begins
    with them, and a worker started early (see :mod:`wfleak.launch`) imports them while the
    command line is still being parsed. A failing import is left for the loading to report."""
    with collector_paused(), contextlib.suppress(Exception):
        framework.engines()


def main(argv: list[str]) -> int:
    fd = int(argv[0])
    if len(argv) > 1:
        _die_with_parent(int(argv[1]))
    # Nothing the runs start may inherit the pipe: a child holding it open would keep it alive.
    os.set_inheritable(fd, False)
    pipe = EventPipe(fd)
    # The parent forwards Ctrl-C (and SIGTERM, SIGHUP, --max-time) as SIGINT; Python turns it
    # into KeyboardInterrupt, which the pipeline turns into a partial report.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _import_engines()
    except KeyboardInterrupt:
        _finish(0)
    given = sys.stdin.read()
    if not given:
        # Started early by a command that turned out to need no analysis.
        _finish(0)
    settings: Settings = from_jsonable(Settings, json.loads(given))
    try:
        report: Report = analyze(settings, pipe.progress)
    except WfleakError as exc:
        pipe.send({"type": "error", "exit_code": int(exc.exit_code), "message": exc.message})
        _finish(0)
        return 0
    except KeyboardInterrupt:
        # Interrupted before the pipeline could catch it (while loading the target): the
        # parent builds the report from the events it has.
        _finish(0)
        return 0
    note = collector.replaced_note()
    report = replace(
        report,
        leftovers=[*report.leftovers, *leftovers()],
        notes=[*report.notes, note] if note else report.notes,
    )
    pipe.send({"type": "report", "report": to_jsonable(report)})
    _finish(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
