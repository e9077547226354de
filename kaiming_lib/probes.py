"""Measured signal propagation: push a batch through a stack and keep per-layer statistics.

The layout is that of :mod:`kaiming_lib.variance`: widths ``[n_0, ..., n_L]``, weights
``W_l`` of shape ``(n_l, n_{l-1})``, no biases, ``y_l = W_l x_{l-1}`` and
``x_l = phi(y_l)`` (after every layer, the last one included, unless
``final_activation=False``).  A batch is a ``(batch_size, n_0)`` array, one sample per row,
so a layer computes ``x_{l-1} @ W_l.T``.

Only statistics are kept: the memory of a forward probe is that of two activations and one
weight at a time, whatever the depth.  The backward pass stores the ``L`` pre-activations
while it runs (``L * batch_size * width`` numbers) and frees them when it returns.  A probe
that would hold more than :data:`MAX_PROBE_BYTES` at once is refused with a ValueError
before anything is allocated.

Statistics are recorded honestly: when the signal overflows (``inf``) or turns into
``nan``, the statistics of that layer and the following ones say so, and no
``RuntimeWarning`` escapes.  :func:`layers_until_out_of_range` finds the first layer where
the signal leaves a range or stops being finite.

Examples
--------
>>> result = probe_stack([256] * 21, 'kaiming_normal', 'relu', batch_size=256,
...                      n_seeds=2, rng=0)
>>> result.act_std.shape
(2, 20)
>>> result.preact_second_moment[:, 0].round(1)   # q_1 = n_0 * (2 / n_0) * E[x_0^2] = 2
array([2., 2.])
>>> round(float(result.act_zero_fraction.mean()), 1)   # ReLU zeroes half of its inputs
0.5

Deeper layers fluctuate around ``q_l = 2``: at width 256 and depth 20, ``log q_20`` has a
spread of about 0.5 from seed to seed (it grows like ``sqrt(L / n)``), so compare medians
or bands over seeds with the theory, not one seed.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    as_rng, check_array, check_choice, check_float_dtype, check_int, check_real,
    check_weight_chain,
)
from .variance import Activation, _check_widths, as_activation

__all__ = [
    "ProbeResult", "DEFAULT_HIST_EDGES", "SATURATION_THRESHOLD", "MAX_PROBE_BYTES",
    "MAX_PROBE_SEEDS", "MAX_PROBE_WORK",
    "sample_weights", "propagate", "probe_stack", "layers_until_out_of_range",
]

#: Default histogram edges: 40 bins of 0.2 from -4 to 4 (in units of each layer's std with
#: ``hist_units='std'``, the default).
DEFAULT_HIST_EDGES = np.linspace(-4.0, 4.0, 41)
DEFAULT_HIST_EDGES.setflags(write=False)

#: ``|tanh(y)| > 0.97`` counts as saturated (Karpathy's makemore threshold); sigmoid uses the
#: same threshold on ``|2 sigmoid(y) - 1| = |tanh(y / 2)|``.
SATURATION_THRESHOLD = 0.97

#: The most memory (2 GiB) a probe may hold at once, estimated before it starts as
#: ``itemsize * (largest W_l [every W_l with backward, which keeps them] + 3 * batch_size *
#: max(n_l) + [backward] batch_size * (n_1 + ... + n_L + max(n_l)) + [keep_activations]
#: n_seeds * batch_size * (n_1 + ... + n_L))``.  Above what the course needs (depth 100,
#: width 1024, batch 1024 with backward is about 0.8 GiB in float32); it turns a typo such
#: as a width of 10**9 into a clear error instead of an attempt to allocate terabytes.
MAX_PROBE_BYTES = 2**31

#: The most seeds one probe may run (10,000): a band over seeds needs tens to hundreds, and
#: at 10,000 a quantile's sampling error is already below 1 % of the spread; each seed
#: costs a fixed overhead (drawing, statistics, histograms) however small the stack.
MAX_PROBE_SEEDS = 10_000

#: The most work (10**12 units) a probe may do, estimated before it starts as
#: ``n_seeds * batch_size * sum_l n_l * (k * n_(l-1) + 100)``: the multiply-adds of the
#: matrix products (``k = 1`` forward, ``k = 3`` with backward, which adds ``G @ W_l`` and
#: ``G.T @ x_(l-1)``), plus about 100 per value for the statistics and histograms of
#: each layer (measured: they cost as much as a product with 100 inputs).  At a few
#: 10**9 units per second this is minutes; the largest probe of the course, the explorer
#: widget at depth 100, width 1024 and batch 256 with backward, is about 8 * 10**10.
MAX_PROBE_WORK = 10**12
_STATISTICS_COST = 100

_FORWARD_FIELDS = (
    "preact_mean", "preact_std", "preact_second_moment", "nonfinite_fraction",
    "act_mean", "act_std", "act_second_moment", "act_zero_fraction", "act_saturated_fraction",
)
_BACKWARD_FIELDS = ("input_grad_std", "weight_grad_norm", "weight_norm")


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """Per-layer statistics of a probe; arrays are shaped ``(n_seeds, n_layers)``.

    Column ``l - 1`` belongs to layer ``l``.  Arrays are read-only.  Means and stds are
    taken over every value of the layer (all samples and all units), the std with
    ``ddof=0``.

    Attributes
    ----------
    widths : tuple of int
        ``(n_0, ..., n_L)``.
    scheme : str
        The scheme's name (``'custom'`` for a callable sampler, ``'given'`` for given
        weights).
    activation : str
    gain : float
        The multiplier of the weights' std.
    batch_size : int
    final_activation : bool
    preact_mean, preact_std, preact_second_moment : ndarray
        Of the pre-activations ``y_l``.
    nonfinite_fraction : ndarray
        Fraction of ``y_l`` that is ``inf`` or ``nan``.
    act_mean, act_std, act_second_moment : ndarray
        Of the activations ``x_l`` (of ``y_L`` in the last column when
        ``final_activation=False``).
    act_zero_fraction : ndarray
        Fraction of exact zeros of ``x_l`` (dead ReLU units count here).
    act_saturated_fraction : ndarray
        tanh: fraction with ``|x_l| > 0.97``; sigmoid: with ``|2 x_l - 1| > 0.97``;
        NaN for activations that do not saturate (ReLU, leaky ReLU, identity, GELU, SELU,
        custom ones).
    hist_edges : (n_bins + 1,) ndarray
        Bin edges shared by every histogram, in units of ``hist_units``.
    hist_units : {'std', 'absolute'}
        ``'std'``: each layer's values are divided by that layer's std before binning
        (shapes comparable across schemes and depths); ``'absolute'``: raw values.
    hist_layers : (n_hist,) ndarray of int
        The layer numbers (1-based) that have histograms.
    preact_hist, act_hist : (n_seeds, n_hist, n_bins) ndarray
        The fraction of the sampled values in each bin (values outside the edges or not
        finite are counted in no bin, so a row sums to at most 1).
    hist_rows : int
        The histograms were computed from the first ``hist_rows`` rows of the batch
        (independent samples), i.e. ``hist_rows * n_l`` values for layer ``l``.
    input_grad_std : ndarray or None
        The std of ``dL/dx_{l-1}``, the gradient at the input of layer ``l`` (He et al.'s
        ``Delta x_l``), for the loss ``L = sum(G * output)`` with ``G`` standard normal.
        None when the probe ran without ``backward``.
    weight_grad_norm : ndarray or None
        The Frobenius norm of ``dL/dW_l`` for that loss, summed over the batch.
    weight_norm : ndarray or None
        The Frobenius norm of ``W_l``.
    activations : tuple or None
        With ``keep_activations=True``: ``activations[seed][l - 1]`` is ``x_l``, a
        read-only ``(batch_size, n_l)`` array.  None otherwise.
    """

    widths: tuple
    scheme: str
    activation: str
    gain: float
    batch_size: int
    final_activation: bool
    preact_mean: np.ndarray
    preact_std: np.ndarray
    preact_second_moment: np.ndarray
    nonfinite_fraction: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    act_second_moment: np.ndarray
    act_zero_fraction: np.ndarray
    act_saturated_fraction: np.ndarray
    hist_edges: np.ndarray
    hist_units: str
    hist_layers: np.ndarray
    preact_hist: np.ndarray
    act_hist: np.ndarray
    hist_rows: int
    input_grad_std: np.ndarray | None = None
    weight_grad_norm: np.ndarray | None = None
    weight_norm: np.ndarray | None = None
    activations: tuple | None = field(default=None, repr=False)

    @property
    def n_seeds(self) -> int:
        """The number of independent repetitions (rows of every array)."""
        return self.preact_std.shape[0]

    @property
    def n_layers(self) -> int:
        """The depth ``L``."""
        return len(self.widths) - 1

    @property
    def layers(self) -> np.ndarray:
        """The layer numbers ``1..L``, for plotting against depth."""
        return np.arange(1, self.n_layers + 1)

    @property
    def act_rms(self) -> np.ndarray:
        """The root mean square ``sqrt(E[x_l^2])`` of the activations."""
        return np.sqrt(self.act_second_moment)

    def values(self, name: str = "act_std") -> np.ndarray:
        """Return the ``(n_seeds, n_layers)`` array of a per-layer statistic.

        Raises
        ------
        ValueError
            If ``name`` is not a per-layer statistic, or a backward one that was not
            measured.
        """
        allowed = (*_FORWARD_FIELDS, "act_rms", *_BACKWARD_FIELDS)
        if name not in allowed:
            raise ValueError(
                f"name must be one of {', '.join(map(repr, allowed))}; got {name!r}"
            )
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{name!r} was not measured: run the probe with backward=True")
        return value

    def median(self, name: str = "act_std") -> np.ndarray:
        """Return the median over seeds of a statistic, shape ``(n_layers,)``.

        Layers where every seed is NaN give NaN, without a warning.

        Examples
        --------
        >>> r = probe_stack([64] * 6, n_seeds=3, batch_size=64, rng=0)
        >>> r.median('preact_std').shape
        (5,)
        """
        return self.quantiles(name, (0.5,))[0]

    def band(self, name: str = "act_std", quantiles=(0.1, 0.9)) -> tuple:
        """Return the lower and upper quantiles over seeds, each of shape ``(n_layers,)``.

        Examples
        --------
        >>> r = probe_stack([64] * 6, n_seeds=5, batch_size=64, rng=0)
        >>> low, high = r.band('act_std', (0.1, 0.9))
        >>> bool(np.all(low <= high))
        True
        """
        low, high = self.quantiles(name, quantiles)
        return low, high

    def quantiles(self, name: str = "act_std", quantiles=(0.1, 0.5, 0.9)) -> np.ndarray:
        """Return quantiles over seeds, shape ``(len(quantiles), n_layers)``.

        Linear interpolation between order statistics, as ``numpy.quantile``.  ``inf``
        counts as a value larger than all others and NaN is ignored; a layer with only NaN
        gives NaN.  No warning is issued.

        Raises
        ------
        TypeError
            If ``quantiles`` is not a sequence of numbers.
        ValueError
            If a quantile is outside [0, 1], or ``name`` is not a measured statistic.

        Examples
        --------
        >>> r = probe_stack([32] * 4, n_seeds=5, batch_size=16, rng=0, backward=False)
        >>> r.quantiles('act_std', (0.1, 0.5, 0.9)).shape
        (3, 3)
        """
        try:
            levels = np.asarray(quantiles, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"quantiles must be a sequence of numbers; got {quantiles!r}"
            ) from None
        if levels.ndim != 1 or not np.all((levels >= 0) & (levels <= 1)):
            raise ValueError(f"quantiles must be a 1-D sequence in [0, 1]; got {quantiles!r}")
        return _nan_quantiles(self.values(name), levels)


def _nan_quantiles(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles of each column, NaN ignored, ``inf`` kept as largest.

    ``numpy.nanquantile`` interpolates ``inf + (inf - inf) * t`` and so returns NaN for a
    column of infinities; here two equal neighbours give that value.
    """
    ordered = np.sort(values, axis=0)                 # NaN sorts last
    counts = np.count_nonzero(~np.isnan(values), axis=0)
    out = np.full((levels.size, values.shape[1]), np.nan)
    with np.errstate(all="ignore"):
        for j in np.flatnonzero(counts):
            column = ordered[: counts[j], j]
            position = levels * (counts[j] - 1)
            low = np.floor(position).astype(np.intp)
            high = np.minimum(low + 1, counts[j] - 1)
            a, b, t = column[low], column[high], position - low
            # t = 0 or equal neighbours: exactly a (avoids inf * 0 and inf - inf).
            out[:, j] = np.where((t == 0) | (a == b), a, a + (b - a) * t)
    return out


