"""Benchmark a forward probe against the bare chain of matrix products it has to do.

Depth 100, width 1024, batch 1024, float32, ReLU, Kaiming normal, one seed, no backward pass
and no histograms: :func:`kaiming_lib.probes.probe_stack` against the same 100 products
``x @ W.T`` with ``relu`` in between.  A probe of a fresh initialization must draw its
100 weights (1e8 Gaussian numbers, about 0.6 of the products' time here), so the bare chain
is timed together with drawing the same weights through ``kaiming_lib.init``, and the goal
is on what the probe adds to that work:

- goal: probe / (drawing the weights + bare chain) at most 1.2;
- shown too: probe / bare chain alone, the ratio with the drawing charged to the probe.

Each is timed side by side, interleaved, several times; medians of per-repetition ratios.

Run ``python benchmarks/bench_probes.py`` for the table; ``run()`` returns its rows.
"""

import statistics
import time

import numpy as np

from kaiming_lib.init import kaiming_normal
from kaiming_lib.probes import probe_stack

DEPTH, WIDTH, BATCH, REPEATS = 100, 1024, 1024, 5
GOAL = 1.2


def _bare_chain(weights, x):
    for w in weights:
        x = np.maximum(x @ w.T, 0.0)
    return x


def _time(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run() -> list[dict]:
    """Measure the probe and the bare chain; return rows {benchmark, measured, goal, unit, met}."""
    widths = [WIDTH] * (DEPTH + 1)
    rng = np.random.default_rng(0)
    weights = [kaiming_normal((WIDTH, WIDTH), rng=rng) for _ in range(DEPTH)]
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    with_drawing, alone, probes, bares, draws = [], [], [], [], []
    for repeat in range(REPEATS):
        probe = _time(lambda: probe_stack(widths, "kaiming_normal", "relu", batch_size=BATCH,
                                          rng=repeat, backward=False, hist_layers=[]))
        draw = _time(lambda: [kaiming_normal((WIDTH, WIDTH), rng=rng) for _ in range(DEPTH)])
        bare = _time(lambda: _bare_chain(weights, x))
        with_drawing.append(probe / (draw + bare))
        alone.append(probe / bare)
        probes.append(probe)
        bares.append(bare)
        draws.append(draw)
    ratio = statistics.median(with_drawing)
    name = f"forward probe {DEPTH} x {WIDTH}, batch {BATCH}"
    return [
        {"benchmark": f"{name}: probe / (drawing + bare matmul chain)", "measured":
         f"{ratio:.2f}", "goal": f"<= {GOAL}", "unit": "x", "met": bool(ratio <= GOAL)},
        {"benchmark": f"{name}: probe / bare matmul chain alone", "measured":
         f"{statistics.median(alone):.2f}", "goal": "-", "unit": "x", "met": None},
        {"benchmark": f"{name}: probe / chain / drawing (medians)", "measured":
         f"{statistics.median(probes):.2f} / {statistics.median(bares):.2f} / "
         f"{statistics.median(draws):.2f}", "goal": "-", "unit": "s", "met": None},
    ]


if __name__ == "__main__":
    from run_all import print_table

    print_table(run())
