"""A probe that could not measure: the analysis keeps what it measured before, and the report
says which probe failed and why (INCONCLUSIVE ``probe_failed``), never OK and never a failure
of the workflow."""

from __future__ import annotations


class ProbeFailed(Exception):
    """A probe could not take its measurement; ``message`` says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def of(cls, what: str, exc: BaseException) -> ProbeFailed:
        """``what`` failed with ``exc``: one bounded line naming both."""
        detail = str(exc).splitlines()[0] if str(exc) else ""
        text = f"{what} failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
        return cls(text[:300])