# -- statistics of one array --------------------------------------------------------------------

def _sum(a: np.ndarray) -> float:
    total = float(a.sum())
    if not math.isfinite(total) and a.dtype != np.float64:
        total = float(a.sum(dtype=np.float64))   # finite values whose float32 sum overflowed
    return total


def _sum_of_squares(a: np.ndarray) -> float:
    # Row-wise dot products in the array's dtype (fast), summed in float64.  In float32 the
    # squares overflow above 1.8e19 and lose precision below 1e-19, so such layers are redone
    # in float64: exploding and vanishing signals keep accurate statistics down to 1e-45.
    total = float(np.einsum("ij,ij->i", a, a).sum(dtype=np.float64))
    if a.dtype != np.float64 and not 1e-30 * a.size < total < math.inf:
        wide = a.astype(np.float64)
        total = float(np.einsum("ij,ij->", wide, wide))
    return total


def _moments(a: np.ndarray) -> tuple[float, float, float, float]:
    """Return mean, std, second moment and non-finite fraction of a 2-D array."""
    if a.dtype.itemsize < 4:
        a = a.astype(np.float32)    # float16 sums of squares overflow at 65504
    size = a.size
    total, squares = _sum(a), _sum_of_squares(a)
    nonfinite = 0.0
    if not (math.isfinite(total) and math.isfinite(squares)):
        nonfinite = 1.0 - np.count_nonzero(np.isfinite(a)) / size
    mean, second = total / size, squares / size
    variance = second - mean * mean
    std = math.sqrt(variance) if variance > 0 else (0.0 if variance <= 0 else math.nan)
    if math.isinf(second) and math.isfinite(mean):
        std = math.inf
    return mean, std, second, nonfinite


