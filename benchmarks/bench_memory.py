"""Benchmark the peak memory of every notebook's kernel: the process that holds the arrays.

Each notebook is copied into a temporary folder with one cell appended that prints the
kernel's own peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``, the high-water
mark of the kernel process, all its threads included), and executed as ``make course``
executes it (``tools/execute_notebooks.py --inplace --figures``, figures into the temporary
folder) in a subprocess.  As a cross-check, the peak of that subprocess tree is read from
``os.wait4``: Linux reports the largest of the executor and the descendants it reaped, the
kernel among them, so it can only be at least the kernel's figure.  Goal:

- the most demanding notebook's kernel peaks at most at 1 GB (10^9 bytes; MB are 10^6 bytes).

Run ``python benchmarks/bench_memory.py`` for the table; ``run()`` returns its rows.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))   # as the Makefile
GOAL_BYTES = 10**9
MARK = "kernel peak RSS bytes:"
# ru_maxrss is in kibibytes on Linux and in bytes on macOS.
RU_MAXRSS_BYTES = 1 if sys.platform == "darwin" else 1024
PEAK_CELL = ("import resource as _resource\n"
             f"print({MARK!r}, _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss"
             f" * {RU_MAXRSS_BYTES})")


def kernel_peak(path: Path, folder: Path) -> tuple:
    """Execute a copy of ``path`` in ``folder``; return (kernel peak, process tree peak) bytes."""
    copy = folder / "notebooks" / path.name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells.append(new_code_cell(PEAK_CELL))
    nbformat.write(nb, copy)

    command = [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), "--inplace",
               "--figures", str(folder / "figures"), str(copy)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"executing {path.name} failed (exit status {process.returncode})")

    outputs = nbformat.read(copy, as_version=4).cells[-1].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    if MARK not in text:
        raise RuntimeError(f"{path.name}: the appended cell printed no peak: {text!r}")
    return int(text.split(MARK)[1].split()[0]), usage.ru_maxrss * RU_MAXRSS_BYTES


def run() -> list[dict]:
    """Measure every notebook; return rows {benchmark, measured, goal, unit, met}."""
    peaks = {}
    with tempfile.TemporaryDirectory() as folder:
        for path in NOTEBOOKS:
            peaks[path.name] = kernel_peak(path, Path(folder) / path.stem)
    rows = [{"benchmark": f"  {name}: kernel peak RSS (executor tree {tree / 1e6:.0f} MB)",
             "measured": f"{kernel / 1e6:.0f}", "goal": "-", "unit": "MB", "met": None}
            for name, (kernel, tree) in peaks.items()]
    name = max(peaks, key=lambda n: peaks[n][0])
    worst = peaks[name][0]
    rows.insert(0, {"benchmark": f"peak RSS of the most demanding notebook's kernel ({name})",
                    "measured": f"{worst / 1e6:.0f}", "goal": f"<= {GOAL_BYTES / 1e6:.0f}",
                    "unit": "MB", "met": bool(worst <= GOAL_BYTES)})
    return rows


if __name__ == "__main__":
    from run_all import print_table

    print_table(run())
