"""Run an analysis in a worker process and keep whatever it measured, whatever happens to it.

The worker (see :mod:`wfleak.worker`) streams every measured run's sample as it goes. If it
hangs, crashes, is killed by ``--max-time`` or interrupted by Ctrl-C, the parent still holds
those samples and builds a partial report from them with the same judgement.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from wfleak import launch, lifecycle
from wfleak.errors import ExitCode, WfleakError
from wfleak.model import Report, RunSample, Settings, StopReason
from wfleak.phases.measure import MeasureResult
from wfleak.phases.report import PhaseResults, build_report, stopped
from wfleak.phases.warmup import WarmupResult
from wfleak.pipeline import Progress, environment
from wfleak.serde import from_jsonable, to_jsonable

MIN_HANG_GRACE_S = 5.0
"""Beyond the per-run timeout, a run may stay silent for the timeout again (at least this
long) before the worker counts as hung: asyncio cannot time out a run that blocks the loop."""
INTERRUPT_GRACE_S = 5.0
"""How long an interrupted (or --max-time stopped) worker gets to send its partial report."""
EXIT_GRACE_S = 2.0
"""How long a worker that sent its report gets to exit before its process group is killed:
a thread or a child the run left behind must not keep wfleak waiting."""
POLL_S = 0.1
MAX_EVENT_BYTES = 512 * 1024 * 1024
"""An event line longer than this is not one the worker sends: the pipe carries junk."""
OUTPUT_TAIL_LINES = 5


class _Garbled(Exception):
    """Something on the event pipe that the worker did not send."""


@dataclass
class _Stream:
    """What has arrived from the worker so far."""

    samples: list[RunSample] = field(default_factory=list)
    report: Report | None = None
    error: tuple[int, str] | None = None
    phase: str = "load"
    warmup_done: int = 0
    buffer: bytes = b""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _tail(log: IO[bytes]) -> str:
    log.seek(0, os.SEEK_END)
    size = log.tell()
    log.seek(max(0, size - 4096))
    lines = log.read().decode(errors="replace").strip().splitlines()[-OUTPUT_TAIL_LINES:]
    return " | ".join(line.strip()[:200] for line in lines if line.strip())


def _has_exited(pid: int) -> bool:
    """Whether the worker ended, without reaping it: while it is unreaped its process id, and
    so its process group id, cannot be reused, and killing the group stays safe."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _stop_for_signal(signum: int) -> tuple[StopReason, str]:
    reason = StopReason.INTERRUPTED if signum == signal.SIGINT else StopReason.TERMINATED
    return reason, lifecycle.describe(signum)


