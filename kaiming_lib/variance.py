"""The variance theory of deep networks at initialization: moments, gains, predictions.

Everything here is a closed form or a deterministic numerical integral; nothing is sampled.

**Layout.** A stack has widths ``[n_0, n_1, ..., n_L]``.  Layer ``l`` (``l = 1..L``) has a
weight ``W_l`` of shape ``(n_l, n_{l-1})`` (PyTorch's ``(out, in)``, so its fan-in is
``n_{l-1}`` and its fan-out ``n_l``), no bias, and

.. math:: y_l = W_l x_{l-1}, \\qquad x_l = \\varphi(y_l),

with ``x_0`` the raw input.  By default every layer, the last one included, is followed by
the activation (``final_activation=True``); with ``final_activation=False`` the output is
``y_L``.  Per-layer arrays have length ``L`` and entry ``l - 1`` belongs to layer ``l``.

**Moments.** For ``z ~ N(0, q)`` the moments ``E[phi(z)]``, ``E[phi(z)^2]`` and
``E[phi'(z)^2]`` are computed by Gauss-Hermite quadrature for smooth activations at
``q <= 1``, and otherwise by Gauss-Legendre quadrature on pieces split at the kinks (ReLU,
leaky ReLU, SELU) and graded around 0 (so that a wide ``q`` does not turn tanh into an
unresolved step), accurate to about 1e-14 for every ``q``; ReLU, leaky ReLU and the
identity also have exact closed forms.

**Forward recursion** (mean field: wide layers, so that ``y_l`` is Gaussian over the
weights and inputs; zero-mean independent weights, so ``E[y_l] = 0``):

.. math:: q_1 = n_0 \\mathrm{Var}[w_1]\\, E[x_0^2], \\qquad
          q_l = n_{l-1} \\mathrm{Var}[w_l]\\, E[\\varphi(y_{l-1})^2], \\quad
          y_{l-1} \\sim N(0, q_{l-1}).

The first layer sees the raw input's second moment ``E[x_0^2]`` (1 for a standard normal
input), not a rectified one: that is He et al.'s first-layer caveat.

**Backward recursion.** With ``g_l = dL/dx_l`` and ``v_l = Var[g_l]`` (He et al.'s
``Delta x_{l+1}``), and the upstream gradient ``g_L`` of variance ``v_L``:

.. math:: v_{l-1} = n_l \\mathrm{Var}[w_l]\\, E[\\varphi'(y_l)^2]\\, v_l,

where ``n_l`` is the fan-out of ``W_l`` (He et al.'s ``\\hat n_l``) and ``E[phi'(y_l)^2]``
is taken at the forward ``q_l`` (1/2 for ReLU at every ``q``).  This assumes, as He et al.
do, that ``phi'(y_l)`` and ``g_l`` are independent.

References
----------
He, Zhang, Ren, Sun (2015), Delving Deep into Rectifiers, arXiv:1502.01852, Eqs. 7-15.
Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli (2016), Exponential expressivity in deep
neural networks through transient chaos, NeurIPS (the ``q_l`` map for any activation).
"""

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import check_choice, check_real, warn_suspicious

__all__ = [
    "Activation", "ACTIVATIONS", "SELU_ALPHA", "SELU_SCALE",
    "get_activation", "as_activation", "gaussian_expectation",
    "Moments", "activation_moments", "closed_form_moments",
    "activation_mean", "activation_second_moment", "derivative_second_moment",
    "preserving_gain", "gain_table",
    "layer_weight_variances", "StackPrediction", "predict_stack",
    "forward_product", "backward_product",
]

#: SELU's constants (Klambauer et al. 2017), as in ``torch.nn.SELU``.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# The default negative_slope of every function here (PyTorch's); another value is
# warned about when the activation ignores it.
_DEFAULT_NEGATIVE_SLOPE = 0.01

#: The named activations.  ``'linear'`` is an alias of ``'identity'``.
ACTIVATIONS = ("relu", "leaky_relu", "identity", "linear", "tanh", "sigmoid", "gelu", "selu")

# Number of Gauss-Hermite nodes for smooth activations: tanh and sigmoid have poles at
# +-i*pi/2 and +-i*pi, which limit the convergence; 200 nodes reach about 1e-15.
_HERMITE_NODES = 200
# Gauss-Legendre nodes per piece of a kinked activation, and the truncation of the standard
# normal at +-12 standard deviations (the density there is below 6e-32).
_LEGENDRE_NODES = 100
_TRUNCATION = 12.0
# The graded mesh of the kinked/wide-q rule stops at |z| = 64: beyond it the named
# activations are polynomials up to terms below e^-64 (tanh = sign(z) - 2 e^(-2|z|) ...).
_GRADED_UP_TO = 64.0
# gaussian_expectation checks its result against a second estimate (the piecewise rule on
# pieces cut in two): they must agree to this fraction of E[|f(z)|].  For smooth f they
# agree to about 1e-14; across a jump or kink not given in kinks= they differ by 1e-5 or
# more.
_AGREEMENT = 1e-9


