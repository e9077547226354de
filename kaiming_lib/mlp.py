"""A multilayer perceptron in NumPy, with backpropagation written out by hand.

The layout is the course's (and PyTorch's): layer ``l`` has a weight ``W_l`` of shape
``(out, in)`` and a bias ``b_l`` of shape ``(out,)``, and maps a batch ``x`` of shape
``(batch, in)`` to

.. math:: z_l = x_{l-1} W_l^\\top + b_l, \\qquad x_l = f(z_l),

with the activation ``f`` after every layer except the last, whose ``z_L`` are the outputs
(logits).  Backpropagation runs the chain rule from the loss back to ``W_1``:

.. math:: \\frac{\\partial L}{\\partial W_l} = \\delta_l^\\top x_{l-1}, \\quad
          \\frac{\\partial L}{\\partial b_l} = \\textstyle\\sum_\\mathrm{batch} \\delta_l,
          \\quad \\delta_{l-1} = (\\delta_l W_l) \\odot f'(z_{l-1}),

where ``delta_l = dL/dz_l``.  Every ``f'`` used here can be read off the layer's *output*
``x_l = f(z_l)``, so the forward pass keeps only the layer inputs.

All parameters of a network live in one flat array (``MLP.params``); ``MLP.weights`` and
``MLP.biases`` are views into it.  An optimizer step is therefore a handful of vectorised
operations on one array, whatever the depth, which keeps Python overhead small.

Contents: :class:`MLP` and :func:`init_mlp`; :func:`forward`, :func:`backward`,
:func:`predict`; the losses :func:`softmax_cross_entropy` and :func:`mean_squared_error`;
the optimizers :class:`SGD` and :class:`Adam`; :func:`train_epoch`, :func:`evaluate`,
:func:`train` and its :class:`History`; the diagnostics :func:`dead_unit_fraction` and
:func:`layer_norms`.
"""

import math
import numbers
import os
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ._validation import (
    FLOAT_DTYPES, as_rng, check_array, check_choice, check_float_dtype, check_int, check_real,
    check_weight_chain,
)
from .init import get_scheme

__all__ = [
    "ACTIVATIONS", "LOSSES", "MAX_EPOCHS", "MAX_NETWORK_BYTES", "MAX_WORKSPACE_BYTES",
    "MLP", "Gradients", "Workspace", "History", "SGD", "Adam",
    "init_mlp", "forward", "backward", "predict",
    "softmax_cross_entropy", "mean_squared_error", "loss_and_gradient",
    "train_epoch", "evaluate", "train", "dead_unit_fraction", "layer_norms",
]

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "identity")
LOSSES = ("cross_entropy", "mse")
Activation = Literal["relu", "leaky_relu", "tanh", "identity"]
LossName = Literal["cross_entropy", "mse"]

_EVAL_CHUNK = 4096  # rows per forward pass in evaluation: bounds memory on large sets
_BLOCK = 1 << 16     # elements per optimizer block: a few 256 KiB blocks fit a 1 MiB L2
# Optimizer steps on more elements than this are split over _N_THREADS threads (below it,
# starting the threads costs more than they save).
_PARALLEL_MIN = 1 << 20
_POOL = None


