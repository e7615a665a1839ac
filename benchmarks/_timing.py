"""Timing shared by the benchmark scripts: interleaved rounds, median seconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(calls: dict[str, Callable[[], object]], rounds: int, warmup: int = 1
          ) -> dict[str, float]:
    """``warmup`` untimed calls each, then the median seconds over interleaved rounds (each
    round calls every contender once, so a change of machine load hits them alike)."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
