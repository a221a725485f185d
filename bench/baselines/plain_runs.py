"""Import a workflow module and run its workflow RUNS times in one event loop, nothing else.

Usage: python -m bench.baselines.plain_runs PATH:ATTR RUNS
"""

from __future__ import annotations

import asyncio
import sys

from bench.baselines.loading import load


async def main(target: str, runs: int) -> None:
    workflow = load(target)()
    for _ in range(runs):
        await workflow.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
