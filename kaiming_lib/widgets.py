"""An interactive explorer of signal propagation through a freshly initialized stack.

Three layers, each usable on its own:

- :func:`explorer_view` (pure): probe one stack with :func:`kaiming_lib.probes.probe_stack`,
  predict it with :func:`kaiming_lib.variance.predict_stack`, and return what to draw as an
  :class:`ExplorerView`.  Needs no front end; the tests and the notebooks call it directly.
- :func:`draw_explorer`: draw a view on three Matplotlib Axes (std against depth with the
  prediction, histograms of the selected layers, the backward gradient std).
- :func:`build_explorer`: the ipywidgets 8 controls around them; it returns an
  :class:`Explorer` widget, which redraws whenever a control changes.

The explorer renders its figure with Matplotlib's Agg canvas into an ``ipywidgets.Image``:
no Matplotlib widget backend and no front-end extension is needed beyond ipywidgets itself,
so it works in JupyterLab 4 and Notebook 7 as installed.  Where no widget front end runs
(nbval, GitHub, nbviewer, an untrusted notebook), its display falls back to a PNG of the
state it was displayed in.

Every setting is bounded (:data:`BOUNDS`), so that no combination of the controls can
exhaust the memory of a 2 GB Binder machine; see :func:`explorer_memory_bytes`.

Examples
--------
>>> view = explorer_view(depth=20, width=64, batch_size=32, seed=0)
>>> view.preact_std.shape, view.hist_layers
((20,), (1, 20))
>>> round(float(view.predicted_preact_std[0]), 4)     # sqrt(64 * 2/64 * E[x_0^2])
1.4142
"""

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import ipywidgets as widgets
import matplotlib as mpl
from matplotlib import ticker
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._validation import check_choice, check_int, check_real
from .init import SCHEMES
from .plotting import SCHEME_COLORS
from .probes import layers_until_out_of_range, probe_stack
from .variance import predict_stack

__all__ = [
    "ACTIVATIONS", "BOUNDS", "DEFAULTS", "MAX_EXPLORER_BYTES", "RANGE",
    "ExplorerView", "explorer_view", "explorer_memory_bytes", "draw_explorer",
    "Explorer", "build_explorer",
]

#: The activations the explorer offers.
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "linear")
Activation = Literal["relu", "leaky_relu", "tanh", "linear"]

#: The closed range of every numeric setting; the controls cannot leave it and
#: :func:`explorer_view` refuses values outside it.
BOUNDS = {
    "depth": (1, 100),
    "width": (8, 1024),
    "negative_slope": (0.0, 1.0),
    "gain": (0.25, 4.0),
    "seed": (0, 2**31 - 1),
    "batch_size": (16, 256),
}

#: The state the explorer starts in (and that ``build_explorer()`` displays statically).
DEFAULTS = {
    "depth": 50, "width": 128, "scheme": "kaiming_normal", "activation": "relu",
    "negative_slope": 0.2, "gain": 1.0, "seed": 0, "batch_size": 64, "hist_layer": None,
}

#: The range a healthy signal stays in: the std of the pre-activations, as in notebook 00.
RANGE = (1e-6, 1e6)

#: The most memory a probe of the explorer may hold: 768 MiB, well under half of a 2 GB
#: Binder machine, leaving room for the kernel and the other notebooks.  The largest
#: setting of :data:`BOUNDS` needs about 0.49 GiB (:func:`explorer_memory_bytes`); the
#: bound on the batch size is set by this budget.
MAX_EXPLORER_BYTES = 3 * 2**28

# Histograms use at least this many values per layer (whole rows of the batch): enough for
# a smooth shape, few enough to keep a redraw fast.
_HIST_SAMPLE_SIZE = 4096
_HIST_EDGES = np.linspace(-4.0, 4.0, 33)
# Float32 statistics are accurate down to about 1e-45 and up to 3e38 (probes redo tiny and
# huge layers in float64); the plots' vertical axes stay within these limits.
_LOG_LIMITS = (1e-45, 1e45)
_FIGSIZE = (10.5, 3.2)
_DPI = 80


