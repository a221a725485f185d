"""Recognise LlamaIndex workflow classes, whichever package provides the engine.

llama-index-core 0.11 to 0.12 has its own engine under ``llama_index.core.workflow``; 0.13
and later re-export the one from the separate ``workflows`` package (llama-index-workflows),
which also runs on its own, without llama-index-core. Both may be installed side by side, so
every check here accepts the classes of either, and neither is required.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from functools import cache
from typing import cast

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


def missing_engine() -> str | None:
    """One line saying that no engine is importable here, or None when one is."""
    if engines():
        return None
    return (
        f"No LlamaIndex workflow engine is installed for {sys.executable}: install "
        "llama-index-core or llama-index-workflows in this environment "
        "(pip install 'wfleak[core]' or 'wfleak[workflows]')"
    )


SUPPORTED_RELEASES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    # distribution: (oldest supported, first unsupported), as (major, minor)
    "llama-index-core": ((0, 11), (0, 15)),
    "llama-index-workflows": ((1, 0), (3, 0)),
}


def release_tuple(version: str) -> tuple[int, ...]:
    """The leading numbers of a version string: ``0.12.24.post1`` is (0, 12, 24)."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(n) for n in numbers.group().split(".")) if numbers else ()


def unsupported_releases(installed: dict[str, str | None] | None = None) -> list[str]:
    """A warning for each installed engine release outside the supported range."""
    if installed is None:
        installed = {name: package_version(name) for name in SUPPORTED_RELEASES}
    warnings = []
    for name, (oldest, first_unsupported) in SUPPORTED_RELEASES.items():
        version = installed.get(name)
        if version is None:
            continue
        release = release_tuple(version)[:2]
        supported = f"{oldest[0]}.{oldest[1]} to {first_unsupported[0]}.{first_unsupported[1] - 1}"
        if first_unsupported[1] == 0:
            supported = f"{oldest[0]}.x to {first_unsupported[0] - 1}.x"
        if release < oldest:
            warnings.append(
                f"{name} {version} is older than wfleak supports ({supported}): its workflow "
                "classes may not be recognised and findings may be missing; upgrade it"
            )
        elif release >= first_unsupported:
            warnings.append(
                f"{name} {version} is newer than wfleak was tested with ({supported}): "
                "findings about framework internals may be missing"
            )
    return warnings


def workflow_classes() -> tuple[type, ...]:
    return tuple(e.workflow for e in engines())


def engine_for(workflow: object) -> Engine:
    for engine in engines():
        if issubclass(type(workflow), engine.workflow):
            return engine
    raise TypeError(f"{type(workflow).__name__} is not a workflow")


def is_workflow_class(obj: object) -> bool:
    return issubclass(type(obj), type) and issubclass(cast(type, obj), workflow_classes())


def is_workflow(obj: object) -> bool:
    return issubclass(type(obj), workflow_classes())


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
