"""The C allocator's count stands in for tracemalloc only where it sees every allocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wfleak.probes import allocator

pytestmark = pytest.mark.skipif(not allocator.supported(), reason="needs glibc's mallinfo2")

PROBE = """
import json, sys
from wfleak.probes import allocator
before = allocator.in_use_bytes()
kept = [bytes(1000 + k) for k in range(100)]
during = allocator.in_use_bytes()
del kept
after = allocator.in_use_bytes()
print(json.dumps({"every": allocator.counts_every_allocation(), "grew": during - before,
                  "fell": during - after}))
"""


def test_in_the_worker_environment_every_byte_is_counted() -> None:
    env = {**os.environ, **allocator.WORKER_ENVIRONMENT}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["every"] is True
    payload = sum(1000 + k for k in range(100))
    # Object headers and malloc's chunk headers come on top of the payload.
    assert payload < result["grew"] < payload + 100 * 128
    assert result["fell"] == pytest.approx(result["grew"], abs=1024)


def test_with_pymalloc_the_count_is_not_trusted() -> None:
    # pytest runs with Python's own small-object allocator, whose blocks malloc never sees.
    assert sys.getallocatedblocks() > 0
    assert allocator.counts_every_allocation() is False


def test_worker_environment_keeps_the_users_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.check=0")
    variables = allocator.worker_environment()
    assert variables["PYTHONMALLOC"] == "malloc"
    assert variables["GLIBC_TUNABLES"] == "glibc.malloc.check=0:glibc.malloc.tcache_count=0"
    monkeypatch.setenv("PYTHONMALLOC", "pymalloc_debug")
    assert allocator.worker_environment() == {}