def _check_bounded_int(name: str, value) -> int:
    low, high = BOUNDS[name]
    value = check_int(name, value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return value


def _check_bounded_real(name: str, value) -> float:
    low, high = BOUNDS[name]
    value = check_real(name, value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be a real number in [{low:g}, {high:g}]; got {value!r}")
    return value


def explorer_memory_bytes(depth: int, width: int, batch_size: int) -> int:
    """Estimate the peak memory of the explorer's probe, in bytes.

    A float32 probe with a backward pass holds, at its peak, every weight (the backward
    pass needs them), three activations, the ``depth`` stored pre-activations and one
    gradient: ``4 * (L n^2 + 3 B n + B (L n + n))`` bytes for width ``n``, batch ``B``
    and depth ``L``.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer.

    Notes
    -----
    Counted from :func:`kaiming_lib.probes.probe_stack`'s backward pass, which keeps the
    weights of every layer until it returns; ``benchmarks/bench_widgets.py`` compares the
    estimate with the peak that ``tracemalloc`` measures.

    Examples
    --------
    >>> round(explorer_memory_bytes(100, 1024, 256) / 2**30, 3)   # the largest setting
    0.492
    """
    depth = check_int("depth", depth, minimum=1)
    n = check_int("width", width, minimum=1)
    b = check_int("batch_size", batch_size, minimum=1)
    return 4 * (depth * n * n + 3 * b * n + b * (depth * n + n))


@dataclass(frozen=True, eq=False)
class ExplorerView:
    """What the explorer draws for one setting; per-layer arrays have shape ``(depth,)``.

    Attributes
    ----------
    settings : dict
        The validated settings (``hist_layer`` resolved to a layer number).
    layers : ndarray of int
        ``1..depth``.
    preact_std, predicted_preact_std : ndarray
        The std of the pre-activations ``y_l``, measured and predicted.
    input_grad_std, predicted_input_grad_std : ndarray
        The std of the gradient at the input of layer ``l``, measured and predicted, for
        the loss ``sum(G * output)`` with ``G`` standard normal.
    hist_layers : tuple of int
        The layers with a histogram: the first, the selected and the last (distinct).
    hist_edges : (n_bins + 1,) ndarray
        Bin edges in units of each layer's std.
    act_hist : (len(hist_layers), n_bins) ndarray
        The fraction of the activations ``x_l`` in each bin.
    first_out_of_range : int
        The first layer whose measured ``std(y_l)`` leaves :data:`RANGE` or is not
        finite; -1 if none does.
    """

    settings: dict
    layers: np.ndarray
    preact_std: np.ndarray
    predicted_preact_std: np.ndarray
    input_grad_std: np.ndarray
    predicted_input_grad_std: np.ndarray
    hist_layers: tuple
    hist_edges: np.ndarray
    act_hist: np.ndarray
    first_out_of_range: int

    def summary(self) -> str:
        """Return one line of numbers about the last layer, for a status bar.

        Examples
        --------
        >>> explorer_view(depth=5, width=32, batch_size=16).summary()[:29]
        'depth 5 · std of y_5: measure'
        """
        depth = self.settings["depth"]
        leaves = (f"leaves [1e-6, 1e6] at layer {self.first_out_of_range}"
                  if self.first_out_of_range > 0 else "stays in [1e-6, 1e6]")
        return (f"depth {depth} · std of y_{depth}: measured {self.preact_std[-1]:.3g}, "
                f"predicted {self.predicted_preact_std[-1]:.3g} · gradient std at the input:"
                f" measured {self.input_grad_std[0]:.3g}, predicted "
                f"{self.predicted_input_grad_std[0]:.3g} · {leaves}")


def _check_settings(depth, width, scheme, activation, negative_slope, gain, seed,
                    batch_size, hist_layer) -> dict:
    """Validate every setting of the explorer; return them as a dict."""
    settings = {
        "depth": _check_bounded_int("depth", depth),
        "width": _check_bounded_int("width", width),
        "scheme": check_choice("scheme", scheme, tuple(SCHEMES)),
        "activation": check_choice("activation", activation, ACTIVATIONS),
        "negative_slope": _check_bounded_real("negative_slope", negative_slope),
        "gain": _check_bounded_real("gain", gain),
        "seed": _check_bounded_int("seed", seed),
        "batch_size": _check_bounded_int("batch_size", batch_size),
    }
    if hist_layer is None:
        hist_layer = settings["depth"]
    hist_layer = check_int("hist_layer", hist_layer)
    if not 1 <= hist_layer <= settings["depth"]:
        raise ValueError(f"hist_layer must be an integer in [1, depth={settings['depth']}]; "
                         f"got {hist_layer!r}")
    settings["hist_layer"] = hist_layer
    return settings


def explorer_view(depth: int = 50, width: int = 128, scheme: str = "kaiming_normal",
                  activation: Activation = "relu", *, negative_slope: float = 0.2,
                  gain: float = 1.0, seed: int = 0, batch_size: int = 64,
                  hist_layer: int | None = None) -> ExplorerView:
    """Probe and predict one stack; return what the explorer draws.

    The stack has ``depth`` layers of width ``width`` (input width too), weights drawn by
    ``scheme`` and multiplied by ``gain``, and the activation after every layer.  The
    input is ``batch_size`` standard normal rows.

    Parameters
    ----------
    depth : int in [1, 100], default 50
    width : int in [8, 1024], default 128
    scheme : str, default 'kaiming_normal'
        A name of :data:`kaiming_lib.init.SCHEMES`.
    activation : {'relu', 'leaky_relu', 'tanh', 'linear'}
    negative_slope : real in [0, 1], default 0.2
        The slope of ``'leaky_relu'`` for negative inputs; ignored otherwise.
    gain : real in [0.25, 4], default 1.0
        Multiplies the scheme's std (so ``gain^2`` its variance).
    seed : int in [0, 2^31 - 1], default 0
    batch_size : int in [16, 256], default 64
    hist_layer : int in [1, depth], optional
        The selected layer, histogrammed with the first and the last; the last by default.

    Returns
    -------
    ExplorerView

    Raises
    ------
    TypeError
        If a setting has the wrong kind (a float depth, a bool seed, a non-string scheme).
    ValueError
        If a setting is outside its range of :data:`BOUNDS`, or a name is unknown.

    Notes
    -----
    The bounds keep the probe below :data:`MAX_EXPLORER_BYTES` (see
    :func:`explorer_memory_bytes`); :mod:`kaiming_lib.probes` refuses anything above its own
    :data:`~kaiming_lib.probes.MAX_PROBE_BYTES` as a second line of defence.  The largest
    setting takes seconds to compute; the default one well under 0.15 s.

    Examples
    --------
    >>> v = explorer_view(depth=10, width=128, scheme='lecun_normal', batch_size=32)
    >>> v.predicted_preact_std[[0, -1]].round(4)      # 1, then halved variance per layer
    array([1.    , 0.0442])
    """
    s = _check_settings(depth, width, scheme, activation, negative_slope, gain, seed,
                        batch_size, hist_layer)
    widths = [s["width"]] * (s["depth"] + 1)
    hist_layers = tuple(sorted({1, s["hist_layer"], s["depth"]}))
    # The slope control keeps its value for every activation; only leaky ReLU is given it
    # (the others would ignore it, with a warning).
    slope = {"negative_slope": s["negative_slope"]} if s["activation"] == "leaky_relu" else {}
    result = probe_stack(widths, s["scheme"], s["activation"], gain=s["gain"],
                         **slope, batch_size=s["batch_size"],
                         rng=s["seed"], hist_edges=_HIST_EDGES, hist_layers=hist_layers,
                         hist_sample_size=_HIST_SAMPLE_SIZE)
    prediction = predict_stack(widths, s["scheme"], s["activation"], gain=s["gain"], **slope)
    first = int(layers_until_out_of_range(result, *RANGE, name="preact_std")[0])
    return ExplorerView(
        settings=s, layers=result.layers, preact_std=result.preact_std[0],
        predicted_preact_std=prediction.preact_std, input_grad_std=result.input_grad_std[0],
        predicted_input_grad_std=prediction.input_grad_std, hist_layers=hist_layers,
        hist_edges=result.hist_edges, act_hist=result.act_hist[0], first_out_of_range=first,
    )


def _drawable(values: np.ndarray) -> np.ndarray:
    """Replace what a log axis cannot show (zero, negative, not finite) by NaN."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= _LOG_LIMITS[0]) & (values <= _LOG_LIMITS[1])
    return np.where(ok, values, np.nan)


def _log_limits(ax, *arrays) -> None:
    """Set the limits of a log axis around the drawable values (a default when none is)."""
    values = np.concatenate([_drawable(a) for a in arrays])
    values = values[np.isfinite(values)]
    low, high = (values.min(), values.max()) if values.size else (1e-2, 1e2)
    ax.set_ylim(min(low, 1e-2) / 3, max(high, 1e2) * 3)


def _log_axis(ax) -> None:
    # Few major ticks and no minor ones: on an axis spanning 90 decades the default ticks
    # cost most of a redraw.
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(numticks=6))
    ax.yaxis.set_minor_locator(ticker.NullLocator())


def _check_axes(axes) -> list:
    allowed = "a sequence of 3 matplotlib Axes (depth profile, histograms, gradients)"
    if isinstance(axes, (str, bytes)) or not isinstance(axes, (Sequence, np.ndarray)):
        raise TypeError(f"axes must be {allowed}; got {type(axes).__name__} {axes!r:.60}")
    axes = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axes) != 3:
        raise ValueError(f"axes must be {allowed}; got {len(axes)} of them")
    for ax in axes:
        if not isinstance(ax, mpl.axes.Axes):
            raise TypeError(f"axes must hold matplotlib Axes; got {type(ax).__name__}")
    return axes


@dataclass
class _Artists:
    """The artists of one explorer figure, created once and updated at every redraw."""

    axes: list
    std_measured: object
    std_predicted: object
    selected: object
    hists: list
    grad_measured: object
    grad_predicted: object


def _create_artists(axes: list) -> _Artists:
    """Label the three Axes and create their (empty) artists."""
    profile, hist_ax, grad = axes
    profile.axhspan(*RANGE, color="0.93", zorder=0, linewidth=0)
    std_measured, = profile.plot([], [], marker=".", markersize=3, label="measured")
    std_predicted, = profile.plot([], [], "--", color="black", linewidth=1, label="predicted")
    selected = profile.axvline(1, color="0.5", linewidth=0.8, linestyle=":")
    profile.set(xlabel="layer l", ylabel="std of y_l (log scale)")
    profile.set_title("forward: std of the pre-activations", fontsize=9)
    hists = [hist_ax.stairs(np.zeros(1), [0.0, 1.0], linewidth=1.5) for _ in range(3)]
    hist_ax.set(xlabel="x_l / std(x_l) (dimensionless)", ylabel="fraction of values")
    hist_ax.set_title("histograms of the activations", fontsize=9)
    grad_measured, = grad.plot([], [], marker=".", markersize=3, label="measured")
    grad_predicted, = grad.plot([], [], "--", color="black", linewidth=1, label="predicted")
    grad.set(xlabel="layer l", ylabel="std of dL/dx_(l-1) (log scale)")
    grad.set_title("backward: gradient std at each layer's input", fontsize=9)
    for ax in (profile, grad):
        _log_axis(ax)
    return _Artists(axes, std_measured, std_predicted, selected, hists, grad_measured,
                    grad_predicted)


def _update_artists(artists: _Artists, view: ExplorerView) -> None:
    """Put a view's data into the artists and fit the limits to it."""
    s = view.settings
    color = SCHEME_COLORS.get(s["scheme"], "C0")
    profile, hist_ax, grad = artists.axes
    for line, values in ((artists.std_measured, view.preact_std),
                         (artists.std_predicted, view.predicted_preact_std),
                         (artists.grad_measured, view.input_grad_std),
                         (artists.grad_predicted, view.predicted_input_grad_std)):
        line.set_data(view.layers, _drawable(values))
    artists.std_measured.set_color(color)
    artists.grad_measured.set_color(color)
    artists.selected.set_xdata([s["hist_layer"]] * 2)
    _log_limits(profile, view.preact_std, view.predicted_preact_std)
    _log_limits(grad, view.input_grad_std, view.predicted_input_grad_std)
    for ax in (profile, grad):
        ax.set_xlim(0.5, s["depth"] + 0.5)
        ax.legend(loc="lower left", fontsize=8)     # after the colours: handles copy them

    styles = {1: ("0.6", ":"), s["depth"]: ("black", "-"), s["hist_layer"]: (color, "-")}
    for i, patch in enumerate(artists.hists):
        patch.set_visible(i < len(view.hist_layers))
        if i < len(view.hist_layers):
            layer = view.hist_layers[i]
            shade, linestyle = styles[layer]
            patch.set_data(view.act_hist[i], view.hist_edges)
            patch.set(edgecolor=shade, linestyle=linestyle,
                      label=f"x_{layer} (std of y {view.preact_std[layer - 1]:.2g})")
    top = float(view.act_hist.max()) if view.act_hist.size else 0.0
    hist_ax.set_xlim(view.hist_edges[0], view.hist_edges[-1])
    hist_ax.set_ylim(0, max(top, 0.05) * 1.1)
    hist_ax.legend(handles=artists.hists[:len(view.hist_layers)], loc="upper right",
                   fontsize=7)


def draw_explorer(view: ExplorerView, axes):
    """Draw a view on three Axes, clearing them first.

    Parameters
    ----------
    view : ExplorerView
    axes : sequence of three matplotlib Axes
        The depth profile of ``std(y_l)`` with its prediction and the range
        :data:`RANGE` shaded; the histograms of the activations of ``view.hist_layers``;
        the gradient std at each layer's input with its prediction.

    Returns
    -------
    list of matplotlib Axes

    Raises
    ------
    TypeError
        If ``view`` is not an ExplorerView, ``axes`` is not a sequence (``None``, a
        single Axes) or holds something else than Axes.
    ValueError
        If ``axes`` does not hold exactly three Axes.

    Notes
    -----
    Values a log axis cannot show (zero, an overflow to ``inf``, NaN) are left out, so a
    signal that dies or explodes shows as a line that stops.  The explorer widget draws
    through the same code, but creates the artists once and only updates their data.
    """
    if not isinstance(view, ExplorerView):
        raise TypeError(f"view must be an ExplorerView; got {type(view).__name__}")
    axes = _check_axes(axes)
    for ax in axes:
        ax.clear()
    _update_artists(_create_artists(axes), view)
    return axes


def _title(settings: dict) -> str:
    activation = settings["activation"]
    if activation == "leaky_relu":
        activation = f"leaky ReLU (slope {settings['negative_slope']:g})"
    return (f"{SCHEMES[settings['scheme']].label} × gain {settings['gain']:.3g}, {activation}, "
            f"width {settings['width']}, batch {settings['batch_size']}, seed {settings['seed']}")


class Explorer(widgets.VBox):
    """The explorer widget: controls, the figure of the current setting, a status line.

    Build it with :func:`build_explorer`.  Changing any control recomputes the view and
    redraws the figure (sliders update when released).

    Parameters
    ----------
    settings : dict
        The starting setting: every key of :data:`DEFAULTS` and no other, with values
        :func:`explorer_view` accepts.

    Raises
    ------
    TypeError
        If ``settings`` is not a dict, or a setting has the wrong kind.
    ValueError
        If a key is missing or unknown (the message names them), or a setting is out of
        its range.

    Attributes
    ----------
    controls : dict of str to ipywidgets.ValueWidget
        One control per setting of :func:`explorer_view`.
    image : ipywidgets.Image
        The figure, as PNG.
    status : ipywidgets.HTML
        A line of numbers about the current setting (:meth:`ExplorerView.summary`).
    view : ExplorerView
        The view drawn last.
    redraw_count : int
        How many times the figure was drawn.
    """

    def __init__(self, settings: dict):
        settings = _check_settings_dict(settings)
        self.controls = _make_controls(settings)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.status = widgets.HTML()
        self.redraw_count = 0
        # A fixed layout: constrained layout would double the cost of a redraw.
        self._figure = Figure(figsize=_FIGSIZE, dpi=_DPI)
        self._figure.subplots_adjust(left=0.065, right=0.99, bottom=0.15, top=0.84,
                                     wspace=0.32)
        FigureCanvasAgg(self._figure)
        self._artists = _create_artists(list(self._figure.subplots(1, 3)))
        c = self.controls
        rows = widgets.HBox([
            widgets.VBox([c["depth"], c["width"], c["hist_layer"]]),
            widgets.VBox([c["scheme"], c["activation"], c["negative_slope"]]),
            widgets.VBox([c["gain"], c["seed"], c["batch_size"]]),
        ])
        super().__init__([rows, self.image, self.status])
        self.add_class("kaiming-explorer")
        self._holding = False
        for control in c.values():
            control.observe(self._on_change, names="value")
        self.redraw()

    @property
    def settings(self) -> dict:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, change) -> None:
        if self._holding:
            return
        c = self.controls
        c["negative_slope"].disabled = c["activation"].value != "leaky_relu"
        if change["owner"] is c["depth"]:
            # Keep the selected layer valid without a second redraw from its own change.
            self._holding = True
            try:
                follow = c["hist_layer"].value == c["hist_layer"].max
                c["hist_layer"].max = c["depth"].value
                if follow or c["hist_layer"].value > c["depth"].value:
                    c["hist_layer"].value = c["depth"].value
            finally:
                self._holding = False
        self.redraw()

    def redraw(self) -> ExplorerView:
        """Recompute the view from the controls, draw it and update the image."""
        self.view = explorer_view(**self.settings)
        _update_artists(self._artists, self.view)
        self._figure.suptitle(_title(self.view.settings), fontsize=10)
        buffer = io.BytesIO()
        # Fast zlib compression: the default level costs a third of a redraw.
        self._figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None},
                             pil_kwargs={"compress_level": 1})
        self.image.value = buffer.getvalue()
        self.status.value = f"<code>{self.view.summary()}</code>"
        self.redraw_count += 1
        return self.view

    def _repr_mimebundle_(self, **kwargs):
        # The live widget, plus a PNG of the current state for front ends without widgets
        # (nbviewer and GitHub skip a widget view whose state is not stored).
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = f"Explorer: {self.view.summary()}"
        return bundle


