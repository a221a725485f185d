"""OK: the fixed twin of ``service_leaky.py``, with the same endpoints.

- ``POST /ask`` keeps a run's handler only while it runs, so ``GET /runs/{id}`` still answers
  for runs in progress;
- ``POST /ask/watched`` follows the run's own event stream, which ends with the run, instead
  of polling on a timer forever;
- ``POST /research`` uses one workflow, and its one client session, made at start-up and
  closed at shutdown.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, HTTPException, Request
from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step
from llama_index.core.workflow.handler import WorkflowHandler
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
    app.state.research = ResearchWorkflow(timeout=30)
    yield
    await app.state.research.session.aclose()


app = FastAPI(lifespan=lifespan)
workflow = AnswerWorkflow(timeout=30)


@app.post("/ask")
async def ask(question: Question, request: Request) -> dict[str, str]:
    run_id = uuid.uuid4().hex
    handlers = request.app.state.handlers
    handler = workflow.run(q=question.q)
    handlers[run_id] = handler
    try:
        return {"run_id": run_id, "answer": str(await handler)}
    finally:
        handlers.pop(run_id, None)


@app.get("/runs/{run_id}")
async def run_status(run_id: str, request: Request) -> dict[str, bool]:
    handler = request.app.state.handlers.get(run_id)
    if handler is None:
        raise HTTPException(404, "no such run, or it has finished")
    return {"done": handler.done()}


async def watch(handler: WorkflowHandler) -> None:
    async for event in handler.stream_events():  # ends when the run ends
        print("progress:", type(event).__name__)


watchers: set[asyncio.Task[None]] = set()


@app.post("/ask/watched")
async def ask_watched(question: Question) -> dict[str, str]:
    handler = workflow.run(q=question.q)
    watcher = asyncio.create_task(watch(handler))
    watchers.add(watcher)
    watcher.add_done_callback(watchers.discard)
    return {"answer": str(await handler)}


@app.post("/research")
async def research(question: Question, request: Request) -> dict[str, str]:
    return {"answer": str(await request.app.state.research.run(q=question.q))}
