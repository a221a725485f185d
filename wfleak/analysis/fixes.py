"""The fix for a finding, computed from the finding itself.

A fix must be one its owner can apply: for the framework, the release to upgrade to and the
workaround until then; for a library, the resource to close or cancel; for the app, the
user's own line and names. It also fits the situation: the run mode (a workflow that is
already shared is never told to share itself), the root, and what the path goes through (a
timer's copied contextvars, a library object the app keeps for the life of the process).
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import types
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wfleak.analysis import owner, patterns
from wfleak.analysis.edges import Hop
from wfleak.analysis.paths import Root, RootKind
from wfleak.analysis.source import (
    Mutation,
    find_assignments,
    find_method_calls,
    find_mutations,
)
from wfleak.framework import package_version
from wfleak.model import Frame, Origin, WorkflowMode
from wfleak.probes.memory import display_path, is_user_file

GENERAL_APP_FIX = (
    "Find where this reference is made and drop it when the run ends; keep ids or "
    "weakref.ref() instead of the objects."
)
TIMER_EXAMPLE = (
    "loop.call_later(delay, callback, context=contextvars.Context())  # outlives the run\n"
    "await session.close()  # the client that owns the timer, when the run ends"
)
_RESET = re.compile(r"(reset|clear)\w*")


@dataclass(frozen=True)
class Fix:
    text: str
    example: str = ""
    site: Frame | None = None


def _decisive(steps: Sequence[patterns.Step]) -> int | None:
    """The first reference from the root whose maker is known and can act on it; else the
    first whose maker is unknown."""
    unknown = None
    for k, step in enumerate(steps):
        if step.owner in (Origin.APP, Origin.FRAMEWORK, Origin.LIBRARY):
            return k
        if step.owner == Origin.UNKNOWN and unknown is None:
            unknown = k
    return unknown


def _package(step: patterns.Step) -> str:
    return f"{step.distribution} {step.version}".strip()


def path_owner(
    pattern: patterns.Pattern | None,
    steps: Sequence[patterns.Step],
    versions: patterns.VersionLookup | None = None,
    leaked: patterns.Step | None = None,
) -> owner.Owner:
    """Who must act on a path: a matched entry's owner (with the release that made its
    references), else whoever made the first reference from the root that anyone can change;
    when only the interpreter's plumbing holds it (the loop, a timer, a future's callbacks),
    whoever's code the leaked object runs or is."""
    if pattern is not None:
        if pattern.origin is Origin.APP:
            return owner.Owner(Origin.APP.value)
        lookup = versions if versions is not None else package_version
        for affected in pattern.affected:
            for step in steps:
                same = patterns.canonical(step.distribution) == patterns.canonical(affected.package)
                if same and step.version:
                    return owner.Owner(pattern.origin.value, step.distribution, step.version)
            installed = lookup(affected.package)
            if installed is not None:
                return owner.Owner(pattern.origin.value, affected.package, installed)
        for step in steps:
            if step.owner == pattern.origin.value:
                return owner.Owner(step.owner, step.distribution, step.version)
        return owner.Owner(pattern.origin.value)
    own = next((s for s in steps if s.owner == owner.WFLEAK), None)
    if own is not None:
        return owner.Owner(
            Origin.UNKNOWN.value,
            reason=f"held through wfleak's own {own.holder}: the tool's, not the workflow's",
        )
    k = _decisive(steps)
    if (
        k is None
        and leaked is not None
        and leaked.owner in (Origin.FRAMEWORK, Origin.LIBRARY, Origin.APP)
    ):
        return owner.Owner(
            leaked.owner,
            leaked.distribution,
            leaked.version,
            reason="only the interpreter's own references hold it; the leaked object is this "
            "owner's",
        )
    if k is None:
        reason = (
            "every reference on the path is the interpreter's own (containers, frames, "
            "asyncio's handles): nothing tells whose code made it"
            if steps
            else "held outside the garbage collector's view: no reference to decide from"
        )
        return owner.Owner(Origin.UNKNOWN.value, reason=reason)
    step = steps[k]
    return owner.Owner(step.owner, step.distribution, step.version, reason=step.reason)


