"""Worker processes, and the one the command line starts before it parses its arguments.

Parsing the command line, reading the configuration and importing the reporting code take the
command a few tenths of a second; a worker's own start (the interpreter, wfleak's analysis
modules, then the workflow engines, which loading any target begins with) takes a second or
more. Started first, the worker does all of that meanwhile and then waits for its settings on
stdin. It is used only by an analysis started where it was started, with the same
environment; otherwise, and when the command needs no worker at all (its help, a usage
error, ``graph --from``), it is ended unused.

This module imports nothing heavy: it runs before the command line is even imported.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import IO

from wfleak import lifecycle
from wfleak.errors import UsageError
from wfleak.probes import allocator

ANALYSING_COMMANDS = frozenset({"run", "graph", "check"})
_NO_ANALYSIS_OPTIONS = ("-h", "--help", "--from")
NO_CURRENT_DIRECTORY = (
    "the current directory no longer exists: change to the project's directory and run again"
)


@dataclass
class Worker:
    """A started worker: its process (a group of its own), the read end of its event pipe,
    and the file that collects its stdout and stderr."""

    process: subprocess.Popen[bytes]
    events_fd: int
    log: IO[bytes]
    cwd: str
    environment: dict[str, str]


def environment() -> dict[str, str]:
    """The worker's environment: the command's, with the allocator settings it measures with."""
    return {**os.environ, **allocator.worker_environment()}


def _folder(cwd: str | None) -> str:
    if cwd is not None:
        return os.path.realpath(cwd)
    try:
        return os.path.realpath(os.getcwd())
    except FileNotFoundError:
        raise UsageError(NO_CURRENT_DIRECTORY) from None


def spawn(cwd: str | None, env: dict[str, str]) -> Worker:
    """Start a worker in ``cwd`` (where its target is imported from) and register its group,
    so that every way out of the command ends it."""
    folder = _folder(cwd)
    read_fd, write_fd = os.pipe()
    os.set_inheritable(read_fd, False)
    # Kept open for as long as the worker lives: end() closes it.
    log = tempfile.TemporaryFile(prefix="wfleak-worker-")  # noqa: SIM115
    try:
        with lifecycle.deferred():
            process = subprocess.Popen(
                [sys.executable, "-m", "wfleak.worker", str(write_fd), str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(write_fd,),
                # Its own process group, so that killing the group ends whatever the user's
                # code started too, and a Ctrl-C at the terminal reaches only wfleak.
                start_new_session=True,
                cwd=cwd,
                env=env,
            )
            lifecycle.register_group(process.pid)
    except BaseException:
        os.close(read_fd)
        log.close()
        raise
    finally:
        os.close(write_fd)
    return Worker(process, read_fd, log, folder, env)


def end(worker: Worker) -> None:
    """Kill a worker's whole group and release what the command holds of it."""
    lifecycle.kill_group(worker.process.pid)
    worker.process.kill()
    worker.process.wait()
    lifecycle.forget_group(worker.process.pid)
    os.close(worker.events_fd)
    worker.log.close()


_lock = threading.Lock()
_spare: Worker | None = None


def needs_worker(argv: list[str]) -> bool:
    """Whether this command line analyses, as far as can be told before parsing it: a worker
    started for a command that turns out not to need one is only ended unused."""
    if not argv or argv[0] not in ANALYSING_COMMANDS:
        return False
    return not any(arg.startswith(_NO_ANALYSIS_OPTIONS) for arg in argv[1:])


def start_early(argv: list[str]) -> None:
    """Start the worker this command line will need, before parsing it."""
    global _spare
    if not needs_worker(argv):
        return
    try:
        worker = spawn(None, environment())
    except (OSError, UsageError):
        # The analysis will start its worker itself, and say why it cannot.
        return
    with _lock:
        _spare = worker
    atexit.register(discard)


def take(cwd: str | None, env: dict[str, str]) -> Worker | None:
    """The early worker, when it was started as a worker for ``cwd`` and ``env`` would be
    and is still waiting; an early worker that does not fit is ended."""
    global _spare
    with _lock:
        worker, _spare = _spare, None
    if worker is None:
        return None
    if worker.cwd == _folder(cwd) and worker.environment == env and worker.process.poll() is None:
        return worker
    end(worker)
    return None


def discard() -> None:
    """End the early worker if no analysis took it."""
    global _spare
    with _lock:
        worker, _spare = _spare, None
    if worker is not None:
        end(worker)
