"""The seed bug, on the real releases: llama-index-core 0.12.x before and after its fix.

Each case first checks, with plain gc/weakref (tests/fixtures/ground_truth.py), what really
happens to the runs' Contexts on that release, then asserts that wfleak reports the same thing
with the real references: a retention path through ``Workflow._contexts`` when ``run()``
creates the Context, a ring through ``Context._tasks`` and a task's traceback frame with a
fresh ``Context(wf)`` per run, a ``Context._workflow`` ↔ ``Workflow._contexts`` ring with a
fresh workflow per run; nothing at all from 0.12.25 on.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from tests.old_releases import ROOT, release_python, run_script, run_wfleak

pytestmark = [pytest.mark.old_release, pytest.mark.slow]

SEED = "samples/seed_shared_workflow.py:SeedWorkflow"
AFFECTED = "llama-index-core==0.12.10.post1"
LAST_AFFECTED = "llama-index-core==0.12.24.post1"
FIXED = "llama-index-core==0.12.25"
SHAPE_OPTIONS = {"auto": [], "new": ["--context", "new"], "fresh": ["--workflow", "fresh"]}


def ground_truth(requirement: str, shape: str) -> dict[str, int]:
    result = run_script(release_python(requirement), ROOT / "tests/fixtures/ground_truth.py", shape)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wfleak_report(requirement: str, shape: str) -> dict[str, Any]:
    result = run_wfleak(
        release_python(requirement), "run", SEED, "-n", "12", *SHAPE_OPTIONS[shape], "--json", "-"
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["environment"]["llama_index_core"] == requirement.split("==")[1]
    return report


def edge_labels(finding: dict[str, Any]) -> list[str]:
    return [edge["label"] for edge in finding["edges"]]


def ring_closes(finding: dict[str, Any]) -> bool:
    first = finding["path"][0]
    return any(edge["target"] == first for edge in finding["edges"])


@pytest.mark.parametrize("requirement", [AFFECTED, LAST_AFFECTED])
def test_run_creating_the_context_keeps_every_context(requirement: str) -> None:
    truth = ground_truth(requirement, "auto")
    assert truth["alive_after_gc"] == truth["runs"]  # really retained, not cycle garbage

    report = wfleak_report(requirement, "auto")
    assert report["verdict"] == "leak"
    (finding,) = [f for f in report["findings"] if f["kind"] == "leak"]
    assert finding["pattern_id"] == "WFL101"
    assert finding["origin"] == "framework"
    assert "<shared workflow SeedWorkflow>._contexts{member} → Context" in finding["summary"]
    assert finding["count"] == 12
    assert "._contexts" in edge_labels(finding)
    assert finding["nodes"][0]["root"] is True
    assert finding["nodes"][-1]["type_name"] == "Context"
    # The 100 KB document each run stored hangs off its Context.
    assert finding["retained_bytes"] > 100_000
    assert "0.12.25" in finding["fix"]


def test_fresh_context_per_run_is_cycle_garbage_through_the_step_tasks() -> None:
    truth = ground_truth(AFFECTED, "new")
    assert truth["alive_before_gc"] == truth["runs"]
    assert truth["alive_after_gc"] == 0  # freed, but only by the cyclic GC

    report = wfleak_report(AFFECTED, "new")
    assert report["verdict"] == "cycle"
    (finding,) = report["findings"]
    assert finding["pattern_id"] == "WFL102"
    assert finding["origin"] == "framework"
    labels = edge_labels(finding)
    assert labels[0] == "._tasks"
    assert ".tb_frame" in labels
    assert any(label.startswith("local 'kwargs' in _task()") for label in labels)
    assert ring_closes(finding)
    assert finding["bytes_per_run"] > 100_000
    assert all(run["cycle_framework_types"].get("Context") == 1 for run in report["runs"])


def test_fresh_workflow_per_run_is_a_context_workflow_ring() -> None:
    truth = ground_truth(LAST_AFFECTED, "fresh")
    assert (truth["alive_before_gc"], truth["alive_after_gc"]) == (truth["runs"], 0)

    report = wfleak_report(LAST_AFFECTED, "fresh")
    assert report["verdict"] == "cycle"
    (finding,) = report["findings"]
    assert finding["pattern_id"] == "WFL107"
    assert {"._workflow", "._contexts", "{member}"} <= set(edge_labels(finding))
    assert ring_closes(finding)


@pytest.mark.parametrize("shape", ["auto", "new", "fresh"])
def test_fixed_release_is_ok_in_every_shape(shape: str) -> None:
    truth = ground_truth(FIXED, shape)
    assert truth["alive_after_gc"] <= 1  # at most the latest run's, never one per run

    report = wfleak_report(FIXED, shape)
    assert report["verdict"] == "ok"
    assert report["findings"] == []


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize(
    ("shape", "labels"), [("auto", {"._contexts"}), ("new", {"._tasks", ".tb_frame"})]
)
def test_the_seed_findings_draw_as_svg_with_their_labelled_edges(
    shape: str, labels: set[str], tmp_path: Path
) -> None:
    output = tmp_path / "seed.svg"
    result = run_wfleak(
        release_python(AFFECTED), "graph", SEED, "-n", "8", *SHAPE_OPTIONS[shape], "-o", str(output)
    )
    assert result.returncode == 0, result.stderr
    texts = {t.text for t in ElementTree.parse(output).iter() if t.tag.endswith("text")}
    assert labels <= texts
