"""Explain: retention paths for what leaked, from one reverse-reference index of the heap."""

from __future__ import annotations

from dataclasses import dataclass, field

from wfleak.analysis.explain import explain_leaks, is_own, may_be_own
from wfleak.analysis.paths import Budget, RootFinder, RootKind
from wfleak.driver import RunProvider
from wfleak.model import Finding, Reason, ReasonCode
from wfleak.phases.instruments import Instruments
from wfleak.phases.progress import Progress
from wfleak.phases.trace import LeakCandidates


@dataclass(frozen=True)
class ExplainResult:
    findings: list[Finding] = field(default_factory=list)
    """One finding per distinct retention path, biggest first."""
    notes: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    unexplained: str = ""
    """Why the leaks have no retention path, when none was found."""


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
                (provider.served_app, RootKind.SERVED_APP),
            )
            if obj is not None
        }
    )
    cut: str | None = None
    budget = Budget()
    try:
        index = HeapIndex.build(is_own, screen=may_be_own, exclude_ids=own)
        cut = index.cut_reason
        try:
            findings = explain_leaks(
                index,
                candidates.leaked,
                candidates.counts,
                roots,
                also_leaked=candidates.timers,
                allocation=candidates.allocation,
                budget=budget,
            )
        finally:
            index.release()
    except (MemoryError, RecursionError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        # A tool error must not read as OK, nor vanish: the leak stays, saying why it has no
        # path, and the report says the explanation is missing.
        message = f"explaining the leak failed: {type(exc).__name__}: {exc}"[:300]
        return ExplainResult(
            notes=[message],
            reasons=[Reason(ReasonCode.EXPLANATION_FAILED, message)],
            unexplained=message,
        )
    cuts = [c for c in (cut, budget.reason) if c is not None]
    notes = [f"partial explanation: {c}" for c in cuts] + budget.notes
    reasons = [Reason(ReasonCode.BUDGET_EXCEEDED, f"partial explanation: {c}") for c in cuts]
    if not findings:
        why = (
            f"the explanation's budget was reached ({'; '.join(cuts)})"
            if cuts
            else f"no retention path found: none of the {len(candidates.leaked)} leaked "
            "objects examined is reachable from a module, class, the event loop or a pending "
            "task (they may be held outside the garbage collector's view, by a C extension)"
        )
        return ExplainResult(notes=notes, reasons=reasons, unexplained=why)
    return ExplainResult(findings=findings, notes=notes, reasons=reasons)