def framework_fix(
    pattern: patterns.Pattern,
    steps: Sequence[patterns.Step] = (),
    versions: patterns.VersionLookup | None = None,
    fix: str | None = None,
) -> str:
    """The entry's fix (or ``fix``), with the release that is affected (the one on the path,
    else the installed one)."""
    lookup = versions if versions is not None else package_version
    notes = []
    for affected in pattern.affected:
        version = next(
            (
                s.version
                for s in steps
                if s.version
                and patterns.canonical(s.distribution) == patterns.canonical(affected.package)
            ),
            None,
        ) or lookup(affected.package)
        if version is not None and affected.includes(version):
            notes.append(f"{affected.package} {version} is affected ({affected.describe()})")
    text = pattern.fix if fix is None else fix
    return f"{text} ({'; '.join(notes)})" if notes else text


def _fill(example: str, name: str | None) -> str:
    """The example with the user's own name where the entry has a placeholder."""
    return example.replace("{name}", name or "the_container")


def _container(root: Root, hops: Sequence[Hop]) -> tuple[str | None, str | None]:
    """The name of the path's first reference (the user's variable or attribute) and the
    file to search for the line that fills it."""
    if not hops or not hops[0].label.startswith("."):
        return None, None
    name = re.match(r"\.(\w+)", hops[0].label)
    if name is None:
        return None, None
    holder = hops[0].holder
    if root.kind is RootKind.MODULE:
        found = owner.owner_of_object(holder)
    elif root.kind in (RootKind.CLASS, RootKind.SHARED_WORKFLOW, RootKind.REUSED_CONTEXT):
        found = owner.owner_of_object(holder if issubclass(type(holder), type) else type(holder))
    else:
        return None, None
    return name.group(1), found.file or None


def _user_name(
    root: Root, hops: Sequence[Hop], steps: Sequence[patterns.Step], final: Any
) -> str | None:
    """The user's own name for what keeps the objects: the ContextVar's global, the module
    global or attribute the path starts at, a closure's variable, a key of a store."""
    for k, step in enumerate(steps):
        if step.owner == Origin.APP and step.label.startswith("[ContextVar"):
            binding = _contextvar_binding(hops, k, final)
            if binding is not None:
                return binding[1]
    name, _filename = _container(root, hops)
    if name is not None:
        return name
    for step in steps:
        closure = re.fullmatch(r"closure '(\w+)'", step.label)
        if closure is not None and step.owner == Origin.APP:
            return closure.group(1)
    for step in steps:
        key = re.fullmatch(r"\['(\w+)'\]", step.label)
        if key is not None:
            return key.group(1)
    return None


def _contextvar_binding(hops: Sequence[Hop], k: int, final: Any) -> tuple[str, str] | None:
    if k >= len(hops) or not issubclass(type(hops[k].holder), contextvars.Context):
        return None
    held = hops[k + 1].holder if k + 1 < len(hops) else final
    var = owner.contextvar_holding(hops[k].holder, held)
    return owner.contextvar_binding(var) if var is not None else None


def _contextvar_line(
    hops: Sequence[Hop], steps: Sequence[patterns.Step], final: Any
) -> Mutation | None:
    """The user's line that sets the ContextVar a timer's copied context holds."""
    for k, step in enumerate(steps):
        if step.owner != Origin.APP or not step.label.startswith("[ContextVar"):
            continue
        binding = _contextvar_binding(hops, k, final)
        filename = owner.module_file(binding[0]) if binding is not None else None
        if binding is not None and filename is not None and is_user_file(filename):
            calls = find_method_calls(filename, binding[1], frozenset({"set"}))
            if calls:
                return calls[0]
    return None


def _user_line(root: Root, hops: Sequence[Hop]) -> tuple[str | None, Mutation | None, bool]:
    """The user's name for the container, and the line that fills it (True) or, failing
    that, the one that binds it (False)."""
    name, filename = _container(root, hops)
    if name is None or filename is None or not is_user_file(filename):
        return name, None, False
    grown = find_mutations(filename, name)
    if grown:
        return name, grown[0], True
    bound = find_assignments(filename, name)
    return name, (bound[0] if bound else None), False


