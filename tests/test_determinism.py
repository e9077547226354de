"""Executing the course twice gives the same text outputs, as ``make course`` stores them.

Each notebook is copied twice into a temporary folder and both copies are executed in place,
at the same time, by the course's own executor (``tools/execute_notebooks.py``, as ``make
course`` calls it, with the figures folder in the temporary folder too, so that the working
tree is not touched).
Every code cell's text outputs (streams, ``text/*`` data, error names and values) must be
the same in both runs, except in cells that carry nbval's ``# NBVAL_IGNORE_OUTPUT`` marker
(the course marks with it the cells whose output depends on the clock or the front end).

The helper tests at the end show that the comparison fails on a notebook that prints a fresh
random number, and only on the cell that does.
"""

import asyncio
import contextlib
import difflib
import importlib.util
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))   # as the Makefile
IGNORE_MARKER = "NBVAL_IGNORE_OUTPUT"
IGNORE_TAG = "nbval-ignore-output"           # nbval's equivalent cell tag
SOURCE_LINES, DIFF_LINES = 3, 20             # how much of a mismatch the message shows
TIMEOUT = 600                                # seconds per cell, the executor's default


def _load_executor():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "tools" / "execute_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


executor = _load_executor()


def ignores_output(cell) -> bool:
    """Return whether nbval ignores the output of ``cell`` (marker comment or tag)."""
    comments = [line.strip().lstrip("#").strip() for line in cell.source.splitlines()
                if line.strip().startswith("#")]
    return IGNORE_MARKER in comments or IGNORE_TAG in cell.metadata.get("tags", [])


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def text_outputs(cell) -> list:
    """Return the text outputs of a code cell as lines, each output under a header line."""
    lines = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream":
            lines += [f"[{output['name']}]", *_text(output["text"]).splitlines()]
        elif kind in ("execute_result", "display_data"):
            for mime in sorted(output.get("data", {})):
                if mime.startswith("text/"):
                    lines += [f"[{kind} {mime}]", *_text(output["data"][mime]).splitlines()]
        elif kind == "error":
            # The traceback is left out: it names temporary files that differ between kernels.
            lines.append(f"[error] {output['ename']}: {output['evalue']}")
    return lines


def text_output_mismatches(first, second, name: str) -> list:
    """Describe every compared code cell whose text outputs differ between two runs.

    ``first`` and ``second`` are two executions of the notebook ``name``; cells are matched by
    their index in the notebook.  Returns one message per differing cell (empty when none).
    """
    if len(first.cells) != len(second.cells):
        return [f"{name}: {len(first.cells)} cells in run 1, {len(second.cells)} in run 2"]
    messages = []
    for index, (one, two) in enumerate(zip(first.cells, second.cells)):
        if one.cell_type != "code" or ignores_output(one):
            continue
        a, b = text_outputs(one), text_outputs(two)
        if a != b:
            source = "\n    ".join(one.source.splitlines()[:SOURCE_LINES])
            diff = list(difflib.unified_diff(a, b, "run 1", "run 2", lineterm="", n=1))
            messages.append(f"{name}, cell {index}:\n    {source}\n"
                            + "\n".join(diff[:DIFF_LINES]))
    return messages


def _execute_in_thread(path: Path) -> None:
    try:
        executor.execute(path, True, TIMEOUT)
    finally:
        # nbclient runs on an event loop it creates for this thread and leaves open; closing
        # it here keeps its sockets from being reported (as errors) when it is collected.
        with contextlib.suppress(RuntimeError):         # no loop was made: nothing to close
            asyncio.get_event_loop().close()


def execute_twice(path: Path, folder: Path, monkeypatch) -> list:
    """Execute two copies of ``path`` in ``folder`` as ``make course`` does; return both.

    ``make course`` executes a notebook in place, so a second run executes the same cells
    again (the stored outputs do not reach the kernel); two copies of the stored notebook
    run at the same time therefore show what two runs store, in less wall time on two cores.
    Both kernels save their figures into ``folder / "figures"`` (the test does not read them).
    """
    copies = [folder / f"run{run}" / "notebooks" / path.name for run in (1, 2)]
    for copy in copies:
        copy.parent.mkdir(parents=True)
        shutil.copyfile(path, copy)
    figures = folder / "figures"
    figures.mkdir()
    # What the executor's --figures does, through monkeypatch so that it is undone after the
    # test; the kernels inherit the variable when they start.
    monkeypatch.setenv("KAIMING_FIGURES_DIR", str(figures.resolve()))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(_execute_in_thread, copy) for copy in copies]:
            future.result()
    return [nbformat.read(copy, as_version=4) for copy in copies]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_executing_a_notebook_twice_gives_identical_text_outputs(path, tmp_path, monkeypatch):
    first, second = execute_twice(path, tmp_path, monkeypatch)
    mismatches = text_output_mismatches(first, second, path.name)
    assert not mismatches, "text outputs differ between two runs:\n" + "\n\n".join(mismatches)


