"""Argument checks shared by every public function of ``kaiming_lib``.

Each check validates one argument at the public boundary and raises ``TypeError`` for the
wrong kind of object or ``ValueError`` for a value outside its domain.  Every message names
the argument, shows the bad value with ``repr`` and says what is allowed.  Input that is legal
but probably a mistake gets a :class:`SuspiciousInputWarning` from :func:`warn_suspicious`.
"""

import math
import numbers
import operator
import sys
import warnings
from collections.abc import Sequence

import numpy as np

FLOAT_DTYPES = (np.float16, np.float32, np.float64)


class SuspiciousInputWarning(UserWarning):
    """Legal input that is probably a mistake; the message says what to do instead."""


def warn_suspicious(message: str) -> None:
    """Warn with :class:`SuspiciousInputWarning`, pointing at the first caller outside the package.

    The warning names the user's line however deep inside ``kaiming_lib`` it was raised.
    """
    frame, level = sys._getframe(1), 2   # stacklevel 2 is the caller of this function
    while frame is not None and frame.f_globals.get("__name__", "").startswith("kaiming_lib."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, SuspiciousInputWarning, stacklevel=level)


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def check_real(name: str, value, *, positive=False, nonnegative=False, finite=True) -> float:
    """Return ``value`` as a float after checking it is a real number in range."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range, e.g. 10**400
        raise ValueError(f"{name} must be finite, within the float range; got {value!r}") from None
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN; got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be positive; got {value!r}")
    if nonnegative and not value >= 0:
        raise ValueError(f"{name} must be non-negative; got {value!r}")
    return value


def check_int(name: str, value, *, minimum=None, maximum=None) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[minimum, maximum]``."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}; got {value!r}")
    return value


def check_choice(name: str, value, choices):
    """Return ``value`` after checking it is one of ``choices`` (strings)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {_listing(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {_listing(choices)}; got {value!r}")
    return value


def check_shape(name: str, shape, *, min_ndim=0) -> tuple:
    """Return ``shape`` as a tuple of non-negative ints with at least ``min_ndim`` entries."""
    if isinstance(shape, numbers.Integral) and not _is_bool(shape):
        shape = (shape,)
    if (isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray))
            or (isinstance(shape, np.ndarray) and shape.ndim != 1)):
        raise TypeError(f"{name} must be a tuple of integers; got {shape!r}")
    dims = []
    for dim in shape:
        if _is_bool(dim) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"{name} must contain only integers; got {shape!r}")
        if dim < 0:
            raise ValueError(f"{name} must contain only non-negative sizes; got {shape!r}")
        dims.append(int(dim))
    if len(dims) < min_ndim:
        raise ValueError(
            f"{name} needs at least {min_ndim} dimensions (out, in, *kernel) to define "
            f"fan_in and fan_out; got {tuple(dims)!r}"
        )
    return tuple(dims)


def check_float_dtype(name: str, dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy floating dtype (float16, float32 or float64).

    ``None`` is refused: NumPy reads it as float64, which silently doubles the memory of a
    float32 default and hides a forgotten argument.
    """
    if dtype is None:
        raise TypeError(
            f"{name} must be a NumPy floating dtype, one of float16, float32, float64; got None "
            "(NumPy would read None as float64: pass np.float64 if that is meant)"
        )
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a NumPy floating dtype; got {dtype!r}") from None
    if resolved.type not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be one of float16, float32, float64; got {dtype!r}")
    return resolved


def as_rng(rng) -> np.random.Generator:
    """Turn ``None``, a non-negative int seed or a ``Generator`` into a ``Generator``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if _is_bool(rng) or not isinstance(rng, numbers.Integral):
        raise TypeError(
            f"rng must be None, a non-negative int seed or a numpy.random.Generator; got {rng!r}"
        )
    if rng < 0:
        raise ValueError(f"rng seed must be non-negative; got {rng!r}")
    return np.random.default_rng(int(rng))


def check_array(name: str, value, *, ndim=None, min_size=1, finite=True) -> np.ndarray:
    """Check that ``value`` is a real ndarray with ``ndim`` dimensions and finite entries."""
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray; got {type(value).__name__} {value!r:.80}"
        )
    if value.dtype.kind not in "fiu" or value.dtype.kind == "b":
        raise TypeError(f"{name} must have a real numeric dtype; got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {value.shape!r}")
    if value.size < min_size:
        raise ValueError(f"{name} must not be empty; got shape {value.shape!r}")
    if finite and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must contain only finite values; got NaN or infinity")
    return value


def _listing(choices) -> str:
    return ", ".join(repr(c) for c in choices)


def check_weight_chain(weights) -> list[np.ndarray]:
    """Check a non-empty list of 2-D float weights ``(out, in)`` of one dtype that chain."""
    if isinstance(weights, (np.ndarray, str)) or not isinstance(weights, Sequence) or not weights:
        raise TypeError(
            f"weights must be a non-empty list of 2-D arrays W_l of shape (n_l, n_(l-1)); "
            f"got {type(weights).__name__}"
        )
    checked = [check_array(f"weights[{i}]", w, ndim=2) for i, w in enumerate(weights)]
    for i, w in enumerate(checked):
        if w.dtype.type not in FLOAT_DTYPES:
            raise TypeError(
                f"weights[{i}] must have a floating dtype (float16, float32 or float64); "
                f"got dtype {w.dtype}"
            )
        if w.dtype != checked[0].dtype:
            raise TypeError(
                f"weights must all have one dtype; weights[0] is {checked[0].dtype} and "
                f"weights[{i}] is {w.dtype}"
            )
    for i in range(1, len(checked)):
        if checked[i].shape[1] != checked[i - 1].shape[0]:
            raise ValueError(
                f"weights[{i}] has shape {checked[i].shape!r} but weights[{i - 1}] gives "
                f"{checked[i - 1].shape[0]} outputs; W_l must have shape (n_l, n_(l-1))"
            )
    return checked
