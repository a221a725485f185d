"""An ASGI app is recognised from its type alone, beside workflows."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from samples.clean import CleanWorkflow, workflow
from tests.fixtures.services import bare, create_app
from wfleak.service.app import is_asgi_app
from wfleak.target import TargetKind, classify


class CallsSync:
    def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


class TooFewArguments:
    async def __call__(self, scope: Any) -> None:
        return None


async def two_arguments(scope: Any, receive: Any) -> None:
    return None


@pytest.mark.parametrize(
    "obj",
    [FastAPI(), Starlette(), CORSMiddleware(Starlette()), bare],
    ids=["FastAPI", "Starlette", "CORSMiddleware", "function"],
)
def test_asgi_apps_are_recognised(obj: object) -> None:
    assert is_asgi_app(obj)
    assert classify("x:app", obj, runner=False) is TargetKind.APP


@pytest.mark.parametrize(
    "obj",
    [
        CallsSync(),
        TooFewArguments(),
        two_arguments,
        FastAPI,
        CleanWorkflow,
        workflow,
        42,
        create_app,
    ],
    ids=[
        "sync-call",
        "too-few-arguments",
        "two-arguments",
        "FastAPI-class",
        "Workflow-class",
        "workflow",
        "int",
        "factory",
    ],
)
def test_other_objects_are_not_apps(obj: object) -> None:
    assert not is_asgi_app(obj)


def test_workflows_and_factories_keep_their_kinds() -> None:
    assert classify("x:W", CleanWorkflow, runner=False) is TargetKind.CLASS
    assert classify("x:w", workflow, runner=False) is TargetKind.INSTANCE
    assert classify("x:f", create_app, runner=False) is TargetKind.FACTORY