def _site(mutation: Mutation) -> Frame:
    return Frame(display_path(mutation.filename), mutation.lineno, user=True)


def _task_creation(objects: Sequence[Any], allocation: dict[int, list[Frame]]) -> Frame | None:
    for obj in objects:
        if issubclass(type(obj), asyncio.Task):
            user = owner.first_user_frame(allocation.get(id(obj), []))
            if user is not None:
                return user
    return None


def _cache_definition(objects: Sequence[Any]) -> Frame | None:
    for obj in objects:
        code = owner.cached_function_code(obj)
        if code is not None:
            user = is_user_file(code.co_filename)
            return Frame(display_path(code.co_filename), code.co_firstlineno, user=user)
    return None


def _callable_name(value: Any) -> str:
    tp = type(value)
    if tp is types.MethodType:
        return _callable_name(value.__func__)
    if tp is types.FunctionType:
        name = value.__qualname__
        return name if type(name) is str else "?"
    return owner.qualname(tp)


def _timer_hold(hops: Sequence[Hop], steps: Sequence[patterns.Step]) -> tuple[int, int] | None:
    """Where a path goes through a timer's or task's copied contextvars: the hop of the
    handle, and the step of the ContextVar that holds the rest."""
    for k, hop in enumerate(hops):
        if not issubclass(type(hop.holder), asyncio.Handle) or not hop.label.startswith(
            "._context"
        ):
            continue
        for j in range(k + 1, len(steps)):
            if steps[j].label.startswith("[ContextVar"):
                return k, j
    return None


def _timer_fix(
    hops: Sequence[Hop], steps: Sequence[patterns.Step], handle_at: int, var_at: int
) -> Fix:
    var = steps[var_at]
    name = re.match(r"\[ContextVar '(.*)'\]", var.label)
    var_name = f"ContextVar '{name.group(1)}'" if name else "a ContextVar"
    handle = hops[handle_at].holder
    callback_owner = owner.timer_callback_owner(handle)
    try:
        callback: Any = asyncio.Handle.__dict__["_callback"].__get__(handle, type(handle))
    except Exception:
        callback = None
    what = f"`{_callable_name(callback)}`" if callback is not None else "a callback"
    whose = _package(var) or var.owner
    upgrade = (
        f", or upgrade {var.distribution} once a release stops holding the run there"
        if var.owner == Origin.FRAMEWORK and var.distribution
        else ""
    )
    held = (
        f"its copied contextvars hold {whose}'s {var_name} and what it refers to until the "
        "timer fires (for good if it reschedules itself)"
    )
    if callback_owner is not None and callback_owner.origin == Origin.APP:
        text = (
            f"Your timer {what} was scheduled during a run, so {held}. Schedule it with "
            f"`context=contextvars.Context()` (or a copy made outside the run), or cancel it "
            f"when the run ends{upgrade}."
        )
        example = "loop.call_later(delay, callback, context=contextvars.Context())"
        return Fix(text, example)
    if callback_owner is not None and callback_owner.decisive:
        by = callback_owner.package or callback_owner.origin
        text = (
            f"A timer of {by} ({what}) was scheduled during a run, so {held}. What you can "
            f"do: close the {by.split()[0]} object that owns the timer when the run ends (or "
            "create it once, outside the runs, and share it), cancel the timer, or schedule "
            f"long-lived timers with `context=contextvars.Context()`{upgrade}."
        )
        return Fix(text, TIMER_EXAMPLE)
    text = (
        f"A timer was scheduled during a run, so {held}. What you can do: close the client "
        "that owns the timer when the run ends, cancel the timer, or schedule long-lived "
        f"timers with `context=contextvars.Context()`{upgrade}."
    )
    return Fix(text, TIMER_EXAMPLE)


