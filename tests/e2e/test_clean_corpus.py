"""No false positives: workflows that do not leak get OK, every time, at the default settings.

The corpus (``tests/fixtures/corpus``) holds realistic clean workflows: real agents on the mock
LLMs of llama-index-core, caches that fill during the first runs, lazy imports, pydantic models
made on first use, bounded log handlers. Every target is analysed ``REPETITIONS`` times at the
defaults (no ``--iterations`` or ``--warmup`` override), so a verdict that depends on timing
or luck fails here.

One ``wfleak run`` at the defaults takes 20 s to a minute on a 2-core machine, so the test runs
two merged targets rather than every workflow of the corpus: ``ServiceWorkflow`` runs the
steps of the non-agent modules in one request, and ``make_agent_pipeline`` runs an
``AgentWorkflow`` (with its ``FunctionAgent``) and then a ``ReActAgent``. The other workflows
of the corpus stay there to be run one by one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

REPETITIONS = 5
CORPUS = "tests/fixtures/corpus"
AGENT_INPUT = json.dumps({"user_msg": "hi"})

# (target, the start-event fields it needs as --input, or None)
TARGETS: list[tuple[str, str | None]] = [
    (f"{CORPUS}/logging_handlers.py:ServiceWorkflow", None),
    (f"{CORPUS}/agents.py:make_agent_pipeline", AGENT_INPUT),
]


def describe(report: dict[str, Any]) -> str:
    """The verdict and every finding, for an assertion message that says what went wrong."""
    findings = [
        f"[{f['kind']} {f.get('pattern_id') or f['fingerprint']}] {f['title']}: {f['summary']}"
        for f in report["findings"]
    ]
    return f"verdict {report['verdict']!r}; findings: {findings or 'none'}"


@pytest.mark.parametrize("repetition", range(1, REPETITIONS + 1))
@pytest.mark.parametrize(
    ("target", "run_input"), TARGETS, ids=[t.split("/")[-1] for t, _ in TARGETS]
)
def test_clean_workflow_is_ok(target: str, run_input: str | None, repetition: int) -> None:
    args = ["run", target]
    if run_input is not None:
        args += ["--input", run_input]
    result = run_cli(*args, "--json", "-", timeout=600)
    assert result.code == 0, result.stderr
    report = result.report
    assert report["complete"] is True, report["stop_message"]
    assert report["settings"]["iterations"] == 50
    assert len(report["runs"]) == 50
    assert all(run["ok"] for run in report["runs"])
    assert report["verdict"] == "ok", f"repetition {repetition}: {describe(report)}"
