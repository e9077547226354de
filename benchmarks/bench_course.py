"""Benchmark the whole course under strict nbval, beside the floor of starting its kernels.

The course is run as ``make test`` runs its notebooks: ``python -m pytest -p no:cacheprovider
-q`` with the Makefile's ``PYTEST_PARALLEL_OPTS`` and ``PYTEST_NOTEBOOK_OPTS``, in its
``ONE_THREAD`` environment (all read from the Makefile), on every numbered notebook.  The
floor is the same command on as many notebooks holding one cell each: the imports of the
matching course notebook's first cell, ``import kaiming_lib`` and the course style call.  So
the floor is what kernel starts, pytest and the imports cost; the course minus the floor is
what the notebooks compute.  Course and floor runs alternate, so that the load of the machine
weighs on both alike; medians over the repetitions are reported.  Goal:

- the whole course under strict nbval takes at most 45 s of wall time.

Per-notebook times are the sums of nbval's per-cell setup, call and teardown durations
(pytest ``--durations``); the first cell's setup includes the kernel start.

Run ``python benchmarks/bench_course.py`` for the table; ``run()`` returns its rows.
"""

import ast
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))   # as the Makefile
REPEATS = 2
GOAL = 45.0
DURATION = re.compile(r"^\s*([0-9.]+)s\s+(?:setup|call|teardown)\s+(.+?\.ipynb)::", re.M)


def makefile_variable(name: str) -> list:
    """Return the words of a variable of the Makefile, so the two cannot drift apart."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(rf"^{name}\s*:=(.*)$", text, flags=re.M)
    if match is None:
        raise RuntimeError(f"the Makefile defines no {name}")
    return match.group(1).split()


def notebook_options() -> list:
    """``make test``'s options for the notebooks: nbval's and pytest-xdist's."""
    return makefile_variable("PYTEST_PARALLEL_OPTS") + makefile_variable("PYTEST_NOTEBOOK_OPTS")


def test_environment() -> dict:
    """The environment ``make test`` runs in: this one plus its ``ONE_THREAD`` settings."""
    return dict(os.environ, **dict(w.split("=", 1) for w in makefile_variable("ONE_THREAD")))


def floor_source(path: Path) -> str:
    """Return the imports of the notebook's first code cell, then the course style call."""
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    imports = [ast.unparse(node) for node in ast.parse(first.source).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    imports.append("from kaiming_lib.plotting import use_course_style")
    return "\n".join(["import kaiming_lib", *imports, "use_course_style()"])


def write_floor(folder: Path) -> list:
    """Write one single-cell floor notebook per course notebook into ``folder``."""
    paths = []
    for path in NOTEBOOKS:
        nb = new_notebook(cells=[new_code_cell(floor_source(path))])
        nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                     "language": "python", "name": "python3"}
        paths.append(folder / f"floor_{path.name}")
        nbformat.write(nb, paths[-1])
    return paths


def run_nbval(paths, extra=()) -> dict:
    """Run strict nbval on ``paths``; return wall seconds, pass/fail and per-notebook seconds."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *extra,
               *notebook_options(), "--durations=0", "--durations-min=0", *map(str, paths)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env=test_environment())
    seconds = time.perf_counter() - start
    per_notebook = defaultdict(float)
    for value, name in DURATION.findall(done.stdout):
        per_notebook[Path(name).name] += float(value)
    if done.returncode != 0:
        failures = [line for line in done.stdout.splitlines()
                    if line.startswith(("FAILED", "ERROR"))]
        print("strict nbval failed:", *failures[:10], done.stdout.splitlines()[-1],
              sep="\n  ", file=sys.stderr)
    return {"seconds": seconds, "passed": done.returncode == 0, "per_notebook": per_notebook}


def run() -> list[dict]:
    """Time the course and the floor, alternating; return rows {benchmark, measured, ...}."""
    courses, floors = [], []
    with tempfile.TemporaryDirectory() as folder:
        floor_paths = write_floor(Path(folder))
        for _ in range(REPEATS):
            courses.append(run_nbval([p.relative_to(ROOT) for p in NOTEBOOKS]))
            # Outside the tree pytest would not find pyproject.toml, so it is named; the
            # rootdir is the temporary folder, so that the durations name the notebooks.
            floors.append(run_nbval(floor_paths, extra=("-c", str(ROOT / "pyproject.toml"),
                                                        "--rootdir", folder)))
    course = statistics.median(r["seconds"] for r in courses)
    floor = statistics.median(r["seconds"] for r in floors)
    passed = all(r["passed"] for r in courses + floors)
    n = len(NOTEBOOKS)
    rows = [
        {"benchmark": f"whole course under strict nbval, {n} notebooks (median of {REPEATS})",
         "measured": f"{course:.1f}", "goal": f"<= {GOAL:g}", "unit": "s",
         "met": bool(course <= GOAL)},
        {"benchmark": f"  floor: the same on {n} notebooks of imports only",
         "measured": f"{floor:.1f}", "goal": "-", "unit": "s", "met": None},
        {"benchmark": "  course minus floor", "measured": f"{course - floor:.1f}",
         "goal": "-", "unit": "s", "met": None},
        {"benchmark": "  strict nbval passed in every run (course and floor)",
         "measured": str(passed), "goal": "True", "unit": "", "met": passed},
    ]
    floor_each = statistics.median(v for r in floors for v in r["per_notebook"].values())
    rows.append({"benchmark": "  one floor notebook (median over notebooks and runs)",
                 "measured": f"{floor_each:.1f}", "goal": "-", "unit": "s", "met": None})
    for path in NOTEBOOKS:
        seconds = statistics.median(r["per_notebook"][path.name] for r in courses)
        rows.append({"benchmark": f"  {path.name} (cells, kernel start included)",
                     "measured": f"{seconds:.1f}", "goal": "-", "unit": "s", "met": None})
    return rows


if __name__ == "__main__":
    from run_all import print_table

    print_table(run())
