"""LEAK, three ways: a FastAPI service that wraps a workflow, as services often start out.

- ``POST /ask`` keeps every run's handler in ``app.state.handlers`` so that ``GET /runs/{id}``
  can report on it, and nothing ever removes them;
- ``POST /ask/watched`` starts a background task that polls the run's progress and never ends;
- ``POST /research`` builds a workflow per request with its own client session, kept open in
  ``app.state.sessions`` until shutdown.

The fixed twin is ``service_fixed.py``. Try:
``wfleak run samples/service_leaky.py:app --request 'POST /ask {"q": "hi"}' --iterations 30``
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, HTTPException, Request
from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step
from pydantic import BaseModel


class Question(BaseModel):
    q: str


class AnswerWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result=f"an answer to {ev.q!r}")


class ResearchWorkflow(Workflow):
    """Talks to a search backend through its own client session, counting its calls."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.calls = 0
        self.session = httpx.AsyncClient(
            base_url="http://search.invalid", event_hooks={"request": [self.count_call]}
        )

    async def count_call(self, request: httpx.Request) -> None:
        self.calls += 1

    @step
    async def research(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result=f"sources for {ev.q!r}")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.handlers = {}
    app.state.sessions = []
    yield
    for session in app.state.sessions:
        await session.aclose()


app = FastAPI(lifespan=lifespan)
workflow = AnswerWorkflow(timeout=30)


@app.post("/ask")
async def ask(question: Question, request: Request) -> dict[str, str]:
    run_id = uuid.uuid4().hex
    handler = workflow.run(q=question.q)
    request.app.state.handlers[run_id] = handler  # for GET /runs/{id}; never removed
    return {"run_id": run_id, "answer": str(await handler)}


@app.get("/runs/{run_id}")
async def run_status(run_id: str, request: Request) -> dict[str, bool]:
    handler = request.app.state.handlers.get(run_id)
    if handler is None:
        raise HTTPException(404, "no such run")
    return {"done": handler.done()}


async def watch(handler: asyncio.Future[object]) -> None:
    while True:  # meant to stop when the run is done; it never does
        await asyncio.sleep(30)
        print("run done:", handler.done())


@app.post("/ask/watched")
async def ask_watched(question: Question) -> dict[str, str]:
    handler = workflow.run(q=question.q)
    asyncio.create_task(watch(handler))  # noqa: RUF006 (the bug this sample shows)
    return {"answer": str(await handler)}


@app.post("/research")
async def research(question: Question, request: Request) -> dict[str, str]:
    per_request = ResearchWorkflow(timeout=30)
    # Closed at shutdown, so open until then, and with it the workflow its hook calls.
    request.app.state.sessions.append(per_request.session)
    return {"answer": str(await per_request.run(q=question.q))}
