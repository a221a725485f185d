"""The tool must never keep the target's objects alive: it holds weak references only, drops
frames, and keeps its own containers out of every path."""

from __future__ import annotations

import gc
import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from wfleak.model import Settings, Verdict
from wfleak.pipeline import TRACED_RUNS, analyze

_names = itertools.count()

SOURCE = """
import weakref
from llama_index.core.workflow import Context, StartEvent, StopEvent, Workflow, step

SEEN = weakref.WeakSet()
HISTORY = []
KEEP = {keep}


class Target(Workflow):
    @step
    async def go(self, ctx: Context, ev: StartEvent) -> StopEvent:
        SEEN.add(ctx)
        if KEEP:
            HISTORY.append(ctx)
        return StopEvent(result="done")
"""


@pytest.fixture
def target_module(tmp_path: Path) -> Iterator[object]:
    loaded: list[str] = []

    def make(keep: bool) -> tuple[str, ModuleType]:
        name = f"wfleak_observer_case_{next(_names)}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(SOURCE.format(keep=keep)))
        loaded.append(name)
        return f"{path}:Target", name

    yield make
    for name in loaded:
        sys.modules.pop(name, None)


def test_after_analysis_of_a_leak_nothing_but_the_leak_holds_the_contexts(target_module) -> None:  # type: ignore[no-untyped-def]
    spec, name = target_module(keep=True)
    report = analyze(Settings(target=spec, iterations=8, warmup=2))
    assert report.verdict is Verdict.LEAK
    module = sys.modules[name]
    # Warm-ups, measured runs, and the runs traced to find where the leak is allocated.
    assert len(module.SEEN) == 2 + 8 + TRACED_RUNS
    module.HISTORY.clear()
    gc.collect()
    assert len(module.SEEN) == 0


def test_after_analysis_of_a_clean_workflow_no_context_survives(target_module) -> None:  # type: ignore[no-untyped-def]
    spec, name = target_module(keep=False)
    report = analyze(Settings(target=spec, iterations=8, warmup=2))
    assert report.verdict is Verdict.OK
    gc.collect()
    assert len(sys.modules[name].SEEN) == 0


def test_the_tools_own_objects_never_appear_on_a_path(target_module) -> None:  # type: ignore[no-untyped-def]
    spec, _ = target_module(keep=True)
    report = analyze(Settings(target=spec, iterations=8, warmup=2))
    for finding in report.findings:
        for node in finding.nodes:
            assert "wfleak" not in node.type_name
            assert "Measurement" not in node.label and "ObjectTracker" not in node.label
        for edge in finding.edges:
            assert "wfleak/" not in edge.label
    leak = next(f for f in report.findings if f.pattern_id == "WFL001")
    assert f"{spec.split(':')[0]}" not in leak.summary or ".HISTORY[" in leak.summary
