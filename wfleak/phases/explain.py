"""Explain: retention paths for what leaked, from one reverse-reference index of the heap."""

from __future__ import annotations

from dataclasses import dataclass, field

from wfleak.analysis.explain import explain_leaks, is_own, may_be_own
from wfleak.analysis.paths import RootFinder, RootKind
from wfleak.driver import RunProvider
from wfleak.model import Finding
from wfleak.phases.instruments import Instruments
from wfleak.phases.progress import Progress
from wfleak.phases.trace import LeakCandidates


@dataclass(frozen=True)
class ExplainResult:
    findings: list[Finding] = field(default_factory=list)
    """One finding per distinct retention path, biggest first."""
    notes: list[str] = field(default_factory=list)


def explain(
    instruments: Instruments, provider: RunProvider, candidates: LeakCandidates
) -> ExplainResult:
    # Imported here: numpy, which the index needs, would slow down the command's start.
    from wfleak.analysis.heap import HeapIndex

    instruments.observer(Progress("analyse", 0, 1, message="building the reference index"))
    own = frozenset((id(candidates), id(candidates.leaked), id(candidates.timers)))
    roots = RootFinder(
        {
            id(obj): kind
            for obj, kind in (
                (provider.shared_workflow, RootKind.SHARED_WORKFLOW),
                (provider.reused_context, RootKind.REUSED_CONTEXT),
            )
            if obj is not None
        }
    )
    index = HeapIndex.build(is_own, screen=may_be_own, exclude_ids=own)
    notes = [] if index.cut_reason is None else [f"partial explanation: {index.cut_reason}"]
    try:
        findings = explain_leaks(
            index,
            candidates.leaked,
            candidates.counts,
            roots,
            also_leaked=candidates.timers,
            allocation=candidates.allocation,
        )
    finally:
        index.release()
    return ExplainResult(findings=findings, notes=notes)