def _timer_here(handle: Any) -> str:
    """Whose the timer on the path is, and what to do about that one."""
    callback_owner = owner.timer_callback_owner(handle)
    if callback_owner is None or not callback_owner.decisive:
        return ""
    try:
        callback: Any = asyncio.Handle.__dict__["_callback"].__get__(handle, type(handle))
    except Exception:
        return ""
    what = f"`{_callable_name(callback)}`"
    if callback_owner.origin == Origin.APP:
        return (
            f"Here the timer is your {what}: schedule it with "
            "`context=contextvars.Context()`, or cancel it when the run ends."
        )
    by = callback_owner.package or callback_owner.origin
    target = _timer_object(handle, callback, callback_owner) or f"the {by.split()[0]} object"
    return (
        f"Here the timer is {by}'s ({what}): close {target} that owns it when the run ends, "
        "or create it once, outside the runs."
    )


def _timer_object(handle: Any, callback: Any, callback_owner: owner.Owner) -> str | None:
    """The library object a timer works for: its bound method's object, or an object (or a
    weak reference to one) among its arguments, of the same distribution."""
    candidates: list[Any] = []
    if type(callback) is types.MethodType:
        candidates.append(callback.__self__)
    try:
        arguments = asyncio.Handle.__dict__["_args"].__get__(handle, type(handle))
    except Exception:
        arguments = ()
    flat: list[Any] = []
    for argument in arguments if type(arguments) is tuple else ():
        # aiohttp passes (weakref.ref(connector), "_cleanup_closed") as one argument.
        flat.extend(argument if type(argument) is tuple else (argument,))
    for argument in flat:
        candidates.append(argument() if type(argument) is weakref.ref else argument)
    for candidate in candidates:
        found = owner.owner_of_type(type(candidate))
        if found.distribution and found.distribution == callback_owner.distribution:
            return f"the `{owner.qualname(type(candidate))}`"
    return None


def _reset_method(obj: Any) -> str | None:
    """A method of the object's class that resets what it accumulates (``reset_counts``)."""
    try:
        mro = type.__dict__["__mro__"].__get__(type(obj), type)
    except Exception:
        return None
    for klass in mro:
        namespace = type.__dict__["__dict__"].__get__(klass, type)
        for key, value in namespace.items():
            if type(key) is str and _RESET.fullmatch(key) and type(value) is types.FunctionType:
                return key
    return None


def _kept_library_object(
    root: Root, hops: Sequence[Hop], steps: Sequence[patterns.Step]
) -> Fix | None:
    """An object of a library kept for the life of the process that adds to itself on every
    run (a token-counting handler whose lists grow), kept by the app's global or registered
    in the library's own (``Settings.callback_manager``)."""
    if root.kind not in (RootKind.MODULE, RootKind.CLASS, RootKind.SHARED_WORKFLOW):
        return None
    objects = [
        k
        for k, s in enumerate(steps)
        if s.owner == Origin.LIBRARY
        and k < len(hops)
        and not issubclass(type(hops[k].holder), (types.ModuleType, type))
        and owner.code_of(hops[k].holder) is None
    ]
    if not objects:
        return None
    resettable = [k for k in objects if _reset_method(hops[k].holder) is not None]
    k = resettable[-1] if resettable else objects[-1]
    kept, step = hops[k].holder, steps[k]
    kind = owner.qualname(type(kept))
    reset = _reset_method(kept)
    if steps[0].owner == Origin.APP and k > 0:
        name, line, _grows = _user_line(root, hops)
        who = name or kind
        action = f"call `{who}.{reset}()` when a run ends" if reset else "reset it when a run ends"
        where = f" (made at {line.where})" if line is not None else ""
        text = (
            f"`{who}`{where} is a {_package(step)} `{kind}` kept for the life of the process, "
            f"and it adds to its `{step.label}` on every run: {action}, bound it, or make one "
            "per run instead of keeping one for good."
        )
        example = f"{who}.{reset}()  # after each run, once its figures are read" if reset else ""
        return Fix(text, example, _site(line) if line is not None else None)
    if reset is None:
        return None
    via = f"{root.name}{hops[0].label}" if hops and hops[0].label.startswith(".") else root.name
    text = (
        f"A {_package(step)} `{kind}` kept for the life of the process (through `{via}`) adds "
        f"to its `{step.label}` on every run: call its `{reset}()` when a run ends (on the one "
        "you registered), or register one per run instead of one for good."
    )
    return Fix(text, f"handler.{reset}()  # the {kind} you registered, after each run")