def _thread_count() -> int:
    """Threads for optimizer steps: the BLAS thread setting if one is given, else the CPUs."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return min(4, int(value))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cpus or 1))


_N_THREADS = _thread_count()

#: Largest network :func:`init_mlp` builds, in bytes of parameters and temporaries (4 GiB).
MAX_NETWORK_BYTES = 4 * 2**30
#: Largest :class:`Workspace` (the arrays of one training step), in bytes (4 GiB).
MAX_WORKSPACE_BYTES = 4 * 2**30
#: Most epochs :func:`train` runs in one call (its history has a row per epoch).
MAX_EPOCHS = 100_000


# -- the network ------------------------------------------------------------------------------

def _parameter_views(flat: np.ndarray, layer_sizes) -> tuple[list, list]:
    """Cut a flat array into per-layer ``(out, in)`` weight and ``(out,)`` bias views."""
    weights, biases, start = [], [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        weights.append(flat[start:start + n_out * n_in].reshape(n_out, n_in))
        start += n_out * n_in
        biases.append(flat[start:start + n_out])
        start += n_out
    return weights, biases


def _n_parameters(layer_sizes) -> int:
    return sum((n_in + 1) * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


class MLP:
    """A fully connected network: linear layers with an activation between them.

    Parameters
    ----------
    weights : sequence of 2-D ndarrays
        ``weights[l]`` has shape ``(out_l, in_l)`` with ``in_l = out_{l-1}``; all of one
        floating dtype, which becomes the network's dtype.  They are copied.
    biases : sequence of 1-D ndarrays, optional
        ``biases[l]`` has shape ``(out_l,)``; zeros when omitted.
    activation : {'relu', 'leaky_relu', 'tanh', 'identity'}
        Applied after every layer except the last.
    negative_slope : float in [0, 1], default 0.01
        Slope of ``'leaky_relu'`` for negative inputs (ignored otherwise).

    Attributes
    ----------
    layer_sizes : tuple of int
        ``(n_in, width_1, ..., n_out)``.
    params : (n_parameters,) ndarray
        Every weight and bias, layer by layer (``W_1``, ``b_1``, ``W_2``, ...).
    weights, biases : lists of ndarrays
        Views into ``params``: writing into them changes the network.

    Examples
    --------
    >>> net = MLP([np.ones((3, 2)), np.ones((1, 3))])
    >>> net.layer_sizes, net.n_layers, net.params.shape, net.dtype
    ((2, 3, 1), 2, (13,), dtype('float64'))
    """

    def __init__(self, weights: Sequence[np.ndarray], biases=None, *,
                 activation: Activation = "relu", negative_slope: float = 0.01):
        weights = check_weight_chain(weights)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.negative_slope = _check_slope(negative_slope)
        self.layer_sizes = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
        self.params = np.zeros(_n_parameters(self.layer_sizes), dtype=weights[0].dtype)
        self.weights, self.biases = _parameter_views(self.params, self.layer_sizes)
        for view, w in zip(self.weights, weights):
            view[...] = w
        if biases is not None:
            for view, b in zip(self.biases, _check_biases(biases, self.layer_sizes)):
                view[...] = b

    @property
    def n_layers(self) -> int:
        """Number of linear layers (hidden layers plus the output layer)."""
        return len(self.weights)

    @property
    def dtype(self) -> np.dtype:
        """The floating dtype of every parameter and computation."""
        return self.params.dtype

    def copy(self) -> "MLP":
        """Return an independent copy (same parameters, activation and slope)."""
        return MLP(self.weights, self.biases, activation=self.activation,
                   negative_slope=self.negative_slope)

    def __repr__(self) -> str:
        return (f"MLP(layer_sizes={self.layer_sizes}, activation={self.activation!r}, "
                f"dtype={self.dtype})")


def _check_net(net) -> None:
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP; got {type(net).__name__}")


def _check_layer_inputs(inputs, *, non_empty: bool = False) -> None:
    """Check that ``inputs`` is a list (of arrays), as :func:`forward` returns it."""
    if (isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence)
            or (non_empty and not inputs)):
        raise TypeError(f"inputs must be the list of layer inputs that forward returns; got "
                        f"{type(inputs).__name__}")


def _check_biases(biases, layer_sizes) -> list:
    if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
        raise TypeError(f"biases must be a list of 1-D ndarrays; got {biases!r:.80}")
    if len(biases) != len(layer_sizes) - 1:
        raise ValueError(f"biases must have one entry per layer ({len(layer_sizes) - 1}); "
                         f"got {len(biases)}")
    for l, b in enumerate(biases):
        check_array(f"biases[{l}]", b, ndim=1)
        if b.shape != (layer_sizes[l + 1],):
            raise ValueError(f"biases[{l}] must have shape {(layer_sizes[l + 1],)!r}; "
                             f"got {b.shape!r}")
    return list(biases)


def _check_slope(value) -> float:
    value = check_real("negative_slope", value)
    if not 0 <= value <= 1:
        raise ValueError(f"negative_slope must lie in [0, 1]; got {value!r}")
    return value


def init_mlp(layer_sizes: Sequence[int], scheme: str = "kaiming_normal", *,
             activation: Activation = "relu", negative_slope: float = 0.01,
             bias: float | Literal["uniform"] = 0.0, rng=None, dtype=np.float32) -> MLP:
    """Build a network whose weights come from a registered initialization scheme.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., n_out)``, at least two entries, all positive.
    scheme : str, default 'kaiming_normal'
        A name in :data:`kaiming_lib.init.SCHEMES` (e.g. ``'zeros'``, ``'xavier_normal'``,
        ``'kaiming_uniform'``), used for every layer.
    activation : {'relu', 'leaky_relu', 'tanh', 'identity'}
    negative_slope : float in [0, 1], default 0.01
    bias : float or 'uniform', default 0.0
        A constant for every bias, or ``'uniform'`` for PyTorch's ``nn.Linear`` default
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
    rng : None, int or numpy.random.Generator
        All weights are drawn first, layer by layer, then the biases, so the weights do not
        depend on the choice of ``bias``.
    dtype : floating dtype, default float32

    Returns
    -------
    MLP

    Raises
    ------
    TypeError, ValueError
        For a bad size, an unknown scheme or activation, or a bad ``bias``.

    Examples
    --------
    >>> net = init_mlp([64, 128, 128, 10], "kaiming_normal", rng=0)
    >>> net
    MLP(layer_sizes=(64, 128, 128, 10), activation='relu', dtype=float32)
    >>> round(float(net.weights[1].var() * 128), 1)     # Var[w] = 2 / fan_in
    2.0
    """
    sizes = _check_layer_sizes(layer_sizes)
    sample = get_scheme(scheme).sample
    dtype, rng = check_float_dtype("dtype", dtype), as_rng(rng)
    _check_network_bytes(sizes, dtype)
    weights = [sample((n_out, n_in), rng=rng, dtype=dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [_draw_bias(bias, n_in, n_out, rng, dtype)
              for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return MLP(weights, biases, activation=activation, negative_slope=negative_slope)


def _check_network_bytes(sizes, dtype) -> None:
    """Refuse a network whose parameters could not reasonably be held in memory."""
    # the weights as drawn, their copy in MLP.params, and one float64 layer while drawing
    n_bytes = (2 * _n_parameters(sizes) * dtype.itemsize
               + 8 * max(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])))
    if n_bytes > MAX_NETWORK_BYTES:
        raise ValueError(f"layer_sizes {list(sizes)!r} need {n_bytes / 2**30:.3g} GiB to build; "
                         f"the limit is MAX_NETWORK_BYTES = {MAX_NETWORK_BYTES / 2**30:g} GiB")


def _check_layer_sizes(layer_sizes) -> tuple:
    if (isinstance(layer_sizes, (str, bytes))
            or not isinstance(layer_sizes, (Sequence, np.ndarray))
            or np.ndim(layer_sizes) != 1):
        raise TypeError(f"layer_sizes must be a sequence of integers; got {layer_sizes!r}")
    sizes = tuple(check_int("layer_sizes entry", n, minimum=1) for n in layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size; "
                         f"got {layer_sizes!r}")
    return sizes


def _draw_bias(bias, n_in, n_out, rng, dtype) -> np.ndarray:
    if isinstance(bias, str):
        check_choice("bias", bias, ("uniform",))
        bound = 1.0 / math.sqrt(n_in)
        return rng.uniform(-bound, bound, size=n_out).astype(dtype)
    if isinstance(bias, (bool, np.bool_)) or not isinstance(bias, numbers.Real):
        raise TypeError(f"bias must be a real number or 'uniform'; got {bias!r}")
    value, largest = check_real("bias", bias), float(np.finfo(dtype).max)
    if abs(value) > largest:
        raise ValueError(f"bias {value!r} does not fit in {np.dtype(dtype).name} (largest "
                         f"{largest:.3g})")
    return np.full(n_out, value, dtype=dtype)


# -- forward and backward ---------------------------------------------------------------------

class Workspace:
    """Preallocated arrays for the forward and backward passes, reused between steps.

    Allocating fresh arrays at every layer of every step costs more than the arithmetic
    for small layers (the memory allocator returns and re-requests pages from the system),
    so the training loop lets :func:`forward` and :func:`backward` write into these
    instead.  Results computed with a workspace are overwritten by the next call using it.

    Parameters
    ----------
    net : MLP
    batch_size : int
        The largest batch the workspace serves; smaller batches use its leading rows.

    Raises
    ------
    ValueError
        If the arrays would need more than :data:`MAX_WORKSPACE_BYTES`.

    Examples
    --------
    >>> workspace = Workspace(init_mlp([4, 8, 3], rng=0), batch_size=16)
    >>> [a.shape for a in workspace.outputs], [d.shape for d in workspace.deltas]
    ([(16, 8), (16, 3)], [(16, 8)])
    """

    def __init__(self, net: "MLP", batch_size: int):
        _check_net(net)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        sizes, dtype = net.layer_sizes, net.dtype
        hidden = sorted(set(sizes[1:-1]))
        # outputs and deltas, plus one zeros, mask and boolean array per hidden width
        n_bytes = batch_size * (dtype.itemsize * (sum(sizes[1:]) + sum(sizes[1:-1])
                                                  + 2 * sum(hidden) + 1) + sum(hidden))
        if n_bytes > MAX_WORKSPACE_BYTES:
            raise ValueError(f"batch_size {batch_size!r} needs {n_bytes / 2**30:.3g} GiB of "
                             f"workspace for layer sizes {sizes}; the limit is "
                             f"MAX_WORKSPACE_BYTES = {MAX_WORKSPACE_BYTES / 2**30:g} GiB")
        self.batch_size = batch_size
        self._nbytes = n_bytes
        #: ``outputs[l]``: layer ``l``'s output, shape ``(batch_size, layer_sizes[l + 1])``.
        self.outputs = [np.empty((batch_size, n), dtype) for n in sizes[1:]]
        #: ``deltas[l - 1]``: ``dL/dz`` of hidden layer ``l - 1``, for layers ``1 ... L-1``.
        self.deltas = [np.empty((batch_size, n), dtype) for n in sizes[1:-1]]
        # Scratch, by width.  ``np.maximum(z, zeros)`` against a whole array of zeros runs
        # several times faster than against the scalar 0, which NumPy does not vectorise.
        self._zeros = {n: np.zeros((batch_size, n), dtype) for n in hidden}
        self._masks = {n: np.empty((batch_size, n), dtype) for n in hidden}
        self._flags = {n: np.empty((batch_size, n), bool) for n in hidden}
        self._ones = np.ones(batch_size, dtype)


def _activate_(z: np.ndarray, net: "MLP", workspace: Workspace) -> None:
    """Apply the network's activation to the hidden pre-activations ``z`` in place."""
    if net.activation == "relu":
        np.maximum(z, workspace._zeros[z.shape[1]][:len(z)], out=z)
    elif net.activation == "leaky_relu":   # max(z, a z) is leaky ReLU for 0 <= a <= 1
        scaled = np.multiply(z, z.dtype.type(net.negative_slope),
                             out=workspace._masks[z.shape[1]][:len(z)])
        np.maximum(z, scaled, out=z)
    elif net.activation == "tanh":
        np.tanh(z, out=z)


