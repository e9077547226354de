"""Plotting helpers shared by the notebooks: one colour per scheme, course style, saving.

Every helper takes an optional Matplotlib ``Axes``, draws on it and returns it; none calls
``plt.show()``.  Saving is a separate call, :func:`save_figure`, which writes only when asked.
"""

import numbers
import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import is_color_like
from matplotlib.lines import Line2D

from ._validation import check_array, check_choice, warn_suspicious

__all__ = [
    "SCHEME_COLORS", "scheme_color", "use_course_style", "save_figure", "FIGURES_ENV",
    "MAX_NAME_LENGTH",
    "plot_band", "plot_depth_profile", "plot_histograms",
]

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

#: The longest figure name :func:`save_figure` accepts: with ``.png`` added it stays far
#: below the 255-byte file-name limit of common file systems, and no course figure needs
#: more than about 40 characters.
MAX_NAME_LENGTH = 100


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
        File stem, letters, digits, ``_`` and ``-`` only, at most
        :data:`MAX_NAME_LENGTH` characters, e.g. ``'02_std_by_depth'`` (no folder and
        no extension: ``.png`` and ``.svg`` are added).
    directory : path-like, optional
        Where to write.  Defaults to the folder named by the environment variable
        ``KAIMING_FIGURES_DIR``; when neither is set nothing is written.  A missing
        folder is created only if its parent exists (one level, never a whole tree).

    Returns
    -------
    list of pathlib.Path
        The files written (empty when nothing was asked for).

    Raises
    ------
    TypeError
        If ``fig`` is not a Matplotlib figure, ``name`` not a string or ``directory`` not
        a path.
    ValueError
        If ``name`` is empty, longer than :data:`MAX_NAME_LENGTH` or has characters
        other than letters, digits, ``_`` and ``-``; or if ``directory`` is an existing
        file, or is missing and so is its parent folder.

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
        raise ValueError(f"name must be non-empty letters, digits, '_' or '-' (a file stem, "
                         f"without folder or extension); got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"name must be at most {MAX_NAME_LENGTH} characters; got "
                         f"{len(name)} characters, {name!r:.40}...")
    if directory is not None and not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be None, a string or a path-like object; got "
                        f"{directory!r}")
    directory = directory if directory is not None else os.environ.get(FIGURES_ENV)
    if not directory:
        return []
    directory = _figures_folder(Path(directory))
    png, svg = directory / f"{name}.png", directory / f"{name}.svg"
    with mpl.rc_context({"svg.hashsalt": "kaiming-course"}):
        fig.savefig(png, metadata={"Software": None}, bbox_inches="tight")
        fig.savefig(svg, metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return [png, svg]


def _figures_folder(directory: Path) -> Path:
    """Return ``directory``, creating it if only its last level is missing."""
    if directory.is_dir():
        return directory
    if directory.exists():
        raise ValueError(f"directory must be a folder; got {str(directory)!r}, which is a file")
    parent = directory.parent
    if not parent.is_dir():
        raise ValueError(
            f"directory must be an existing folder or a new folder inside one; got "
            f"{str(directory)!r}, whose parent {str(parent)!r} is not a folder (create it "
            "first: save_figure makes at most one level)"
        )
    directory.mkdir()
    return directory


def _check_line_style(color, linestyle="-") -> None:
    """Refuse a colour or line style Matplotlib would reject while drawing."""
    if color is not None and not is_color_like(color):
        raise ValueError(f"color must be None or a Matplotlib colour (a name such as 'red', "
                         f"'#117733', 'C0' or an RGB(A) tuple); got {color!r}")
    try:
        Line2D([], [], linestyle=linestyle)
    except (TypeError, ValueError):
        raise ValueError(
            f"linestyle must be one of '-', '--', '-.', ':', 'solid', 'dashed', 'dashdot', "
            f"'dotted', 'None', '' or a dash tuple (offset, (on, off, ...)); got {linestyle!r}"
        ) from None


def _axes(ax):
    if ax is None:
        return plt.gca()
    if not isinstance(ax, mpl.axes.Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def plot_band(x, values, *, ax=None, color=None, label=None, linestyle="-",
              band: str = "range"):
    """Draw the median over seeds of ``values`` with a shaded band around it.

    Parameters
    ----------
    x : (n,) ndarray
        Positions along the horizontal axis (layers, epochs).
    values : (n_seeds, n) ndarray
        One row per seed.
    ax : matplotlib Axes, optional
        Where to draw (the current Axes by default).
    color, label, linestyle : optional
        Passed to the median line; the band takes the same colour.
    band : {'range', 'quartiles'}
        Shade from the smallest to the largest seed, or between the quartiles.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If ``x`` or ``values`` is not an ndarray, or ``ax`` not an Axes.
    ValueError
        If ``values`` is not 2-D with ``len(x)`` columns, ``band`` is unknown, or
        ``color`` or ``linestyle`` is not one Matplotlib accepts.

    Warns
    -----
    SuspiciousInputWarning
        If no point is left to draw (every column has a seed that is not finite, or not
        positive on a log axis): the call draws nothing.

    Notes
    -----
    Points where some seed is not finite, or not positive on a log-scaled vertical axis,
    are left out of the line and the band, so that an overflowing or vanishing signal
    shows as a line that stops instead of a warning.
    """
    x = check_array("x", x, ndim=1)
    values = check_array("values", values, ndim=2, finite=False)
    check_choice("band", band, ("range", "quartiles"))
    _check_line_style(color, linestyle)
    if values.shape[1] != x.size:
        raise ValueError(
            f"values must have one column per x, {x.size}; got shape {values.shape!r}"
        )
    ax = _axes(ax)
    keep = np.isfinite(values).all(axis=0)
    if ax.get_yscale() == "log":
        keep &= (values > 0).all(axis=0)
    if not keep.any():
        scale = " and positive (the axis is log-scaled)" if ax.get_yscale() == "log" else ""
        warn_suspicious(f"plot_band draws nothing for label={label!r}: no column of values is "
                        f"finite{scale} in every seed; check the values (an overflowing "
                        "signal?) or the axis scale")
    x, values = x[keep], values[:, keep]
    low, high = (values.min(0), values.max(0)) if band == "range" else \
        np.percentile(values, [25, 75], axis=0)
    (line,) = ax.plot(x, np.median(values, axis=0), color=color, label=label,
                      linestyle=linestyle)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
    return ax


def plot_depth_profile(result, name: str = "preact_std", *, prediction=None, ax=None,
                       color=None, label=None):
    """Draw a per-layer statistic of a probe against depth, with its prediction.

    Parameters
    ----------
    result : kaiming_lib.probes.ProbeResult
        A probe's result; its seeds become the band.
    name : str, default 'preact_std'
        Any per-layer statistic of :meth:`ProbeResult.values`.
    prediction : (n_layers,) ndarray, optional
        The theory's value per layer, drawn dashed in the same colour.
    ax : matplotlib Axes, optional
    color : str, optional
        Defaults to the scheme's colour when the scheme is registered.
    label : str, optional
        Defaults to the scheme's name.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If ``result`` has no per-layer values or ``prediction`` is not an ndarray.
    ValueError
        If ``prediction`` does not have one value per layer, or ``color`` is not a
        Matplotlib colour.
    """
    if not hasattr(result, "values") or not hasattr(result, "layers"):
        raise TypeError(f"result must be a ProbeResult; got {type(result).__name__}")
    _check_line_style(color)
    ax = _axes(ax)
    if color is None:
        color = SCHEME_COLORS.get(result.scheme)
    label = result.scheme if label is None else label
    plot_band(result.layers, result.values(name), ax=ax, color=color, label=label)
    if prediction is not None:
        prediction = check_array("prediction", prediction, ndim=1, finite=False)
        if prediction.size != result.n_layers:
            raise ValueError(f"prediction must have {result.n_layers} values, one per layer; "
                             f"got {prediction.size}")
        ax.plot(result.layers, prediction, linestyle="--", linewidth=1,
                color=ax.lines[-1].get_color())
    ax.set_xlabel("layer l")
    return ax


def plot_histograms(result, *, kind: str = "preact", axes=None, color=None, seed: int = 0):
    """Draw a probe's histograms, one layer per Axes.

    Parameters
    ----------
    result : kaiming_lib.probes.ProbeResult
    kind : {'preact', 'act'}
        Histograms of the pre-activations ``y_l`` or the activations ``x_l``.
    axes : sequence of matplotlib Axes, optional
        One per histogram layer (``result.hist_layers``); a new row of subplots by default.
    color : str, optional
        Defaults to the scheme's colour.
    seed : int, default 0
        Which repetition to show.

    Returns
    -------
    list of matplotlib Axes

    Raises
    ------
    TypeError
        If ``result`` is not a probe result, ``seed`` not an integer, or ``axes`` holds
        something other than Axes.
    ValueError
        If ``kind`` is unknown, ``color`` not a Matplotlib colour, ``seed`` out of
        range, the probe recorded no histograms
        (``hist_layers=[]``), or the number of Axes differs from the number of histogram
        layers.
    """
    if not all(hasattr(result, a) for a in ("preact_hist", "act_hist", "hist_layers",
                                             "hist_edges", "scheme")):
        raise TypeError(f"result must be a ProbeResult; got {type(result).__name__}")
    check_choice("kind", kind, ("preact", "act"))
    _check_line_style(color)
    if len(result.hist_layers) == 0:
        raise ValueError(
            "result has no histograms to draw: the probe ran with hist_layers=[]; probe "
            "again with hist_layers listing the layers to histogram (the default, None, "
            "takes every layer)"
        )
    hists = result.preact_hist if kind == "preact" else result.act_hist
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    if not 0 <= seed < hists.shape[0]:
        raise ValueError(f"seed must be in [0, {hists.shape[0]}); got {seed!r}")
    if axes is None:
        _, axes = plt.subplots(1, len(result.hist_layers), squeeze=False,
                               figsize=(2.5 * len(result.hist_layers), 2.5))
        axes = axes[0]
    axes = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axes) != len(result.hist_layers):
        raise ValueError(f"axes must hold {len(result.hist_layers)} Axes, one per histogram "
                         f"layer; got {len(axes)}")
    for ax in axes:
        if not isinstance(ax, mpl.axes.Axes):
            raise TypeError(f"axes must hold matplotlib Axes; got {type(ax).__name__}")
    color = SCHEME_COLORS.get(result.scheme) if color is None else color
    edges, unit = result.hist_edges, " / std" if result.hist_units == "std" else ""
    symbol = "y" if kind == "preact" else "x"
    for ax, layer, fractions in zip(axes, result.hist_layers, hists[seed]):
        ax.stairs(fractions, edges, fill=True, color=color)
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel(f"{symbol}{unit} (dimensionless)")
    axes[0].set_ylabel("fraction of values")
    return axes