# -- activations --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """An elementwise activation with its derivative.

    Attributes
    ----------
    name : str
        A short name for labels, e.g. ``'relu'``.
    function : callable
        ``function(x) -> ndarray``, elementwise, returning the dtype of ``x``.
    derivative : callable or None
        ``derivative(x) -> ndarray``, elementwise.  Needed for ``E[phi'(z)^2]`` and for
        backpropagation; None when unknown.
    kinks : tuple of float
        Points where the function or its derivative jumps (``(0.0,)`` for ReLU).  The
        quadrature splits the integral there; a kink left out costs accuracy, not
        correctness (the error then falls slowly with the number of nodes).
    negative_slope : float or None
        The slope for ``x < 0`` of a (leaky) ReLU, None for the other activations.

    Examples
    --------
    >>> softplus = Activation('softplus', lambda x: np.logaddexp(0, x),
    ...                       lambda x: 1 / (1 + np.exp(-x)))
    >>> round(activation_second_moment(softplus), 4)
    0.9212
    """

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray] | None = None
    kinks: tuple = ()
    negative_slope: float | None = None

    def __call__(self, x):
        return self.function(x)


class _Rectifier:
    """``phi(x) = x`` for ``x > 0`` and ``a x`` otherwise (ReLU: a = 0; identity: a = 1).

    A class rather than a closure so that :func:`closed_form_moments` can recognise the
    function (and its slope) and compare two activations built from the same slope.
    """

    def __init__(self, slope: float):
        self.slope = float(slope)

    def __call__(self, x):
        x = np.asarray(x)
        if self.slope == 0:
            return np.maximum(x, 0)   # not x * 0, which gives -0.0 for negative x
        if self.slope == 1:
            return np.array(x, copy=True)
        a = x.dtype.type(self.slope) if x.dtype.kind == "f" else self.slope
        return np.where(x > 0, x, x * a)

    def __eq__(self, other):
        return type(other) is type(self) and other.slope == self.slope

    def __hash__(self):
        return hash((type(self).__name__, self.slope))

    def __repr__(self):
        return f"{type(self).__name__}(slope={self.slope!r})"


class _RectifierDerivative(_Rectifier):
    """The derivative of :class:`_Rectifier`: 1 for ``x > 0`` and ``a`` otherwise."""

    def __call__(self, x):
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return np.where(x > 0, dtype.type(1), dtype.type(self.slope))


def _erf(x: np.ndarray) -> np.ndarray:
    """Evaluate erf elementwise with ``math.erf`` (exact to double precision)."""
    x = np.asarray(x)
    flat = [math.erf(v) for v in x.ravel().tolist()]
    return np.array(flat, dtype=x.dtype if x.dtype.kind == "f" else np.float64).reshape(x.shape)


def _gelu(x):
    x = np.asarray(x)
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _gelu_derivative(x):
    x = np.asarray(x)
    # |x| capped at 40, where the density exp(-800) is already 0 in every float dtype, so
    # that x * x cannot overflow (it would near |x| = 1.3e154, a q of about 1e306).
    density = np.exp(-0.5 * np.minimum(np.abs(x), 40.0) ** 2) / math.sqrt(2 * math.pi)
    return 0.5 * (1 + _erf(x / math.sqrt(2))) + x * density.astype(x.dtype, copy=False)


def _sigmoid(x):
    # 1 / (1 + e^-x) written through tanh: no overflow for large |x|.
    x = np.asarray(x)
    return 0.5 * (1 + np.tanh(0.5 * x))


def _selu(x):
    x = np.asarray(x)
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def _selu_derivative(x):
    x = np.asarray(x)
    return SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0)))


def get_activation(name: str, negative_slope: float = 0.01) -> Activation:
    """Look up a named activation.

    Parameters
    ----------
    name : {'relu', 'leaky_relu', 'identity', 'linear', 'tanh', 'sigmoid', 'gelu', 'selu'}
        ``'linear'`` is an alias of ``'identity'``; ``'gelu'`` is the exact erf form
        ``x Phi(x)``; ``'selu'`` uses :data:`SELU_ALPHA` and :data:`SELU_SCALE`.
    negative_slope : real, default 0.01
        The slope ``a`` of ``'leaky_relu'`` for ``x < 0`` (PyTorch's default).  Ignored by
        the other activations, with a warning when it is not the default.

    Returns
    -------
    Activation

    Raises
    ------
    TypeError
        If ``name`` is not a string or ``negative_slope`` not a real number.
    ValueError
        If ``name`` is unknown or ``negative_slope`` not finite.

    Warns
    -----
    SuspiciousInputWarning
        If ``negative_slope`` is not the default 0.01 for an activation other than
        ``'leaky_relu'``, which ignores it (as ``kaiming_lib.init`` warns for ``a``).

    Notes
    -----
    GELU evaluates ``math.erf`` value by value, about 0.1 s per million values, so probes
    of GELU stacks run several times slower than the others.

    Examples
    --------
    >>> relu = get_activation('relu')
    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> get_activation('leaky_relu', 0.2).derivative(np.array([-1.0, 2.0]))
    array([0.2, 1. ])
    """
    check_choice("activation", name, ACTIVATIONS)
    slope = check_real("negative_slope", negative_slope)
    if name != "leaky_relu" and slope != _DEFAULT_NEGATIVE_SLOPE:
        warn_suspicious(f"negative_slope={negative_slope!r} is ignored with activation="
                        f"{name!r}; only 'leaky_relu' takes a negative slope (pass "
                        "activation='leaky_relu', or drop negative_slope)")
    if name in ("relu", "leaky_relu"):
        slope = 0.0 if name == "relu" else slope
        return Activation(name, _Rectifier(slope), _RectifierDerivative(slope), (0.0,), slope)
    table = {
        "identity": (_Rectifier(1.0), _RectifierDerivative(1.0), ()),
        "linear": (_Rectifier(1.0), _RectifierDerivative(1.0), ()),
        "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, ()),
        "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), ()),
        "gelu": (_gelu, _gelu_derivative, ()),
        "selu": (_selu, _selu_derivative, (0.0,)),
    }
    function, derivative, kinks = table[name]
    return Activation(name, function, derivative, kinks)


def as_activation(activation, negative_slope: float = 0.01) -> Activation:
    """Turn a name, an :class:`Activation` or a plain callable into an :class:`Activation`.

    A plain callable ``phi`` becomes an activation without a derivative and without kinks.
    ``negative_slope`` is used by ``'leaky_relu'`` only.

    Raises
    ------
    TypeError
        If ``activation`` is none of a string, an Activation or a callable.
    ValueError
        If a name is unknown.

    Warns
    -----
    SuspiciousInputWarning
        If ``negative_slope`` is not the default 0.01 and the activation ignores it: a
        name other than ``'leaky_relu'``, an Activation (which carries its own slope) or
        a plain callable.

    Examples
    --------
    >>> as_activation('tanh').name
    'tanh'
    >>> as_activation(np.sin).derivative is None
    True
    """
    if isinstance(activation, str):
        return get_activation(activation, negative_slope)
    if isinstance(activation, Activation) or callable(activation):
        slope = check_real("negative_slope", negative_slope)
        if slope != _DEFAULT_NEGATIVE_SLOPE:
            kind = "an Activation" if isinstance(activation, Activation) else "a plain callable"
            warn_suspicious(f"negative_slope={negative_slope!r} is ignored with {kind} "
                            f"activation ({getattr(activation, 'name', None) or activation!r:.40}"
                            "); only activation='leaky_relu' takes a negative slope (drop "
                            "negative_slope, or build the Activation with the slope it needs)")
    if isinstance(activation, Activation):
        return activation
    if callable(activation):
        return Activation(getattr(activation, "__name__", "custom"), activation)
    raise TypeError(
        "activation must be one of " + ", ".join(repr(a) for a in ACTIVATIONS)
        + f", an Activation or a callable; got {activation!r}"
    )


# -- Gaussian expectations ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _hermite_rule():
    nodes, weights = np.polynomial.hermite_e.hermegauss(_HERMITE_NODES)
    return nodes, weights / math.sqrt(2 * math.pi)


@functools.lru_cache(maxsize=None)
def _legendre_rule():
    return np.polynomial.legendre.leggauss(_LEGENDRE_NODES)


def _check_q(q) -> float:
    return check_real("q", q, nonnegative=True)


def _evaluate(f, z: np.ndarray) -> np.ndarray:
    """Return ``f(z)`` as a float64 array of the shape of ``z`` (a constant is broadcast)."""
    try:
        result = np.asarray(f(z))
    except (TypeError, ValueError) as error:
        raise TypeError(
            "f (the function integrated) must take a 1-D float64 array of points and return "
            "one value per point, as np.exp does (math.exp does not); on an array it raised "
            f"{type(error).__name__}: {error}"
        ) from error
    if result.dtype.kind not in "biuf":
        raise TypeError(f"f (the function integrated) must return real numbers; got an array "
                        f"of dtype {result.dtype}")
    values = result.astype(float, copy=False)
    try:
        return np.broadcast_to(values, z.shape)
    except ValueError:
        raise ValueError(
            f"f must be elementwise, returning shape {z.shape} (or a scalar) for an input of "
            f"shape {z.shape}; got shape {values.shape}"
        ) from None


def _breakpoints(std: float, kinks: Sequence[float]) -> list[float]:
    """Split ``[-12, 12]`` (in units of std) at the kinks and on a graded mesh around 0.

    The mesh puts breakpoints at ``|z| = 1, 2, 4, ..., 64`` inside ``|z| < 12 std``.
    The named activations change shape at ``|z|`` of order 1, which for a large ``q`` is a
    sliver ``|t| ~ 1/std`` of the standard normal: without the graded mesh a wide ``q``
    turns tanh into a step that 200 Gauss-Hermite nodes cannot resolve (at ``q = 100``
    they miss ``E[tanh'(z)^2]`` by half).  Each piece ``[2^j, 2^(j+1)]`` lies as far from
    the activation's complex poles (``|Im z| >= pi/2`` for tanh) as it is long, so
    Gauss-Legendre converges fast on every piece; past ``|z| = 64`` the integrand is a
    polynomial times the normal density, smooth on the scale of ``t``.
    """
    cuts = {0.0}
    scale = 1.0
    while scale < _TRUNCATION * std and scale <= _GRADED_UP_TO:
        cuts.update((scale / std, -scale / std))
        scale *= 2.0
    cuts.update(k / std for k in kinks if abs(k / std) < _TRUNCATION)
    return [-_TRUNCATION, *sorted(cuts), _TRUNCATION]


def _integrate(f, q: float, kinks: list, *,
               finer: bool = False) -> tuple[float, tuple | None, float]:
    """Return the quadrature of ``E[f(z)]``, ``(z, f(z))`` at a node where f is not finite,
    and the quadrature of ``E[|f(z)|]`` (the scale of the rounding errors).

    The second item is None when ``f`` is finite at every node.  Floating-point warnings
    inside ``f`` and the sum are silenced: a non-finite value is reported, not warned about.
    ``finer=True`` uses the piecewise rule with every piece cut in two, whatever ``q``
    and the kinks: an independent second estimate.
    """
    if q == 0:
        z, weights = np.zeros(1), np.ones(1)
    else:
        std = math.sqrt(q)
        if not kinks and std <= 1 and not finer:
            t, weights = _hermite_rule()
        else:
            bounds = _breakpoints(std, kinks)
            if finer:
                bounds = sorted({*bounds, *(0.5 * (a + b) for a, b in zip(bounds, bounds[1:]))})
            x, w = _legendre_rule()
            low, high = np.array(bounds[:-1]), np.array(bounds[1:])
            half = 0.5 * (high - low)
            t = (low[:, None] + half[:, None] * (x + 1)).ravel()
            density = np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
            weights = (half[:, None] * w).ravel() * density
        z = std * t
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = _evaluate(f, z)
        total = float(np.dot(weights, values))
        magnitude = float(np.dot(weights, np.abs(values)))
    finite = np.isfinite(values)
    if finite.all():
        return total, None, magnitude
    first = int(np.argmin(finite))
    return total, (float(z[first]), float(values[first])), magnitude


def _expectation_error(what: str, q: float, bad, owner: str = "") -> ValueError:
    """The error for an integrand ``what`` (of ``owner``) not finite at a node, or a sum
    beyond the float range when ``bad`` is None."""
    if bad is not None:
        z, value = bad
        return ValueError(
            f"{what}{owner} must be finite where the quadrature samples it; got {value!r} at "
            f"z = {z:.6g} for q={q!r}: its Gaussian expectation diverges (e.g. exp(z^2) for "
            "q >= 1/2) or leaves the float range; use a smaller q or a bounded function"
        )
    return ValueError(
        f"E[{what}]{owner} for z ~ N(0, q) must be finite; at q={q!r} it exceeds the float "
        "range (about 1.8e308); use a smaller q or rescale the function"
    )


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float = 1.0, *,
                         kinks: Sequence[float] = ()) -> float:
    """Compute ``E[f(z)]`` for ``z ~ N(0, q)`` by quadrature.

    Parameters
    ----------
    f : callable
        Elementwise function of a 1-D float64 array; a scalar result counts as a constant.
    q : non-negative real, default 1.0
        The variance of ``z``.  ``q = 0`` returns ``f(0)``.
    kinks : sequence of real, default ()
        Points (in units of ``z``) where ``f`` is not smooth.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``q`` not a real number or ``kinks`` not a sequence of
        real numbers.
    ValueError
        If ``q`` is negative or not finite, a kink is not finite, or ``f`` does not return
        one value per input.  Also if ``f`` is not finite at a quadrature node (its
        expectation diverges there, as ``E[exp(z^2)]`` does for ``q >= 1/2``, or overflows)
        or the result exceeds the float range: an error, never ``inf`` with a warning.

    Warns
    -----
    SuspiciousInputWarning
        If a second, independent estimate disagrees (see Notes): ``f`` has a jump or
        kink that ``kinks`` does not list.

    Notes
    -----
    Two rules, both in the variable ``t = z / sqrt(q)`` of the standard normal:

    - without kinks and for ``q <= 1``, the probabilists' Gauss-Hermite rule with 200
      nodes, which converges geometrically for functions analytic in a strip around the
      real axis;
    - otherwise the standard normal truncated at +-12 (the tail mass beyond is below
      4e-33) is split at the kinks, at 0 and at ``|z| = 1, 2, 4, ...``, and each piece
      is integrated by 100-node Gauss-Legendre.  Across a kink Gauss-Hermite converges
      only algebraically (for ``|z|`` its error with 200 nodes is still 1.6e-3, 0.2 %);
      splitting there makes every piece smooth again.  The graded mesh (up to
      ``|z| = 64``) keeps the named activations accurate to about 1e-14 for every ``q``,
      at most 16 pieces of 100 nodes.

    The truncation assumes ``f`` grows at most polynomially; ``E[exp(z)]`` for a large
    ``q``, whose mass sits beyond 12 standard deviations, would be wrong.  Divergence is
    detected only where ``f`` overflows at a node: ``E[exp(z^2)]`` at ``q = 1`` raises, but
    at ``q`` just above 1/2 the nodes stay finite and the (infinite) integral is not
    recognised.  Floating-point warnings raised inside ``f`` are silenced; its non-finite
    values are what count.

    A function that changes shape at ``|z|`` far from 1 (other than at a kink) should pass
    its kinks or be rescaled, as the mesh is tuned to features at ``|z|`` of order 1.

    The result is checked against a second estimate, the piecewise rule with every piece
    cut in two.  For smooth ``f`` the two agree to about 1e-14 of ``E[|f(z)|]``; a
    :class:`~kaiming_lib.SuspiciousInputWarning` says when they differ by more than
    1e-9 of it, which a jump or kink missing from ``kinks`` causes (without
    ``kinks=[0.0]``, ``np.abs`` at ``q = 1`` is off by 0.2 %).

    Examples
    --------
    >>> round(gaussian_expectation(np.abs, 1.0, kinks=[0.0]), 12)   # sqrt(2 / pi)
    0.797884560803
    >>> round(gaussian_expectation(lambda z: z**4, 2.0), 12)        # 3 q^2
    12.0
    """
    if not callable(f):
        raise TypeError(f"f must be callable; got {f!r}")
    q = _check_q(q)
    if isinstance(kinks, (str, bytes)) or not isinstance(kinks, (Sequence, np.ndarray)):
        raise TypeError(f"kinks must be a sequence of real numbers; got {kinks!r}")
    kinks = [check_real("kinks", k) for k in kinks]
    total, bad, magnitude = _integrate(f, q, kinks)
    if bad is not None or not math.isfinite(total):
        raise _expectation_error("f(z)", q, bad)
    _cross_check(f, q, kinks, total, magnitude, "gaussian_expectation: for this f,",
                 "pass those points as kinks= (or rescale f)")
    return total


def _cross_check(f, q, kinks, total, magnitude, what: str, remedy: str) -> None:
    """Warn if a second estimate of ``E[f(z)]`` (the piecewise rule, every piece cut in
    two) differs from ``total`` by more than :data:`_AGREEMENT` of ``E[|f(z)|]``."""
    if q == 0:
        return
    check, bad, _ = _integrate(f, q, kinks, finer=True)
    if bad is None and abs(check - total) > _AGREEMENT * magnitude:
        warn_suspicious(
            f"{what} two quadrature rules disagree at q={q!r} ({total!r} against "
            f"{check!r}): it probably jumps or bends somewhere not given as a kink, changes "
            "on a scale much finer than sqrt(q), or grows so fast that the expectation "
            f"diverges; {remedy} for an accurate result")
    if kinks or q > 1:
        # The piecewise rule stops at +-12 standard deviations; beyond, the integrand is
        # about |f(z)| times a density below phi(12) = 5.5e-32 (Mills' ratio: less still).
        edge = _TRUNCATION * math.sqrt(q)
        with np.errstate(over="ignore", invalid="ignore"):
            tail = float(np.max(np.abs(_evaluate(f, np.array([-edge, edge])))))
        tail *= math.exp(-0.5 * _TRUNCATION**2) / math.sqrt(2 * math.pi)
        if not tail <= _AGREEMENT * magnitude:
            warn_suspicious(
                f"{what} it grows so fast that the part of its expectation beyond "
                f"{_TRUNCATION:g} standard deviations, which the quadrature leaves out, is "
                f"not negligible at q={q!r} (about {tail:.3g} against {total!r}); use a "
                "smaller q or a function that grows at most polynomially")


# -- moments ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Moments:
    """The moments of ``phi(z)`` for ``z ~ N(0, q)``.

    Attributes
    ----------
    q : float
        The variance of ``z``.
    mean : float
        ``E[phi(z)]``.
    second_moment : float
        ``E[phi(z)^2]``.
    derivative_second_moment : float or None
        ``E[phi'(z)^2]``; None when the derivative is unknown (a plain callable):
        it is never estimated by differencing the function.
    """

    q: float
    mean: float
    second_moment: float
    derivative_second_moment: float | None

    @property
    def variance(self) -> float:
        """``Var[phi(z)] = E[phi(z)^2] - E[phi(z)]^2``."""
        return self.second_moment - self.mean**2


def _closed_form_slope(activation: Activation) -> float | None:
    """The slope ``a`` when ``activation`` is this module's ReLU, leaky ReLU or identity.

    The function and its derivative are recognised by type, not by name, so that a
    custom ``Activation('linear', lambda x: 2 * x)`` is integrated, not taken for the
    identity.
    """
    function, derivative = activation.function, activation.derivative
    if (type(function) is _Rectifier and type(derivative) is _RectifierDerivative
            and derivative.slope == function.slope):
        return function.slope
    return None


def closed_form_moments(activation, q: float = 1.0, negative_slope: float = 0.01) -> Moments:
    """Return the exact moments of ReLU, leaky ReLU or the identity.

    Parameters
    ----------
    activation : {'relu', 'leaky_relu', 'identity', 'linear'} or Activation
        A named activation, or one returned by :func:`get_activation` for these names.
    q : non-negative real, default 1.0
    negative_slope : real, default 0.01
        The slope ``a`` of ``'leaky_relu'``.

    Returns
    -------
    Moments

    Raises
    ------
    ValueError
        For an activation without a closed form here.

    Notes
    -----
    For the leaky ReLU ``phi(z) = z`` for ``z > 0`` and ``a z`` otherwise (ReLU:
    ``a = 0``; identity: ``a = 1``; any real ``a``) and ``z ~ N(0, q)``, by symmetry
    of the two half-lines:

    .. math:: E[\\varphi(z)] = (1 - a)\\sqrt{q / 2\\pi}, \\quad
              E[\\varphi(z)^2] = \\tfrac{1 + a^2}{2}\\, q, \\quad
              E[\\varphi'(z)^2] = \\tfrac{1 + a^2}{2}.

    A second moment beyond the float range, as for a slope ``|a|`` above about 1.3e154
    (where ``a^2`` overflows), is ``inf`` without a warning: its exact value is not
    representable.  :func:`preserving_gain` stays finite there.

    Examples
    --------
    >>> m = closed_form_moments('relu', q=4.0)
    >>> m.second_moment, m.derivative_second_moment
    (2.0, 0.5)
    >>> round(m.mean, 6)          # sqrt(4 / (2 pi))
    0.797885
    """
    activation = as_activation(activation, negative_slope)
    q = _check_q(q)
    a = _closed_form_slope(activation)
    if a is None:
        raise ValueError(
            "closed forms exist for 'relu', 'leaky_relu', 'identity' and 'linear' only; "
            f"got activation {activation.name!r}"
        )
    factor = (1 + a * a) / 2
    return Moments(q, (1 - a) * math.sqrt(q / (2 * math.pi)), factor * q, factor)


def _quadrature_moments(activation: Activation, q: float, *, strict: bool = True) -> Moments:
    """Integrate the three moments; ``strict=False`` lets an overflow through as inf or nan.

    For ``q > 1`` the second moment is ``q E[(phi(z) / sqrt(q))^2]``: the same value, but
    ``phi(z)^2`` no longer overflows for the named activations at a ``q`` near the float
    range, where ``E[phi(z)^2]`` itself (about ``q / 2``) is still representable.
    """
    phi, kinks = activation.function, list(activation.kinks)
    scale = math.sqrt(q) if q > 1 else 1.0

    owner = f" of activation {activation.name!r}"

    done = []

    def moment(f, what):
        total, bad, magnitude = _integrate(f, q, kinks)
        if strict and (bad is not None or not math.isfinite(total)):
            raise _expectation_error(what, q, bad, owner)
        done.append((f, what, total, magnitude))
        return total

    mean = moment(phi, "phi(z)")
    if q > 1:
        second = moment(lambda z: (phi(z) / scale) ** 2, "phi(z)^2") * q
        if strict and not math.isfinite(second):
            raise _expectation_error("phi(z)^2", q, None, owner)
    else:
        second = moment(lambda z: phi(z) ** 2, "phi(z)^2")
    if activation.derivative is None:
        slope = None
    else:
        slope = moment(lambda z: activation.derivative(z) ** 2, "phi'(z)^2")
    # The named activations are smooth between their kinks (tested); any other one is
    # checked against a second estimate, as gaussian_expectation checks its f, once all
    # moments exist (strict=False serves exploding stacks, whose values mean nothing).
    if strict and activation.name not in ACTIVATIONS:
        for f, what, total, magnitude in done:
            _cross_check(f, q, kinks, total, magnitude, f"E[{what}]{owner}:",
                         "give the activation its kinks, Activation(name, phi, dphi, kinks)")
    return Moments(q, mean, second, slope)


def activation_moments(activation, q: float = 1.0, *, negative_slope: float = 0.01,
                       method: str = "auto") -> Moments:
    """Compute ``E[phi(z)]``, ``E[phi(z)^2]`` and ``E[phi'(z)^2]`` for ``z ~ N(0, q)``.

    Parameters
    ----------
    activation : str, Activation or callable
        A name of :data:`ACTIVATIONS`, an :class:`Activation`, or a plain callable
        (``derivative_second_moment`` is then None: wrap it as
        ``Activation(name, function, derivative)`` to get it).
    q : non-negative real, default 1.0
        The variance of the pre-activation.
    negative_slope : real, default 0.01
        Used by ``'leaky_relu'`` only.
    method : {'auto', 'quadrature', 'closed_form'}
        ``'auto'`` uses the closed form where one exists (ReLU, leaky ReLU, identity) and
        quadrature otherwise.

    Returns
    -------
    Moments

    Raises
    ------
    ValueError
        Unknown ``method`` or activation, negative ``q``, or ``'closed_form'`` for an
        activation without one.  With quadrature, also a moment whose integrand is not
        finite at a node or whose value exceeds the float range (see
        :func:`gaussian_expectation`); the closed forms overflow to ``inf`` instead.

    Examples
    --------
    >>> m = activation_moments('tanh', 1.0)
    >>> round(m.second_moment, 6), round(m.derivative_second_moment, 6)
    (0.394294, 0.464403)
    >>> round(activation_moments('selu').second_moment, 6)   # SELU's fixed point
    1.0
    """
    activation = as_activation(activation, negative_slope)
    q = _check_q(q)
    check_choice("method", method, ("auto", "quadrature", "closed_form"))
    has_closed_form = _closed_form_slope(activation) is not None
    if method == "closed_form" or (method == "auto" and has_closed_form):
        return closed_form_moments(activation, q)
    return _quadrature_moments(activation, q)


def activation_mean(activation, q: float = 1.0, *, negative_slope: float = 0.01) -> float:
    """Compute ``E[phi(z)]`` for ``z ~ N(0, q)`` (see :func:`activation_moments`).

    Examples
    --------
    >>> round(activation_mean('sigmoid', 1.0), 6)
    0.5
    """
    return activation_moments(activation, q, negative_slope=negative_slope).mean


def activation_second_moment(activation, q: float = 1.0, *,
                             negative_slope: float = 0.01) -> float:
    """Compute ``E[phi(z)^2]`` for ``z ~ N(0, q)`` (see :func:`activation_moments`).

    Examples
    --------
    >>> activation_second_moment('relu', 3.0)
    1.5
    """
    return activation_moments(activation, q, negative_slope=negative_slope).second_moment


def derivative_second_moment(activation, q: float = 1.0, *,
                             negative_slope: float = 0.01) -> float:
    """Compute ``E[phi'(z)^2]`` for ``z ~ N(0, q)`` (see :func:`activation_moments`).

    Raises
    ------
    ValueError
        If the activation has no derivative (a plain callable).

    Examples
    --------
    >>> derivative_second_moment('relu')
    0.5
    """
    activation = as_activation(activation, negative_slope)
    if activation.derivative is None:
        raise ValueError(
            f"activation {activation.name!r} has no derivative; wrap it as "
            "Activation(name, function, derivative)"
        )
    return activation_moments(activation, q).derivative_second_moment


# -- gains --------------------------------------------------------------------------------------

def preserving_gain(activation, q: float = 1.0, *, negative_slope: float = 0.01) -> float:
    """Return the gain that keeps the pre-activations' second moment at ``q``.

    With ``Var[w] = gain^2 / fan_in`` a layer maps ``E[y^2] = q`` to
    ``gain^2 E[phi(z)^2]``, ``z ~ N(0, q)``, so ``q`` is a fixed point when

    .. math:: \\mathrm{gain}^2 = q / E[\\varphi(z)^2].

    Parameters
    ----------
    activation : str, Activation or callable
    q : positive real, default 1.0
        The second moment to preserve.  Only positively homogeneous activations (ReLU,
        leaky ReLU, identity) give a gain independent of ``q``.
    negative_slope : real, default 0.01

    Returns
    -------
    float
        sqrt(2) for ReLU, sqrt(2 / (1 + a^2)) for leaky ReLU, 1 for the identity.

    Raises
    ------
    ValueError
        If ``q`` is not positive, ``E[phi(z)^2] = 0``, or ``E[phi(z)^2]`` cannot be
        integrated (see :func:`activation_moments`).

    Notes
    -----
    See :func:`gain_table` for how these compare with the frameworks' gains.

    For ReLU, leaky ReLU and the identity the gain is ``sqrt(2) / hypot(1, a)``, which
    equals ``sqrt(2 / (1 + a^2))`` but does not overflow: a huge slope gives about
    ``sqrt(2) / |a|`` (``1.414e-200`` for ``a = 1e200``), not 0.

    Examples
    --------
    >>> preserving_gain('relu')
    1.4142135623730951
    >>> round(preserving_gain('tanh', 1.0), 4), round(preserving_gain('tanh', 0.01), 4)
    (1.5925, 1.0099)
    """
    q = check_real("q", q, positive=True)
    activation = as_activation(activation, negative_slope)
    a = _closed_form_slope(activation)
    if a is not None:   # q / ((1 + a^2) q / 2), without squaring a
        return math.sqrt(2.0) / math.hypot(1.0, a)
    second = activation_second_moment(activation, q)
    if not second > 0:
        raise ValueError(
            f"activation {activation.name!r} must have E[phi(z)^2] > 0 at q={q!r} to "
            f"define a gain; got E[phi(z)^2] = {second!r}"
        )
    return math.sqrt(q / second)


_FRAMEWORK_NAMES = {"identity": "linear", "linear": "linear", "relu": "relu",
                    "leaky_relu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid",
                    "selu": "selu"}


def gain_table(q: float = 1.0, *, negative_slope: float = 0.01,
               activations: Sequence[str] = ("identity", "relu", "leaky_relu", "tanh",
                                             "sigmoid", "gelu", "selu")) -> list[dict]:
    """Tabulate the variance-preserving gain beside PyTorch's ``calculate_gain``.

    Parameters
    ----------
    q : positive real, default 1.0
        The second moment of the pre-activations to preserve.
    negative_slope : real, default 0.01
        The leaky ReLU slope (used by both columns).
    activations : sequence of str
        Names from :data:`ACTIVATIONS`.

    Returns
    -------
    list of dict
        One row per activation with keys ``'activation'``, ``'preserving_gain'``,
        ``'framework_gain'`` (PyTorch's value, NaN for GELU, which ``calculate_gain`` does
        not know), ``'ratio'`` (framework / preserving) and ``'second_moment'``
        (``E[phi(z)^2]``).

    Notes
    -----
    The two columns answer different questions.

    - For ReLU, leaky ReLU and the identity they agree: these activations are positively
      homogeneous, so ``E[phi(z)^2]`` is proportional to ``q`` and one gain preserves
      every ``q`` (He et al.'s derivation).
    - For saturating activations the preserving gain depends on ``q``: tanh is almost
      linear near 0, so for small ``q`` its gain tends to 1, and at ``q = 1`` it is about
      1.59.  PyTorch's 5/3 for tanh is an empirical convention (it was chosen so that
      tanh of a unit-variance signal keeps a healthy spread, not from a fixed-point
      calculation), and 3/4 for SELU was "found empirically" too (PR #50664);
      SELU's own fixed point is at gain 1 (``E[selu(z)^2] = 1`` at ``q = 1``).
    - Sigmoid has a mean of 1/2, so its second moment differs from its variance;
      PyTorch's gain of 1 preserves neither, and the gain here preserves the second
      moment of the pre-activations (which is what the next layer sees).

    Examples
    --------
    >>> rows = gain_table(1.0)
    >>> for r in rows[:4]:
    ...     print(r['activation'], round(r['preserving_gain'], 3), round(r['framework_gain'], 3))
    identity 1.0 1.0
    relu 1.414 1.414
    leaky_relu 1.414 1.414
    tanh 1.593 1.667
    """
    from .init import calculate_gain  # a light import: init does not import matplotlib

    q = check_real("q", q, positive=True)
    check_real("negative_slope", negative_slope)
    if isinstance(activations, str) or not isinstance(activations, (Sequence, np.ndarray)):
        raise TypeError(f"activations must be a sequence of names; got {activations!r}")
    rows = []
    for name in activations:
        check_choice("activations", name, ACTIVATIONS)
        framework_name = _FRAMEWORK_NAMES.get(name)
        slope = negative_slope if framework_name == "leaky_relu" else None   # others ignore it
        leaky = _DEFAULT_NEGATIVE_SLOPE if slope is None else slope
        gain = preserving_gain(name, q, negative_slope=leaky)
        framework = (float(calculate_gain(framework_name, slope))
                     if framework_name else math.nan)
        rows.append({
            "activation": name, "preserving_gain": gain, "framework_gain": framework,
            "ratio": framework / gain,
            "second_moment": activation_second_moment(name, q, negative_slope=leaky),
        })
    return rows


# -- predictions for a stack --------------------------------------------------------------------

def _check_widths(widths) -> tuple[int, ...]:
    """Return ``widths`` as a tuple of ints after checking it lists ``[n_0, ..., n_L]``."""
    allowed = "a sequence of at least two positive integers [n_0, ..., n_L]"
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise TypeError(f"widths must be {allowed}; got {widths!r}")
    for w in widths:
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Integral):
            raise TypeError(f"widths must be {allowed}; got {widths!r} (entry {w!r})")
        if w < 1:
            raise ValueError(f"widths must be {allowed}; got {widths!r} (entry {w!r})")
    if len(widths) < 2:
        raise ValueError(f"widths must be {allowed} (one layer at least); got {widths!r}")
    return tuple(int(w) for w in widths)


def layer_weight_variances(widths, weight_variance="kaiming_normal", *,
                           gain: float = 1.0) -> np.ndarray:
    """Return ``Var[w_l]`` for every layer of a stack.

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, n_1, ..., n_L]``, all positive, at least two entries.
    weight_variance : str, Scheme, real or array-like
        A scheme name of ``kaiming_lib.init.SCHEMES`` (or a ``Scheme``), whose
        ``variance(fan_in, fan_out)`` is evaluated with ``fan_in = n_{l-1}`` and
        ``fan_out = n_l``; one non-negative number for every layer; or one per layer.
    gain : positive real, default 1.0
        A multiplier of the weights' std, so the variances are multiplied by ``gain^2``.

    Returns
    -------
    (n_layers,) ndarray of float64

    Raises
    ------
    TypeError
        For a ``weight_variance`` of the wrong kind.
    ValueError
        For an unknown scheme, negative variances, a length other than ``n_layers``, or a
        ``gain`` so large that ``gain^2 * Var[w]`` exceeds the float range.

    Examples
    --------
    >>> layer_weight_variances([100, 50, 25], 'kaiming_normal')
    array([0.02, 0.04])
    >>> layer_weight_variances([100, 50, 25], 'xavier_normal', gain=2.0)
    array([0.05333333, 0.10666667])
    """
    from .init import SCHEMES, Scheme, get_scheme

    widths = _check_widths(widths)
    gain = check_real("gain", gain, positive=True)
    n_layers = len(widths) - 1
    if isinstance(weight_variance, np.ndarray) and weight_variance.ndim == 0:
        weight_variance = weight_variance.item()      # a 0-d array is one number
    if isinstance(weight_variance, str):
        check_choice("weight_variance", weight_variance, tuple(SCHEMES))
        weight_variance = get_scheme(weight_variance)
    if isinstance(weight_variance, Scheme):
        pairs = zip(widths[:-1], widths[1:])
        variances = np.array([weight_variance.variance(fi, fo) for fi, fo in pairs], float)
    elif isinstance(weight_variance, numbers.Real) and not isinstance(weight_variance, bool):
        value = check_real("weight_variance", weight_variance, nonnegative=True)
        variances = np.full(n_layers, value)
    elif isinstance(weight_variance, (Sequence, np.ndarray)):
        variances = np.array(
            [check_real("weight_variance", v, nonnegative=True) for v in weight_variance], float
        )
        if variances.shape != (n_layers,):
            raise ValueError(
                f"weight_variance must hold one value per layer ({n_layers} for widths "
                f"{list(widths)}); got {len(variances)} values {weight_variance!r}"
            )
    else:
        raise TypeError(
            "weight_variance must be a scheme name, a Scheme, a real number or one number "
            f"per layer; got {weight_variance!r}"
        )
    with np.errstate(over="ignore", invalid="ignore"):   # gain**2 would raise OverflowError
        scaled = variances * (gain * gain)
    if not np.isfinite(scaled).all():
        raise ValueError(
            f"gain must keep gain^2 * Var[w] within the float range; got gain={gain!r} with "
            f"variances up to {float(variances.max())!r}"
        )
    return scaled


@dataclass(frozen=True, eq=False)
class StackPrediction:
    """The mean-field prediction of per-layer statistics; arrays have shape ``(n_layers,)``.

    Entry ``l - 1`` belongs to layer ``l``.  The field names match those of
    ``kaiming_lib.probes.ProbeResult`` so that theory and measurement line up.

    Attributes
    ----------
    widths : tuple of int
    activation : str
    final_activation : bool
    weight_variance : ndarray
        ``Var[w_l]`` (gain included).
    preact_second_moment : ndarray
        ``q_l = E[y_l^2]`` (also the variance: ``E[y_l] = 0``).
    act_mean, act_second_moment : ndarray
        ``E[x_l]`` and ``E[x_l^2]`` (for ``final_activation=False`` the last entry is
        that of ``y_L``).
    input_grad_variance : ndarray
        ``Var[dL/dx_{l-1}]``, the gradient at the input of layer ``l`` (He et al.'s
        ``Var[Delta x_l]``), for an upstream gradient of variance ``output_grad_variance``.
    output_grad_variance : float
    """

    widths: tuple
    activation: str
    final_activation: bool
    weight_variance: np.ndarray
    preact_second_moment: np.ndarray
    act_mean: np.ndarray
    act_second_moment: np.ndarray
    input_grad_variance: np.ndarray
    output_grad_variance: float

    @property
    def n_layers(self) -> int:
        """The number of layers ``L``."""
        return len(self.widths) - 1

    @property
    def layers(self) -> np.ndarray:
        """The layer numbers ``1..L``, for plotting against depth."""
        return np.arange(1, self.n_layers + 1)

    @property
    def preact_std(self) -> np.ndarray:
        """``sqrt(q_l)``, the std of the pre-activations."""
        return np.sqrt(self.preact_second_moment)

    @property
    def act_std(self) -> np.ndarray:
        """The std of the activations, ``sqrt(E[x_l^2] - E[x_l]^2)`` (NaN once it overflows)."""
        with np.errstate(over="ignore", invalid="ignore"):   # inf - inf in exploding stacks
            return np.sqrt(np.maximum(self.act_second_moment - self.act_mean**2, 0.0))

    @property
    def act_rms(self) -> np.ndarray:
        """The root mean square of the activations, ``sqrt(E[x_l^2])``."""
        return np.sqrt(self.act_second_moment)

    @property
    def input_grad_std(self) -> np.ndarray:
        """The std of the gradient at the input of each layer."""
        return np.sqrt(self.input_grad_variance)


def _recursion_moments(activation: Activation, q: float) -> Moments:
    """Return the moments at a ``q`` of the recursion, which may have overflowed to inf."""
    a = _closed_form_slope(activation)
    if math.isfinite(q):
        # An exploding stack of a custom activation overflows to inf or nan, silently,
        # where a direct activation_moments call raises ValueError.
        return (closed_form_moments(activation, q) if a is not None
                else _quadrature_moments(activation, q, strict=False))
    if a is None or math.isnan(q):
        return Moments(q, math.nan, math.nan, math.nan)
    factor = (1 + a * a) / 2          # the closed forms, with q = inf
    return Moments(q, 0.0 if a == 1 else (1 - a) * math.inf, factor * q, factor)


def predict_stack(widths, weight_variance="kaiming_normal", activation="relu", *,
                  negative_slope: float = 0.01, gain: float = 1.0,
                  input_second_moment: float = 1.0, output_grad_variance: float = 1.0,
                  final_activation: bool = True) -> StackPrediction:
    """Predict the per-layer second moments forward and gradient variances backward.

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, n_1, ..., n_L]``.
    weight_variance : str, Scheme, real or array-like, default 'kaiming_normal'
        See :func:`layer_weight_variances`.
    activation : str, Activation or callable, default 'relu'
        Backward predictions need its derivative: for a plain callable they are NaN.
    negative_slope : real, default 0.01
        Used by ``'leaky_relu'``.
    gain : positive real, default 1.0
        Multiplier of the weights' std.
    input_second_moment : non-negative real, default 1.0
        ``E[x_0^2]`` of the raw input (1 for a standard normal input).
    output_grad_variance : non-negative real, default 1.0
        ``Var[dL/dx_L]``, the upstream gradient at the top.
    final_activation : bool, default True
        Whether layer ``L`` is followed by the activation.

    Returns
    -------
    StackPrediction

    Raises
    ------
    TypeError, ValueError
        For invalid arguments (see :func:`layer_weight_variances`).

    Notes
    -----
    The forward and backward recursions are those of the module docstring.  They are exact
    in expectation for one layer with Gaussian input and become accurate for every layer
    as the widths grow; at finite width ``log q_l`` fluctuates around the prediction with
    a spread growing like ``sqrt(L / n)``.

    An exploding stack overflows without an error: once ``q_l`` is infinite the later
    entries are inf for ReLU, leaky ReLU and the identity, and NaN for the other
    activations, whose moments at an infinite variance are not integrated.  A custom
    activation whose moments overflow at a finite ``q_l`` (``np.exp``, say) gives inf or
    NaN there too, where :func:`activation_moments` would raise ValueError.

    Examples
    --------
    >>> p = predict_stack([512] * 11, 'kaiming_normal', 'relu')
    >>> p.preact_second_moment[[0, -1]]       # first layer: 512 * 2/512 * E[x_0^2]
    array([2., 2.])
    >>> p = predict_stack([512] * 11, 'lecun_normal', 'relu')
    >>> float(p.preact_second_moment[-1] / p.preact_second_moment[0])   # 2^-(L - 1)
    0.001953125
    >>> float(p.input_grad_variance[0])       # halved at each of the 10 layers
    0.0009765625
    """
    widths = _check_widths(widths)
    variances = layer_weight_variances(widths, weight_variance, gain=gain)
    activation = as_activation(activation, negative_slope)
    x_second = check_real("input_second_moment", input_second_moment, nonnegative=True)
    top = check_real("output_grad_variance", output_grad_variance, nonnegative=True)
    if not isinstance(final_activation, (bool, np.bool_)):
        raise TypeError(f"final_activation must be a bool; got {final_activation!r}")

    n_layers = len(widths) - 1
    # Python floats, not NumPy scalars: an exploding stack overflows to inf silently
    # instead of raising RuntimeWarning (an error under the test suite's filters).
    var = variances.tolist()
    q, mean, second, slope = (np.empty(n_layers) for _ in range(4))
    for i in range(n_layers):
        q[i] = q_i = widths[i] * var[i] * x_second
        if i < n_layers - 1 or final_activation:
            moments = _recursion_moments(activation, q_i)
        else:
            moments = Moments(q_i, 0.0, q_i, 1.0)
        mean[i], second[i] = moments.mean, moments.second_moment
        # No derivative (a plain callable): the backward prediction is NaN, as documented.
        d = moments.derivative_second_moment
        slope[i] = math.nan if d is None else d
        x_second = moments.second_moment

    grads = np.empty(n_layers)
    v = top
    for i in reversed(range(n_layers)):
        v = widths[i + 1] * var[i] * float(slope[i]) * v
        grads[i] = v
    return StackPrediction(widths, activation.name, bool(final_activation), variances, q,
                           mean, second, grads, top)


# -- He et al.'s product argument ---------------------------------------------------------------

def _homogeneous_factor(activation, negative_slope) -> float:
    activation = as_activation(activation, negative_slope)
    a = _closed_form_slope(activation)
    if a is None:
        raise ValueError(
            "the product argument needs a positively homogeneous activation ('relu', "
            f"'leaky_relu', 'identity'); got {activation.name!r}, whose factor depends on q "
            "(use predict_stack)"
        )
    return (1 + a * a) / 2


def _product(c: float, fans, variances: np.ndarray) -> float:
    """``prod_l c n_l Var[w_l]`` in Python floats: a product beyond the float range is inf,
    without a RuntimeWarning, and a zero variance gives 0 even when ``c`` overflowed."""
    factors = [0.0 if v == 0 else c * n * v for n, v in zip(fans, variances.tolist())]
    return 0.0 if 0.0 in factors else float(math.prod(factors))


def forward_product(widths, weight_variance="kaiming_normal", *, activation="relu",
                    negative_slope: float = 0.01, gain: float = 1.0) -> float:
    """Return He et al.'s forward product ``prod_{l=2}^{L} c n_{l-1} Var[w_l]``.

    This is ``Var[y_L] / Var[y_1]`` (their Eq. 9), with ``c = E[phi(y)^2] / Var[y]``:
    1/2 for ReLU, ``(1 + a^2)/2`` for leaky ReLU, 1 for the identity.  ``n_{l-1}`` is the
    fan-in of layer ``l`` (He et al.'s ``n_l = k^2 c_l``).

    Parameters
    ----------
    widths : sequence of int
    weight_variance : str, Scheme, real or array-like, default 'kaiming_normal'
    activation : {'relu', 'leaky_relu', 'identity', 'linear'}
    negative_slope : real, default 0.01
    gain : positive real, default 1.0

    Returns
    -------
    float
        1 with fan-in scaling (Eq. 10); ``n_1 / n_L`` with fan-out scaling (Eq. 14).
        ``inf``, without a warning, for a product beyond the float range.

    Raises
    ------
    ValueError
        For an activation whose factor depends on ``q`` (tanh, sigmoid, GELU, SELU).

    Notes
    -----
    With fan-out scaling, ``Var[w_l] = 2 / n_l``, each factor is ``n_{l-1} / n_l`` and
    the product telescopes to ``n_1 / n_L``, He et al.'s ``c_2 / d_L`` (``c_2``, the
    input channels of layer 2, is ``n_1``; ``d_L``, the output channels of layer L, is
    ``n_L``).  It does not shrink or grow with depth, only with the ratio of widths.

    Examples
    --------
    >>> forward_product([64, 128, 256, 512], 'kaiming_normal')
    1.0
    >>> forward_product([64, 128, 256, 512], 'kaiming_normal_fan_out')   # n_1 / n_L
    0.25
    """
    widths = _check_widths(widths)
    c = _homogeneous_factor(activation, negative_slope)
    variances = layer_weight_variances(widths, weight_variance, gain=gain)
    return _product(c, widths[1:-1], variances[1:])


def backward_product(widths, weight_variance="kaiming_normal", *, activation="relu",
                     negative_slope: float = 0.01, gain: float = 1.0) -> float:
    """Return He et al.'s backward product ``prod_{l=2}^{L} c n_l Var[w_l]``.

    This is ``Var[Delta x_2] / Var[Delta x_{L+1}]`` (their Eq. 13), the ratio of the
    gradient variance at the input of layer 2 to that at the output of layer ``L``, with
    ``c = E[phi'(y)^2]`` and ``n_l`` the fan-out of layer ``l`` (their ``n-hat_l``).

    Parameters
    ----------
    widths : sequence of int
    weight_variance : str, Scheme, real or array-like, default 'kaiming_normal'
    activation : {'relu', 'leaky_relu', 'identity', 'linear'}
    negative_slope : real, default 0.01
    gain : positive real, default 1.0

    Returns
    -------
    float
        1 with fan-out scaling (Eq. 14); ``n_L / n_1`` with fan-in scaling (Eq. 10).
        ``inf``, without a warning, for a product beyond the float range.

    Notes
    -----
    With fan-in scaling, ``Var[w_l] = 2 / n_{l-1}``, each factor is ``n_l / n_{l-1}``
    and the product telescopes to ``n_L / n_1`` = ``d_L / c_2`` in He et al.'s notation.
    The forward product under fan-out scaling is its reciprocal, ``c_2 / d_L``
    (:func:`forward_product`): whichever condition is imposed, the other pass is scaled
    by a ratio of two widths, not by a power of the depth.

    Examples
    --------
    >>> backward_product([64, 128, 256, 512], 'kaiming_normal')          # n_L / n_1
    4.0
    >>> backward_product([64, 128, 256, 512], 'kaiming_normal_fan_out')
    1.0
    """
    widths = _check_widths(widths)
    c = _homogeneous_factor(activation, negative_slope)
    variances = layer_weight_variances(widths, weight_variance, gain=gain)
    return _product(c, widths[2:], variances[1:])
