"""Benchmark the cost of ``import kaiming_lib`` and of the modules the notebooks import.

Each import runs in a fresh interpreter, interleaved with a bare interpreter start
(``python -c pass``) so that both see the same machine state; the median over repetitions of
(import run - bare run) is the import cost.  Goals:

- ``import kaiming_lib``: at most 0.15 s, and matplotlib is not imported;
- ``import kaiming_lib.init``: at most 0.3 s (NumPy included).

Run ``python benchmarks/bench_import.py`` for the table; ``run()`` returns its rows.
"""

import statistics
import subprocess
import sys
import time

REPEATS = 15
CASES = [
    ("import kaiming_lib", "import kaiming_lib", 0.15),
    ("import kaiming_lib.init (NumPy included)", "import kaiming_lib.init", 0.30),
]


def _seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def _imports_matplotlib() -> bool:
    code = "import sys, kaiming_lib, kaiming_lib.init; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip() == "True"


def run() -> list[dict]:
    """Measure every case; return rows {benchmark, measured, goal, unit, met}."""
    rows = []
    for label, code, goal in CASES:
        costs = [_seconds(code) - _seconds("pass") for _ in range(REPEATS)]
        cost = statistics.median(costs)
        rows.append({"benchmark": f"{label}, minus a bare interpreter start",
                     "measured": f"{cost:.3f}", "goal": f"<= {goal}", "unit": "s",
                     "met": bool(cost <= goal)})
    pulled = _imports_matplotlib()
    rows.append({"benchmark": "matplotlib imported by import kaiming_lib(.init)",
                 "measured": str(pulled), "goal": "False", "unit": "", "met": not pulled})
    return rows


if __name__ == "__main__":
    from run_all import print_table

    print_table(run())
