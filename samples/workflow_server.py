"""The workflows package's own workflow server (llama-agents-server) serving one workflow.

``leaky_app`` keeps every completed run in its in-memory store (``max_completed=None``), so
the store grows with every request; ``fixed_app`` keeps at most a few (the store's bound),
which fill during the warm-up and then stay flat. Both answer ``POST /workflows/greet/run``::

    wfleak run samples/workflow_server.py:leaky_app --iterations 30 \\
        --request 'POST /workflows/greet/run {"start_event": {"name": "Ada"}}'
"""

from llama_agents.server import MemoryWorkflowStore, WorkflowServer
from workflows import Workflow, step
from workflows.events import StartEvent, StopEvent


class GreetingWorkflow(Workflow):
    @step
    async def greet(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result=f"Hello, {ev.get('name', 'World')}!")


def make_server(max_completed: int | None) -> WorkflowServer:
    server = WorkflowServer(workflow_store=MemoryWorkflowStore(max_completed=max_completed))
    server.add_workflow("greet", GreetingWorkflow(timeout=30))
    return server


leaky_server = make_server(max_completed=None)
leaky_app = leaky_server.app

fixed_server = make_server(max_completed=2)
fixed_app = fixed_server.app