def _multiply_by_derivative_(delta: np.ndarray, output: np.ndarray, net: "MLP",
                             workspace: Workspace) -> None:
    """Multiply ``delta`` in place by ``f'(z)``, read off the activation's output ``f(z)``.

    ReLU and leaky ReLU: ``f(z) > 0`` exactly when ``z > 0`` (the derivative at 0 is taken
    as the left one, 0 or the slope, as in PyTorch); tanh: ``1 - f(z)^2``.  The factor is
    built in a float scratch array first: multiplying by a boolean array directly makes
    NumPy convert it element by element, which is slower than the two steps.
    """
    if net.activation == "identity":
        return
    n, width = output.shape
    factor = workspace._masks[width][:n]
    if net.activation == "tanh":
        np.multiply(output, output, out=factor)
        np.subtract(factor.dtype.type(1), factor, out=factor)
    else:
        positive = np.greater(output, 0, out=workspace._flags[width][:n])
        np.copyto(factor, positive)                            # 1 where z > 0, else 0
        if net.activation == "leaky_relu":
            factor[~positive] = net.negative_slope
    delta *= factor


def forward(net: MLP, x: np.ndarray, *,
            workspace: Workspace | None = None) -> tuple[np.ndarray, list]:
    """Run the network on a batch, keeping what backpropagation needs.

    Parameters
    ----------
    net : MLP
    x : (batch, n_in) ndarray
        Finite; cast to the network's dtype if needed.
    workspace : Workspace, optional
        Write the layer outputs into its arrays instead of allocating new ones; it must
        serve at least ``len(x)`` rows.

    Returns
    -------
    outputs : (batch, n_out) ndarray
        The last layer's pre-activations (logits).
    inputs : list of ndarrays
        ``inputs[l]`` is the input of layer ``l``: ``x`` itself, then each hidden layer's
        activation output, shapes ``(batch, layer_sizes[l])``.

    Raises
    ------
    TypeError, ValueError
        If ``x`` is not a finite 2-D real ndarray with ``layer_sizes[0]`` columns, or the
        workspace is too small or belongs to a network of other sizes.

    Examples
    --------
    >>> net = init_mlp([4, 8, 3], rng=0)
    >>> outputs, inputs = forward(net, np.ones((5, 4), dtype=np.float32))
    >>> outputs.shape, [a.shape for a in inputs]
    ((5, 3), [(5, 4), (5, 8)])
    """
    x = _check_input(net, x)
    return _forward(net, x, _workspace_for(net, workspace, len(x)))


def _forward(net: MLP, a: np.ndarray, workspace: Workspace) -> tuple[np.ndarray, list]:
    """:func:`forward` without the checks: ``a`` has the network's dtype and width."""
    n, last = len(a), net.n_layers - 1
    inputs = []
    for l, (w, b, out) in enumerate(zip(net.weights, net.biases, workspace.outputs)):
        inputs.append(a)
        a = np.matmul(a, w.T, out=out[:n])
        a += b
        if l < last:
            _activate_(a, net, workspace)
    return a, inputs


def _workspace_for(net: MLP, workspace, n_rows: int) -> Workspace:
    """Return ``workspace`` after checking it fits, or a new one for ``n_rows`` rows."""
    if workspace is None:
        return Workspace(net, max(n_rows, 1))
    if not isinstance(workspace, Workspace):
        raise TypeError(f"workspace must be a Workspace or None; got "
                        f"{type(workspace).__name__}")
    shapes = tuple(a.shape[1] for a in workspace.outputs)
    if shapes != net.layer_sizes[1:] or workspace.outputs[0].dtype != net.dtype:
        raise ValueError("workspace was made for another network (layer sizes or dtype "
                         "differ); make one with Workspace(net, batch_size)")
    if n_rows > workspace.batch_size:
        raise ValueError(f"the batch has {n_rows} rows but the workspace serves at most "
                         f"{workspace.batch_size}")
    return workspace


def _check_input(net: MLP, x, name: str = "x") -> np.ndarray:
    _check_net(net)
    check_array(name, x, ndim=2)
    if x.shape[1] != net.layer_sizes[0]:
        raise ValueError(f"{name} must have {net.layer_sizes[0]} columns (the network's input "
                         f"size); got shape {x.shape!r}")
    if x.dtype == net.dtype:
        return x
    with np.errstate(over="ignore"):
        cast = x.astype(net.dtype)
    if not np.all(np.isfinite(cast)):
        raise ValueError(f"{name} must fit the network's dtype {net.dtype} (magnitudes up to "
                         f"{np.finfo(net.dtype).max:.3g}); got values up to "
                         f"{float(np.max(np.abs(x))):.3g}")
    return cast


def predict(net: MLP, x: np.ndarray) -> np.ndarray:
    """Return the network's outputs (logits) for ``x``, without keeping a cache.

    Large inputs are processed in chunks of 4,096 rows to bound memory.  ``x`` must be
    finite, as for :func:`forward`.

    Examples
    --------
    >>> predict(init_mlp([4, 8, 3], rng=0), np.ones((5, 4))).shape
    (5, 3)
    """
    return _predict(net, _check_input(net, x))


