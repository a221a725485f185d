"""The analysis child: what it gives up before it looks at the heap, and when it is skipped."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import wfleak
from tests.conftest import ROOT
from tests.live.test_watcher import explained, run_many
from wfleak.live import fork, walk

sys.path.insert(0, str(ROOT / "samples"))

import leaky_global

pytestmark = pytest.mark.skipif(not fork.supported(), reason="the analysis forks on Linux only")


def test_child_closes_sockets_and_restores_default_signal_handlers() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                fork._default_signals()
                fork._close_sockets(keep=write_fd)
                try:
                    os.fstat(listener.fileno())
                    closed = False
                except OSError:
                    closed = True
                default = signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
                os.write(write_fd, json.dumps([closed, default]).encode())
            finally:
                os._exit(0)
        os.close(write_fd)
        answer = json.loads(os.read(read_fd, 1024))
        os.waitpid(pid, 0)
    finally:
        os.close(read_fd)
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    assert answer == [True, True]
    # The parent keeps its own socket and handler.
    assert signal.getsignal(signal.SIGTERM) is previous


def test_short_memory_headroom_skips_the_fork_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(fork, "headroom", lambda: fork.Headroom(available=1 << 20, needed=1 << 30))
    # The walk's pause budget is about a service; this test is about the fallback's path.
    monkeypatch.setattr(walk, "PAUSE_BUDGET", 30.0)
    caplog.set_level(logging.WARNING, logger="wfleak.watch")
    watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=CollectorRegistry())
    try:
        run_many(leaky_global.LeakyWorkflow(), 1)
        (finding,) = explained(watcher)
    finally:
        watcher.close()
        leaky_global.HISTORY.clear()
    assert any("not forking" in r.getMessage() for r in caplog.records)
    assert "forked copy" not in finding.explanation
    assert "leaky_global.HISTORY[" in finding.summary


def test_the_child_is_budgeted_in_cpu_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from wfleak.live.analysis import Suspects

    def spin(*_: Any) -> None:
        while True:
            pass

    # In the child only: the parent's copy of the module is put back by the monkeypatch.
    monkeypatch.setattr(fork, "CPU_BUDGET", 1)
    monkeypatch.setattr(fork, "build_index", spin)
    result = fork.explain_in_fork(Suspects("x", [object()], {"object": 1}, []))
    assert result.findings == []
    assert result.error == "the analysis used more than 1 s of CPU and was stopped"


def test_a_child_past_the_wall_limit_is_killed_and_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from wfleak.live.analysis import Suspects

    monkeypatch.setattr(fork, "build_index", lambda *_: time.sleep(3600))
    result = fork.explain_in_fork(Suspects("x", [object()], {"object": 1}, []), wall_limit=0.5)
    assert result.error == "the analysis was still running after 0.5 s and was stopped"


WHOLE_HEAP_AFTER_WARM_UP = """
import sys
from wfleak.live import analysis, fork
analysis.warm_up()
# Many types of wfleak's own make the index look at many suspect types, as on a big service.
kinds = [type(f"Own{i}", (), {"__module__": "wfleak.testing"}) for i in range(300)]
own = [kind() for kind in kinds]
sys.meta_path.insert(0, fork._NoImports())
suspects = analysis.Suspects("w", [], {}, [])
index = analysis.build_index(None, suspects)
print(len(index.objects))
"""


def test_after_the_warm_up_indexing_the_whole_heap_imports_nothing() -> None:
    # A fresh interpreter: what the test session imported must not stand in for the warm-up.
    result = subprocess.run(
        [sys.executable, "-c", WHOLE_HEAP_AFTER_WARM_UP],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10_000
