"""Weight initializers that match ``torch.nn.init`` number for number.

Weights use PyTorch's layout ``(out, in, *kernel)``, the layout of ``y = W x + b``, so

.. math:: \\mathrm{fan_{in}} = \\mathrm{shape}[1] \\prod \\mathrm{shape}[2:], \\qquad
          \\mathrm{fan_{out}} = \\mathrm{shape}[0] \\prod \\mathrm{shape}[2:].

Every sampler returns a new array, takes ``rng`` (``None``, an int seed or a
``numpy.random.Generator``) and ``dtype`` (float32 by default), and draws its numbers in
float64 before casting, so a seed gives the same weights whatever the dtype (a dtype too
narrow to hold them, such as float16 for ``std=1e5``, raises ValueError).  A call that
would allocate more than :data:`MAX_INIT_BYTES` (its float64 working arrays plus the
result) is refused with a ValueError before anything is drawn.

The one general form is :func:`variance_scaling` (Keras and JAX semantics).  The named
PyTorch-style initializers compute their standard deviation in exactly PyTorch's
floating-point order, so that fans, gains, bounds and stds agree with PyTorch to the last bit,
and then draw through the same sampler as :func:`variance_scaling`.  :data:`SCHEMES` is the
registry of named schemes the notebooks, probes and widgets use.
"""

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np

from ._validation import (
    SuspiciousInputWarning, as_rng, check_choice, check_float_dtype, check_int, check_real,
    check_shape, warn_suspicious,
)

__all__ = [
    "fan_in_and_fan_out", "calculate_gain", "kaiming_std", "xavier_std",
    "zeros", "ones", "constant", "normal", "uniform", "trunc_normal",
    "xavier_normal", "xavier_uniform", "lecun_normal", "orthogonal",
    "kaiming_normal", "kaiming_uniform", "variance_scaling",
    "Scheme", "SCHEMES", "get_scheme", "TRUNCATED_NORMAL_STD", "MAX_INIT_BYTES",
    "SuspiciousInputWarning",
]

#: Standard deviation of a standard normal truncated to (-2, 2):
#: ``sqrt(1 - 4 phi(2) / erf(sqrt 2))``, the constant Keras and JAX divide by.
TRUNCATED_NORMAL_STD = 0.87962566103423978

#: The most memory (bytes) one initializer call may allocate: 4 GiB.  The count is
#: ``prod(shape) * (8 * k + itemsize)``: the ``k`` float64 working arrays the sampler holds at
#: once (1 for normal and uniform draws, 2 for truncated normal ones, 3 or 7 for
#: :func:`trunc_normal`, 4 for :func:`orthogonal`) plus the result in ``dtype``.  Generous
#: for any layer of the course (a 4096 x 4096 float32 weight needs 192 MiB); it turns a typo
#: such as ``(10**9, 10**9)`` into a clear error instead of a MemoryError.  Assign a larger
#: value to lift it.
MAX_INIT_BYTES = 4 * 2**30

NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
)
_LINEAR_LIKE = NONLINEARITIES[:8]
_MODES = ("fan_in", "fan_out")
Mode = Literal["fan_in", "fan_out"]


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """Compute the fan-in and fan-out of a weight of the given shape.

    Parameters
    ----------
    shape : tuple of int
        ``(out, in, *kernel)``, at least two dimensions.

    Returns
    -------
    fan_in, fan_out : int
        ``in * prod(kernel)`` and ``out * prod(kernel)``.

    Raises
    ------
    TypeError
        If ``shape`` is not a sequence of integers.
    ValueError
        If it has fewer than two dimensions or a negative size.

    Examples
    --------
    >>> fan_in_and_fan_out((64, 3, 7, 7))    # a 7x7 convolution, 3 -> 64 channels
    (147, 3136)
    """
    shape = check_shape("shape", shape, min_ndim=2)
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param=None) -> float:
    """Return the recommended gain for a nonlinearity, as ``torch.nn.init`` does.

    Parameters
    ----------
    nonlinearity : str
        One of ``'linear'``, ``'conv1d'``, ``'conv2d'``, ``'conv3d'``,
        ``'conv_transpose1d'``, ``'conv_transpose2d'``, ``'conv_transpose3d'``,
        ``'sigmoid'``, ``'tanh'``, ``'relu'``, ``'leaky_relu'``, ``'selu'``.
    param : real number, optional
        The negative slope of ``'leaky_relu'`` (0.01 when None).  Ignored otherwise, with a
        warning.

    Returns
    -------
    float
        1 for the linear-like functions and sigmoid (the int 1, as in PyTorch), 5/3 for tanh,
        sqrt(2) for relu, sqrt(2 / (1 + a^2)) for leaky_relu, 3/4 for selu.

    Raises
    ------
    TypeError
        If ``nonlinearity`` is not a string, or ``param`` is not a real number (bools are
        rejected; NumPy real scalars are accepted).
    ValueError
        If ``nonlinearity`` is unknown, or ``param`` is not finite.

    Warns
    -----
    SuspiciousInputWarning
        If ``param`` is given for a nonlinearity other than ``'leaky_relu'``: it is ignored,
        as in PyTorch, so a slope meant for a leaky ReLU has no effect.

    Notes
    -----
    ReLU's sqrt(2) and leaky ReLU's sqrt(2 / (1 + a^2)) preserve the second moment exactly
    (notebook 02).  tanh's 5/3 and selu's 3/4 are conventions chosen empirically, not
    variance-preserving values; ``kaiming_lib.variance`` computes the exact ones.

    The leaky ReLU gain is computed in PyTorch's order, except where ``a^2`` overflows
    (``|a|`` above about 1.3e154, where PyTorch raises OverflowError): there it is
    ``sqrt(2) / hypot(1, a)``, the same value without the overflow (about sqrt(2) / |a|).

    Examples
    --------
    >>> calculate_gain('relu')
    1.4142135623730951
    >>> round(calculate_gain('leaky_relu', 0.2), 6)
    1.38675
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if param is not None and nonlinearity != "leaky_relu":
        warn_suspicious(f"calculate_gain ignores param={param!r} for nonlinearity="
                        f"{nonlinearity!r}; only 'leaky_relu' takes a negative slope (pass "
                        "nonlinearity='leaky_relu', or drop param)")
    if nonlinearity in _LINEAR_LIKE:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    slope = 0.01 if param is None else check_real("param (negative_slope)", param)
    if isinstance(param, numbers.Integral):
        slope = int(param)  # PyTorch squares an int slope exactly, before any rounding
    try:
        return math.sqrt(2.0 / (1 + slope**2))
    except OverflowError:  # slope**2 (or, for an int, its conversion to float) overflows
        return math.sqrt(2.0) / math.hypot(1.0, float(slope))


def _kaiming_mode(a, mode, nonlinearity) -> str:
    """Validate Kaiming's arguments and return ``mode`` lower-cased, as PyTorch accepts it."""
    if isinstance(mode, str) and mode.lower() in _MODES:
        mode = mode.lower()
    check_choice("mode", mode, _MODES)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if a is not None:
        check_real("a (negative_slope)", a)
        if a != 0 and nonlinearity != "leaky_relu":
            warn_suspicious(f"a={a!r} is ignored with nonlinearity={nonlinearity!r}; the slope "
                            "only enters the gain of 'leaky_relu' (pass "
                            "nonlinearity='leaky_relu', or drop a)")
    return mode


def _kaiming_std(shape, a, mode, nonlinearity) -> float:
    """``gain / sqrt(fan)`` for arguments :func:`_kaiming_mode` has checked."""
    fan_in, fan_out = fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"shape must give a positive {mode}; got {mode}=0 for {shape!r}")
    # Only leaky_relu reads the slope; passing None elsewhere skips calculate_gain's warning
    # (the gain is the same: PyTorch ignores the slope there too).
    slope = a if nonlinearity == "leaky_relu" else None
    return calculate_gain(nonlinearity, slope) / math.sqrt(fan)


def kaiming_std(shape, a=0, mode: Mode = "fan_in", nonlinearity: str = "leaky_relu") -> float:
    """Return the standard deviation Kaiming (He) initialization uses.

    Parameters
    ----------
    shape : tuple of int
        ``(out, in, *kernel)``.
    a : real number, default 0
        Negative slope of the rectifier (only used with ``'leaky_relu'``).
    mode : {'fan_in', 'fan_out'}
        Preserve the forward (fan_in) or the backward (fan_out) variance.
    nonlinearity : str, default 'leaky_relu'
        As in :func:`calculate_gain`.  With ``a=0`` the default gives sqrt(2).

    Returns
    -------
    float
        ``gain / sqrt(fan)``.

    Raises
    ------
    TypeError
        If ``a`` is not a real number (or None) or ``shape`` not a tuple of ints.
    ValueError
        An unknown ``mode`` or ``nonlinearity``, a non-finite ``a``, a shape with fewer
        than two dimensions, or a zero fan (no std exists for it).

    Warns
    -----
    SuspiciousInputWarning
        For a non-zero ``a`` with a nonlinearity other than ``'leaky_relu'`` (it is ignored).

    Examples
    --------
    >>> round(kaiming_std((256, 128)), 6)    # sqrt(2 / 128)
    0.125
    """
    mode = _kaiming_mode(a, mode, nonlinearity)
    return _kaiming_std(shape, a, mode, nonlinearity)