def leak_fix(
    pattern: patterns.Pattern | None,
    root: Root,
    hops: Sequence[Hop],
    steps: Sequence[patterns.Step],
    objects: Sequence[Any],
    allocation: dict[int, list[Frame]],
    who: owner.Owner,
) -> Fix:
    """The fix of a LEAK, from its pattern, its owner and its path."""
    timer = _timer_hold(hops, steps)
    if pattern is not None and pattern.origin is not Origin.APP:
        text = framework_fix(pattern, steps)
        if timer is not None:
            text = f"{text} {_timer_here(hops[timer[0]].holder)}".rstrip()
        return Fix(text, pattern.fix_example)
    if pattern is None and timer is not None and steps[timer[1]].owner != Origin.APP:
        return _timer_fix(hops, steps, *timer)
    if pattern is None:
        kept = _kept_library_object(root, hops, steps)
        if kept is not None:
            return kept
        if who.origin == Origin.LIBRARY:
            return _library_fix(root, hops, steps)
        if who.origin == Origin.FRAMEWORK:
            return _framework_internal_leak(root, steps, who)
        if who.origin == Origin.UNKNOWN:
            return Fix(
                f"Whose code keeps it could not be determined ({who.reason}); the path shows "
                "which reference to cut."
            )
    general = pattern.fix if pattern is not None else GENERAL_APP_FIX
    final = objects[-1] if objects else None
    example = _fill(
        pattern.fix_example if pattern is not None else "", _user_name(root, hops, steps, final)
    )
    _name, line, grows = _user_line(root, hops)
    setter = _contextvar_line(hops, steps, final) if line is None else None
    if setter is not None:
        return Fix(
            f"`{setter.code}` at {setter.where} sets it and nothing resets it. {general}",
            example,
            _site(setter),
        )
    if line is not None:
        verb = "Remove or bound" if grows else "Change"
        return Fix(f"{verb} `{line.code}` at {line.where}. {general}", example, _site(line))
    created = _task_creation(objects, allocation)
    if created is not None:
        what = (
            "run is started"
            if pattern is not None and pattern.id == "WFL011"
            else "task is created"
        )
        return Fix(
            f"The {what} at {created.filename}:{created.lineno}. {general}",
            example,
            created,
        )
    definition = _cache_definition(objects)
    if definition is not None:
        return Fix(
            f"The cache is defined at {definition.filename}:{definition.lineno}. {general}",
            example,
            definition,
        )
    made = owner.first_user_frame(allocation.get(id(objects[-1]), [])) if objects else None
    if made is not None:
        return Fix(f"It is made at {made.filename}:{made.lineno}. {general}", example, made)
    return Fix(general, example)


def _library_fix(root: Root, hops: Sequence[Hop], steps: Sequence[patterns.Step]) -> Fix:
    k = _decisive(steps)
    if k is None:
        return Fix(GENERAL_APP_FIX)
    step = steps[k]
    if k < len(hops) and issubclass(type(hops[k].holder), types.ModuleType):
        holder = f"module global `{root.name}{step.label}`"
        action = "release what it keeps when the run ends (its own API for that), or keep it out"
    else:
        name = step.holder.rpartition(".")[2]
        holder = f"`{name}` (`{step.label}`)"
        action = (
            f"close or cancel that {name} when the run ends, or make one at start-up and share it"
        )
    return Fix(
        f"{_package(step)}'s {holder} holds it: {action}; if {step.distribution or 'the library'}"
        " keeps it by design, bound it as its documentation says, or upgrade it."
    )