def _histogram(values: np.ndarray, edges: np.ndarray, scale: float) -> np.ndarray:
    """Return the fraction of ``values / scale`` in each bin ``[e_k, e_{k+1})``.

    The last bin is closed, as in ``numpy.histogram``; values outside the edges or not
    finite fall in no bin.  The division is done in float64, so the bins do not depend on
    the activations' dtype.
    """
    values = values.astype(np.float64).ravel()
    if scale != 1.0:
        values /= scale
    n_bins = edges.size - 1
    index = np.searchsorted(edges, values, side="right") - 1   # nan sorts past the end
    index[values == edges[-1]] = n_bins - 1
    inside = (index >= 0) & (index < n_bins)
    counts = np.bincount(index[inside], minlength=n_bins)
    return counts / max(values.size, 1)


# -- activations, in place when possible ----------------------------------------------------------

def _activate(activation: Activation, y: np.ndarray, in_place: bool) -> np.ndarray:
    """Return ``phi(y)``, overwriting ``y`` when ``in_place`` and the activation allows it."""
    out = y if in_place else None
    slope = activation.negative_slope
    if activation.name in ("relu", "leaky_relu") and slope is not None and 0 <= slope <= 1:
        if slope == 0:
            return np.maximum(y, 0, out=out)
        return np.maximum(y, y * y.dtype.type(slope), out=out)   # max(y, a y) for 0 <= a <= 1
    if activation.name == "tanh":
        return np.tanh(y, out=out)
    if activation.name in ("identity", "linear"):
        return y if in_place else y.copy()
    return np.asarray(activation.function(y), dtype=y.dtype)