def xavier_std(shape, gain=1.0) -> float:
    """Return the standard deviation of Xavier (Glorot) initialization.

    ``gain * sqrt(2 / (fan_in + fan_out))``, computed in PyTorch's order.

    Raises
    ------
    TypeError
        If ``gain`` is not a real number or ``shape`` not a tuple of ints.
    ValueError
        A non-positive or non-finite ``gain``, a shape with fewer than two dimensions,
        or ``fan_in + fan_out == 0`` (where PyTorch raises ZeroDivisionError).

    Examples
    --------
    >>> round(xavier_std((300, 100)), 6)
    0.070711
    """
    gain = check_real("gain", gain, positive=True)
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if fan_in + fan_out == 0:
        raise ValueError(f"shape must give fan_in + fan_out > 0; got 0 for {shape!r}")
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


# -- samplers ---------------------------------------------------------------------------------

def _prepare(shape, rng, dtype, *, min_ndim=0, float64_arrays=1):
    """Validate the arguments every sampler shares, and the memory the call will take.

    ``float64_arrays`` is the number of float64 arrays of ``shape`` the sampler holds at
    once (None: the sampler checks the memory itself, once it knows its method).
    """
    shape = check_shape("shape", shape, min_ndim=min_ndim)
    dtype = check_float_dtype("dtype", dtype)
    if float64_arrays is not None:
        _check_memory(shape, dtype, float64_arrays)
    return shape, as_rng(rng), dtype


def _check_memory(shape, dtype, float64_arrays) -> None:
    """Refuse a call that would allocate more than :data:`MAX_INIT_BYTES`.

    The count uses Python ints, which do not overflow: ``(2**40, 2**40)`` is refused as
    cleanly as ``(10**9, 10**9)``.
    """
    size = math.prod(shape)
    needed = size * (8 * float64_arrays + dtype.itemsize)
    if needed > MAX_INIT_BYTES:
        raise ValueError(
            f"shape {shape!r} would need {Decimal(needed):.3g} bytes ({Decimal(size):.3g} "
            f"values, held as {float64_arrays} float64 working array(s) plus the "
            f"{dtype.name} result), above MAX_INIT_BYTES = {Decimal(MAX_INIT_BYTES):.3g} bytes "
            f"({MAX_INIT_BYTES / 2**30:g} GiB); use a smaller shape, or raise "
            "kaiming_lib.init.MAX_INIT_BYTES if the machine has the memory"
        )


def _is_empty(shape) -> bool:
    if 0 in shape:
        warn_suspicious("Initializing zero-element tensors is a no-op")   # PyTorch's words
        return True
    return False


def _truncated_standard_normal(rng, shape, low=-2.0, high=2.0) -> np.ndarray:
    """Draw N(0, 1) truncated to [low, high] by redrawing the values that fall outside."""
    out = rng.standard_normal(shape)
    outside = (out < low) | (out > high)
    while outside.any():
        out[outside] = rng.standard_normal(int(outside.sum()))
        outside = (out < low) | (out > high)
    return out


