"""The watcher's core, in-process, on real workflows: what it counts, what it never keeps."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step
from prometheus_client import CollectorRegistry

import wfleak
from tests.conftest import ROOT, run_cli
from tests.live.service import wait_for
from wfleak.errors import UsageError
from wfleak.live import Watcher, fork, walk
from wfleak.live.metrics import CYCLE_FREED, RETAINED, RETAINED_NOW, WATCHED
from wfleak.live.recorder import MAX_LABELS, OTHER_LABEL
from wfleak.model import Finding
from wfleak.serde import to_jsonable

sys.path.insert(0, str(ROOT / "samples"))

import leaky_global
from fixed_global import FixedWorkflow

KEPT: list[Any] = []


class KeepsWorkflow(Workflow):
    """Each run's workflow is kept; the runs leave nothing else."""

    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result="done")


class CycleWorkflow(Workflow):
    """Each step leaves its Context in a reference cycle: freed only by the cyclic GC."""

    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        ring: dict[str, Any] = {"ctx": ctx}
        ring["self"] = ring
        return StopEvent(result="done")


SECRET = "sk-live0123456789abcdefXYZ"
BY_KEY: dict[str, Any] = {}


class KeyedWorkflow(Workflow):
    """Keeps each run's Context under a key that quotes a credential."""

    @step
    async def answer(self, ctx: Context, ev: StartEvent) -> StopEvent:
        BY_KEY[f"token={SECRET}"] = ctx
        return StopEvent(result="done")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def watcher(registry: CollectorRegistry) -> Iterator[Watcher]:
    watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=registry, explain="off")
    yield watcher
    watcher.close()
    leaky_global.HISTORY.clear()
    KEPT.clear()


EXPLAIN_WAIT = fork.WALL_LIMIT + 60.0
"""The analysis child is budgeted in CPU time, a loaded machine stretches its wall time: wait
past the wall-clock limit after which the watcher gives up and says so in a note."""


def explained(watcher: Watcher) -> list[Finding]:
    """The findings of the first explanation, once it is over (its note is kept after its
    findings); an explanation that failed or found nothing fails the test with its notes."""

    def over() -> list[str] | None:
        notes = watcher.report().notes
        ends = [
            n
            for n in notes
            if n.startswith("explaining retained runs of ")
            or (n.startswith("retained runs of ") and " explained " in n)
        ]
        return notes if ends else None

    notes = wait_for("the explanation of the retained runs", over, timeout=EXPLAIN_WAIT)
    findings = watcher.report().findings
    assert findings, "no finding; the watcher's notes: " + " | ".join(notes)
    return findings


def count(watcher: Watcher, name: str, workflow: type) -> int:
    return watcher.counts()[name].get(f"{workflow.__module__}.{workflow.__qualname__}", 0)


def run_many(workflow: Workflow, times: int) -> None:
    async def main() -> None:
        for _ in range(times):
            await workflow.run()

    asyncio.run(main())


def test_counts_retained_runs_and_watched_runs(
    watcher: Watcher, registry: CollectorRegistry
) -> None:
    run_many(leaky_global.LeakyWorkflow(), 3)
    run_many(FixedWorkflow(), 5)
    leaky = leaky_global.LeakyWorkflow
    wait_for("3 retained runs", lambda: count(watcher, RETAINED, leaky) == 3)
    wait_for("5 fixed runs counted", lambda: count(watcher, WATCHED, FixedWorkflow) == 5)
    assert count(watcher, WATCHED, leaky) == 3
    assert count(watcher, RETAINED_NOW, leaky) == 3
    label = {"workflow": "leaky_global.LeakyWorkflow"}
    assert registry.get_sample_value("wfleak_runs_retained_total", label) == 3
    assert registry.get_sample_value("wfleak_retained_runs", label) == 3
    assert registry.get_sample_value("wfleak_runs_watched_total", label) == 3
    report = watcher.report()
    assert report.verdict.value == "leak"
    assert report.runs == []

    # Freed later (the service trims its list): no longer alive now, still counted as retained.
    leaky_global.HISTORY.clear()
    gc.collect()
    wait_for("the gauge back to 0", lambda: count(watcher, RETAINED_NOW, leaky) == 0)
    assert count(watcher, RETAINED, leaky) == 3


def test_fixed_runs_are_never_retained(watcher: Watcher) -> None:
    run_many(FixedWorkflow(), 5)
    run_many(leaky_global.LeakyWorkflow(), 1)
    # The leaky run ended last: once it is judged, every fixed run has been.
    wait_for("the leaky run judged", lambda: count(watcher, RETAINED, leaky_global.LeakyWorkflow))
    assert count(watcher, RETAINED, FixedWorkflow) == 0
    assert count(watcher, WATCHED, FixedWorkflow) == 5
    assert watcher.report().verdict.value == "leak"


