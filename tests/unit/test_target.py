from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfleak.errors import TargetError
from wfleak.target import TargetKind, load_target, split_spec

_names = itertools.count()

WORKFLOW = """
from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step

class W(Workflow):
    @step
    async def go(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result=1)
"""


@pytest.fixture
def module(tmp_path: Path) -> Iterator[object]:
    created: list[str] = []

    def write(source: str) -> tuple[Path, str]:
        name = f"wfleak_target_case_{next(_names)}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        created.append(name)
        return path, name

    yield write
    for name in created:
        sys.modules.pop(name, None)


def error_of(spec: str, runner: bool = False) -> str:
    with pytest.raises(TargetError) as excinfo:
        load_target(spec, runner=runner)
    return excinfo.value.message


@pytest.mark.parametrize("spec", ["nocolon", ":W", "mod:", "a/b.py:"])
def test_malformed_spec(spec: str) -> None:
    with pytest.raises(TargetError, match=r"^Invalid target"):
        split_spec(spec)


def test_missing_module_and_missing_parent_package() -> None:
    assert error_of("no_such_module_xyz:W") == "No module named 'no_such_module_xyz'"
    assert error_of("no_such_pkg_xyz.sub:W") == (
        "No module named 'no_such_pkg_xyz' (importing 'no_such_pkg_xyz.sub')"
    )


def test_missing_file() -> None:
    assert error_of("nowhere/missing.py:W") == "No such file: nowhere/missing.py"


def test_syntax_error_names_file_and_line(module) -> None:  # type: ignore[no-untyped-def]
    path, _ = module("x = 1\ndef broken(:\n")
    message = error_of(f"{path}:W")
    assert message.startswith("Syntax error in ")
    assert f"{path.name}:2: " in message


def test_exception_at_import_names_file_and_line(module) -> None:  # type: ignore[no-untyped-def]
    path, name = module("import os\nraise RuntimeError('no API key')\n")
    message = error_of(f"{path}:W")
    assert message.startswith(f"Error while importing '{name}' (")
    assert f"{path.name}:2): RuntimeError: no API key" in message


def test_import_of_missing_dependency_inside_user_module_is_not_module_missing(module) -> None:  # type: ignore[no-untyped-def]
    path, name = module("import definitely_not_installed_pkg\n")
    message = error_of(f"{path}:W")
    assert message.startswith(f"Error while importing '{name}'")
    assert "ModuleNotFoundError: No module named 'definitely_not_installed_pkg'" in message
    # Installed apart from the project (pipx), wfleak's interpreter lacks the project's
    # packages: the line names that interpreter.
    assert message.endswith(
        f"(with {sys.executable}; wfleak must be installed in the environment that runs the"
        " project)"
    )


def test_other_import_errors_do_not_blame_the_interpreter(module) -> None:  # type: ignore[no-untyped-def]
    path, _ = module("raise ValueError('bad config')\n")
    assert "wfleak must be installed" not in error_of(f"{path}:W")


def test_missing_attribute_suggests_close_names(module) -> None:  # type: ignore[no-untyped-def]
    path, name = module(WORKFLOW + "\nclass Helper: pass\n")
    assert error_of(f"{path}:WW") == f"'{name}' has no attribute 'WW'; did you mean 'W'?"
    assert error_of(f"{path}:Zebra") == f"'{name}' has no attribute 'Zebra'"


def test_attribute_error_raised_inside_user_code_is_not_missing(module) -> None:  # type: ignore[no-untyped-def]
    path, name = module(
        WORKFLOW
        + """
class Holder:
    @property
    def workflow(self):
        return self.not_set_yet

holder = Holder()
"""
    )
    message = error_of(f"{path}:holder.workflow")
    assert message.startswith(f"Error while getting {name}.holder.workflow: AttributeError:")


def test_not_a_workflow(module) -> None:  # type: ignore[no-untyped-def]
    path, _ = module("VALUE = 42\nclass Plain: pass\n")
    assert error_of(f"{path}:VALUE") == (
        f"{path}:VALUE is a int object, not a Workflow class, a workflow instance, an ASGI "
        "app, or a zero-argument factory returning one"
    )
    assert error_of(f"{path}:Plain") == (
        f"{path}:Plain is a class Plain, not a Workflow class, a workflow instance, an ASGI "
        "app, or a zero-argument factory returning one"
    )


def test_factory_with_arguments_is_refused(module) -> None:  # type: ignore[no-untyped-def]
    path, _ = module(WORKFLOW + "\ndef make(name):\n    return W()\n")
    assert (
        error_of(f"{path}:make")
        == f"{path}:make is a factory that needs arguments; it must take none"
    )


def test_kinds_are_decided_by_type_without_calling(module) -> None:  # type: ignore[no-untyped-def]
    path, _ = module(
        WORKFLOW
        + """
CALLS = []
def make():
    CALLS.append(1)
    return W()
async def amake():
    CALLS.append(1)
    return W()
instance = W()
class Ns:
    inner = W
async def run_once():
    await W().run()
"""
    )
    assert load_target(f"{path}:W").kind is TargetKind.CLASS
    assert load_target(f"{path}:instance").kind is TargetKind.INSTANCE
    assert load_target(f"{path}:make").kind is TargetKind.FACTORY
    assert load_target(f"{path}:amake").kind is TargetKind.FACTORY
    assert load_target(f"{path}:Ns.inner").kind is TargetKind.CLASS
    assert load_target(f"{path}:run_once", runner=True).kind is TargetKind.RUNNER
    assert load_target(f"{path}:make").obj.__module__  # loaded, not called:
    assert sys.modules[load_target(f"{path}:W").module_name].CALLS == []


def test_runner_must_be_async(module) -> None:  # type: ignore[no-untyped-def]
    path, _ = module(WORKFLOW + "\ndef sync_run():\n    pass\n")
    assert error_of(f"{path}:sync_run", runner=True).startswith(
        f"{path}:sync_run is a function, not an async function"
    )


def test_file_under_cwd_gets_dotted_module_name() -> None:
    target = load_target("samples/clean.py:CleanWorkflow")
    assert target.module_name == "samples.clean"
    assert target.kind is TargetKind.CLASS