# The comparison itself, on small notebooks built here.

def _notebook(*cells):
    return new_notebook(cells=list(cells))


def _cell(source, *outputs):
    return new_code_cell(source, outputs=list(outputs))


def _stdout(text):
    return new_output("stream", name="stdout", text=text)


def _result(data):
    return new_output("execute_result", data=data, execution_count=1)


def test_comparison_passes_identical_outputs():
    run = _notebook(_cell("print(2)", _stdout("2\n")), _cell("2", _result({"text/plain": "2"})))
    assert text_output_mismatches(run, run, "same.ipynb") == []


@pytest.mark.parametrize("one, two, removed, added", [
    (_stdout("0.25\n"), _stdout("0.5\n"), "0.25", "0.5"),
    (_result({"text/plain": "0.25"}), _result({"text/plain": "0.5"}), "0.25", "0.5"),
    (_result({"text/html": "<b>0.25</b>"}), _result({"text/html": "<b>0.5</b>"}),
     "<b>0.25</b>", "<b>0.5</b>"),
    (new_output("error", ename="ValueError", evalue="got 0.25", traceback=[]),
     new_output("error", ename="ValueError", evalue="got 0.5", traceback=[]),
     "[error] ValueError: got 0.25", "[error] ValueError: got 0.5"),
], ids=["stream", "text/plain", "text/html", "error"])
def test_comparison_reports_a_changed_text_output_with_notebook_cell_source_and_diff(
        one, two, removed, added):
    source = "x = rng.random()\nprint(x)\nx\nsecond_line_past_the_limit"
    mismatches = text_output_mismatches(_notebook(_cell("1"), _cell(source, one)),
                                        _notebook(_cell("1"), _cell(source, two)), "nb.ipynb")
    assert len(mismatches) == 1
    message = mismatches[0]
    assert message.startswith("nb.ipynb, cell 1:\n    x = rng.random()\n    print(x)\n    x\n")
    assert "second_line_past_the_limit" not in message
    assert "--- run 1" in message and "+++ run 2" in message
    assert f"\n-{removed}\n+{added}" in message


def test_comparison_skips_cells_marked_to_ignore_output():
    marked = "x = 1\n# NBVAL_IGNORE_OUTPUT\nprint(rng.random())"
    first = _notebook(_cell(marked, _stdout("0.25\n")))
    second = _notebook(_cell(marked, _stdout("0.5\n")))
    tagged = [_notebook(_cell("print(rng.random())", _stdout(t))) for t in ("0.25\n", "0.5\n")]
    for nb in tagged:
        nb.cells[0].metadata["tags"] = [IGNORE_TAG]
    assert text_output_mismatches(first, second, "nb.ipynb") == []
    assert text_output_mismatches(*tagged, "nb.ipynb") == []


def test_comparison_does_not_take_the_marker_inside_a_string_or_other_comment():
    source = 'print("# NBVAL_IGNORE_OUTPUT")  # not NBVAL_IGNORE_OUTPUT'
    first = _notebook(_cell(source, _stdout("0.25\n")))
    second = _notebook(_cell(source, _stdout("0.5\n")))
    assert len(text_output_mismatches(first, second, "nb.ipynb")) == 1


def test_comparison_ignores_images_and_execution_counts():
    first = _notebook(_cell("f", _result({"image/png": "AAAA", "text/plain": "<Figure>"})))
    second = _notebook(_cell("f", _result({"image/png": "BBBB", "text/plain": "<Figure>"})))
    second.cells[0].outputs[0].execution_count = 7
    assert text_output_mismatches(first, second, "nb.ipynb") == []


def test_comparison_reports_a_different_number_of_cells():
    mismatches = text_output_mismatches(_notebook(_cell("1")), _notebook(), "nb.ipynb")
    assert mismatches == ["nb.ipynb: 1 cells in run 1, 0 in run 2"]


def test_twice_executed_unseeded_notebook_fails_only_on_its_random_cell(tmp_path, monkeypatch):
    draw = "import numpy as np\nprint(np.random.default_rng().random())"
    nb = _notebook(new_code_cell("print(1 + 1)"), new_code_cell(draw),
                   new_code_cell("# NBVAL_IGNORE_OUTPUT\n" + draw))
    path = tmp_path / "source" / "99_unseeded.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    first, second = execute_twice(path, tmp_path / "run", monkeypatch)
    assert text_outputs(first.cells[0]) == text_outputs(second.cells[0]) == ["[stdout]", "2"]
    mismatches = text_output_mismatches(first, second, path.name)
    assert len(mismatches) == 1 and mismatches[0].startswith("99_unseeded.ipynb, cell 1:")
