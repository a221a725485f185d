"""The watcher's metrics, in prometheus-client and (when its SDK is installed) OpenTelemetry.

- ``wfleak_runs_watched_total`` (counter): workflow runs started and watched;
- ``wfleak_runs_retained_total`` (counter): runs whose objects outlived a full collection
  that started after the grace period;
- ``wfleak_runs_cycle_freed_total`` (counter): runs whose objects only the cyclic garbage
  collector freed;
- ``wfleak_retained_runs`` (gauge): retained runs still alive now.

Every metric has one label, ``workflow``: the workflow class's qualified name (at most 50
values; later classes share ``other``). In OpenTelemetry the names drop ``_total``; the gauge
is an up-down counter. Only the watcher's thread updates them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, make_asgi_app
from prometheus_client.multiprocess import MultiProcessCollector

WATCHED = "wfleak_runs_watched_total"
RETAINED = "wfleak_runs_retained_total"
CYCLE_FREED = "wfleak_runs_cycle_freed_total"
RETAINED_NOW = "wfleak_retained_runs"
LABEL = "workflow"

_HELP = {
    WATCHED: "Workflow runs started and watched by wfleak.",
    RETAINED: "Workflow runs whose objects were still alive after a full collection that "
    "started after the grace period.",
    CYCLE_FREED: "Workflow runs whose objects only the cyclic garbage collector freed.",
    RETAINED_NOW: "Retained workflow runs whose objects are still alive.",
}

Asgi = Callable[..., Any]


def multiprocess_dir() -> str | None:
    """prometheus-client's multiprocess mode is on when this variable names a directory."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


class _OpenTelemetry:
    def __init__(self) -> None:
        from opentelemetry import metrics

        meter = metrics.get_meter("wfleak")
        self.instruments: dict[str, Any] = {
            WATCHED: meter.create_counter(
                WATCHED.removesuffix("_total"), description=_HELP[WATCHED]
            ),
            RETAINED: meter.create_counter(
                RETAINED.removesuffix("_total"), description=_HELP[RETAINED]
            ),
            CYCLE_FREED: meter.create_counter(
                CYCLE_FREED.removesuffix("_total"), description=_HELP[CYCLE_FREED]
            ),
            RETAINED_NOW: meter.create_up_down_counter(
                RETAINED_NOW, description=_HELP[RETAINED_NOW]
            ),
        }

    def add(self, name: str, label: str, amount: int) -> None:
        self.instruments[name].add(amount, {LABEL: label})


def _opentelemetry_sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:
        return False


class Metrics:
    """The four metrics, registered once per watcher and unregistered by ``close``.

    ``counts`` keeps the same numbers for ``Watcher.report()`` and the tests, since a
    registry in multiprocess mode holds no values in this process.
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = REGISTRY if registry is None else registry
        self._counters = {
            name: Counter(name, _HELP[name], [LABEL], registry=self.registry)
            for name in (WATCHED, RETAINED, CYCLE_FREED)
        }
        self._gauge = Gauge(
            RETAINED_NOW,
            _HELP[RETAINED_NOW],
            [LABEL],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._otel = _OpenTelemetry() if _opentelemetry_sdk_installed() else None
        self.counts: dict[str, dict[str, int]] = {name: {} for name in _HELP}
        self._children: dict[tuple[str, str], Any] = {}

    def add(self, name: str, label: str, amount: int = 1) -> None:
        child = self._children.get((name, label))
        if child is None:
            metric = self._gauge if name == RETAINED_NOW else self._counters[name]
            # ``labels()`` takes the metric's lock and builds its key on every call.
            child = self._children[(name, label)] = metric.labels(label)
        child.inc(amount)
        per_label = self.counts[name]
        per_label[label] = per_label.get(label, 0) + amount
        if self._otel is not None:
            self._otel.add(name, label, amount)

    def total(self, name: str) -> int:
        return sum(self.counts[name].values())

    def asgi_app(self) -> Asgi:
        """An ASGI app serving the metrics; in multiprocess mode, every worker's."""
        if multiprocess_dir() is not None:
            collected = CollectorRegistry()
            MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
            return make_asgi_app(registry=collected)
        return make_asgi_app(registry=self.registry)

    def close(self) -> None:
        for collector in (*self._counters.values(), self._gauge):
            # KeyError: the application unregistered it already.
            with contextlib.suppress(KeyError):
                self.registry.unregister(collector)
