"""The worker process: runs one analysis and streams events back to the CLI.

Started by :mod:`wfleak.isolation` as ``python -m wfleak.worker EVENTS_FD`` with the settings
as JSON on stdin. Everything it tells the parent goes through the events pipe as JSON lines,
never through stdout, which belongs to the user's code.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from typing import Any

from wfleak.errors import WfleakError
from wfleak.model import Settings
from wfleak.pipeline import Progress, analyze
from wfleak.serde import from_jsonable, to_jsonable


class EventPipe:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send(self, event: dict[str, Any]) -> None:
        data = (json.dumps(event) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def progress(self, progress: Progress) -> None:
        self.send({"type": "progress", "progress": to_jsonable(progress)})


def main(argv: list[str]) -> int:
    pipe = EventPipe(int(argv[0]))
    settings: Settings = from_jsonable(Settings, json.loads(sys.stdin.read()))
    # The parent forwards Ctrl-C as SIGINT; Python turns it into KeyboardInterrupt, which the
    # pipeline turns into a partial report.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        report = analyze(settings, pipe.progress)
    except WfleakError as exc:
        pipe.send({"type": "error", "exit_code": int(exc.exit_code), "message": exc.message})
        return 0
    pipe.send({"type": "report", "report": to_jsonable(report)})
    # The process ends next, and the parent waits for it. Frozen objects are left out of the
    # interpreter's last collection, which would otherwise walk the whole heap once more
    # (most of a second with llama-index loaded, far longer on a big service).
    gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
