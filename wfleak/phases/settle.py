"""Settle: after the measured runs, let what they scheduled on the loop run its course."""

from __future__ import annotations

from dataclasses import dataclass

from wfleak.phases.instruments import Instruments


@dataclass(frozen=True)
class SettleResult:
    waited_s: float = 0.0
    """Seconds spent waiting for the runs' timers to fire."""


async def settle(instruments: Instruments) -> SettleResult:
    await instruments.settle_callbacks()
    return SettleResult()
