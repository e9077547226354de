"""Run every ``benchmarks/bench_*.py`` script and print one table of results and goals.

Each script exposes ``run() -> list[dict]`` with the keys ``benchmark``, ``measured``,
``goal``, ``unit`` and ``met`` (True, False, or None for a figure without a goal).  The exit
status is 1 when a goal is not met.
"""

import importlib
import platform
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def print_table(rows: list[dict]) -> None:
    """Print ``rows`` as an aligned table, with the goal and whether it was met."""
    width = max(len(r["benchmark"]) for r in rows)
    for r in rows:
        verdict = {True: "met", False: "NOT MET", None: ""}[r["met"]]
        print(f"{r['benchmark']:<{width}}  {r['measured']:>8} {r['unit']:<2}  "
              f"goal {r['goal']:<8}  {verdict}")


def main() -> int:
    sys.path.insert(0, str(HERE))
    print(f"{date.today()}  {platform.machine()}  {platform.system()}  "
          f"Python {platform.python_version()}")
    rows = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name} ...", flush=True)
        rows += importlib.import_module(script.stem).run()
    print()
    print_table(rows)
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
