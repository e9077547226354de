"""Benchmark the explorer of ``kaiming_lib.widgets``: redraw time and peak memory.

A redraw is what moving a control does: recompute the view (probe and prediction), update
the figure and encode it as PNG.  Goals:

- a redraw at the default setting takes at most 0.15 s (median over repetitions, each
  with a new seed so that every one computes new data);
- the largest setting the controls allow holds at most ``MAX_EXPLORER_BYTES`` (768 MiB) of
  NumPy memory at its peak (``tracemalloc`` sees NumPy's allocations), so that it fits a
  2 GB Binder machine.  Its redraw time is reported without a goal.

Run ``python benchmarks/bench_widgets.py`` for the table; ``run()`` returns its rows.
"""

import statistics
import time
import tracemalloc

REPEATS = 15


def _redraw_seconds(explorer, seed: int) -> float:
    start = time.perf_counter()
    explorer.controls["seed"].value = seed       # the observers redraw synchronously
    return time.perf_counter() - start


def run() -> list[dict]:
    """Measure the redraws; return rows {benchmark, measured, goal, unit, met}."""
    from kaiming_lib.widgets import BOUNDS, MAX_EXPLORER_BYTES, build_explorer, explorer_view

    explorer = build_explorer()                  # the default setting; also warms up
    _redraw_seconds(explorer, 1)
    redraws = [_redraw_seconds(explorer, seed) for seed in range(2, 2 + REPEATS)]
    computes = []
    for seed in range(REPEATS):
        start = time.perf_counter()
        explorer_view(**{**explorer.settings, "seed": seed})
        computes.append(time.perf_counter() - start)
    redraw, compute = statistics.median(redraws), statistics.median(computes)

    largest = {"depth": BOUNDS["depth"][1], "width": BOUNDS["width"][1],
               "batch_size": BOUNDS["batch_size"][1]}
    tracemalloc.start()
    start = time.perf_counter()
    explorer_view(**{**explorer.settings, **largest, "hist_layer": None})
    largest_seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    return [
        {"benchmark": "explorer redraw at the default setting (compute + draw + PNG)",
         "measured": f"{redraw:.3f}", "goal": "<= 0.15", "unit": "s", "met": redraw <= 0.15},
        {"benchmark": "  of which the view (probe + prediction)",
         "measured": f"{compute:.3f}", "goal": "", "unit": "s", "met": None},
        {"benchmark": "explorer view at the largest setting (depth 100, width 1024, "
                      "batch 256)", "measured": f"{largest_seconds:.2f}", "goal": "",
         "unit": "s", "met": None},
        {"benchmark": "  its peak traced memory", "measured": f"{peak / 2**20:.0f}",
         "goal": f"<= {MAX_EXPLORER_BYTES / 2**20:.0f}", "unit": "MiB",
         "met": peak <= MAX_EXPLORER_BYTES},
    ]


if __name__ == "__main__":
    from run_all import print_table

    print_table(run())
