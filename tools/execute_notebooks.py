"""Execute the course notebooks top to bottom with nbclient, in order.

Used by ``make course`` (``--inplace``: the executed notebooks replace the stored ones) and
``make figures`` (execute in memory, keep only the figures).  Each notebook gets a fresh
kernel, so every one is checked to run on its own.  Executing twice gives the same files:
timing metadata and widget state are not recorded, consecutive stream outputs are merged
(how the kernel chunks stdout depends on timing), and widget views are dropped from the
stored outputs (their model ids are random, and without the widget state they show nothing;
the static figure or text beside them is what GitHub, nbviewer and nbval see).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_widget_views(nb) -> None:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


def execute(path: Path, inplace: bool, timeout: int) -> float:
    """Run one notebook in a new kernel; write it back when ``inplace``; return seconds."""
    nb = nbformat.read(path, as_version=4)
    # The kernel talks over Unix sockets in a private temporary folder, not over TCP on
    # localhost (where ipykernel warns that anyone on the machine could listen in).
    with tempfile.TemporaryDirectory(prefix="kaiming-kernel-") as sockets:
        client = NotebookClient(
            nb,
            config=Config({"KernelManager": {"transport": "ipc",
                                             "ip": os.path.join(sockets, "ipc")}}),
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            record_timing=False,
            store_widget_state=False,
        )
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
    if inplace:
        nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
        _drop_widget_views(nb)
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        # The patch version of Python differs between machines; keep the stored file stable.
        nb.metadata.get("language_info", {}).pop("version", None)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, path)
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--inplace", action="store_true", help="store the executed notebooks")
    parser.add_argument("--figures", type=Path, help="folder the notebooks save figures into")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
        os.environ["KAIMING_FIGURES_DIR"] = str(args.figures.resolve())
    total = 0.0
    for path in args.notebooks:
        print(f"executing {path} ...", end=" ", flush=True)
        seconds = execute(path, args.inplace, args.timeout)
        total += seconds
        print(f"{seconds:.1f} s")
    print(f"{len(args.notebooks)} notebooks executed in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
