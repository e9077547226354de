"""Plotting helpers shared by the notebooks: one colour per scheme, course style, saving.

Every helper takes an optional Matplotlib ``Axes``, draws on it and returns it; none calls
``plt.show()``.  Saving is a separate call, :func:`save_figure`, which writes only when asked.
"""

import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt

from ._validation import check_choice

__all__ = ["SCHEME_COLORS", "scheme_color", "use_course_style", "save_figure", "FIGURES_ENV"]

#: One colour per scheme, the same in every notebook.  Paul Tol's colour-blind-safe "muted"
#: palette, plus two of his "vibrant" colours and black for the last schemes.
SCHEME_COLORS = {
    "zeros": "#BBBBBB",
    "small_normal": "#88CCEE",
    "large_normal": "#CC6677",
    "xavier_normal": "#DDCC77",
    "xavier_uniform": "#999933",
    "lecun_normal": "#332288",
    "kaiming_normal": "#117733",
    "kaiming_normal_fan_out": "#44AA99",
    "kaiming_uniform": "#882255",
    "kaiming_truncated_normal": "#AA4499",
    "orthogonal": "#000000",
    "pytorch_linear_default": "#EE7733",
}

#: Environment variable naming the folder :func:`save_figure` writes into.  ``make course``
#: and ``make figures`` set it; tests and nbval do not, so they never write into the tree.
FIGURES_ENV = "KAIMING_FIGURES_DIR"


def scheme_color(name: str) -> str:
    """Return the colour of a registered scheme.

    Examples
    --------
    >>> scheme_color('kaiming_normal')
    '#117733'
    """
    check_choice("scheme", name, tuple(SCHEME_COLORS))
    return SCHEME_COLORS[name]


def use_course_style() -> None:
    """Set the course's Matplotlib style (sizes, grid, reproducible SVG output)."""
    mpl.rcParams.update({
        "figure.figsize": (7.0, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
        # Fixed ids and no timestamp, so that the same figure gives the same SVG file.
        "svg.hashsalt": "kaiming-course",
    })


def save_figure(fig, name: str, directory=None) -> list:
    """Write ``fig`` as ``NAME.png`` and ``NAME.svg`` when a figures folder is given.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    name : str
        File stem, letters, digits, ``_`` and ``-`` only, e.g. ``'02_std_by_depth'``.
    directory : path-like, optional
        Where to write.  Defaults to the folder named by the environment variable
        ``KAIMING_FIGURES_DIR``; when neither is set nothing is written.

    Returns
    -------
    list of pathlib.Path
        The files written (empty when nothing was asked for).

    Raises
    ------
    TypeError
        If ``fig`` is not a Matplotlib figure or ``name`` not a string.
    ValueError
        If ``name`` is empty or has characters other than letters, digits, ``_`` and ``-``.

    Notes
    -----
    PNG and SVG are written without timestamps or software versions, so the same figure
    drawn with the same library versions gives byte-identical files.
    """
    if not isinstance(fig, mpl.figure.Figure):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {name!r}")
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"name must be non-empty letters, digits, '_' or '-'; got {name!r}")
    directory = directory if directory is not None else os.environ.get(FIGURES_ENV)
    if not directory:
        return []
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, svg = directory / f"{name}.png", directory / f"{name}.svg"
    with mpl.rc_context({"svg.hashsalt": "kaiming-course"}):
        fig.savefig(png, metadata={"Software": None}, bbox_inches="tight")
        fig.savefig(svg, metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return [png, svg]


