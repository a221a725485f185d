"""With the OpenTelemetry SDK installed, the same counts go to the application's meter
provider (in a subprocess: a process sets its global meter provider once)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("opentelemetry.sdk")

SCRIPT = """
import asyncio, json, sys, time
sys.path.insert(0, "samples")
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
from prometheus_client import CollectorRegistry
import wfleak
from leaky_global import LeakyWorkflow
watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=CollectorRegistry(), explain="off")
async def main():
    workflow = LeakyWorkflow()
    for _ in range(3):
        await workflow.run()
asyncio.run(main())
deadline = time.monotonic() + 60
while watcher.pending and time.monotonic() < deadline:
    time.sleep(0.05)
seen = {}
for resource in reader.get_metrics_data().resource_metrics:
    for scope in resource.scope_metrics:
        for metric in scope.metrics:
            for point in metric.data.data_points:
                seen[metric.name] = [dict(point.attributes), point.value]
print(json.dumps(seen))
"""


def test_opentelemetry_gets_the_same_counts_without_total() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    label = {"workflow": "leaky_global.LeakyWorkflow"}
    assert seen["wfleak_runs_watched"] == [label, 3]
    assert seen["wfleak_runs_retained"] == [label, 3]
    assert seen["wfleak_retained_runs"] == [label, 3]