def test_runs_freed_only_by_the_cyclic_gc_are_counted_apart(watcher: Watcher) -> None:
    gc.disable()
    try:
        run_many(CycleWorkflow(), 4)
    finally:
        gc.enable()
    wait_for("4 cycle-freed runs", lambda: count(watcher, CYCLE_FREED, CycleWorkflow) == 4)
    assert count(watcher, RETAINED, CycleWorkflow) == 0


def test_never_keeps_a_watched_object_alive(watcher: Watcher) -> None:
    refs: list[weakref.ref[Any]] = []

    async def main() -> None:
        workflow = leaky_global.LeakyWorkflow()
        handler = workflow.run()
        await handler
        refs.extend([weakref.ref(handler), weakref.ref(handler.ctx), weakref.ref(workflow)])
        refs.extend(weakref.ref(ctx) for ctx in leaky_global.HISTORY)

    asyncio.run(main())
    wait_for("the run retained", lambda: count(watcher, RETAINED, leaky_global.LeakyWorkflow))
    leaky_global.HISTORY.clear()
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)


def test_explanations_keep_nothing_alive_either(
    registry: CollectorRegistry, patient_walk: None
) -> None:
    watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=registry, explain="thread")
    try:
        run_many(leaky_global.LeakyWorkflow(), 2)
        refs = [weakref.ref(ctx) for ctx in leaky_global.HISTORY]
        explained(watcher)
        leaky_global.HISTORY.clear()
        gc.collect()
        assert [r() for r in refs] == [None, None]
    finally:
        watcher.close()


@pytest.fixture
def patient_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk's pause budget is about the service; these tests are about its path, on a
    test process's large heap, on a loaded machine."""
    monkeypatch.setattr(walk, "PAUSE_BUDGET", 30.0)


@pytest.mark.parametrize("mode", ["thread", "fork"])
def test_explains_the_retention_path(
    mode: str, registry: CollectorRegistry, caplog: Any, patient_walk: None
) -> None:
    caplog.set_level(logging.WARNING, logger="wfleak.watch")
    watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=registry, explain=mode)
    try:
        run_many(leaky_global.LeakyWorkflow(), 2)
        (finding,) = explained(watcher)
    finally:
        watcher.close()
        leaky_global.HISTORY.clear()
    assert finding.pattern_id == "WFL001"
    assert "leaky_global.HISTORY[" in finding.summary
    assert "samples/leaky_global.py:15" in finding.fix
    assert ("forked copy" in finding.explanation) is (mode == "fork")
    records = [r for r in caplog.records if getattr(r, "wfleak", None)]
    assert len(records) == 1
    assert records[0].wfleak["pattern_id"] == "WFL001"
    assert records[0].wfleak["workflow"] == "leaky_global.LeakyWorkflow"


def test_credentials_in_the_heap_are_masked_in_findings_and_log(
    registry: CollectorRegistry, caplog: Any, patient_walk: None
) -> None:
    caplog.set_level(logging.WARNING, logger="wfleak.watch")
    watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=registry, explain="thread")
    try:
        run_many(KeyedWorkflow(), 1)
        (finding,) = explained(watcher)
    finally:
        watcher.close()
        BY_KEY.clear()
    assert "BY_KEY[" in finding.summary
    assert "token=***" in finding.summary
    shown = json.dumps(to_jsonable(finding)) + " ".join(r.getMessage() for r in caplog.records)
    assert SECRET not in shown
    assert SECRET[:12] not in shown


def test_a_workflow_made_per_run_is_part_of_the_run(watcher: Watcher) -> None:
    async def main() -> None:
        for _ in range(3):
            workflow = KeepsWorkflow()
            KEPT.append(workflow)
            await workflow.run()
        # Made in this task too, but run again and again: it outlives one run on purpose.
        reused = KeepsWorkflow()
        KEPT.append(reused)
        for _ in range(3):
            await reused.run()

    asyncio.run(main())
    wait_for("6 watched runs judged", lambda: count(watcher, RETAINED, KeepsWorkflow) >= 3)
    run_many(leaky_global.LeakyWorkflow(), 1)
    wait_for("the marker run judged", lambda: count(watcher, RETAINED, leaky_global.LeakyWorkflow))
    assert count(watcher, RETAINED, KeepsWorkflow) == 3
    assert count(watcher, WATCHED, KeepsWorkflow) == 6


