"""The objgraph way, as a competent user does it: the same runs, ``show_growth`` before and
after the measured ones, then ``find_backref_chain`` from as many leaked objects as asked.

Usage: python -m bench.baselines.objgraph_chain WARMUP RUNS CHAINS
Prints one JSON line: the types that grew, how many objects of the leaked type exist, and the
length of each back-reference chain.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from typing import Any

import objgraph

from bench.baselines.loading import load

TARGET = "bench/workloads/big_heap.py:BigHeapWorkflow"


async def run(workflow: Any, runs: int) -> None:
    for _ in range(runs):
        await workflow.run()


def main(warmup: int, runs: int, chains: int) -> None:
    workflow_class = load(TARGET)
    module = sys.modules[workflow_class.__module__]
    workflow = workflow_class()
    asyncio.run(run(workflow, warmup))
    objgraph.show_growth(file=io.StringIO())  # the counts the measured runs are compared with
    asyncio.run(run(workflow, runs))
    grown = io.StringIO()
    objgraph.show_growth(limit=5, file=grown)
    # The user reads the growth table, recognises the application's own type among the
    # framework's and the builtins', and asks what holds one (or a few) of its objects.
    leaked = [obj for obj in objgraph.by_type("Leaked") if isinstance(obj, module.Leaked)]
    # objgraph's default max_depth (20) stops short of this leak; a user raises it until the
    # chain reaches a module.
    depth = module.DEPTH + 5
    lengths = [
        len(objgraph.find_backref_chain(obj, objgraph.is_proper_module, max_depth=depth))
        for obj in leaked[-chains:]
    ]
    print(
        json.dumps(
            {
                "growth": grown.getvalue().split("\n"),
                "leaked": len(leaked),
                "chain_lengths": lengths,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
