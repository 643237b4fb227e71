"""Timing shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""
import time


def best_time(fn, repeats: int) -> float:
    """Best wall time in seconds of ``fn()`` over ``repeats`` calls, after one warm-up call (graph tracing)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