def _saturated_fraction(name: str, x: np.ndarray) -> float:
    if name == "tanh":
        return np.count_nonzero(np.abs(x) > SATURATION_THRESHOLD) / x.size
    if name == "sigmoid":
        return np.count_nonzero(np.abs(2 * x - 1) > SATURATION_THRESHOLD) / x.size
    return math.nan


# -- the probe of one stack -----------------------------------------------------------------------

def _resolve_sampler(scheme):
    from .init import Scheme, get_scheme

    if isinstance(scheme, str):
        return scheme, get_scheme(scheme).sample
    if isinstance(scheme, Scheme):
        return scheme.name, scheme.sample
    if callable(scheme):
        return "custom", scheme
    raise TypeError(
        f"scheme must be a scheme name, a Scheme or a callable sampler; got {scheme!r}"
    )


def sample_weights(widths, scheme="kaiming_normal", *, gain: float = 1.0, rng=None,
                   dtype=np.float32) -> list[np.ndarray]:
    """Draw the weights ``W_1, ..., W_L`` of a stack.

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, ..., n_L]``.
    scheme : str, Scheme or callable, default 'kaiming_normal'
        A name of ``kaiming_lib.init.SCHEMES``, a ``Scheme``, or a sampler
        ``f(shape, rng=..., dtype=...) -> ndarray``.
    gain : positive real, default 1.0
        Multiplies every weight (so the std), e.g. 0.5 or 2 to see the edge of stability.
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32

    Returns
    -------
    list of ndarray
        ``W_l`` of shape ``(n_l, n_{l-1})``.

    Raises
    ------
    TypeError, ValueError
        For invalid widths, scheme, gain, rng or dtype, or a sampler returning the wrong
        shape.  ValueError also when the weights would take more than
        :data:`MAX_PROBE_BYTES`.

    Examples
    --------
    >>> ws = sample_weights([784, 256, 10], 'kaiming_normal', rng=0)
    >>> [w.shape for w in ws], ws[0].dtype
    ([(256, 784), (10, 256)], dtype('float32'))
    """
    widths = _check_widths(widths)
    dtype = check_float_dtype("dtype", dtype)
    held = sum(a * b for a, b in zip(widths[:-1], widths[1:])) * dtype.itemsize
    if held > MAX_PROBE_BYTES:
        raise ValueError(
            f"the weights would take {held / 2**30:.3g} GiB (widths={_short(widths)}, "
            f"dtype={dtype.name}), above MAX_PROBE_BYTES = {MAX_PROBE_BYTES / 2**30:g} GiB"
        )
    return list(_weights(widths, scheme, gain, as_rng(rng), dtype))


def _weights(widths, scheme, gain, rng, dtype) -> Iterable[np.ndarray]:
    """Yield the weights layer by layer, so a forward probe holds one at a time."""
    _, sampler = _resolve_sampler(scheme)
    gain = check_real("gain", gain, positive=True)
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        w = np.asarray(sampler((fan_out, fan_in), rng=rng, dtype=dtype))
        if w.shape != (fan_out, fan_in):
            raise ValueError(
                f"the sampler must return shape {(fan_out, fan_in)!r}; got {w.shape!r}"
            )
        w = w.astype(dtype, copy=False)
        if gain != 1.0:
            w = w * dtype.type(gain)
        yield w


@dataclass
class _Options:
    activation: Activation
    final_activation: bool
    backward: bool
    keep_activations: bool
    hist_edges: np.ndarray
    hist_units: str
    hist_layers: np.ndarray
    hist_rows: int


def _layer_statistics(y: np.ndarray, options: _Options, rows: int, histogram: bool,
                      apply: bool, in_place: bool, stats: dict) -> np.ndarray:
    """Record the statistics of ``y_l`` and ``x_l`` and return ``x_l``."""
    mean, std, second, nonfinite = _moments(y)
    for name, value in zip(("preact_mean", "preact_std", "preact_second_moment",
                            "nonfinite_fraction"), (mean, std, second, nonfinite)):
        stats[name].append(value)
    if histogram:
        stats["preact_hist"].append(_histogram(y[:rows], options.hist_edges,
                                               _scale(std, options)))
    if apply:
        x = _activate(options.activation, y, in_place)
        mean, std, second, _ = _moments(x)
    else:
        x = y
    stats["act_mean"].append(mean)
    stats["act_std"].append(std)
    stats["act_second_moment"].append(second)
    stats["act_zero_fraction"].append(np.count_nonzero(x == 0) / x.size)
    name = options.activation.name if apply else "identity"
    stats["act_saturated_fraction"].append(_saturated_fraction(name, x))
    if histogram:
        stats["act_hist"].append(_histogram(x[:rows], options.hist_edges,
                                            _scale(std, options)))
    return x


