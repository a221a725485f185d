"""Explain retained runs in a forked copy of the process, so the service never pauses for it.

The parent pauses only for ``fork()`` itself (copying its page tables). The child has a
copy-on-write snapshot of the heap: it builds the same heap index as ``wfleak run``, explains,
writes the findings to a pipe and leaves with ``os._exit``. Its budgets are CPU time and
address space, not wall time: a loaded machine slows it down without making it cost more.
In the child, only the thread that forked exists; so it takes no lock (no logging, no
garbage collection), imports nothing (everything is imported and warmed up first; an import
fails instead of hanging), restores the default signal handlers (a signal to the service's
process group must not run the service's handlers in the copy) and closes every socket it
inherited (listening ones included), so no connection is ever answered or held open by the
copy.
"""

from __future__ import annotations

import gc
import os
import resource
import select
import signal
import stat
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.abc import MetaPathFinder
from typing import Any

from wfleak.live.analysis import (
    Suspects,
    build_index,
    explain,
    findings_from_json,
    findings_to_json,
)
from wfleak.model import Finding

# Python 3.12 warns on every fork of a process with threads; this fork is the point of the
# module, and the child only runs code written for it.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"wfleak\.live\.fork")

OTHER_THREADS_NOTE = (
    "Found in a forked copy of the service: the frames other threads were running at that "
    "moment are not in the copy, so a reference only such a frame held shows as held outside "
    "the GC's view."
)
MEMORY_BUDGET = 1 << 30
"""Address space the child may add to the parent's before its allocations fail."""
CPU_BUDGET = 60
"""Seconds of CPU the child may use before the kernel stops it. The budget is CPU time, not
wall time: on a loaded machine the child waits for a core (and for its copied pages) many
times longer than it computes, and a wall-clock budget there kills analyses that are well
within their cost."""
WALL_LIMIT = 900.0
"""Seconds of wall time after which the child is killed whatever its CPU time: a child that
waits on something (it should never) must not stay forever."""


def supported() -> bool:
    """Forking a threaded process is safe here only where the child's code is ours alone:
    Linux (fork's semantics are well defined there; macOS's system libraries are not
    fork-safe with threads)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


@dataclass(frozen=True)
class Headroom:
    available: int | None
    """Bytes the process may still allocate (cgroup ``memory.max`` less ``memory.current``,
    else the system's available memory); None when unknown."""
    needed: int

    @property
    def enough(self) -> bool:
        return self.available is None or self.available >= self.needed


def _read(path: str) -> str | None:
    # Bytes, decoded by hand: a text file would look up a codec, an import in the child.
    try:
        with open(path, "rb") as file:
            return file.read().decode("utf-8", "replace").strip()
    except OSError:
        return None


def _cgroup_available() -> int | None:
    text = _read("/proc/self/cgroup") or ""
    for line in text.splitlines():
        if line.startswith("0::"):
            base = "/sys/fs/cgroup" + line[3:].rstrip("/")
            limit, used = _read(f"{base}/memory.max"), _read(f"{base}/memory.current")
            if limit and used and limit != "max" and limit.isdigit() and used.isdigit():
                return int(limit) - int(used)
    limit, used = (
        _read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        _read("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    )
    if limit and used and limit.isdigit() and used.isdigit() and int(limit) < 1 << 60:
        return int(limit) - int(used)
    return None


def _system_available() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def resident_bytes() -> int:
    fields = (_read("/proc/self/statm") or "0 0").split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def headroom() -> Headroom:
    """The child touches every object's reference count, so it may copy every page of the
    heap: it needs about the parent's resident size again."""
    found = [x for x in (_cgroup_available(), _system_available()) if x is not None]
    return Headroom(available=min(found) if found else None, needed=resident_bytes())


@dataclass(frozen=True)
class ForkResult:
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    pause_s: float = 0.0
    """How long ``fork()`` held the parent."""
    pause_cpu_s: float = 0.0
    """CPU time of the forking thread in ``fork()``: the pause less any wait for a core."""
    duration_s: float = 0.0


class _NoImports(MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> None:
        raise ImportError(f"the analysis child imports nothing (asked for {fullname})")


def _close_sockets(keep: int) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd == keep:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


def _default_signals() -> None:
    for number in signal.valid_signals():
        try:
            if callable(signal.getsignal(number)):
                signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def _limit_memory() -> None:
    fields = (_read("/proc/self/statm") or "0").split()
    size = int(fields[0]) * os.sysconf("SC_PAGE_SIZE") + MEMORY_BUDGET
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or size < hard:
        resource.setrlimit(resource.RLIMIT_AS, (size, hard))


def _limit_cpu() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = resource.getrusage(resource.RUSAGE_SELF)
    # The limit counts the CPU time the process has used so far; a fork child starts at zero.
    start = int(used.ru_utime + used.ru_stime)
    limit = start + CPU_BUDGET
    if hard == resource.RLIM_INFINITY or limit < hard:
        # SIGXCPU at the soft limit (its default action ends the child), SIGKILL a second on.
        resource.setrlimit(
            resource.RLIMIT_CPU, (limit, limit + 1 if hard == resource.RLIM_INFINITY else hard)
        )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _child(suspects: Suspects, write_fd: int) -> None:
    """Runs in the child; never returns."""
    code = 1
    try:
        gc.disable()
        _default_signals()
        sys.meta_path.insert(0, _NoImports())
        _close_sockets(keep=write_fd)
        _limit_memory()
        _limit_cpu()
        index = build_index(None, suspects)
        payload = "F" + findings_to_json(explain(index, suspects))
        code = 0
    except BaseException as exc:  # anything at all: the parent must hear of it
        payload = "E" + f"{type(exc).__name__}: {exc}"
    try:
        _write_all(write_fd, payload.encode("utf-8", "replace"))
    finally:
        os._exit(code)


def explain_in_fork(suspects: Suspects, wall_limit: float = WALL_LIMIT) -> ForkResult:
    """Fork, let the child explain ``suspects``, and wait for it (on this thread only).

    The caller must drop its own references to ``suspects`` once this returns; the parent
    never needs them after the fork.
    """
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    started_cpu = time.thread_time()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(suspects, write_fd)
    pause = time.perf_counter() - started
    pause_cpu = time.thread_time() - started_cpu
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_limit
    error: str | None = None
    # poll(), not select(): a service may have more than 1024 descriptors open.
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                error = f"the analysis was still running after {wall_limit:g} s and was stopped"
                os.kill(pid, signal.SIGKILL)
                break
            if not poller.poll(left * 1000):
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    duration = time.perf_counter() - started
    text = b"".join(chunks).decode("utf-8", "replace")
    if error is None and text.startswith("F") and os.waitstatus_to_exitcode(status) == 0:
        try:
            return ForkResult(findings_from_json(text[1:]), None, pause, pause_cpu, duration)
        except ValueError as exc:
            error = f"unreadable result from the analysis: {exc}"
    if error is None:
        if text.startswith("E"):
            error = text[1:]
        else:
            code = os.waitstatus_to_exitcode(status)
            if code == -signal.SIGXCPU:
                error = f"the analysis used more than {CPU_BUDGET} s of CPU and was stopped"
            elif code < 0:
                error = f"the analysis was killed by signal {-code}"
            else:
                error = f"the analysis exited with status {code}"
    return ForkResult([], error, pause, pause_cpu, duration)