def _check_settings_dict(settings) -> dict:
    """Validate the settings an :class:`Explorer` is built from (every key of DEFAULTS)."""
    expected = tuple(DEFAULTS)
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a dict with the keys {', '.join(expected)}; got "
                        f"{type(settings).__name__} {settings!r:.60}")
    missing = [key for key in expected if key not in settings]
    unknown = [key for key in settings if key not in DEFAULTS]
    if missing or unknown:
        problems = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
            ([f"unknown {', '.join(map(repr, unknown))}"] if unknown else [])
        raise ValueError(f"settings must have exactly the keys {', '.join(expected)} (see "
                         f"widgets.DEFAULTS); got {'; '.join(problems)}")
    return _check_settings(**settings)


def _make_controls(s: dict) -> dict:
    """Build the controls, their ranges taken from :data:`BOUNDS`."""
    style = {"description_width": "90px"}
    layout = widgets.Layout(width="310px")
    common = {"continuous_update": False, "style": style, "layout": layout}
    return {
        "depth": widgets.IntSlider(value=s["depth"], min=BOUNDS["depth"][0],
                                   max=BOUNDS["depth"][1], step=1, description="depth",
                                   **common),
        "width": widgets.IntSlider(value=s["width"], min=BOUNDS["width"][0],
                                   max=BOUNDS["width"][1], step=8, description="width",
                                   **common),
        "hist_layer": widgets.IntSlider(value=s["hist_layer"], min=1, max=s["depth"], step=1,
                                        description="histogram at", **common),
        "scheme": widgets.Dropdown(options=[(sch.label, name) for name, sch in SCHEMES.items()],
                                   value=s["scheme"], description="scheme", style=style,
                                   layout=layout),
        "activation": widgets.Dropdown(options=list(ACTIVATIONS), value=s["activation"],
                                       description="activation", style=style, layout=layout),
        "negative_slope": widgets.FloatSlider(value=s["negative_slope"],
                                              min=BOUNDS["negative_slope"][0],
                                              max=BOUNDS["negative_slope"][1], step=0.01,
                                              description="leaky slope",
                                              disabled=s["activation"] != "leaky_relu",
                                              **common),
        "gain": widgets.FloatLogSlider(value=s["gain"], base=2,
                                       min=math.log2(BOUNDS["gain"][0]),
                                       max=math.log2(BOUNDS["gain"][1]), step=0.05,
                                       description="gain ×", readout_format=".3g", **common),
        "seed": widgets.BoundedIntText(value=s["seed"], min=BOUNDS["seed"][0],
                                       max=BOUNDS["seed"][1], step=1, description="seed",
                                       style=style, layout=layout),
        "batch_size": widgets.IntSlider(value=s["batch_size"], min=BOUNDS["batch_size"][0],
                                        max=BOUNDS["batch_size"][1], step=16,
                                        description="batch size", **common),
    }


