"""The terminal's streams, for a reader that may leave before the report ends.

``wfleak run ... | head`` closes the pipe after a few lines. What is written after that is
dropped: the output files are still written and the exit code still tells what the analysis
found, instead of the command dying half-way on a broken pipe.
"""

from __future__ import annotations

import os
from typing import Any, TextIO


class ReaderMayLeave:
    """A text stream that stops writing, quietly, once its reader has closed the pipe."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard_from_now_on()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard_from_now_on()

    def _discard_from_now_on(self) -> None:
        # The descriptor now leads nowhere, so the interpreter's last flush at exit cannot
        # fail on it either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        # isatty, encoding, fileno and the rest, as the stream has them.
        return getattr(self._stream, name)
