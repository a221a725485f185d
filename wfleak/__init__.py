"""wfleak: find, explain and guard against memory leaks in LlamaIndex workflows.

``wfleak.analyze(target, iterations=...)`` runs the analysis and returns a
:class:`~wfleak.model.Report`; ``wfleak.evaluate(report, Thresholds(...))`` applies the
check's thresholds to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from wfleak.api import analyze
    from wfleak.errors import ExitCode, WfleakError
    from wfleak.gate import evaluate
    from wfleak.model import AllowRule, FailOn, Report, TargetStatus, Thresholds, Verdict

# Imported on first use: the pytest plugin and the worker import this package, and should not
# pay for the whole analysis stack until they need it.
_EXPORTS = {
    "analyze": "wfleak.api",
    "evaluate": "wfleak.gate",
    "ExitCode": "wfleak.errors",
    "WfleakError": "wfleak.errors",
    "AllowRule": "wfleak.model",
    "FailOn": "wfleak.model",
    "Report": "wfleak.model",
    "TargetStatus": "wfleak.model",
    "Thresholds": "wfleak.model",
    "Verdict": "wfleak.model",
}
__all__ = [
    "AllowRule",
    "ExitCode",
    "FailOn",
    "Report",
    "TargetStatus",
    "Thresholds",
    "Verdict",
    "WfleakError",
    "__version__",
    "analyze",
    "evaluate",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wfleak' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