def _cast(values, dtype) -> np.ndarray:
    """Cast float64 draws to ``dtype``, refusing weights that ``dtype`` cannot hold."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.asarray(values).astype(dtype, copy=False)
    if not np.isfinite(cast).all():  # an overflow, without NumPy's RuntimeWarning
        raise ValueError(
            f"dtype {dtype.name} cannot hold these weights: their magnitude reaches "
            f"{float(np.abs(values).max())!r}, above its largest finite value "
            f"{float(np.finfo(dtype).max)!r}; use a wider dtype or smaller parameters"
        )
    if cast.size and not cast.any() and np.any(values):  # legal, but no weight survives
        warn_suspicious(
            f"dtype {dtype.name} flushes every one of these weights to zero: their magnitude "
            f"is at most {float(np.abs(values).max())!r}, below its smallest subnormal "
            f"{float(np.finfo(dtype).smallest_subnormal)!r}; use a wider dtype or larger "
            "parameters"
        )
    return cast


def _draw(shape, std, distribution, rng, dtype) -> np.ndarray:
    """The one sampler: zero-mean ``normal``, ``truncated_normal`` or ``uniform`` of std ``std``.

    ``truncated_normal`` truncates at two standard deviations and rescales by
    :data:`TRUNCATED_NORMAL_STD` so that the std after truncation is ``std``; ``uniform``
    draws from ``U(-sqrt(3) std, sqrt(3) std)``.
    """
    if distribution == "normal":
        values = rng.normal(0.0, std, size=shape)
    elif distribution == "truncated_normal":
        values = _truncated_standard_normal(rng, shape) * (std / TRUNCATED_NORMAL_STD)
    else:
        bound = math.sqrt(3.0) * std
        if not math.isfinite(2 * bound):  # NumPy would raise OverflowError for the width
            raise ValueError(f"the uniform bound sqrt(3) * std must keep 2 * bound finite; got "
                             f"std={std!r}; use a smaller gain or scale")
        values = rng.uniform(-bound, bound, size=shape)
    return _cast(values, dtype)


def zeros(shape, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Return an array of zeros (``rng`` is accepted for a uniform signature and unused).

    Examples
    --------
    >>> float(zeros((2, 3)).sum())
    0.0
    """
    return constant(shape, 0.0, rng=rng, dtype=dtype)