def _predict(net: MLP, x: np.ndarray) -> np.ndarray:
    workspace = Workspace(net, min(max(len(x), 1), _EVAL_CHUNK))
    return np.concatenate([_forward(net, x[i:i + _EVAL_CHUNK], workspace)[0].copy()
                           for i in range(0, max(len(x), 1), _EVAL_CHUNK)])


@dataclass(frozen=True, eq=False)
class Gradients:
    """Gradients of a loss with respect to every parameter of an :class:`MLP`.

    Attributes
    ----------
    flat : (n_parameters,) ndarray
        Laid out like ``MLP.params``.
    weights, biases : lists of ndarrays
        Views into ``flat`` shaped like ``MLP.weights`` and ``MLP.biases``.
    """

    flat: np.ndarray
    weights: list
    biases: list

    @classmethod
    def like(cls, net: MLP) -> "Gradients":
        """Allocate zero gradients shaped like ``net``'s parameters."""
        flat = np.zeros_like(net.params)
        return cls(flat, *_parameter_views(flat, net.layer_sizes))


def backward(net: MLP, inputs: list, grad_outputs: np.ndarray,
             out: Gradients | None = None, *, workspace: Workspace | None = None) -> Gradients:
    """Backpropagate ``dL/d(outputs)`` to the gradient of every weight and bias.

    Parameters
    ----------
    net : MLP
    inputs : list of ndarrays
        The second value returned by :func:`forward` on the same batch.
    grad_outputs : (batch, n_out) ndarray
        ``dL/dz_L``, e.g. from :func:`softmax_cross_entropy`.
    out : Gradients, optional
        Where to write (reused between steps to avoid allocation); new when omitted.
    workspace : Workspace, optional
        Write the intermediate ``delta_l`` into its arrays instead of allocating them.

    Returns
    -------
    Gradients

    Notes
    -----
    Layer by layer, from the last: ``dW_l = delta_l^T x_{l-1}``, ``db_l`` is the sum of
    ``delta_l`` over the batch (computed as the product ``1^T delta_l`` with a vector of
    ones, which BLAS does faster than a summation), and
    ``delta_{l-1} = (delta_l W_l) * f'(z_{l-1})``.

    Examples
    --------
    >>> net = init_mlp([4, 8, 3], rng=0)
    >>> outputs, inputs = forward(net, np.ones((5, 4), dtype=np.float32))
    >>> grads = backward(net, inputs, np.ones_like(outputs))
    >>> [g.shape for g in grads.weights], grads.biases[1].tolist()
    ([(8, 4), (3, 8)], [5.0, 5.0, 5.0])
    """
    _check_backward_args(net, inputs, grad_outputs, out)
    grads = Gradients.like(net) if out is None else out
    _backward(net, inputs, grad_outputs, grads,
              _workspace_for(net, workspace, len(grad_outputs)))
    return grads


def _check_backward_args(net, inputs, grad_outputs, out) -> None:
    _check_net(net)
    _check_layer_inputs(inputs)
    if len(inputs) != net.n_layers:
        raise ValueError(f"inputs must hold one array per layer ({net.n_layers}); got "
                         f"{len(inputs)}")
    check_array("grad_outputs", grad_outputs, ndim=2)
    n = len(grad_outputs)
    if grad_outputs.shape != (n, net.layer_sizes[-1]) or grad_outputs.dtype != net.dtype:
        raise ValueError(f"grad_outputs must have shape (batch, {net.layer_sizes[-1]}) and "
                         f"dtype {net.dtype}; got shape {grad_outputs.shape!r}, dtype "
                         f"{grad_outputs.dtype}")
    for l, a in enumerate(inputs):
        check_array(f"inputs[{l}]", a, ndim=2, finite=False)
        if a.shape != (n, net.layer_sizes[l]) or a.dtype != net.dtype:
            raise ValueError(f"inputs[{l}] must have shape ({n}, {net.layer_sizes[l]}) and "
                             f"dtype {net.dtype}, as forward returns it for this batch; got "
                             f"shape {a.shape!r}, dtype {a.dtype}")
    if out is not None and not (isinstance(out, Gradients) and out.flat.shape == net.params.shape
                                and out.flat.dtype == net.dtype):
        raise TypeError("out must be None or Gradients.like(net) for this network")


def _backward(net: MLP, inputs: list, delta: np.ndarray, grads: Gradients,
              workspace: Workspace) -> None:
    """:func:`backward` into ``grads``, without the checks."""
    n = len(delta)
    ones = workspace._ones[:n]
    for l in range(net.n_layers - 1, -1, -1):
        np.matmul(delta.T, inputs[l], out=grads.weights[l])
        np.matmul(ones, delta, out=grads.biases[l])               # sum over the batch
        if l > 0:
            delta = np.matmul(delta, net.weights[l], out=workspace.deltas[l - 1][:n])
            _multiply_by_derivative_(delta, inputs[l], net, workspace)


# -- losses -----------------------------------------------------------------------------------

def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the mean softmax cross-entropy and its gradient with respect to the logits.

    Parameters
    ----------
    logits : (batch, n_classes) ndarray
    labels : (batch,) integer ndarray
        Class indices in ``range(n_classes)``.

    Returns
    -------
    loss : float
        ``mean_i [log sum_k exp(z_ik) - z_i,label_i]``.
    grad : (batch, n_classes) ndarray
        ``(softmax(z) - onehot(label)) / batch``.

    Notes
    -----
    Computed with the log-sum-exp shift ``z - max_k z_k``, so large logits neither
    overflow nor lose the loss: the result is exact up to rounding whenever the spread
    ``max_k z_k - min_k z_k`` of each row is representable in the logits' dtype.

    Examples
    --------
    >>> loss, grad = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(loss, 6) == round(math.log(4), 6), grad[0].tolist()
    (True, [-0.375, 0.125, 0.125, 0.125])
    >>> round(softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))[0], 3)
    1000.0
    """
    logits = check_array("logits", logits, ndim=2)
    if logits.dtype.kind != "f":
        raise TypeError(f"logits must have a floating dtype; got dtype {logits.dtype}")
    _check_labels(labels, logits.shape)
    return _softmax_cross_entropy(logits, labels)


def _check_labels(labels, logits_shape) -> None:
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        raise TypeError("labels must be a 1-D integer ndarray of class indices; got "
                        f"{type(labels).__name__} {labels!r:.60}")
    n, n_classes = logits_shape
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one class index per row of the "
                         f"logits; got shape {labels.shape!r}")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise ValueError(f"labels must be class indices in range({n_classes}); got {bad!r}")


def _softmax_cross_entropy(logits, labels):
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))
    grad = exp
    grad /= sums
    grad[rows, labels] -= 1
    grad /= n
    return loss, grad


def mean_squared_error(outputs: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the mean squared error over all entries and its gradient.

    Parameters
    ----------
    outputs, targets : (batch, n_out) ndarrays

    Returns
    -------
    loss : float
        ``mean((outputs - targets)^2)`` over batch *and* outputs (PyTorch's ``MSELoss``).
    grad : (batch, n_out) ndarray
        ``2 (outputs - targets) / outputs.size``.

    Examples
    --------
    >>> loss, grad = mean_squared_error(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    >>> loss, grad.tolist()
    (2.5, [[1.0, 2.0]])
    """
    outputs = check_array("outputs", outputs)
    targets = check_array("targets", targets)
    if outputs.shape != targets.shape:
        raise ValueError(f"targets must have the shape of outputs, {outputs.shape!r}; got "
                         f"{targets.shape!r} (no broadcasting: it would silently pair the "
                         "wrong entries)")
    return _mean_squared_error(outputs, targets)


