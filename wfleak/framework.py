"""Recognise LlamaIndex workflow classes, whichever package provides the engine.

llama-index-core 0.12.x has its own engine under ``llama_index.core.workflow``; 0.14.x
re-exports the one from the separate ``workflows`` package (llama-index-workflows). Both may be
installed side by side, so every check here accepts the classes of either.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache

FRAMEWORK_MODULE_PREFIXES = ("workflows.", "llama_index.core.workflow.")
_ENGINE_MODULES = ("workflows", "llama_index.core.workflow")


@dataclass(frozen=True)
class Engine:
    """The public classes of one workflow engine."""

    module: str
    workflow: type
    context: type
    event: type
    start_event: type
    stop_event: type
    handler: type | None


def _load_engine(module_name: str) -> Engine | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    events = importlib.import_module(f"{module_name}.events")
    try:
        handler_module = importlib.import_module(f"{module_name}.handler")
        handler: type | None = handler_module.WorkflowHandler
    except (ImportError, AttributeError):
        handler = None
    return Engine(
        module=module_name,
        workflow=module.Workflow,
        context=module.Context,
        event=events.Event,
        start_event=events.StartEvent,
        stop_event=events.StopEvent,
        handler=handler,
    )


@cache
def engines() -> tuple[Engine, ...]:
    """Every importable engine, without duplicates when one re-exports the other."""
    found: list[Engine] = []
    for name in _ENGINE_MODULES:
        engine = _load_engine(name)
        if engine is not None and all(e.workflow is not engine.workflow for e in found):
            found.append(engine)
    return tuple(found)


def workflow_classes() -> tuple[type, ...]:
    return tuple(e.workflow for e in engines())


def engine_for(workflow: object) -> Engine:
    for engine in engines():
        if isinstance(workflow, engine.workflow):
            return engine
    raise TypeError(f"{type(workflow).__name__} is not a workflow")


def is_workflow_class(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, workflow_classes())


def is_workflow(obj: object) -> bool:
    return isinstance(obj, workflow_classes())


def module_of(tp: type) -> str:
    """A type's module name; a class body can make ``__module__`` anything, so check."""
    module = getattr(tp, "__module__", None)
    return module if isinstance(module, str) else ""


class FrameworkTypes:
    """Decides, once per type, whether an object belongs to the framework's per-run state."""

    def __init__(self) -> None:
        bases: list[type] = [asyncio.Task]
        for engine in engines():
            bases += [engine.workflow, engine.context, engine.event]
            if engine.handler is not None:
                bases.append(engine.handler)
        self._bases = tuple(bases)
        self._decided: dict[type, bool] = {}

    def __contains__(self, tp: type) -> bool:
        decided = self._decided.get(tp)
        if decided is None:
            module = module_of(tp)
            decided = issubclass(tp, self._bases) or module.startswith(FRAMEWORK_MODULE_PREFIXES)
            self._decided[tp] = decided
        return decided


def type_name(tp: type) -> str:
    """``module.Qualname`` with the framework's long module paths kept readable."""
    module = module_of(tp)
    qualname = getattr(tp, "__qualname__", tp.__name__)
    if module in ("builtins", ""):
        return qualname
    return f"{module}.{qualname}"


def short_type_name(tp: type) -> str:
    return getattr(tp, "__qualname__", tp.__name__)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    return {
        "llama_index_core": package_version("llama-index-core"),
        "workflows": package_version("llama-index-workflows"),
    }