def ones(shape, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Return an array of ones (``rng`` is accepted for a uniform signature and unused).

    Examples
    --------
    >>> ones((2, 3)).shape
    (2, 3)
    """
    return constant(shape, 1.0, rng=rng, dtype=dtype)


def constant(shape, val, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Return an array filled with ``val``.

    Parameters
    ----------
    shape : tuple of int
    val : real number
        Finite fill value.
    rng : None, int or numpy.random.Generator
        Unused; accepted so that every initializer has the same signature.
    dtype : floating dtype, default float32

    Examples
    --------
    >>> constant((2,), 0.5)
    array([0.5, 0.5], dtype=float32)
    """
    shape, _, dtype = _prepare(shape, rng, dtype)
    return _cast(np.full(shape, check_real("val", val)), dtype)


def normal(shape, mean=0.0, std=1.0, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw from N(mean, std^2).

    Raises
    ------
    ValueError
        If ``std`` is not positive or a parameter is not finite.

    Examples
    --------
    >>> w = normal((1000, 100), std=0.01, rng=0)
    >>> round(float(w.std()), 3)
    0.01
    """
    shape, rng, dtype = _prepare(shape, rng, dtype)
    mean = check_real("mean", mean)
    std = check_real("std", std, positive=True)
    return _cast(rng.normal(mean, std, size=shape), dtype)


def uniform(shape, a=0.0, b=1.0, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw from U(a, b).

    Raises
    ------
    ValueError
        If ``a >= b``, or a bound or the width ``b - a`` is not finite.

    Examples
    --------
    >>> w = uniform((100, 100), -1.0, 1.0, rng=0)
    >>> bool(w.min() >= -1.0 and w.max() < 1.0)
    True
    """
    shape, rng, dtype = _prepare(shape, rng, dtype)
    a, b = check_real("a", a), check_real("b", b)
    if not a < b:
        raise ValueError(f"the bounds must satisfy a < b; got a={a!r}, b={b!r}")
    if not math.isfinite(b - a):  # NumPy would raise OverflowError
        raise ValueError(f"the width b - a must be finite; got a={a!r}, b={b!r}")
    return _cast(rng.uniform(a, b, size=shape), dtype)


def trunc_normal(shape, mean=0.0, std=1.0, a=-2.0, b=2.0, *, rng=None,
                 dtype=np.float32) -> np.ndarray:
    """Draw from N(mean, std^2) truncated to the absolute interval [a, b].

    As in ``torch.nn.init.trunc_normal_``, ``a`` and ``b`` are absolute values, not multiples
    of ``std``: with ``std=0.02`` the default bounds (-2, 2) truncate nothing in practice.

    Raises
    ------
    ValueError
        If ``std <= 0``, ``a >= b`` or a parameter is not finite.

    Warns
    -----
    UserWarning
        If ``mean`` is more than 2 std outside [a, b], as PyTorch warns (such a window
        is probably a mistake; the draw itself stays exact).

    Notes
    -----
    When most of the mass lies inside [a, b] (probability above 0.3), normals are drawn and
    the ones outside redrawn.  Otherwise rejection sampling keeps the acceptance rate high:
    uniform proposals on [a, b] accepted with probability proportional to the normal
    density for narrow windows, and shifted exponential proposals (Robert 1995) for wide
    windows in one tail, such as [1, 1e6] for a standard normal.

    References
    ----------
    Robert (1995), Simulation of truncated normal variables, Statistics and Computing 5,
    121-125.

    Examples
    --------
    >>> w = trunc_normal((10000,), std=1.0, a=-1.0, b=1.0, rng=0)
    >>> bool(w.min() >= -1.0 and w.max() <= 1.0)
    True
    """
    shape, rng, dtype = _prepare(shape, rng, dtype, float64_arrays=None)
    mean, a, b = check_real("mean", mean), check_real("a", a), check_real("b", b)
    std = check_real("std", std, positive=True)
    if not a < b:
        raise ValueError(f"the truncation bounds must satisfy a < b; got a={a!r}, b={b!r}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warn_suspicious(f"mean is more than 2 std from [a, b] in trunc_normal (mean={mean!r}, "
                        f"std={std!r}, a={a!r}, b={b!r}); the samples are exact, but a window "
                        "this far in a tail is probably a mistake")
    low, high = (a - mean) / std, (b - mean) / std
    mass = 0.5 * (math.erf(high / math.sqrt(2)) - math.erf(low / math.sqrt(2)))
    # Redrawing holds z, std * z and the clipped sum; rejection sampling also holds its
    # 2n proposals, their acceptance draws and a few temporaries, 11 arrays of n in all.
    _check_memory(shape, dtype, 3 if mass > 0.3 else 11)
    if mass > 0.3:
        z = _truncated_standard_normal(rng, shape, low, high)
    else:
        z = _truncated_low_mass(rng, shape, low, high)
    return _cast(np.clip(mean + std * z, a, b), dtype)


def _truncated_low_mass(rng, shape, low, high) -> np.ndarray:
    """Draw N(0, 1) truncated to a window [low, high] of probability at most 0.3."""
    if high <= 0:  # mirror a window in the left tail into the right one
        return -_truncated_low_mass(rng, shape, -high, -low)
    if low > 0 and (high - low) * low > 1:
        # Uniform proposals would accept only about 1 / (low (high - low)) of the time.
        propose = _exponential_proposals(rng, low, high)
    else:
        propose = _uniform_proposals(rng, low, high)
    return _accept_reject(math.prod(shape), propose).reshape(shape)


def _uniform_proposals(rng, low, high):
    # The density exp(-z^2/2) is largest at the point of [low, high] nearest to zero.
    peak = min(max(0.0, low), high)

    def propose(size):
        z = rng.uniform(low, high, size=size)
        return z[rng.uniform(size=size) < np.exp((peak**2 - z**2) / 2)]
    return propose


def _exponential_proposals(rng, low, high):
    # Robert (1995): z = low + Exp(rate) with the optimal rate for the tail beyond low > 0,
    # accepted with probability exp(-(z - rate)^2 / 2); proposals above high are rejected.
    rate = (low + math.sqrt(low**2 + 4)) / 2

    def propose(size):
        z = low + rng.exponential(1 / rate, size=size)
        return z[(z <= high) & (rng.uniform(size=size) < np.exp(-((z - rate) ** 2) / 2))]
    return propose


def _accept_reject(n, propose) -> np.ndarray:
    """Collect ``n`` values from ``propose(size)``, which returns its accepted proposals."""
    out = np.empty(n)
    filled = 0
    while filled < n:
        accepted = propose(2 * max(n - filled, 16))[: n - filled]
        out[filled: filled + accepted.size] = accepted
        filled += accepted.size
    return out


def variance_scaling(shape, scale=1.0, mode: Literal["fan_in", "fan_out", "fan_avg"] = "fan_in",
                     distribution: Literal["truncated_normal", "normal", "uniform"]
                     = "truncated_normal", *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw zero-mean weights of variance ``scale / fan``: the one general form.

    Parameters
    ----------
    shape : tuple of int
        ``(out, in, *kernel)``, at least two dimensions.
    scale : positive real, default 1.0
        2.0 for He/Kaiming, 1.0 for LeCun (``fan_in``) and Glorot/Xavier (``fan_avg``).
    mode : {'fan_in', 'fan_out', 'fan_avg'}
        Which fan divides ``scale``; ``fan_avg = (fan_in + fan_out) / 2``.
    distribution : {'truncated_normal', 'normal', 'uniform'}
        ``truncated_normal``: a normal cut at two standard deviations and rescaled by
        :data:`TRUNCATED_NORMAL_STD` so that the std after truncation is ``sqrt(scale/fan)``
        (every |w| <= 2.2737 sqrt(scale/fan)); ``normal``: untruncated (JAX's meaning; Keras
        calls it ``untruncated_normal``); ``uniform``: ``U(-limit, limit)`` with
        ``limit = sqrt(3 scale / fan)``.
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32

    Returns
    -------
    ndarray of ``shape``

    Raises
    ------
    TypeError
        A ``shape`` that is not a tuple of ints, or a ``dtype`` that is not a floating
        dtype (None included: NumPy would read it as float64).
    ValueError
        Unknown ``mode`` or ``distribution``, a non-positive or non-finite ``scale``, a
        shape with fewer than two dimensions, or one needing more memory than
        :data:`MAX_INIT_BYTES`.

    Notes
    -----
    Keras and JAX lay kernels out as ``(..., in, out)``; transpose one of theirs before
    comparing.  He et al. (2015) is ``scale=2, mode='fan_in'`` (their Eq. 10) or
    ``mode='fan_out'`` (Eq. 14).

    Examples
    --------
    >>> w = variance_scaling((512, 256), scale=2.0, rng=0)      # He truncated normal
    >>> round(float(w.std() ** 2 * 256), 1)
    2.0
    """
    shape, rng, dtype = _prepare(shape, rng, dtype, min_ndim=2, float64_arrays=None)
    scale = check_real("scale", scale, positive=True)
    check_choice("mode", mode, ("fan_in", "fan_out", "fan_avg"))
    check_choice("distribution", distribution, ("truncated_normal", "normal", "uniform"))
    _check_memory(shape, dtype, 2 if distribution == "truncated_normal" else 1)
    if _is_empty(shape):
        return np.zeros(shape, dtype=dtype)
    fan_in, fan_out = fan_in_and_fan_out(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return _draw(shape, math.sqrt(scale / fan), distribution, rng, dtype)


def kaiming_normal(shape, a=0, mode: Mode = "fan_in", nonlinearity: str = "leaky_relu", *,
                   rng=None, dtype=np.float32) -> np.ndarray:
    """Draw He et al.'s normal weights, N(0, gain^2 / fan), as ``torch.nn.init.kaiming_normal_``.

    Fixes :func:`variance_scaling`'s form to ``distribution='normal'`` with
    ``scale = gain^2``; the std is computed in PyTorch's order (see :func:`kaiming_std`).

    Parameters
    ----------
    shape : tuple of int
        ``(out, in, *kernel)``.
    a : real number, default 0
        Negative slope of the rectifier that follows (used with ``'leaky_relu'``).
    mode : {'fan_in', 'fan_out'}
        ``fan_in`` keeps the forward second moment, ``fan_out`` the backward one.
    nonlinearity : str, default 'leaky_relu'
        With ``a=0`` the default gives the ReLU gain sqrt(2) (not leaky ReLU's 0.01 slope).
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32

    Raises
    ------
    TypeError, ValueError
        As :func:`kaiming_std` and :func:`variance_scaling` (a shape needing more memory
        than :data:`MAX_INIT_BYTES` included).

    Warns
    -----
    UserWarning
        For a shape with a zero-size dimension (an empty array is returned).
    SuspiciousInputWarning
        For a non-zero ``a`` with a nonlinearity other than ``'leaky_relu'``, and when
        ``dtype`` rounds every weight to zero (a std far below its smallest subnormal).

    Notes
    -----
    .. math:: \\sigma = \\sqrt{2 / ((1 + a^2)\\, n)}

    References
    ----------
    He, Zhang, Ren, Sun (2015), Delving Deep into Rectifiers, arXiv:1502.01852, Eqs. 10, 14.

    Examples
    --------
    >>> w = kaiming_normal((512, 256), rng=0)
    >>> round(float(w.var() * 256), 1)
    2.0
    """
    shape, rng, dtype = _prepare(shape, rng, dtype)
    mode = _kaiming_mode(a, mode, nonlinearity)
    if _is_empty(shape):  # before the fans, as in PyTorch: an empty 1-D shape warns
        return np.zeros(shape, dtype=dtype)
    return _draw(shape, _kaiming_std(shape, a, mode, nonlinearity), "normal", rng, dtype)


def kaiming_uniform(shape, a=0, mode: Mode = "fan_in", nonlinearity: str = "leaky_relu", *,
                    rng=None, dtype=np.float32) -> np.ndarray:
    """Draw He et al.'s uniform weights, U(-bound, bound) with ``bound = sqrt(3) * std``.

    The same arguments and std as :func:`kaiming_normal`; ``distribution='uniform'``.
    With ``a=sqrt(5)`` this is PyTorch's ``nn.Linear`` default, U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), whose variance 1/(3 fan_in) is a sixth of He's.

    Examples
    --------
    >>> w = kaiming_uniform((512, 256), rng=0)
    >>> bool(abs(w).max() <= math.sqrt(6 / 256))
    True
    """
    shape, rng, dtype = _prepare(shape, rng, dtype)
    mode = _kaiming_mode(a, mode, nonlinearity)
    if _is_empty(shape):  # before the fans, as in PyTorch: an empty 1-D shape warns
        return np.zeros(shape, dtype=dtype)
    return _draw(shape, _kaiming_std(shape, a, mode, nonlinearity), "uniform", rng, dtype)


def xavier_normal(shape, gain=1.0, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw Glorot and Bengio's normal weights, N(0, gain^2 * 2 / (fan_in + fan_out)).

    :func:`variance_scaling` with ``mode='fan_avg'``, ``distribution='normal'`` and
    ``scale = gain^2``, std computed in PyTorch's order (:func:`xavier_std`).

    References
    ----------
    Glorot, Bengio (2010), Understanding the difficulty of training deep feedforward
    neural networks, AISTATS, Eq. 12.

    Examples
    --------
    >>> w = xavier_normal((300, 100), rng=0)
    >>> round(float(w.var() * 200), 1)
    1.0
    """
    shape, rng, dtype = _prepare(shape, rng, dtype, min_ndim=2)
    check_real("gain", gain, positive=True)
    if _is_empty(shape):
        return np.zeros(shape, dtype=dtype)
    return _draw(shape, xavier_std(shape, gain), "normal", rng, dtype)


def xavier_uniform(shape, gain=1.0, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw Glorot and Bengio's uniform weights, U(-a, a) with ``a = sqrt(3) * xavier_std``.

    Examples
    --------
    >>> w = xavier_uniform((300, 100), rng=0)
    >>> bool(abs(w).max() <= math.sqrt(6 / 400))
    True
    """
    shape, rng, dtype = _prepare(shape, rng, dtype, min_ndim=2)
    check_real("gain", gain, positive=True)
    if _is_empty(shape):
        return np.zeros(shape, dtype=dtype)
    return _draw(shape, xavier_std(shape, gain), "uniform", rng, dtype)


def lecun_normal(shape, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw LeCun's weights of variance 1/fan_in, truncated normal as in Keras and JAX.

    :func:`variance_scaling` with ``scale=1``, ``mode='fan_in'``,
    ``distribution='truncated_normal'``.

    References
    ----------
    LeCun, Bottou, Orr, Mueller (1998), Efficient BackProp, section 4.6.

    Examples
    --------
    >>> w = lecun_normal((512, 256), rng=0)
    >>> round(float(w.var() * 256), 1)
    1.0
    """
    return variance_scaling(shape, 1.0, "fan_in", "truncated_normal", rng=rng, dtype=dtype)


def orthogonal(shape, gain=1.0, *, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw a (semi-)orthogonal matrix, scaled by ``gain``, as ``torch.nn.init.orthogonal_``.

    The shape is flattened to ``(shape[0], prod(shape[1:]))``; the Q factor of a Gaussian
    matrix, with its columns' signs corrected by ``sign(diag(R))``, is Haar-distributed.

    References
    ----------
    Saxe, McClelland, Ganguli (2013), arXiv:1312.6120; Mezzadri (2007), How to generate
    random matrices from the classical compact groups.

    Examples
    --------
    >>> q = orthogonal((4, 4), rng=0)
    >>> bool(np.allclose(q @ q.T, np.eye(4), atol=1e-6))
    True
    """
    # The Gaussian matrix, QR's copy of it, Q and R (as large as Q for a square matrix).
    shape, rng, dtype = _prepare(shape, rng, dtype, min_ndim=2, float64_arrays=4)
    gain = check_real("gain", gain, positive=True)
    if _is_empty(shape):
        return np.zeros(shape, dtype=dtype)
    rows, cols = shape[0], math.prod(shape[1:])
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _cast((gain * q).reshape(shape), dtype)


# -- the registry of named schemes --------------------------------------------------------------

@dataclass(frozen=True)
class Scheme:
    """A named initialization scheme: how to draw it and what variance it gives.

    Attributes
    ----------
    name : str
        The registry key, e.g. ``'kaiming_normal'``.
    label : str
        A short label for legends.
    sample : callable
        ``sample(shape, rng=None, dtype=float32) -> ndarray``.
    variance : callable
        ``variance(fan_in, fan_out) -> float``: the variance of one weight.

    Notes
    -----
    ``variance`` is exact for every scheme on dense ``(out, in)`` weights.  On kernels
    ``(out, in, *k)`` it stays exact except for ``'orthogonal'``: that scheme flattens the
    weight to ``(out, fan_in)`` as PyTorch does, so its variance is
    ``gain^2 / max(out, fan_in)``, which the two fans alone do not determine (the
    registry's ``2 / max(fan_in, fan_out)`` assumes ``out = fan_out``).
    """

    name: str
    label: str
    sample: Callable[..., np.ndarray]
    variance: Callable[[int, int], float]

    def __call__(self, shape, rng=None, dtype=np.float32) -> np.ndarray:
        return self.sample(shape, rng=rng, dtype=dtype)


def _scheme(name, label, sample, variance):
    def checked_variance(fan_in, fan_out):
        # Fans are counts of connections: positive integers (NumPy integers included).
        return variance(check_int("fan_in", fan_in, minimum=1),
                        check_int("fan_out", fan_out, minimum=1))
    return name, Scheme(name, label, sample, checked_variance)


_RELU_GAIN = math.sqrt(2.0)

#: The registry of named schemes, in the order the notebooks show them.
SCHEMES: dict[str, Scheme] = dict([
    _scheme("zeros", "zeros", zeros, lambda fi, fo: 0.0),
    _scheme("small_normal", "small normal (σ = 0.01)",
            lambda s, rng=None, dtype=np.float32: normal(s, 0.0, 0.01, rng=rng, dtype=dtype),
            lambda fi, fo: 1e-4),
    _scheme("large_normal", "large normal (σ = 1)",
            lambda s, rng=None, dtype=np.float32: normal(s, 0.0, 1.0, rng=rng, dtype=dtype),
            lambda fi, fo: 1.0),
    _scheme("xavier_normal", "Xavier normal", xavier_normal, lambda fi, fo: 2 / (fi + fo)),
    _scheme("xavier_uniform", "Xavier uniform", xavier_uniform, lambda fi, fo: 2 / (fi + fo)),
    _scheme("lecun_normal", "LeCun normal", lecun_normal, lambda fi, fo: 1 / fi),
    _scheme("kaiming_normal", "Kaiming normal", kaiming_normal, lambda fi, fo: 2 / fi),
    _scheme("kaiming_normal_fan_out", "Kaiming normal (fan_out)",
            lambda s, rng=None, dtype=np.float32: kaiming_normal(
                s, mode="fan_out", rng=rng, dtype=dtype),
            lambda fi, fo: 2 / fo),
    _scheme("kaiming_uniform", "Kaiming uniform", kaiming_uniform, lambda fi, fo: 2 / fi),
    _scheme("kaiming_truncated_normal", "He truncated normal (Keras/JAX)",
            lambda s, rng=None, dtype=np.float32: variance_scaling(
                s, 2.0, "fan_in", "truncated_normal", rng=rng, dtype=dtype),
            lambda fi, fo: 2 / fi),
    _scheme("orthogonal", "orthogonal (gain √2)",
            lambda s, rng=None, dtype=np.float32: orthogonal(s, _RELU_GAIN, rng=rng, dtype=dtype),
            lambda fi, fo: 2 / max(fi, fo)),
    _scheme("pytorch_linear_default", "PyTorch nn.Linear default",
            lambda s, rng=None, dtype=np.float32: kaiming_uniform(
                s, a=math.sqrt(5), rng=rng, dtype=dtype),
            lambda fi, fo: 1 / (3 * fi)),
])


def get_scheme(name: str) -> Scheme:
    """Look up a scheme of :data:`SCHEMES` by name.

    Raises
    ------
    ValueError
        If ``name`` is not a registered scheme (the message lists them).

    Examples
    --------
    >>> get_scheme('kaiming_normal').variance(128, 64)
    0.015625
    """
    check_choice("scheme", name, tuple(SCHEMES))
    return SCHEMES[name]