def _mean_squared_error(outputs, targets):
    diff = outputs - targets
    loss = float(np.mean(diff * diff))
    diff *= diff.dtype.type(2.0 / diff.size)
    return loss, diff


def loss_and_gradient(outputs: np.ndarray, targets: np.ndarray,
                      loss: LossName = "cross_entropy") -> tuple[float, np.ndarray]:
    """Dispatch to :func:`softmax_cross_entropy` or :func:`mean_squared_error` by name.

    Raises
    ------
    ValueError
        If ``loss`` is not one of :data:`LOSSES`, or the arrays do not fit that loss.
    """
    check_choice("loss", loss, LOSSES)
    if loss == "cross_entropy":
        return softmax_cross_entropy(outputs, targets)
    return mean_squared_error(outputs, targets)


def _loss_and_gradient(outputs, targets, loss):
    # The training loop's own call: its arguments were validated once, before the loop.
    if loss == "cross_entropy":
        return _softmax_cross_entropy(outputs, targets)
    return _mean_squared_error(outputs, targets)


# -- optimizers -------------------------------------------------------------------------------

class SGD:
    """Stochastic gradient descent with heavy-ball momentum, in PyTorch's form.

    .. math:: v \\leftarrow \\mu v + g, \\qquad p \\leftarrow p - \\eta v

    Parameters
    ----------
    learning_rate : positive float
    momentum : float in [0, 1), default 0.9
        ``0`` gives plain SGD.

    Notes
    -----
    :meth:`step` updates an array in place; the velocity is created on the first step
    and belongs to that array's shape.

    Examples
    --------
    >>> p, opt = np.array([1.0]), SGD(0.1, momentum=0.5)
    >>> opt.step(p, np.array([1.0])); opt.step(p, np.array([1.0])); p.tolist()
    [0.75]
    """

    def __init__(self, learning_rate: float, momentum: float = 0.9):
        self.learning_rate = check_real("learning_rate", learning_rate, positive=True)
        self.momentum = _check_unit_interval("momentum", momentum)
        self._velocity = self._scratch = self._params_at = None

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Update ``params`` in place from ``grads`` (same shape and dtype)."""
        _check_step(self, params, grads)
        mu = params.dtype.type(self.momentum)
        lr = _in_dtype("learning_rate", self.learning_rate, params.dtype)
        self._velocity = _state(self._velocity, params)
        self._scratch = _scratch(self._scratch, params)

        def update(p, g, v, tmp):
            v *= mu
            v += g
            np.multiply(v, lr, out=tmp)
            p -= tmp

        _for_each_block(update, self._scratch, params, grads, self._velocity)

    def __repr__(self) -> str:
        return f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum})"


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction, in PyTorch's form.

    .. math:: m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
              v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
              p \\leftarrow p - \\frac{\\eta}{1-\\beta_1^t}
              \\frac{m}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon}

    Parameters
    ----------
    learning_rate : positive float, default 1e-3
    beta1, beta2 : floats in [0, 1), default 0.9 and 0.999
    eps : positive float, default 1e-8

    Attributes
    ----------
    n_steps : int
        Steps taken so far (the ``t`` of the bias corrections).

    References
    ----------
    Kingma, Ba (2015), Adam: A Method for Stochastic Optimization, arXiv:1412.6980.

    Examples
    --------
    >>> p, opt = np.array([1.0, -1.0]), Adam(0.1)
    >>> opt.step(p, np.array([3.0, -0.01])); np.round(p, 6).tolist()   # first step: lr * sign
    [0.9, -0.9]
    """

    def __init__(self, learning_rate: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        self.learning_rate = check_real("learning_rate", learning_rate, positive=True)
        self.beta1 = _check_unit_interval("beta1", beta1)
        self.beta2 = _check_unit_interval("beta2", beta2)
        self.eps = check_real("eps", eps, positive=True)
        self._m = self._v = self._scratch = self._params_at = None
        self.n_steps = 0

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Update ``params`` in place from ``grads`` (same shape and dtype)."""
        _check_step(self, params, grads)
        _in_dtype("learning_rate", self.learning_rate, params.dtype)
        eps = _in_dtype("eps", self.eps, params.dtype)    # 1e-8 is 0 in float16: 0/0 = NaN
        self._m = _state(self._m, params)
        self._v = _state(self._v, params)
        self._scratch = _scratch(self._scratch, params)
        self.n_steps += 1
        dtype = params.dtype.type
        b1, b2, c1, c2 = (dtype(c) for c in (self.beta1, self.beta2, 1 - self.beta1,
                                             1 - self.beta2))
        v_scale = dtype(1 / math.sqrt(1 - self.beta2 ** self.n_steps))
        step_size = dtype(self.learning_rate / (1 - self.beta1 ** self.n_steps))

        def update(p, g, m, v, tmp):
            m *= b1
            np.multiply(g, c1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= c2
            v += tmp
            np.sqrt(v, out=tmp)                 # tmp = sqrt(v / (1 - beta2^t)) + eps
            tmp *= v_scale
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp

        _for_each_block(update, self._scratch, params, grads, self._m, self._v)

    def __repr__(self) -> str:
        return (f"Adam(learning_rate={self.learning_rate}, beta1={self.beta1}, "
                f"beta2={self.beta2}, eps={self.eps})")


def _check_unit_interval(name, value) -> float:
    value = check_real(name, value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must lie in [0, 1); got {value!r}")
    return value


def _for_each_block(update, scratch, *arrays) -> None:
    """Call ``update(*blocks, tmp)`` on matching blocks of equally shaped C-contiguous arrays.

    An optimizer step is memory-bound: updating block by block keeps the few arrays of a
    block, and the one small scratch block, in the CPU cache between the operations,
    instead of streaming every array from memory once per operation.  Arrays of more than
    :data:`_PARALLEL_MIN` elements are split into one contiguous part per thread of a
    small pool (NumPy releases the GIL inside each operation); every element is updated
    by the same operations either way, so the result does not depend on the split.
    """
    flat = [a.reshape(-1) for a in arrays]
    n = flat[0].size
    n_parts = _N_THREADS if n >= _PARALLEL_MIN else 1
    part_size = -(-n // (n_parts * _BLOCK)) * _BLOCK        # a whole number of blocks

    def run(part):
        tmp = scratch[part * _BLOCK:(part + 1) * _BLOCK]
        for start in range(part * part_size, min(n, (part + 1) * part_size), _BLOCK):
            blocks = [a[start:start + _BLOCK] for a in flat]
            update(*blocks, tmp[:blocks[0].size])

    if n_parts == 1:
        run(0)
    else:
        for _ in _thread_pool().map(run, range(n_parts)):
            pass


def _thread_pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_N_THREADS, thread_name_prefix="kaiming_lib")
    return _POOL


def _scratch(buffer, params) -> np.ndarray:
    """Return scratch space of one block per thread (created once per optimizer)."""
    size = min(_BLOCK, params.size) * (_N_THREADS if params.size >= _PARALLEL_MIN else 1)
    if buffer is None or buffer.size < size or buffer.dtype != params.dtype:
        return np.empty(size, dtype=params.dtype)
    return buffer


def _check_step(optimizer, params, grads) -> None:
    """Check the arrays of a step, and that they are the ones the optimizer's state
    (momentum, moments) belongs to: the memory of ``params`` at its first step."""
    if not isinstance(params, np.ndarray) or not isinstance(grads, np.ndarray):
        raise TypeError("params and grads must be numpy.ndarrays; got "
                        f"{type(params).__name__} and {type(grads).__name__}")
    if params.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"params must have a floating dtype (float16, float32 or float64); "
                        f"got dtype {params.dtype}")
    if grads.dtype != params.dtype:
        raise TypeError(f"grads must have the dtype of params ({params.dtype}); got dtype "
                        f"{grads.dtype}")
    if not params.flags.c_contiguous or not params.flags.writeable:
        raise ValueError("params must be a writeable C-contiguous array (it is updated in "
                         "place)")
    if params.shape != grads.shape:
        raise ValueError(f"grads must have the shape of params {params.shape!r}; "
                         f"got {grads.shape!r}")
    where = (params.__array_interface__["data"][0], params.shape, params.dtype)
    if optimizer._params_at is None:
        optimizer._params_at = where
    elif where != optimizer._params_at:
        if params.shape != optimizer._params_at[1]:
            raise ValueError(f"this optimizer was used for params of shape "
                             f"{optimizer._params_at[1]!r}; got {params.shape!r} (create one "
                             "optimizer per network)")
        raise ValueError("this optimizer was used for another params array (its state, such "
                         "as the momentum, belongs to that one); create one optimizer per "
                         "network")


def _in_dtype(name: str, value: float, dtype: np.dtype):
    """``value`` as a scalar of ``dtype``; an error if it rounds to 0 or overflows there."""
    with np.errstate(over="ignore", under="ignore"):
        cast = dtype.type(value)
    if value != 0 and (cast == 0 or not np.isfinite(cast)):
        info = np.finfo(dtype)
        raise ValueError(f"{name}={value!r} is {cast} in the parameters' dtype {dtype}, whose "
                         f"positive numbers run from {info.smallest_subnormal:.2g} to "
                         f"{info.max:.3g}; choose {name} in that range")
    return cast


def _state(buffer, params) -> np.ndarray:
    """Return the optimizer buffer for ``params``, creating it (zeros) on first use."""
    return np.zeros_like(params) if buffer is None else buffer


# -- diagnostics ------------------------------------------------------------------------------

def layer_norms(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Return the Frobenius norm of each array, as a float64 vector.

    The squares are summed in float64: in float32 a norm below about ``1e-19`` (a
    vanishing gradient, exactly what the diagnostics are for) would underflow to 0.

    Examples
    --------
    >>> layer_norms([np.full((2, 2), 3.0), np.zeros(5)]).tolist()
    [6.0, 0.0]
    """
    norms = []
    for a in arrays:
        a = np.asarray(a, dtype=np.float64).ravel()
        norms.append(math.sqrt(float(np.dot(a, a))))
    return np.array(norms)


def dead_unit_fraction(inputs: list) -> np.ndarray:
    """Return, per hidden layer, the fraction of units that output 0 for every example.

    Parameters
    ----------
    inputs : list of ndarrays
        As returned by :func:`forward`; ``inputs[1:]`` are the hidden activations.

    Returns
    -------
    (n_layers - 1,) float64 ndarray
        A ReLU unit whose pre-activation is negative on the whole batch is *dead* on it:
        its output and its gradient are zero, so its incoming weights do not learn from
        this batch.

    Examples
    --------
    >>> hidden = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    >>> dead_unit_fraction([np.ones((2, 4)), hidden]).tolist()
    [0.3333333333333333]
    """
    _check_layer_inputs(inputs, non_empty=True)
    hidden = [check_array(f"inputs[{l}]", a, ndim=2, finite=False)
              for l, a in enumerate(inputs) if l]
    return np.array([float(np.mean(~np.any(a != 0, axis=0))) for a in hidden])


# -- training ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class History:
    """Per-epoch record of a training run.

    Row ``0`` of every array describes the network at initialization, row ``e`` the
    network after epoch ``e``.  From the epoch in which training diverged on (a minibatch
    loss became NaN or infinite), every entry is NaN.

    Attributes
    ----------
    epoch : (n_epochs + 1,) int ndarray
        ``0, 1, ..., n_epochs``.
    train_loss, test_loss : (n_epochs + 1,) ndarrays
        Mean loss over the whole training and test sets (NaN if there is no test set).
    train_accuracy, test_accuracy : (n_epochs + 1,) ndarrays
        Fraction of correct arg-max predictions; NaN for regression targets, and NaN when
        some output is not finite.
    grad_norm : (n_epochs + 1, n_layers) ndarray
        Frobenius norm of ``dL/dW_l`` on the probe batch, per layer.
    dead_fraction : (n_epochs + 1, n_layers - 1) ndarray
        Per hidden layer, the share of units that output 0 on the whole probe batch.
    update_ratio : (n_epochs + 1, n_layers) ndarray
        ``||Delta W_l|| / ||W_l||`` of one optimizer step: the epoch's last full-size
        minibatch step.  Row 0 is NaN (no step yet).
    diverged_epoch : int or None
        The epoch in which a minibatch loss (or, at its end, a parameter) first became
        non-finite; None if it never did.
    """

    epoch: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    grad_norm: np.ndarray
    dead_fraction: np.ndarray
    update_ratio: np.ndarray
    diverged_epoch: int | None = None

    @property
    def diverged(self) -> bool:
        """Whether training diverged (and stopped early)."""
        return self.diverged_epoch is not None


def _prepare_targets(net: MLP, y, loss: str, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (targets for the loss, labels for accuracy or None) after checking ``y``."""
    n_out = net.layer_sizes[-1]
    check_array(name, y, finite=True)
    if y.dtype.kind in "iu" and y.ndim == 1:
        if y.min() < 0 or y.max() >= n_out:
            raise ValueError(f"{name} labels must lie in range({n_out}); got values from "
                             f"{int(y.min())} to {int(y.max())}")
        labels = y.astype(np.intp)
        if loss == "cross_entropy":
            return labels, labels
        return np.eye(n_out, dtype=net.dtype)[labels], labels
    if loss == "cross_entropy":
        raise TypeError(f"{name} must hold integer class labels (1-D) for cross_entropy; "
                        f"got dtype {y.dtype} and shape {y.shape!r}")
    if y.ndim != 2 or y.shape[1] != n_out:
        raise ValueError(f"{name} must have shape (n, {n_out}) for mse; got {y.shape!r}")
    return y.astype(net.dtype, copy=False), None


def _check_pair(net, x, y, loss, names) -> tuple:
    x = _check_input(net, x, names[0])
    targets, labels = _prepare_targets(net, y, loss, names[1])
    if len(targets) != len(x):
        raise ValueError(f"{names[0]} and {names[1]} must have the same length; got "
                         f"{len(x)} and {len(targets)}")
    return x, targets, labels


def evaluate(net: MLP, x: np.ndarray, y: np.ndarray,
             loss: LossName = "cross_entropy") -> tuple[float, float]:
    """Return the mean loss and the accuracy of ``net`` on a whole data set.

    Parameters
    ----------
    net : MLP
    x : (n, n_in) ndarray
    y : (n,) integer labels, or (n, n_out) float targets (``loss='mse'`` only)
    loss : {'cross_entropy', 'mse'}

    Returns
    -------
    loss : float
    accuracy : float
        Share of arg-max predictions equal to the label; NaN for float targets or
        non-finite outputs.

    Examples
    --------
    >>> net = init_mlp([2, 3], "zeros")
    >>> loss, acc = evaluate(net, np.ones((4, 2)), np.array([0, 1, 2, 0]))
    >>> round(loss, 4) == round(math.log(3), 4), acc                # uniform softmax
    (True, 0.5)
    """
    check_choice("loss", loss, LOSSES)
    x, targets, labels = _check_pair(net, x, y, loss, ("x", "y"))
    with np.errstate(all="ignore"):
        return _evaluate(net, x, targets, labels, loss)


def _evaluate(net, x, targets, labels, loss) -> tuple[float, float]:
    outputs = _predict(net, x)
    value, _ = _loss_and_gradient(outputs, targets, loss)
    if labels is None or not np.all(np.isfinite(outputs)):
        return value, math.nan
    return value, float(np.mean(outputs.argmax(axis=1) == labels))


def _run_epoch(net, optimizer, x, targets, batch_size, loss, rng, grads, workspace,
               measure_ratios=True):
    """One shuffled pass over the data; return (mean loss, update ratios of the last full
    step, or None if not measured, whether every loss was finite)."""
    order = rng.permutation(len(x))
    n_full = len(x) // batch_size
    measured_step = (n_full - 1 if n_full else 0) if measure_ratios else -1
    total, ratios = 0.0, None
    for step, start in enumerate(range(0, len(x), batch_size)):
        # One minibatch gathered at a time (the rows a shuffled copy of the whole set
        # would give), so no such copy is made.
        rows = order[start:start + batch_size]
        outputs, inputs = _forward(net, x[rows], workspace)
        value, grad_outputs = _loss_and_gradient(outputs, targets[rows], loss)
        if not math.isfinite(value):
            return math.nan, ratios, False
        total += value * len(outputs)
        _backward(net, inputs, grad_outputs, grads, workspace)
        before = net.params.copy() if step == measured_step else None
        optimizer.step(net.params, grads.flat)
        if before is not None:
            ratios = _update_ratios(net, before)
    return total / len(x), ratios, True


def _update_ratios(net: MLP, before: np.ndarray) -> np.ndarray:
    """``||W_l(after) - W_l(before)|| / ||W_l(before)||`` per layer; overwrites ``before``."""
    norms_before = layer_norms(_parameter_views(before, net.layer_sizes)[0])
    np.subtract(net.params, before, out=before)
    return layer_norms(_parameter_views(before, net.layer_sizes)[0]) / norms_before


def _check_training_args(net, optimizer, batch_size, loss):
    _check_net(net)
    if isinstance(optimizer, type):
        raise TypeError(f"optimizer must be an optimizer object, e.g. {optimizer.__name__}(0.01); "
                        f"got the class {optimizer.__name__} itself")
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must have a step(params, grads) method; got {optimizer!r}")
    check_choice("loss", loss, LOSSES)
    return check_int("batch_size", batch_size, minimum=1)


def train_epoch(net: MLP, optimizer, x: np.ndarray, y: np.ndarray, *, batch_size: int = 64,
                loss: LossName = "cross_entropy", rng=None) -> float:
    """Run one epoch of minibatch training (shuffled with ``rng``) and return its mean loss.

    The last minibatch is smaller when ``batch_size`` does not divide ``len(x)``.  The
    returned value is the mean of the minibatch losses weighted by their size (each
    measured before its own update); NaN if one was not finite, in which case the epoch
    stops at that minibatch.

    Examples
    --------
    One optimizer for the whole loop (its momentum carries over) and one generator (a new
    shuffle every epoch); :func:`train` runs the same loop and records more.

    >>> from kaiming_lib.data import make_spirals
    >>> data, net = make_spirals(200, rng=0), init_mlp([2, 32, 2], rng=0)
    >>> optimizer, rng = SGD(0.1), np.random.default_rng(0)
    >>> losses = [train_epoch(net, optimizer, data.x_train, data.y_train, rng=rng)
    ...           for _ in range(3)]
    >>> losses[-1] < losses[0]
    True
    """
    batch_size = _check_training_args(net, optimizer, batch_size, loss)
    x, targets, _ = _check_pair(net, x, y, loss, ("x", "y"))
    grads, workspace = _reused_buffers(net, min(batch_size, len(x)))
    with np.errstate(all="ignore"):
        return _run_epoch(net, optimizer, x, targets, batch_size, loss, as_rng(rng),
                          grads, workspace, measure_ratios=False)[0]


# The gradients and workspace of the last train_epoch call: (weak reference to its
# network, rows, Gradients, Workspace), or None; kept only up to _REUSE_MAX_BYTES.
_REUSED = None
_REUSE_MAX_BYTES = 256 * 2**20


def _reused_buffers(net: MLP, rows: int) -> tuple[Gradients, Workspace]:
    """Return gradients and a workspace for ``net`` and batches of ``rows`` rows, the same
    ones as in the previous call if it was for this network and batch size.

    Calling :func:`train_epoch` in a loop thus reuses its arrays.  New arrays cost more
    than their allocation: the system hands out their memory page by page as it is first
    written, so the first step on new arrays took 1.5 times as long as the others (7.6 ms
    against 5.1 ms for 30 layers of width 128 on a 2-core machine; 4 % of the epoch).
    One set is kept at a time, none once its network is garbage-collected, and none
    larger than :data:`_REUSE_MAX_BYTES` (a large batch would otherwise hold its memory
    for as long as the network lives).  Their previous contents do not matter: every step
    overwrites the gradients and activations before reading them, and nothing writes the
    workspace's arrays of zeros and ones.
    """
    global _REUSED
    if _REUSED is not None:
        ref, kept_rows, grads, workspace = _REUSED
        if (ref() is net and kept_rows == rows and grads.flat.shape == net.params.shape
                and grads.flat.dtype == net.dtype):
            return grads, workspace
    grads, workspace = Gradients.like(net), Workspace(net, rows)
    keep = grads.flat.nbytes + workspace._nbytes <= _REUSE_MAX_BYTES
    _REUSED = (weakref.ref(net, _forget_buffers), rows, grads, workspace) if keep else None
    return grads, workspace


def _forget_buffers(ref) -> None:
    global _REUSED
    if _REUSED is not None and _REUSED[0] is ref:
        _REUSED = None


def _probe(net, x, targets, loss) -> tuple[np.ndarray, np.ndarray]:
    """Gradient norm per layer and dead-unit fraction per hidden layer on a probe batch."""
    workspace, grads = Workspace(net, len(x)), Gradients.like(net)
    outputs, inputs = _forward(net, x, workspace)
    _, grad_outputs = _loss_and_gradient(outputs, targets, loss)
    _backward(net, inputs, grad_outputs, grads, workspace)
    return layer_norms(grads.weights), dead_unit_fraction(inputs)


def train(net: MLP, optimizer, data, *, n_epochs: int = 10, batch_size: int = 64,
          loss: LossName = "cross_entropy", rng=None, probe_size: int = 256,
          progress: Callable[[Iterable], Iterable] | None = None) -> History:
    """Train ``net`` in place with minibatches and record its health after every epoch.

    Parameters
    ----------
    net : MLP
        Trained in place.
    optimizer : SGD, Adam, or any object with ``step(params, grads)``
    data : Dataset
        Anything with ``x_train``, ``y_train``, ``x_test`` and ``y_test`` (the test pair
        may be None); see :mod:`kaiming_lib.data`.
    n_epochs : int, default 10
        From 1 to :data:`MAX_EPOCHS`.
    batch_size : int, default 64
    loss : {'cross_entropy', 'mse'}
        ``'mse'`` with integer labels trains on one-hot targets.
    rng : None, int or numpy.random.Generator
        Shuffles the training set every epoch.
    probe_size : int, default 256
        The first ``probe_size`` training examples form the fixed probe batch on which
        gradient norms and dead units are measured.
    progress : callable, optional
        Wraps the epoch iterable, e.g. ``tqdm.auto.tqdm`` for a progress bar.

    Returns
    -------
    History

    Raises
    ------
    TypeError, ValueError
        For a bad ``batch_size``, ``n_epochs``, ``probe_size`` or ``loss``; for data that
        is not a finite 2-D ndarray with the network's input width; for labels that are
        not integers in ``range(n_out)`` (cross-entropy) or train and test pairs of
        different lengths.

    Notes
    -----
    Same network, optimizer state, data and seed give the same history, bit for bit, on
    the same machine and libraries.  Floating-point overflow is expected when a bad
    initialization diverges: it is silenced (``np.errstate``) and recorded instead:
    training stops at the first non-finite minibatch loss (or at the end of an epoch
    that left a parameter non-finite), ``History.diverged_epoch`` names that epoch and
    its row and all later ones are NaN.

    Examples
    --------
    >>> from kaiming_lib.data import make_spirals
    >>> data = make_spirals(400, rng=0)
    >>> net = init_mlp([2, 64, 64, 2], "kaiming_normal", rng=1)
    >>> history = train(net, SGD(0.05), data, n_epochs=30, batch_size=32, rng=2)
    >>> history.train_loss.shape, history.grad_norm.shape, history.dead_fraction.shape
    ((31,), (31, 3), (31, 2))
    >>> bool(history.train_accuracy[-1] > 0.9), history.diverged
    (True, False)
    """
    batch_size = _check_training_args(net, optimizer, batch_size, loss)
    n_epochs = check_int("n_epochs", n_epochs, minimum=1, maximum=MAX_EPOCHS)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable that wraps an iterable, such as "
                        f"tqdm.auto.tqdm; got {progress!r}")
    probe_size = check_int("probe_size", probe_size, minimum=1)
    missing = [a for a in ("x_train", "y_train", "x_test", "y_test") if not hasattr(data, a)]
    if missing:
        raise TypeError(f"data must have x_train, y_train, x_test and y_test (a "
                        f"kaiming_lib.data.Dataset); got {type(data).__name__} without "
                        f"{', '.join(missing)}")
    x, targets, labels = _check_pair(net, data.x_train, data.y_train, loss,
                                     ("data.x_train", "data.y_train"))
    test = None
    if (data.x_test is None) != (data.y_test is None):
        raise ValueError("data.x_test and data.y_test must both be arrays or both be None (no "
                         f"test set); got x_test {type(data.x_test).__name__} and y_test "
                         f"{type(data.y_test).__name__}")
    if data.x_test is not None:
        test = _check_pair(net, data.x_test, data.y_test, loss, ("data.x_test", "data.y_test"))
    rng, grads = as_rng(rng), Gradients.like(net)
    workspace = Workspace(net, min(batch_size, len(x)))
    record = _empty_record(n_epochs, net.n_layers)
    epochs = range(1, n_epochs + 1)
    with np.errstate(all="ignore"):
        _record_epoch(record, 0, net, (x, targets, labels), test, loss, probe_size)
        for epoch in (progress(epochs) if progress is not None else epochs):
            _, ratios, finite = _run_epoch(net, optimizer, x, targets, batch_size, loss, rng,
                                           grads, workspace)
            if not (finite and np.all(np.isfinite(net.params))):
                return History(diverged_epoch=epoch, **record)
            _record_epoch(record, epoch, net, (x, targets, labels), test, loss, probe_size)
            record["update_ratio"][epoch] = ratios
    return History(**record)


def _empty_record(n_epochs: int, n_layers: int) -> dict:
    rows = n_epochs + 1
    record = {name: np.full(rows, np.nan) for name in
              ("train_loss", "test_loss", "train_accuracy", "test_accuracy")}
    record["epoch"] = np.arange(rows)
    record["grad_norm"] = np.full((rows, n_layers), np.nan)
    record["dead_fraction"] = np.full((rows, n_layers - 1), np.nan)
    record["update_ratio"] = np.full((rows, n_layers), np.nan)
    return record


def _record_epoch(record, epoch, net, train_set, test_set, loss, probe_size) -> None:
    x, targets, labels = train_set
    record["train_loss"][epoch], record["train_accuracy"][epoch] = _evaluate(
        net, x, targets, labels, loss)
    if test_set is not None:
        record["test_loss"][epoch], record["test_accuracy"][epoch] = _evaluate(
            net, *test_set, loss)
    record["grad_norm"][epoch], record["dead_fraction"][epoch] = _probe(
        net, x[:probe_size], targets[:probe_size], loss)
