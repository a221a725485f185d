"""A real service for the watcher's tests: uvicorn in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from tests.conftest import ROOT

READY = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
ENDPOINT = re.compile(r"wfleak report endpoint on 127\.0\.0\.1:(\d+)")
STARTUP_TIMEOUT = 120.0
T = TypeVar("T")


@dataclass
class Service:
    base_url: str
    lines: list[str]
    endpoint: str | None = None
    token: str | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def get(self, path: str) -> httpx.Response:
        response = self.client.get(self.base_url + path)
        response.raise_for_status()
        return response

    def post(self, path: str, body: object) -> httpx.Response:
        response = self.client.post(self.base_url + path, json=body)
        response.raise_for_status()
        return response

    def report(self) -> dict[str, Any]:
        """The watcher's report, from its endpoint (with the token the service was given)."""
        assert self.endpoint is not None and self.token is not None
        response = self.client.get(
            self.endpoint + "/report", headers={"Authorization": f"Bearer {self.token}"}
        )
        response.raise_for_status()
        report: dict[str, Any] = response.json()
        return report

    def metric(self, name: str, workflow: str) -> float:
        text = self.get("/metrics/").text
        pattern = re.compile(rf'^{name}\{{workflow="{re.escape(workflow)}"\}} (\S+)$', re.M)
        found = pattern.search(text)
        return float(found.group(1)) if found else 0.0

    def log(self) -> str:
        return "\n".join(self.lines)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120.0) -> T:
    """Polls ``probe`` until it returns something, as long as the state takes to appear."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def serve(app: str, **env: str) -> Iterator[Service]:
    """``uvicorn APP --port 0`` until its readiness line; stops it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1", **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    ready: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            ready.put(line)
        ready.put("")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        endpoint = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            line = ready.get(timeout=max(deadline - time.monotonic(), 0.1))
            if not line:
                raise AssertionError("the service exited:\n" + "\n".join(lines))
            if found := ENDPOINT.search(line):
                endpoint = f"http://127.0.0.1:{found.group(1)}"
            if found := READY.search(line):
                service = Service(
                    f"http://127.0.0.1:{found.group(1)}",
                    lines,
                    endpoint,
                    env.get("WFLEAK_WATCH_TOKEN"),
                )
                break
        with service.client:
            yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