def build_explorer(depth: int = DEFAULTS["depth"], width: int = DEFAULTS["width"],
                   scheme: str = DEFAULTS["scheme"],
                   activation: Activation = DEFAULTS["activation"], *,
                   negative_slope: float = DEFAULTS["negative_slope"],
                   gain: float = DEFAULTS["gain"], seed: int = DEFAULTS["seed"],
                   batch_size: int = DEFAULTS["batch_size"],
                   hist_layer: int | None = DEFAULTS["hist_layer"]) -> Explorer:
    """Build the interactive explorer, starting from the given setting.

    Parameters
    ----------
    depth, width, scheme, activation, negative_slope, gain, seed, batch_size, hist_layer
        The starting setting, as in :func:`explorer_view` (same ranges and defaults).

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; display it (make it a cell's last expression).

    Raises
    ------
    TypeError, ValueError
        For a starting setting :func:`explorer_view` refuses.

    Notes
    -----
    Sliders update on release (``continuous_update=False``): the largest setting takes
    seconds per redraw, and dragging would queue one redraw per step.  The width slider
    moves in steps of 8, the batch size in steps of 16 (the explorer accepts any integer
    in range through :func:`explorer_view`).

    Examples
    --------
    >>> explorer = build_explorer(depth=8, width=32, batch_size=16)
    >>> explorer.controls['depth'].min, explorer.controls['depth'].max
    (1, 100)
    >>> explorer.controls['depth'].value = 4       # what moving the slider does
    >>> explorer.view.preact_std.shape, explorer.redraw_count
    ((4,), 2)
    """
    settings = _check_settings(depth, width, scheme, activation, negative_slope, gain, seed,
                               batch_size, hist_layer)
    return Explorer(settings)
