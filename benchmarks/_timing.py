"""Timing shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""

import time


def best_time(fn, repeats: int) -> float:
    """Best wall time in seconds of ``fn()`` over ``repeats`` calls, after one warm-up call (graph tracing)."""
    return best_times([fn], repeats)[0]


def best_times(fns, repeats: int) -> list[float]:
    """Best wall time in seconds of each function over ``repeats`` rounds, after one warm-up call each.

    The functions take turns within each round, so a slow spell of a shared machine hits all of them alike and
    their ratio is measured under the same conditions.
    """
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best