def _framework_internal_leak(root: Root, steps: Sequence[patterns.Step], who: owner.Owner) -> Fix:
    package = who.package or "the framework"
    if root.kind is RootKind.REUSED_CONTEXT:
        advice = "use a new Context per run (Context(workflow) per request)"
    else:
        advice = "check whether a newer release fixes it"
    return Fix(
        f"The reference that keeps it is {package}'s own, not your code's: {advice}, and "
        f"upgrade {who.distribution or 'the framework'} when a release stops keeping it."
    )


@dataclass(frozen=True)
class CycleFix:
    origin: Origin
    package: str
    reason: str
    title: str | None
    fix: str
    example: str


def cycle_fix(
    pattern: patterns.Pattern | None,
    steps: Sequence[patterns.Step],
    workflow_mode: WorkflowMode | None = None,
) -> CycleFix:
    """The owner and fix of a CYCLE's ring, for the run mode the runs used."""
    shared = workflow_mode is WorkflowMode.SHARED
    if pattern is not None:
        who = path_owner(pattern, steps)
        if pattern.origin is Origin.APP:
            return CycleFix(Origin.APP, "", "", None, pattern.fix, pattern.fix_example)
        if shared and pattern.fix_when_shared:
            text = framework_fix(pattern, steps, fix=pattern.fix_when_shared)
            return CycleFix(
                pattern.origin,
                who.package,
                "",
                None,
                text,
                pattern.fix_example_when_shared or pattern.fix_example,
            )
        return CycleFix(
            pattern.origin,
            who.package,
            "",
            None,
            framework_fix(pattern, steps),
            pattern.fix_example,
        )
    # A frame's locals only say which code was running when the ring formed.
    held = [s for s in steps if not s.label.startswith("local '")] or list(steps)
    origins = {s.owner for s in held}
    first = {o: next(s for s in held if s.owner == o) for o in origins}
    if Origin.APP in origins:
        step = first[Origin.APP]
        return CycleFix(
            Origin.APP,
            "",
            "",
            None,
            f"Break the ring at your reference `{step.holder.rpartition('.')[2]}{step.label}`: "
            "drop it when the run ends (set it to None, use weakref.ref), or call gc.collect() "
            "between requests.",
            "",
        )
    if Origin.LIBRARY in origins:
        step = first[Origin.LIBRARY]
        return CycleFix(
            Origin.LIBRARY,
            _package(step),
            "",
            None,
            f"The ring runs through {_package(step)} (`{step.holder.rpartition('.')[2]}"
            f"{step.label}`): close or release that object when the run ends, or call "
            "gc.collect() between requests; upgrade it if a release breaks the ring.",
            "",
        )
    if Origin.FRAMEWORK in origins:
        step = first[Origin.FRAMEWORK]
        package = _package(step) or "the framework"
        title = f"A ring inside {package}: each run's objects wait for the cyclic GC"
        if shared:
            text = (
                f"Every reference of the ring that anyone made is {package}'s own, and the "
                "workflow is already shared: nothing in your code makes it, and each run's "
                "ring is freed at the next collection. If the memory between collections "
                f"matters, call gc.collect() after a burst of runs; upgrade "
                f"{step.distribution or 'the framework'} when a release breaks the ring."
            )
            example = "gc.collect()  # after a burst of requests, off the hot path"
        else:
            text = (
                f"Every reference of the ring that anyone made is {package}'s own. With a new "
                "workflow per run, each ring takes its workflow with it: create the workflow "
                "once and share it across runs, or call gc.collect() after a burst of runs."
            )
            example = "WORKFLOW = MyWorkflow()  # once, at start-up"
        return CycleFix(Origin.FRAMEWORK, _package(step), "", title, text, example)
    unknown = next((s for s in steps if s.owner == Origin.UNKNOWN), None)
    reason = (
        unknown.reason
        if unknown is not None and unknown.reason
        else "every reference of the ring is the interpreter's own (containers, frames): "
        "nothing tells whose code made it"
    )
    return CycleFix(
        Origin.UNKNOWN,
        "",
        reason,
        None,
        "Break the ring: drop one of its references when the run ends (set it to None, use "
        "weakref.ref), or call gc.collect() between requests.",
        "",
    )
