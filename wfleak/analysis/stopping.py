"""When to stop measuring with ``iterations = "auto"``: as soon as the evidence decides.

The measured runs are judged at planned looks (:func:`looks`), never after every run, and
measuring stops at the first look that is decisive:

- **Watched objects retained across runs**: framework objects from finished runs stay
  reachable after a full collection, more of them after each of the last runs, and the
  trend test says they grow. That is a leak whatever the noise, so it stops at the first look
  that can carry a trend verdict (``MIN_POINTS`` runs).
- **A trend that grows beyond doubt**: a growth finding whose Mann-Kendall p-value is below
  ``SIGNIFICANCE / L``, where ``L`` is the number of looks before the cap. By the union
  bound, the chance that noise stops a clean workflow with LEAK at any of those looks is at
  most ``SIGNIFICANCE`` (Bonferroni's correction for looking repeatedly); the cap's own
  judgement is the usual one at ``SIGNIFICANCE``, so over a whole analysis the false-alarm
  rate is at most twice that.
- **Flat**: after at least ``MIN_FLAT_RUNS`` runs, every trend's second half rises at less
  than half its threshold (the least a growth verdict needs of it, at any run count) and its
  slope over all runs is below the threshold: a series that has settled, however it began.
  A cache that fills during the first measured runs passes once its plateau makes up the
  second half. Cycle garbage does not block it; the verdict still reports it.

Otherwise measuring goes on to the cap (``max_iterations``), where the usual verdict decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from wfleak.analysis.trend import MIN_POINTS, SIGNIFICANCE
from wfleak.analysis.verdict import compute_trends
from wfleak.model import RunSample, Settings, Trend

MIN_FLAT_RUNS = 20
"""Fewest measured runs before a flat series stops the analysis with OK."""
RETAINED_RISING_RUNS = 3
"""Consecutive runs that must each leave more framework objects reachable (watched objects
retained across runs)."""
_SCHEDULE = (6, 8, 10, 12, 14, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200)
"""Looks at roughly geometric steps: few looks keep the correction small."""
RETAINED_METRIC = "retained framework objects"


@dataclass(frozen=True)
class Decision:
    leaking: bool
    """True: the evidence says LEAK; False: flat, OK (or CYCLE) for the verdict."""
    reason: str


def looks(maximum: int) -> tuple[int, ...]:
    """The run counts after which the evidence is judged: the schedule below ``maximum``,
    then every half again, and ``maximum`` itself last."""
    planned = [k for k in _SCHEDULE if k < maximum]
    step = planned[-1] if planned else MIN_POINTS
    while step * 3 // 2 < maximum:
        step = step * 3 // 2
        if step > _SCHEDULE[-1]:
            planned.append(step)
    return (*planned, maximum)


def interim_looks(maximum: int) -> int:
    """How many looks come before the cap: the count the significance is divided by."""
    return max(1, len(looks(maximum)) - 1)


def _retained_across_runs(runs: Sequence[RunSample]) -> bool:
    recent = [r.framework_alive_after_gc for r in runs[-(RETAINED_RISING_RUNS + 1) :]]
    return len(recent) == RETAINED_RISING_RUNS + 1 and all(
        later > earlier for earlier, later in pairwise(recent)
    )


def _flat(trend: Trend) -> bool:
    return trend.tail_slope < trend.threshold / 2 and trend.slope < trend.threshold


def decide(runs: Sequence[RunSample], settings: Settings) -> Decision | None:
    """The decision the runs measured so far support, or None to keep measuring."""
    count = len(runs)
    if count < MIN_POINTS:
        return None
    trends = compute_trends(runs, settings)
    by_metric = {t.metric: t for t in trends}
    retained = by_metric[RETAINED_METRIC]
    if retained.growing and _retained_across_runs(runs):
        return Decision(
            True,
            f"framework objects from finished runs stay reachable after a full GC, more "
            f"after each of the last {RETAINED_RISING_RUNS} runs",
        )
    looked = interim_looks(settings.max_iterations)
    corrected = SIGNIFICANCE / looked
    for trend in trends:
        if trend.growing and trend.p_value < corrected:
            return Decision(
                True,
                f"{trend.metric} grows (p = {trend.p_value:.2g}, below {corrected:.2g}: "
                f"{SIGNIFICANCE:g} shared by {looked} looks)",
            )
    if count >= MIN_FLAT_RUNS and all(_flat(t) for t in trends):
        return Decision(
            False,
            f"every trend flat over {count} runs (its second half below half its threshold)",
        )
    return None


def warm_up_decisions(settings: Settings) -> None:
    """Judge a made-up series once before measuring, so that the lazy imports and caches the
    judgement fills (numpy's, the trend tests') are not growth of the measured runs."""
    made_up = [
        RunSample(index=i, ok=True, duration_s=0.0, gc_objects=i, traced_bytes=i)
        for i in range(1, MIN_FLAT_RUNS + 1)
    ]
    decide(made_up, settings)
