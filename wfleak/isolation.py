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
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from wfleak.errors import ExitCode, WfleakError
from wfleak.model import Report, RunSample, Settings, StopReason
from wfleak.phases.measure import MeasureResult
from wfleak.phases.report import PhaseResults, build_report
from wfleak.phases.warmup import WarmupResult
from wfleak.pipeline import Progress, environment
from wfleak.probes import allocator
from wfleak.serde import from_jsonable, to_jsonable

MIN_HANG_GRACE_S = 5.0
"""Beyond the per-run timeout, a run may stay silent for the timeout again (at least this
long) before the worker counts as hung: asyncio cannot time out a run that blocks the loop."""
INTERRUPT_GRACE_S = 5.0
"""How long an interrupted worker gets to send its partial report."""
OUTPUT_TAIL_LINES = 5


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

    def _feed(self, data: bytes) -> None:
        self.stream.buffer += data
        *lines, self.stream.buffer = self.stream.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._handle(json.loads(line))

    def _hang_limit(self) -> float | None:
        running = ("warm-up", "measure", "trace")
        if self.stream.phase in running and self.settings.timeout is not None:
            return self.settings.timeout + max(MIN_HANG_GRACE_S, self.settings.timeout)
        return None

    def run(self) -> Report:
        read_fd, write_fd = os.pipe()
        with tempfile.TemporaryFile(prefix="wfleak-worker-") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "wfleak.worker", str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(write_fd,),
                start_new_session=True,
                cwd=self.cwd,
                env={**os.environ, **allocator.worker_environment()},
            )
            os.close(write_fd)
            assert process.stdin is not None
            process.stdin.write(json.dumps(to_jsonable(self.settings)).encode())
            process.stdin.close()
            try:
                return self._supervise(process, read_fd, log)
            finally:
                os.close(read_fd)
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def _supervise(self, process: subprocess.Popen[bytes], fd: int, log: IO[bytes]) -> Report:
        started = last_event = time.monotonic()
        interrupted_at: float | None = None
        while True:
            now = time.monotonic()
            if interrupted_at is not None and now - interrupted_at > INTERRUPT_GRACE_S:
                return self._partial(StopReason.INTERRUPTED, "interrupted")
            if self.max_time is not None and now - started > self.max_time:
                return self._partial(
                    StopReason.MAX_TIME, f"stopped by --max-time after {self.max_time:g}s"
                )
            hang_limit = self._hang_limit()
            if hang_limit is not None and now - last_event > hang_limit:
                return self._partial(
                    StopReason.TIMED_OUT,
                    f"{self._position()} hung for more than {hang_limit:g}s "
                    "(it blocks the event loop, so --timeout could not stop it)",
                )
            try:
                ready, _, _ = select.select([fd], [], [], 0.2)
            except KeyboardInterrupt:
                if interrupted_at is None:
                    interrupted_at = time.monotonic()
                    self._forward_interrupt(process)
                continue
            if not ready:
                continue
            data = os.read(fd, 1 << 16)
            if data:
                last_event = time.monotonic()
                self._feed(data)
                continue
            # The worker closed the pipe: it finished or died.
            code = process.wait()
            if self.stream.error is not None:
                exit_code, message = self.stream.error
                raise WfleakError.with_code(message, ExitCode(exit_code))
            if self.stream.report is not None:
                return self.stream.report
            if interrupted_at is not None:
                return self._partial(
                    StopReason.INTERRUPTED, f"interrupted during {self._position()}"
                )
            return self._crashed(code, log)

    def _forward_interrupt(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)

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