class WorkerSession:
    def __init__(
        self,
        settings: Settings,
        observer: Callable[[Progress], None],
        max_time: float | None,
        cwd: str | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.max_time = max_time
        self.cwd = cwd
        self.stream = _Stream()
        self._stopping: tuple[StopReason, str] | None = None
        self._stopping_at: float | None = None

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "progress":
            progress: Progress = from_jsonable(Progress, event["progress"])
            self.stream.phase = progress.phase
            if progress.phase == "warm-up":
                self.stream.warmup_done = progress.done
            if progress.sample is not None:
                self.stream.samples.append(progress.sample)
            self.observer(progress)
        elif kind == "report":
            self.stream.report = from_jsonable(Report, event["report"])
        elif kind == "error":
            self.stream.error = (int(event["exit_code"]), str(event["message"]))
            ExitCode(self.stream.error[0])
        else:
            raise ValueError(f"unknown event type {kind!r}")

    def _feed(self, data: bytes) -> None:
        self.stream.buffer += data
        *lines, self.stream.buffer = self.stream.buffer.split(b"\n")
        if len(self.stream.buffer) > MAX_EVENT_BYTES:
            raise _Garbled(f"an event line longer than {MAX_EVENT_BYTES} bytes")
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise ValueError(f"expected an object, got {type(event).__name__}")
                self._handle(event)
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise _Garbled(problem) from None

    def _hang_limit(self) -> float | None:
        running = ("warm-up", "measure", "trace")
        if self.stream.phase in running and self.settings.timeout is not None:
            return self.settings.timeout + max(MIN_HANG_GRACE_S, self.settings.timeout)
        return None

    def run(self) -> Report:
        lifecycle.raise_if_received()
        with lifecycle.deferred():
            env = launch.environment()
            worker = launch.take(self.cwd, env) or launch.spawn(self.cwd, env)
            try:
                assert worker.process.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    worker.process.stdin.write(json.dumps(to_jsonable(self.settings)).encode())
                    worker.process.stdin.close()
                report = self._supervise(worker.process, worker.events_fd, worker.log)
                return self._stamp(report)
            finally:
                self._end(worker)

    def _end(self, worker: launch.Worker) -> None:
        """Give a worker that delivered a moment to exit, then end its whole group."""
        delivered = self.stream.report is not None or self.stream.error is not None
        if delivered and self._stopping is None:
            deadline = time.monotonic() + EXIT_GRACE_S
            while not _has_exited(worker.process.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        launch.end(worker)

    def _stamp(self, report: Report) -> Report:
        """A worker stopped by a signal or --max-time reports it as a Ctrl-C; say which."""
        if self._stopping is None or report.stop not in (None, StopReason.INTERRUPTED):
            return report
        if report.stop is None and report.complete:
            # It finished before the stop reached it: the whole report stands.
            return report
        reason, message = self._stopping
        return stopped(report, reason, self._told(reason, message, len(report.runs)))

    def _request_stop(
        self, process: subprocess.Popen[bytes], reason: tuple[StopReason, str]
    ) -> None:
        if self._stopping is not None:
            return
        self._stopping = reason
        self._stopping_at = time.monotonic()
        # The worker turns SIGINT into a partial report of what it measured and analysed.
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)

    def _supervise(self, process: subprocess.Popen[bytes], fd: int, log: IO[bytes]) -> Report:
        started = last_event = time.monotonic()
        while True:
            if self.stream.error is not None:
                exit_code, message = self.stream.error
                raise WfleakError.with_code(message, ExitCode(exit_code))
            if self.stream.report is not None:
                return self.stream.report
            now = time.monotonic()
            signum = lifecycle.received()
            if signum is not None:
                self._request_stop(process, _stop_for_signal(signum))
            if self._stopping is not None and self._stopping_at is not None:
                if now - self._stopping_at > INTERRUPT_GRACE_S:
                    return self._stopped()
            elif self.max_time is not None and now - started > self.max_time:
                message = f"stopped by --max-time after {self.max_time:g}s"
                self._request_stop(process, (StopReason.MAX_TIME, message))
                continue
            hang_limit = self._hang_limit()
            if self._stopping is None and hang_limit is not None and now - last_event > hang_limit:
                return self._partial(
                    StopReason.TIMED_OUT,
                    f"{self._position()} hung for more than {hang_limit:g}s "
                    "(it blocks the event loop, so --timeout could not stop it)",
                )
            try:
                ready, _, _ = select.select([fd], [], [], POLL_S)
            except KeyboardInterrupt:
                # The Python API: no handlers of ours, Ctrl-C arrives as KeyboardInterrupt.
                self._request_stop(process, (StopReason.INTERRUPTED, "interrupted"))
                continue
            if not ready:
                if _has_exited(process.pid):
                    # A child it forked may still hold the pipe open: do not wait for EOF.
                    return self._closed(process, fd, log)
                continue
            try:
                data = os.read(fd, 1 << 16)
                if data:
                    last_event = time.monotonic()
                    self._feed(data)
                    continue
            except _Garbled as exc:
                return self._partial(
                    StopReason.CRASHED,
                    f"the worker sent an unreadable event during {self._position()} ({exc}); "
                    "something in the process wrote to wfleak's event pipe",
                )
            return self._closed(process, fd, log)

    def _closed(self, process: subprocess.Popen[bytes], fd: int, log: IO[bytes]) -> Report:
        """The worker closed the pipe or exited: it finished or died."""
        while select.select([fd], [], [], 0)[0]:
            data = os.read(fd, 1 << 16)
            if not data:
                break
            try:
                self._feed(data)
            except _Garbled:
                break
        if self.stream.error is not None:
            exit_code, message = self.stream.error
            raise WfleakError.with_code(message, ExitCode(exit_code))
        if self.stream.report is not None:
            return self.stream.report
        if self._stopping is not None:
            return self._stopped()
        lifecycle.kill_group(process.pid)
        code = process.wait()
        return self._crashed(code, log)

    def _stopped(self) -> Report:
        """The partial report of a worker that did not answer a stop with its own."""
        assert self._stopping is not None
        reason, message = self._stopping
        return self._partial(reason, self._told(reason, message, len(self.stream.samples)))

    def _told(self, reason: StopReason, message: str, runs: int) -> str:
        """The stop line, the same whether the worker's own report or the parent's partial
        one tells it: a worker slow to answer on a loaded machine must not change it."""
        if not runs:
            return f"{message} during {self._position()}"
        if reason is StopReason.MAX_TIME:
            return f"{message}, with {runs} measured runs"
        return f"{message} after {runs} measured runs"

    def _position(self) -> str:
        if self.stream.phase == "warm-up":
            return f"warm-up run {self.stream.warmup_done + 1}"
        if self.stream.phase == "measure":
            return f"run {len(self.stream.samples) + 1}"
        if self.stream.phase == "trace":
            return "an allocation-tracing run after the measured runs"
        if self.stream.phase == "analyse":
            return "the analysis after the runs"
        return "loading of the target"

    def _crashed(self, code: int, log: IO[bytes]) -> Report:
        how = f"was killed by {_signal_name(code)}" if code < 0 else f"exited with status {code}"
        output = _tail(log)
        detail = f"; last output: {output}" if output else ""
        return self._partial(
            StopReason.CRASHED, f"the worker {how} during {self._position()}{detail}"
        )

    def _partial(self, reason: StopReason, message: str) -> Report:
        results = PhaseResults(
            warmup=WarmupResult(done=self.stream.warmup_done),
            measure=MeasureResult(runs=self.stream.samples),
            stop=reason,
            stop_message=message,
        )
        return build_report(self.settings, environment(), results)


def analyze_in_worker(
    settings: Settings,
    observer: Callable[[Progress], None],
    max_time: float | None = None,
    cwd: str | None = None,
) -> Report:
    """The analysis, isolated in a child process of the same interpreter, started in ``cwd``
    (where the target is imported from)."""
    return WorkerSession(settings, observer, max_time, cwd).run()