def _scale(std: float, options: _Options) -> float:
    # Values are binned in units of the layer's std; a zero or non-finite std (an all-zero
    # or overflowed layer) leaves them unscaled.
    if options.hist_units == "std" and math.isfinite(std) and std > 0:
        return std
    return 1.0


def _run(weights: Iterable[np.ndarray], x0: np.ndarray, n_layers: int, options: _Options,
         grad_rng) -> dict:
    """Propagate one batch; return the per-layer statistics as lists."""
    stats = {name: [] for name in (*_FORWARD_FIELDS, "preact_hist", "act_hist")}
    rows = options.hist_rows
    hist_set = set(options.hist_layers.tolist())
    use_buffers = not (options.backward or options.keep_activations)
    kept, preacts, used, buffers = [], [], [], {}
    x = x0
    for layer, w in enumerate(weights, start=1):
        if use_buffers:
            # Two ping-pong buffers per shape: no allocation per layer, O(1) memory in depth.
            shape = (x.shape[0], w.shape[0])
            pair = buffers.setdefault(shape, [np.empty(shape, x.dtype), np.empty(shape, x.dtype)])
            y = np.matmul(x, w.T, out=pair[1] if pair[0] is x else pair[0])
        else:
            y = x @ w.T
        if options.backward:
            preacts.append(y)
            used.append(w)
        apply = layer < n_layers or options.final_activation
        x = _layer_statistics(y, options, rows, layer in hist_set, apply,
                              not options.backward, stats)
        if options.keep_activations:
            kept.append(x)
    if options.backward:
        stats.update(_backward(used, x0, preacts, stats["nonfinite_fraction"], options,
                               grad_rng))
    stats["activations"] = tuple(kept) if options.keep_activations else None
    return stats


def _backward(weights, x0, preacts, nonfinite, options: _Options, rng) -> dict:
    """Backpropagate ``L = sum(G * output)``, G standard normal; return per-layer norms."""
    activation, n_layers = options.activation, len(weights)
    g = rng.standard_normal(preacts[-1].shape).astype(x0.dtype, copy=False)
    grad_std, grad_norm, weight_norm = (np.empty(n_layers) for _ in range(3))
    for i in reversed(range(n_layers)):
        y, w = preacts[i], weights[i]
        if i < n_layers - 1 or options.final_activation:
            slope = np.asarray(activation.derivative(y), dtype=y.dtype)
            if nonfinite[i]:
                # A derivative written with comparisons (ReLU's ``y > 0``) gives 0 or 1 at
                # NaN, which would turn a NaN signal into a zero gradient.
                slope = np.where(np.isnan(y), y.dtype.type(np.nan), slope)
            g = g * slope
        # Every layer below the top is followed by the activation: recompute its output.
        x_below = x0 if i == 0 else _activate(activation, preacts[i - 1], in_place=False)
        grad_norm[i] = math.sqrt(_sum_of_squares(g.T @ x_below))
        weight_norm[i] = math.sqrt(_sum_of_squares(w))
        g = g @ w
        grad_std[i] = _moments(g)[1]
    return {"input_grad_std": grad_std, "weight_grad_norm": grad_norm, "weight_norm": weight_norm}


