"""The objgraph way: run the workflow, then ask objgraph what holds each leaked object.

Usage: python -m bench.baselines.objgraph_chain RUNS
Prints one JSON line: how many objects leaked and the length of each back-reference chain.
"""

from __future__ import annotations

import asyncio
import json
import sys

import objgraph

from bench.baselines.loading import load

TARGET = "bench/workloads/big_heap.py:BigHeapWorkflow"


async def run(workflow_class: type, runs: int) -> None:
    workflow = workflow_class()
    for _ in range(runs):
        await workflow.run()


def main(runs: int) -> None:
    workflow_class = load(TARGET)
    asyncio.run(run(workflow_class, runs))
    module = sys.modules[workflow_class.__module__]
    leaked = [obj for obj in objgraph.by_type("Leaked") if isinstance(obj, module.Leaked)]
    # objgraph's default max_depth (20) stops short of this leak; a user raises it until the
    # chain reaches a module.
    depth = module.DEPTH + 5
    chains = [
        len(objgraph.find_backref_chain(obj, objgraph.is_proper_module, max_depth=depth))
        for obj in leaked
    ]
    print(json.dumps({"leaked": len(leaked), "chain_lengths": sorted(set(chains))}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
