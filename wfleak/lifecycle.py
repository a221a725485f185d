"""Signals and the worker processes they must never leave behind.

The command line installs :func:`install` before it imports anything heavy. From then on
SIGINT (Ctrl-C), SIGTERM (``timeout``, ``docker stop``, CI cancellation) and SIGHUP (a closed
terminal) all mean the same: stop measuring, keep what was measured, write every output, and
exit with ``128 + the signal``. A first signal is only recorded while an analysis or the
writing of its outputs is under way (:func:`deferred`), so nothing is lost mid-write; outside
such a section it stops the command at once through :class:`Interrupted`. A second signal
exits at once, after killing every worker process group still alive.

The Python API never installs these handlers: there Ctrl-C stays a ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A signal arrived outside a section that defers it; a BaseException, like Ctrl-C, so
    that no ``except Exception`` in between swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _State:
    def __init__(self) -> None:
        self.installed = False
        self.received: int | None = None
        self.deferring = 0
        self.groups: set[int] = set()


_state = _State()


def exit_code(signum: int) -> int:
    """The exit status a shell reports for a process ended by ``signum``."""
    return 128 + signum


def kill_group(pgid: int) -> None:
    """End a whole process group: the worker and whatever the user's code started in it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def kill_all_groups() -> None:
    for pgid in list(_state.groups):
        kill_group(pgid)


def describe(signum: int) -> str:
    """How a stop by ``signum`` is told to the user."""
    if signum == signal.SIGINT:
        return "interrupted"
    return f"terminated by {signal.Signals(signum).name}"


@contextlib.contextmanager
def quiet_errors() -> Iterator[None]:
    """Writing a last line to a stream that may be gone (a closed terminal, a broken pipe)."""
    with contextlib.suppress(OSError, ValueError):
        yield


def register_group(pgid: int) -> None:
    _state.groups.add(pgid)


def forget_group(pgid: int) -> None:
    _state.groups.discard(pgid)


def _handle(signum: int, frame: FrameType | None) -> None:
    if _state.received is not None:
        # The second signal: the user wants out now, outputs or not.
        kill_all_groups()
        os._exit(exit_code(_state.received))
    _state.received = signum
    if not _state.deferring:
        raise Interrupted(signum)


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP through :func:`_handle` (main thread only)."""
    for signum in HANDLED:
        # A signal ignored by whoever started us (nohup, a background job) stays ignored.
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue
        signal.signal(signum, _handle)
    _state.installed = True


def installed() -> bool:
    return _state.installed


def received() -> int | None:
    """The first stopping signal received, if any."""
    return _state.received


def reset() -> None:
    """Forget a received signal (for a process that runs several commands, such as tests)."""
    _state.received = None


def raise_if_received() -> None:
    """Stop before starting new work (a worker) once a signal has arrived."""
    if _state.received is not None:
        raise Interrupted(_state.received)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A section in which a first signal is only recorded, for the code inside to act on:
    an analysis that stops its worker and keeps what it measured, the writing of outputs."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
