"""Each command's typer signature, built from the option declarations in :mod:`wfleak.options`.

Typer reads a command's options from its function signature. Rather than spell every option
in every command, :func:`command` gives the command body a generated signature: its
``TARGET`` argument and one typer option per declared option of that command. The body
receives the target and a :class:`Given`, the checked values, and may raise
:class:`~wfleak.errors.WfleakError` anywhere: it is printed as one line here, once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

import typer

from wfleak import options
from wfleak.errors import UsageError, WfleakError
from wfleak.options import Option
from wfleak.options.kinds import CommandLineError, Flag, Invalid

T = TypeVar("T")
Body = Callable[[Any, "Given"], None]


class Given:
    """The options of one command invocation: checked values, defaults filled in."""

    def __init__(self, values: Mapping[Option[Any], Any], explicit: frozenset[Option[Any]]):
        self._values = dict(values)
        self._explicit = explicit

    def __getitem__(self, option: Option[T]) -> T:
        value: T = self._values.get(option, option.default)
        return value

    def on_command_line(self) -> dict[Option[Any], Any]:
        """The options the user typed (not left at their default), with their values."""
        return {option: self._values[option] for option in self._explicit}


def _hint(option: Option[Any]) -> str:
    return " / ".join(f"'{flag}'" for flag in option.flags)


def from_command_line(
    declared: list[Option[Any]], raw: Mapping[str, Any], typed: frozenset[str]
) -> Given:
    """Check the values typer parsed; ``typed`` names the options given on the command line."""
    values: dict[Option[Any], Any] = {}
    for option in declared:
        value = raw[option.name]
        if value is None or option.name not in typed:
            continue
        try:
            values[option] = option.kind.from_command_line(value, option.flag)
        except Invalid as exc:
            raise UsageError(f"Invalid value for {_hint(option)}: {exc.message}") from None
        except CommandLineError as exc:
            raise UsageError(exc.message) from None
    problem = options.exclusive_problem(values, lambda option: option.flag)
    if problem:
        raise UsageError(problem)
    return Given(values, frozenset(values))


def _parameter(option: Option[Any]) -> inspect.Parameter:
    decls = [f"{option.flag}/--no-{option.key}"] if option.negatable else list(option.flags)
    if option.negatable and option.short:
        decls.append(option.short)
    kind = option.kind.command_line_type
    annotation = kind if option.default is not None else kind | None
    shown = option.default is not None and not isinstance(option.kind, Flag)
    info = typer.Option(
        *decls,
        help=option.help,
        metavar=option.metavar,
        show_default=shown,
    )
    return inspect.Parameter(
        option.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=option.default,
        annotation=Annotated[annotation, info],
    )


def _typed(context: typer.Context, names: list[str]) -> frozenset[str]:
    return frozenset(
        name
        for name in names
        if (source := context.get_parameter_source(name)) is not None
        and source.name in ("COMMANDLINE", "ENVIRONMENT")
    )


def command(
    name: str, target: Any, target_default: Any = inspect.Parameter.empty
) -> Callable[[Body], Callable[..., None]]:
    """Decorate ``body(target, given)`` as the typer callback of command ``name``.

    ``target`` is the ``Annotated[..., typer.Argument(...)]`` type of the positional TARGET.
    """
    declared = options.for_command(name)

    def decorate(body: Body) -> Callable[..., None]:
        def invoke(invocation: typer.Context, target: Any, **raw: Any) -> None:
            try:
                given = from_command_line(
                    declared, raw, _typed(invocation, [o.name for o in declared])
                )
                body(target, given)
            except WfleakError as exc:
                from wfleak.commands.common import fail

                fail(exc.message, exc.exit_code)

        parameters = [
            inspect.Parameter(
                "invocation", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
            ),
            inspect.Parameter(
                "target",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=target_default,
                annotation=target,
            ),
            *(_parameter(option) for option in declared),
        ]
        invoke.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        invoke.__name__ = name
        invoke.__qualname__ = name
        invoke.__doc__ = body.__doc__
        invoke.__module__ = body.__module__
        return invoke

    return decorate