def test_a_shared_workflow_kept_by_the_service_is_not_a_leak(watcher: Watcher) -> None:
    shared = KeepsWorkflow()
    run_many(shared, 3)
    run_many(leaky_global.LeakyWorkflow(), 1)
    wait_for("the marker run judged", lambda: count(watcher, RETAINED, leaky_global.LeakyWorkflow))
    assert count(watcher, RETAINED, KeepsWorkflow) == 0


def test_watch_is_idempotent_and_close_stops_it(registry: CollectorRegistry) -> None:
    original_run = Workflow.__dict__["run"]
    first = wfleak.watch(grace=0.0, registry=registry, explain="off")
    try:
        assert wfleak.watch() is first
        assert wfleak.watch(grace=5.0) is first
        assert Workflow.__dict__["run"] is not original_run
    finally:
        first.close()
        first.close()
    assert Workflow.__dict__["run"] is original_run
    assert registry.get_sample_value("wfleak_runs_watched_total", {"workflow": "x"}) is None
    second = wfleak.watch(grace=0.0, registry=registry, explain="off")
    try:
        assert second is not first
    finally:
        second.close()


def test_workflow_label_takes_at_most_50_values(watcher: Watcher) -> None:
    classes = [type(f"Flow{k}", (KeepsWorkflow,), {}) for k in range(MAX_LABELS + 5)]

    async def main() -> None:
        for cls in classes:
            await cls().run()

    asyncio.run(main())
    wait_for(
        "every run counted",
        lambda: sum(watcher.counts()[WATCHED].values()) == len(classes),
    )
    labels = watcher.counts()[WATCHED]
    assert len(labels) == MAX_LABELS + 1
    assert labels[OTHER_LABEL] == 5


def test_switches_itself_off_when_over_its_cost_budget(
    registry: CollectorRegistry, caplog: Any
) -> None:
    from wfleak.live import api
    from wfleak.live.options import make_options

    caplog.set_level(logging.WARNING, logger="wfleak.watch")
    original_run = Workflow.__dict__["run"]
    watcher = Watcher(
        make_options(grace=0.0, explain="off"), registry, cost_budget=0.0, cost_window_s=0.0
    )
    try:
        run_many(FixedWorkflow(), 1)
        wait_for("switched off", lambda: watcher.switched_off)
        assert Workflow.__dict__["run"] is original_run
        assert any("watching switched off" in r.getMessage() for r in caplog.records)
        assert "switched off" in " ".join(watcher.report().notes)
    finally:
        watcher.close()
        assert api._current is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"grace": -1}, "grace must be 0 or more"),
        ({"grace": "soon"}, "grace must be a number of seconds"),
        ({"collect_every": 0}, "collect_every must be above 0"),
        ({"explain": "always"}, "explain must be one of"),
        ({"endpoint": "0.0.0.0:9000", "token": "x" * 20}, "loopback address only"),
        ({"endpoint": "127.0.0.1:9000"}, "an endpoint needs a token"),
        ({"endpoint": "127.0.0.1:9000", "token": "short"}, "at least 16 characters"),
    ],
)
def test_bad_options_get_one_clear_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        wfleak.watch(**options)


def test_report_is_the_model_the_renderers_and_graph_take(
    registry: CollectorRegistry, tmp_path: Any
) -> None:
    watcher = wfleak.watch(grace=0.0, collect_every=0.02, registry=registry)
    try:
        run_many(leaky_global.LeakyWorkflow(), 2)
        explained(watcher)
        report = watcher.report()
    finally:
        watcher.close()
        leaky_global.HISTORY.clear()
    saved = tmp_path / "watch.json"
    saved.write_text(json.dumps(to_jsonable(report)))
    result = run_cli("graph", "--from", str(saved), "-o", "-", "--format", "mermaid")
    assert result.code == 0, result.stderr
    assert "HISTORY" in result.stdout


def test_a_walk_cut_by_its_pause_budget_says_so(registry: CollectorRegistry) -> None:
    from wfleak.live.analysis import Suspects

    run_many(leaky_global.LeakyWorkflow(), 1)
    try:
        leaked = list(leaky_global.HISTORY)
        result = walk.explain_by_walk(Suspects("x", leaked, {"Context": 1}, []), pause_budget=0.0)
    finally:
        leaky_global.HISTORY.clear()
    assert result.cut is not None and "pause budget" in result.cut
    assert result.scans == 1
    assert all("stopped before it reached a root" in f.explanation for f in result.findings)
