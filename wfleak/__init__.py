"""wfleak: find, explain and guard against memory leaks in LlamaIndex workflows.

``wfleak.analyze(target, iterations=...)`` runs the analysis and returns a
:class:`~wfleak.model.Report`; ``wfleak.evaluate(report, Thresholds(...))`` applies the
check's thresholds to it; ``wfleak.watch()`` watches the workflow runs of a live service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from wfleak.api import analyze
    from wfleak.errors import ExitCode, WfleakError
    from wfleak.gate import evaluate
    from wfleak.live import Watcher, watch, watch_lifespan
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
    "watch": "wfleak.live",
    "watch_lifespan": "wfleak.live",
    "Watcher": "wfleak.live",
}
__all__ = [
    "AllowRule",
    "ExitCode",
    "FailOn",
    "Report",
    "TargetStatus",
    "Thresholds",
    "Verdict",
    "Watcher",
    "WfleakError",
    "__version__",
    "analyze",
    "evaluate",
    "watch",
    "watch_lifespan",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wfleak' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
