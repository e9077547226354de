"""Layer-sequential unit-variance (LSUV) initialization: a data-driven alternative to Kaiming.

Mishkin and Matas (2015) start from orthonormal weights (Saxe et al. 2013) and then, layer by
layer from the input, rescale each weight until the layer's output has unit variance on a
minibatch.  Where Kaiming's :math:`\\mathrm{Var}[w] = 2/n_\\mathrm{in}` sets the scale from a
derivation that assumes ReLU and independent weights, LSUV measures it, so the same code
serves any activation, and the finite-width fluctuations of one draw are corrected on the
batch it sees.

The layout is the course's (:mod:`kaiming_lib.mlp`): ``weights[l]`` has shape
``(out, in)``, a layer computes ``z_l = x_{l-1} W_l^T + b_l`` and ``x_l = f(z_l)``, with the
activation after every layer except the last.  The variance that LSUV sets to one is that
of ``z_l`` (the layer's output before its activation), over every value of the batch.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((256, 64))
>>> net, record = lsuv_mlp([64, 128, 128, 10], x, rng=1)
>>> record.converged.tolist(), record.final_variance.round(2).tolist()
([True, True, True], [1.0, 1.0, 1.0])
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import (
    as_rng, check_array, check_choice, check_float_dtype, check_int, check_real,
    check_weight_chain,
)
from .init import orthogonal
from .mlp import ACTIVATIONS, MLP, _check_layer_sizes

__all__ = ["DEFAULT_TOL", "DEFAULT_MAX_ITER", "LSUVRecord", "orthogonal_weights", "lsuv",
           "lsuv_mlp"]

#: Default tolerance on the *variance*, ``|Var[z_l] - 1| < tol``: the margin of 0.02 of the
#: author's Caffe script (ducha-aiki/LSUVinit).  His PyTorch port tests the std against 0.1
#: instead, and the Torch port linked from his README the variance against 0.1.
DEFAULT_TOL = 0.02

#: Default cap on the rescalings of one layer: the Caffe script's 20 (the ports use 10).
DEFAULT_MAX_ITER = 20


@dataclass(frozen=True, eq=False)
class LSUVRecord:
    """What LSUV did to each layer; arrays are shaped ``(n_layers,)``.

    Attributes
    ----------
    iterations : ndarray of int
        Rescalings applied to the layer (0 when its start already met the tolerance).
    initial_variance : ndarray of float
        ``Var[z_l]`` on the batch before layer ``l`` was rescaled (the earlier layers
        already rescaled).
    final_variance : ndarray of float
        ``Var[z_l]`` on the batch after the last rescaling.
    converged : ndarray of bool
        Whether ``|final_variance - 1| < tol``.
    tol : float
    max_iter : int
    """

    iterations: np.ndarray
    initial_variance: np.ndarray
    final_variance: np.ndarray
    converged: np.ndarray
    tol: float
    max_iter: int

    @property
    def n_layers(self) -> int:
        """The number of layers."""
        return self.iterations.size


def orthogonal_weights(layer_sizes: Sequence[int], *, rng=None,
                       dtype=np.float32) -> list[np.ndarray]:
    """Draw LSUV's starting point: one (semi-)orthogonal ``(out, in)`` matrix per layer.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., n_out)``, at least two entries, all positive.
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32

    Returns
    -------
    list of ndarray
        ``weights[l]`` of shape ``(layer_sizes[l + 1], layer_sizes[l])`` with orthonormal
        rows (``out <= in``) or columns (``out > in``), gain 1.

    Raises
    ------
    TypeError, ValueError
        For bad sizes, ``rng`` or ``dtype``.

    Examples
    --------
    >>> ws = orthogonal_weights([4, 8, 3], rng=0, dtype=np.float64)
    >>> [w.shape for w in ws], bool(np.allclose(ws[0].T @ ws[0], np.eye(4)))
    ([(8, 4), (3, 8)], True)
    """
    sizes = _check_layer_sizes(layer_sizes)
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    return [orthogonal((n_out, n_in), rng=rng, dtype=dtype)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def lsuv(weights: Sequence[np.ndarray], x: np.ndarray, activation: str = "relu", *,
         biases: Sequence[np.ndarray] | None = None, negative_slope: float = 0.01,
         tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER
         ) -> tuple[list[np.ndarray], LSUVRecord]:
    """Rescale each layer's weight, from the input up, until its output has unit variance.

    Parameters
    ----------
    weights : sequence of 2-D floating ndarrays
        ``weights[l]`` of shape ``(out_l, in_l)`` with ``in_l = out_{l-1}``, finite, all of
        one dtype; usually :func:`orthogonal_weights`.  Not modified.
    x : (batch, in_0) ndarray
        The minibatch, finite and real; cast to the weights' dtype.  Not modified.
    activation : {'relu', 'leaky_relu', 'tanh', 'identity'}
        Applied after every layer except the last, as in :class:`kaiming_lib.mlp.MLP`.
    biases : sequence of 1-D ndarrays, optional
        ``biases[l]`` of shape ``(out_l,)``; zeros when omitted.  Used, never rescaled.
    negative_slope : real in [0, 1], default 0.01
        Slope of ``'leaky_relu'``.
    tol : real in (0, 1), default :data:`DEFAULT_TOL` (0.02)
        A layer is done when ``|Var[z_l] - 1| < tol``.
    max_iter : int, default :data:`DEFAULT_MAX_ITER` (20)
        At most this many rescalings per layer (at least 1).

    Returns
    -------
    weights : list of ndarray
        New arrays, the rescaled weights.
    record : LSUVRecord
        Per layer: rescalings applied, variance before and after, convergence.

    Warns
    -----
    UserWarning
        When a layer misses the tolerance: after ``max_iter`` rescalings, or at once when
        its output has zero or non-finite variance and cannot be rescaled.  The record's
        ``converged`` flags say which.

    Raises
    ------
    TypeError
        If ``weights`` is not a sequence of 2-D floating arrays of one dtype, ``x`` or a
        bias not an ndarray, or an option has the wrong kind.
    ValueError
        If the shapes do not chain, a value is not finite, or ``activation``,
        ``negative_slope``, ``tol`` or ``max_iter`` is outside its domain.

    Notes
    -----
    One rescaling is :math:`W_l \\leftarrow W_l / \\sqrt{\\mathrm{Var}[z_l]}` with the
    variance over all ``batch * out_l`` values of ``z_l = x_{l-1} W_l^T + b_l``
    (Algorithm 1 of the paper).  Without a bias, ``z_l`` is linear in ``W_l``, so one
    rescaling reaches variance 1 up to rounding; a bias makes the map affine and the loop
    converges geometrically, or not at all when the spread of the bias alone exceeds 1.
    The author's PyTorch port also shifts the bias towards a zero mean; this function
    does not.

    References
    ----------
    Mishkin, Matas (2015), All you need is a good init, arXiv:1511.06422, Algorithm 1.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ws = orthogonal_weights([32, 64, 64], rng=rng)
    >>> new, record = lsuv(ws, rng.standard_normal((128, 32)), 'tanh')
    >>> record.iterations.tolist(), bool(np.all(np.abs(record.final_variance - 1) < 0.02))
    ([1, 1], True)
    """
    weights = check_weight_chain(weights)
    dtype = weights[0].dtype
    x = check_array("x", x, ndim=2)
    if x.shape[1] != weights[0].shape[1]:
        raise ValueError(f"x must have shape (batch, {weights[0].shape[1]}) to match "
                         f"weights[0]; got {x.shape!r}")
    biases = _check_biases(biases, weights)
    check_choice("activation", activation, ACTIVATIONS)
    slope = check_real("negative_slope", negative_slope)
    if not 0 <= slope <= 1:
        raise ValueError(f"negative_slope must be in [0, 1]; got {negative_slope!r}")
    tol = check_real("tol", tol)
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), a margin on the variance; got {tol!r}")
    max_iter = check_int("max_iter", max_iter, minimum=1)

    new = [w.copy() for w in weights]
    a = x.astype(dtype)
    rows = []
    with np.errstate(all="ignore"):  # a diverging start is flagged in the record instead
        for l, (w, b) in enumerate(zip(new, biases)):
            rows.append(_rescale_layer(w, b, a, tol, max_iter))
            z = a @ w.T + b
            a = z if l == len(new) - 1 else _activate(z, activation, slope)
    record = _record(rows, tol, max_iter)
    if not record.converged.all():
        bad = np.flatnonzero(~record.converged).tolist()
        warnings.warn(f"LSUV did not reach |Var - 1| < {tol} for layers {bad} (0-based) "
                      f"within max_iter={max_iter}; final variances "
                      f"{np.round(record.final_variance[bad], 4).tolist()}", stacklevel=2)
    return new, record


def lsuv_mlp(layer_sizes: Sequence[int], x: np.ndarray, activation: str = "relu", *,
             negative_slope: float = 0.01, tol: float = DEFAULT_TOL,
             max_iter: int = DEFAULT_MAX_ITER, rng=None,
             dtype=np.float32) -> tuple[MLP, LSUVRecord]:
    """Build an :class:`~kaiming_lib.mlp.MLP` initialized by LSUV on the batch ``x``.

    Orthogonal weights from :func:`orthogonal_weights`, zero biases, then :func:`lsuv`.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., n_out)``; ``n_in`` must equal ``x.shape[1]``.
    x : (batch, n_in) ndarray
    activation, negative_slope, tol, max_iter
        As in :func:`lsuv`.
    rng : None, int or numpy.random.Generator
        Draws the orthogonal start.
    dtype : floating dtype, default float32

    Returns
    -------
    net : MLP
    record : LSUVRecord

    Raises
    ------
    TypeError, ValueError
        As :func:`orthogonal_weights` and :func:`lsuv`.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((200, 16))
    >>> net, record = lsuv_mlp([16, 32, 4], x, 'leaky_relu', negative_slope=0.1, rng=0)
    >>> net.activation, net.negative_slope, record.n_layers
    ('leaky_relu', 0.1, 2)
    """
    weights = orthogonal_weights(layer_sizes, rng=rng, dtype=dtype)
    weights, record = lsuv(weights, x, activation, negative_slope=negative_slope, tol=tol,
                           max_iter=max_iter)
    return MLP(weights, activation=activation, negative_slope=negative_slope), record


def _rescale_layer(w, b, a, tol, max_iter) -> tuple:
    """Rescale ``w`` in place until ``Var[a w^T + b]`` is within ``tol`` of 1."""
    initial = variance = _output_variance(w, b, a)
    iterations = 0
    while not abs(variance - 1.0) < tol and iterations < max_iter:
        if not (math.isfinite(variance) and variance > 0):
            break   # nothing to divide by: a dead or overflowing layer stays as it is
        w *= w.dtype.type(1.0 / math.sqrt(variance))
        variance = _output_variance(w, b, a)
        iterations += 1
    return iterations, initial, variance, abs(variance - 1.0) < tol


def _output_variance(w, b, a) -> float:
    # Accumulated in float64, so that a float32 batch of any size gives the variance its
    # values have, not the rounding error of a long float32 sum.
    return float(np.var(a @ w.T + b, dtype=np.float64))


def _activate(z, activation, slope):
    if activation == "relu":
        return np.maximum(z, 0)
    if activation == "leaky_relu":
        return np.maximum(z, z * z.dtype.type(slope))
    if activation == "tanh":
        return np.tanh(z)
    return z


def _record(rows, tol, max_iter) -> LSUVRecord:
    iterations, initial, final, converged = zip(*rows)
    return LSUVRecord(np.array(iterations), np.array(initial), np.array(final),
                      np.array(converged, dtype=bool), tol, max_iter)


def _check_biases(biases, weights) -> list[np.ndarray]:
    dtype = weights[0].dtype
    if biases is None:
        return [np.zeros(w.shape[0], dtype) for w in weights]
    if isinstance(biases, (np.ndarray, str)) or not isinstance(biases, Sequence):
        raise TypeError(f"biases must be None or a list of 1-D arrays; "
                        f"got {type(biases).__name__}")
    if len(biases) != len(weights):
        raise ValueError(f"biases must have one entry per layer, {len(weights)}; "
                         f"got {len(biases)}")
    checked = []
    for i, (b, w) in enumerate(zip(biases, weights)):
        b = check_array(f"biases[{i}]", b, ndim=1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"biases[{i}] must have shape {(w.shape[0],)!r}; "
                             f"got {b.shape!r}")
        checked.append(b.astype(dtype))
    return checked