def _check_bool(name, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool; got {value!r}")
    return bool(value)


def _options(activation, negative_slope, final_activation, backward, keep_activations,
             hist_edges, hist_units, hist_layers, hist_sample_size, widths,
             batch_size) -> _Options:
    """Validate the options :func:`propagate` and :func:`probe_stack` share."""
    activation = as_activation(activation, negative_slope)
    backward = _check_bool("backward", backward)
    if backward and activation.derivative is None:
        raise ValueError(
            f"backward=True needs the derivative of activation {activation.name!r}; wrap it "
            "as Activation(name, function, derivative) or pass backward=False"
        )
    check_choice("hist_units", hist_units, ("std", "absolute"))
    edges = _check_edges(hist_edges)
    n_layers = len(widths) - 1
    sample_size = check_int("hist_sample_size", hist_sample_size, minimum=1)
    if hist_layers is None:
        layers = np.arange(1, n_layers + 1)
    elif isinstance(hist_layers, str) or not isinstance(hist_layers, (Sequence, np.ndarray)):
        raise TypeError(f"hist_layers must be a sequence of layer numbers; got {hist_layers!r}")
    else:
        layers = np.array(sorted({check_int("hist_layers", v, minimum=1, maximum=n_layers)
                                  for v in hist_layers}), dtype=int)
    # Whole rows, enough that even the narrowest histogrammed layer gets sample_size values.
    narrowest = min((widths[l] for l in layers), default=1)
    rows = min(batch_size, math.ceil(sample_size / narrowest))
    return _Options(activation, _check_bool("final_activation", final_activation), backward,
                    _check_bool("keep_activations", keep_activations), edges, hist_units,
                    layers, rows)


def _check_edges(hist_edges) -> np.ndarray:
    if hist_edges is None:
        return DEFAULT_HIST_EDGES
    allowed = "a 1-D array-like of at least two strictly increasing finite numbers"
    if isinstance(hist_edges, (str, bytes)) or not isinstance(hist_edges,
                                                               (Sequence, np.ndarray)):
        raise TypeError(f"hist_edges must be {allowed}; got {hist_edges!r}")
    try:
        edges = np.array(hist_edges, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"hist_edges must be {allowed}; got {hist_edges!r}") from None
    if isinstance(hist_edges, np.ndarray) and hist_edges.dtype.kind not in "fiu":
        raise TypeError(f"hist_edges must be {allowed}; got dtype {hist_edges.dtype}")
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        raise ValueError(f"hist_edges must be {allowed}; got {hist_edges!r}")
    if not np.all(np.diff(edges) > 0):
        raise ValueError(f"hist_edges must be strictly increasing; got {hist_edges!r}")
    edges.setflags(write=False)
    return edges


def _check_memory(widths, batch_size, n_seeds, options: _Options, dtype: np.dtype) -> None:
    """Refuse a probe whose estimated peak memory exceeds :data:`MAX_PROBE_BYTES`."""
    outputs, widest = sum(widths[1:]), max(widths)
    sizes = [a * b for a, b in zip(widths[:-1], widths[1:])]
    # The forward pass holds one weight at a time; the backward pass keeps all of them.
    values = (sum(sizes) if options.backward else max(sizes)) + 3 * batch_size * widest
    if options.backward:
        values += batch_size * (outputs + widest)
    if options.keep_activations:
        values += n_seeds * batch_size * outputs
    held = values * dtype.itemsize
    if held > MAX_PROBE_BYTES:
        # Advice from the arguments actually given: only switches that are on, and the
        # terms that hold most of the memory.
        advice = ["fewer or narrower layers"]
        if batch_size > 1:
            advice.append("a smaller batch_size")
        if options.keep_activations:
            advice.append("keep_activations=False" + (" or fewer n_seeds" if n_seeds > 1
                                                      else ""))
        if options.backward:
            advice.append("backward=False (the backward pass keeps every weight and "
                          "pre-activation)")
        raise ValueError(
            f"the probe would hold about {held / 2**30:.3g} GiB (widths={_short(widths)}, "
            f"batch_size={batch_size}, n_seeds={n_seeds}, dtype={dtype.name}, "
            f"backward={options.backward}, keep_activations={options.keep_activations}), "
            f"above MAX_PROBE_BYTES = {MAX_PROBE_BYTES / 2**30:g} GiB; use "
            + ", or ".join(advice)
        )


def _check_work(widths, batch_size, n_seeds, options: _Options) -> None:
    """Refuse a probe above :data:`MAX_PROBE_SEEDS` seeds or :data:`MAX_PROBE_WORK`."""
    if n_seeds > MAX_PROBE_SEEDS:
        raise ValueError(f"n_seeds must be at most MAX_PROBE_SEEDS = {MAX_PROBE_SEEDS}; got "
                         f"{n_seeds!r} (a band over seeds needs tens to hundreds)")
    products = 3 if options.backward else 1
    per_row = sum(n * (products * m + _STATISTICS_COST) for m, n in zip(widths, widths[1:]))
    work = n_seeds * batch_size * per_row
    if work > MAX_PROBE_WORK:
        raise ValueError(
            f"the probe would do about {work:.3g} units of work (n_seeds={n_seeds} x "
            f"batch_size={batch_size} x {per_row:.3g} per row for widths={_short(widths)}, "
            f"backward={options.backward}), above MAX_PROBE_WORK = {MAX_PROBE_WORK:.0e}; "
            "use fewer seeds, a smaller batch_size, or fewer or narrower layers"
        )


def _short(widths) -> str:
    return repr(list(widths)) if len(widths) <= 8 else f"[{widths[0]}, ..., {widths[-1]}]"


def _assemble(runs: list, widths, scheme, options: _Options, gain, batch_size) -> ProbeResult:
    """Stack the per-seed statistics into read-only arrays."""
    def stack(name, shape_tail):
        arrays = np.array([np.asarray(run[name], dtype=float) for run in runs], dtype=float)
        arrays = arrays.reshape((len(runs), *shape_tail))
        arrays.setflags(write=False)
        return arrays

    n_layers, n_bins = len(widths) - 1, options.hist_edges.size - 1
    forward = {name: stack(name, (n_layers,)) for name in _FORWARD_FIELDS}
    hists = {name: stack(name, (options.hist_layers.size, n_bins))
             for name in ("preact_hist", "act_hist")}
    backward = {name: stack(name, (n_layers,)) if options.backward else None
                for name in _BACKWARD_FIELDS}
    edges, layers = options.hist_edges.copy(), options.hist_layers.copy()
    edges.setflags(write=False)
    layers.setflags(write=False)
    kept = None
    if options.keep_activations:
        kept = tuple(run["activations"] for run in runs)
        for x in (x for seed in kept for x in seed):
            x.setflags(write=False)
    return ProbeResult(tuple(widths), scheme, options.activation.name, float(gain),
                       int(batch_size), options.final_activation, **forward,
                       hist_edges=edges, hist_units=options.hist_units, hist_layers=layers,
                       **hists, hist_rows=options.hist_rows, **backward, activations=kept)


def propagate(weights: Sequence[np.ndarray], inputs: np.ndarray, activation="relu", *,
              negative_slope: float = 0.01, final_activation: bool = True,
              backward: bool = True, rng=None, keep_activations: bool = False,
              hist_edges=None, hist_units: str = "std", hist_layers=None,
              hist_sample_size: int = 65536) -> ProbeResult:
    """Propagate one batch through given weights and measure every layer.

    Parameters
    ----------
    weights : list of ndarray
        ``W_1, ..., W_L``, ``W_l`` of shape ``(n_l, n_{l-1})`` (e.g. from
        :func:`sample_weights`), finite, all of one floating dtype (never modified).
    inputs : (batch_size, n_0) ndarray
        One sample per row, finite, of a real dtype; cast to the weights' dtype (never
        modified).
    activation : str or Activation, default 'relu'
        A name of ``kaiming_lib.variance.ACTIVATIONS`` or an Activation (with a
        derivative when ``backward``).
    negative_slope : real, default 0.01
        Used by ``'leaky_relu'``.
    final_activation : bool, default True
        Whether layer ``L`` is followed by the activation.
    backward : bool, default True
        Also backpropagate ``L = sum(G * output)`` and record gradient statistics.  ``G``
        is ``rng.standard_normal((batch_size, n_L))`` cast to the weights' dtype, the only
        draw from ``rng``.  Stores the ``L`` pre-activations while it runs.
    rng : None, int or numpy.random.Generator
        For ``G`` only.
    keep_activations : bool, default False
        Keep every ``x_l`` in ``result.activations`` (memory grows with the depth).
    hist_edges : 1-D array-like, optional
        Strictly increasing bin edges; default :data:`DEFAULT_HIST_EDGES`.
    hist_units : {'std', 'absolute'}
        Bin ``value / std_l`` (default) or the raw values.
    hist_layers : sequence of int, optional
        Layer numbers (1-based) to histogram; default every layer.  Histograms cost
        several times the propagation itself: pass ``[]`` when none are needed.
    hist_sample_size : int, default 65536
        At least this many values (whole rows of the batch, up to all of it) enter each
        histogram; histograms over fewer values keep the probe cheap.

    Returns
    -------
    ProbeResult
        With ``n_seeds = 1``; scheme ``'given'`` and gain 1.

    Raises
    ------
    TypeError
        If ``weights`` is not a list of 2-D floating arrays of one dtype, ``inputs`` not a
        2-D real array, or an option has the wrong kind.
    ValueError
        If the shapes do not chain, ``inputs`` or a weight holds NaN or infinity, an
        option is out of its domain, or the probe would exceed :data:`MAX_PROBE_BYTES`
        or :data:`MAX_PROBE_WORK`.

    Notes
    -----
    Weights and inputs must be finite, but the signal they produce need not be: overflow
    to ``inf`` or ``nan`` on the way up is the point of some experiments.  Every
    floating-point warning is silenced inside the probe; read ``nonfinite_fraction``
    instead.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ws = sample_weights([100, 100, 100], 'kaiming_normal', rng=rng)
    >>> x = rng.standard_normal((500, 100)).astype(np.float32)
    >>> r = propagate(ws, x, 'relu', rng=rng)
    >>> r.act_zero_fraction.round(1)
    array([[0.5, 0.5]])
    >>> r.input_grad_std.shape
    (1, 2)
    """
    weights = check_weight_chain(weights)
    inputs = check_array("inputs", inputs, ndim=2)
    if inputs.shape[1] != weights[0].shape[1]:
        raise ValueError(
            f"inputs must have shape (batch_size, {weights[0].shape[1]}) to match weights[0]; "
            f"got {inputs.shape!r}"
        )
    widths = (weights[0].shape[1], *(w.shape[0] for w in weights))
    options = _options(activation, negative_slope, final_activation, backward,
                       keep_activations, hist_edges, hist_units, hist_layers,
                       hist_sample_size, widths, inputs.shape[0])
    _check_work(widths, inputs.shape[0], 1, options)
    _check_memory(widths, inputs.shape[0], 1, options, weights[0].dtype)
    grad_rng = as_rng(rng)
    with np.errstate(all="ignore"):     # the cast may overflow, e.g. float64 into float16
        x0 = inputs.astype(weights[0].dtype, copy=False)
        run = _run(weights, x0, len(weights), options, grad_rng)
    return _assemble([run], widths, "given", options, 1.0, inputs.shape[0])


def probe_stack(widths, scheme="kaiming_normal", activation="relu", *, gain: float = 1.0,
                negative_slope: float = 0.01, batch_size: int = 256, n_seeds: int = 1,
                rng=None, dtype=np.float32, final_activation: bool = True,
                backward: bool = True, keep_activations: bool = False, hist_edges=None,
                hist_units: str = "std", hist_layers=None,
                hist_sample_size: int = 65536) -> ProbeResult:
    """Measure a freshly initialized stack on standard normal inputs, for several seeds.

    For each seed, the input ``x_0`` (``batch_size`` rows of N(0, 1) values), the weights
    (layer by layer) and, with ``backward``, the upstream gradient are drawn in that order
    from an independent child generator of ``rng`` (``rng.spawn``).

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, n_1, ..., n_L]``.
    scheme : str, Scheme or callable, default 'kaiming_normal'
        See :func:`sample_weights`.
    activation : str or Activation, default 'relu'
    gain : positive real, default 1.0
        Multiplies the weights (their std).
    negative_slope : real, default 0.01
        Used by ``'leaky_relu'``.
    batch_size : int, default 256
    n_seeds : int, default 1
        Independent repetitions, the rows of every result array (for bands); at most
        :data:`MAX_PROBE_SEEDS`.
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32
    final_activation, backward, keep_activations, hist_edges, hist_units, hist_layers,
    hist_sample_size
        As in :func:`propagate`.

    Returns
    -------
    ProbeResult

    Raises
    ------
    TypeError, ValueError
        For invalid arguments (the message names the argument).  ValueError also when
        the probe would hold more than :data:`MAX_PROBE_BYTES` at once, run more than
        :data:`MAX_PROBE_SEEDS` seeds or do more than :data:`MAX_PROBE_WORK` (checked
        before anything is drawn; the message gives the estimate).

    Notes
    -----
    Without ``backward`` and ``keep_activations`` a probe holds two activations and one
    weight at a time: memory does not grow with the depth.  With ``backward`` it also
    holds the ``L`` pre-activations of one seed; with ``keep_activations`` every
    activation of every seed.

    With an int seed, child ``k`` depends only on the seed and ``k``: the first rows of
    a probe with more seeds repeat a probe with fewer.  A Generator passed as ``rng``
    gives new children at every call (``spawn`` advances it).

    Examples
    --------
    >>> r = probe_stack([384] * 37, 'large_normal', 'relu', batch_size=16, rng=0,
    ...                 backward=False)
    >>> int(layers_until_out_of_range(r)[0])     # std 11 at layer 1, then x sqrt(192)
    6
    >>> bool(np.isinf(r.act_second_moment[0, -1]) or np.isnan(r.act_second_moment[0, -1]))
    True
    """
    widths = _check_widths(widths)
    scheme_name, _ = _resolve_sampler(scheme)
    gain = check_real("gain", gain, positive=True)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    n_seeds = check_int("n_seeds", n_seeds, minimum=1)
    dtype = check_float_dtype("dtype", dtype)
    rng = as_rng(rng)
    options = _options(activation, negative_slope, final_activation, backward,
                       keep_activations, hist_edges, hist_units, hist_layers,
                       hist_sample_size, widths, batch_size)
    _check_work(widths, batch_size, n_seeds, options)
    _check_memory(widths, batch_size, n_seeds, options, dtype)
    runs = []
    with np.errstate(all="ignore"):
        for child in rng.spawn(n_seeds):
            x0 = child.standard_normal((batch_size, widths[0])).astype(dtype)
            weights = _weights(widths, scheme, gain, child, dtype)
            runs.append(_run(weights, x0, len(widths) - 1, options, child))
    return _assemble(runs, widths, scheme_name, options, gain, batch_size)


def layers_until_out_of_range(result, low: float = 1e-6, high: float = 1e6, *,
                              name: str = "act_std") -> np.ndarray:
    """Return, per seed, the first layer whose signal leaves ``[low, high]`` or is not finite.

    Parameters
    ----------
    result : ProbeResult or array-like
        A probe result, or values shaped ``(n_seeds, n_layers)`` or ``(n_layers,)``.
    low, high : positive real, default 1e-6 and 1e6
        The range, ``low < high``.
    name : str, default 'act_std'
        Which statistic of a ProbeResult to test (e.g. ``'preact_std'``,
        ``'act_rms'``, ``'input_grad_std'``).

    Returns
    -------
    (n_seeds,) ndarray of int
        The 1-based layer number, or -1 where the signal stays in range at every layer.

    Raises
    ------
    TypeError, ValueError
        For a bad ``result``, range or name.

    Examples
    --------
    >>> layers_until_out_of_range(np.array([[1.0, 1e3, 1e7], [1.0, 1.0, 1.0]]))
    array([ 3, -1])
    >>> layers_until_out_of_range(np.array([0.5, np.nan, 1.0]))
    array([2])
    """
    low = check_real("low", low, positive=True)
    high = check_real("high", high, positive=True)
    if not low < high:
        raise ValueError(f"low must be below high; got low={low!r}, high={high!r}")
    if isinstance(result, ProbeResult):
        values = result.values(name)
    else:
        values = np.asarray(result, dtype=float) if isinstance(result, (list, tuple)) else result
        values = check_array("result", values, finite=False)
        if values.ndim == 1:
            values = values[np.newaxis]
        if values.ndim != 2:
            raise ValueError(f"result must be 1-D or 2-D; got shape {values.shape!r}")
    with np.errstate(invalid="ignore"):
        outside = ~((values >= low) & (values <= high))    # nan compares False: outside
    first = np.argmax(outside, axis=1) + 1
    return np.where(outside.any(axis=1), first, -1)
