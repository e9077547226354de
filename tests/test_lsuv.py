"""Tests of kaiming_lib.lsuv: LSUV's unit variance, its cap, and its contract.

LSUV's guarantee is about the batch it was given, not a sampled statistic: after it, each
layer's pre-activation variance *on that batch* is within ``tol`` of 1.  The tests recompute
that variance with their own forward pass (not through the module's helpers).
"""

import warnings

import numpy as np
import pytest

from kaiming_lib import mlp
from kaiming_lib.lsuv import DEFAULT_MAX_ITER, DEFAULT_TOL, lsuv, lsuv_mlp, orthogonal_weights

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "identity")


def _preactivation_variances(weights, x, activation, biases=None, slope=0.01):
    """The variance of every layer's z = a W^T + b on the batch, computed independently."""
    a = x.astype(np.float64)
    out = []
    for l, w in enumerate(weights):
        z = a @ w.astype(np.float64).T
        if biases is not None:
            z = z + biases[l]
        out.append(z.var())
        if activation == "relu":
            a = np.where(z > 0, z, 0.0)
        elif activation == "leaky_relu":
            a = np.where(z > 0, z, slope * z)
        elif activation == "tanh":
            a = np.tanh(z)
        else:
            a = z
    return np.array(out)


@pytest.fixture
def batch():
    return np.random.default_rng(0).standard_normal((256, 32))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("with_bias", [False, True])
def test_every_layer_has_unit_variance_on_the_batch_within_tol(batch, activation, with_bias):
    sizes = [32, 64, 64, 48, 10]
    weights = orthogonal_weights(sizes, rng=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    biases = [0.3 * rng.standard_normal(n) for n in sizes[1:]] if with_bias else None
    new, record = lsuv(weights, 3.0 * batch, activation, biases=biases, negative_slope=0.2)
    measured = _preactivation_variances(new, 3.0 * batch, activation, biases, slope=0.2)
    assert np.all(np.abs(measured - 1) < DEFAULT_TOL), measured
    assert np.allclose(record.final_variance, measured, rtol=1e-9)
    assert record.converged.all() and record.n_layers == 4


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_without_bias_one_rescaling_reaches_variance_one(batch, activation):
    # z is linear in W, so W / sqrt(Var[z]) has Var = 1 exactly, up to rounding.
    weights = orthogonal_weights([32, 64, 64, 10], rng=3, dtype=np.float64)
    new, record = lsuv(weights, 5.0 * batch, activation, tol=1e-6)
    assert record.iterations.tolist() == [1, 1, 1]
    assert np.allclose(_preactivation_variances(new, 5.0 * batch, activation), 1.0, atol=1e-12)


def test_each_weight_is_only_rescaled_by_a_positive_factor(batch):
    weights = orthogonal_weights([32, 64, 10], rng=4, dtype=np.float64)
    new, _ = lsuv(weights, batch, "relu")
    for w0, w1 in zip(weights, new):
        ratio = w1 / w0
        assert ratio.min() > 0 and np.allclose(ratio, ratio.flat[0], rtol=1e-12)


def test_a_layer_already_within_tol_is_left_alone():
    x = np.random.default_rng(5).standard_normal((400, 16))
    x = (x - x.mean()) / x.std()                  # variance exactly 1 over the whole batch
    weights = [np.eye(16)]                        # orthogonal: z = x
    new, record = lsuv(weights, x, "relu")
    assert record.iterations.tolist() == [0]
    assert np.array_equal(new[0], weights[0])
    assert np.isclose(record.initial_variance[0], 1.0, atol=1e-12)


def test_initial_variance_is_that_of_the_start(batch):
    weights = orthogonal_weights([32, 64, 10], rng=6, dtype=np.float64)
    _, record = lsuv(weights, batch, "relu")
    assert np.isclose(record.initial_variance[0], (batch @ weights[0].T).var(), rtol=1e-12)


def test_the_cap_is_honoured_and_a_layer_that_cannot_converge_is_flagged(batch):
    # Biases alternating +-2 have a spread of variance 4 across units: shrinking W can bring
    # Var[z] down towards 4 (up to the batch's small cross term) but never to 1, so the loop
    # must stop at max_iter and say so.
    weights = orthogonal_weights([32, 64], rng=7, dtype=np.float64)
    biases = [np.tile([2.0, -2.0], 32)]
    with pytest.warns(UserWarning, match=r"did not reach \|Var - 1\| < 0.02 for layers \[0\]"):
        new, record = lsuv(weights, batch, "relu", biases=biases, max_iter=7)
    assert record.iterations.tolist() == [7] and not record.converged[0]
    assert record.final_variance[0] > 3.0     # about 4: the bias's spread, far from 1
    assert np.isclose(_preactivation_variances(new, batch, "relu", biases)[0],
                      record.final_variance[0], rtol=1e-12)


def test_a_cap_too_small_for_a_biased_layer_is_flagged(batch):
    # A bias of spread 0.7 (variance 0.49) makes the map affine: the first rescaling lands
    # short of 1, and a second one is needed to enter tol = 1e-3.
    weights = orthogonal_weights([32, 64], rng=8, dtype=np.float64)
    biases = [np.tile([0.7, -0.7], 32)]
    _, enough = lsuv(weights, 4.0 * batch, "relu", biases=biases, tol=1e-3)
    assert enough.converged[0] and enough.iterations[0] >= 2
    with pytest.warns(UserWarning, match="max_iter=1"):
        _, capped = lsuv(weights, 4.0 * batch, "relu", biases=biases, tol=1e-3, max_iter=1)
    assert capped.iterations.tolist() == [1] and not capped.converged[0]


def test_a_dead_layer_is_flagged_without_dividing_by_zero():
    weights = orthogonal_weights([8, 16, 4], rng=9, dtype=np.float64)
    x = np.zeros((10, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)       # no 1/0 or sqrt(0) warning
        with pytest.warns(UserWarning, match=r"layers \[0, 1\]"):
            new, record = lsuv(weights, x, "relu")
    assert record.iterations.tolist() == [0, 0] and not record.converged.any()
    assert all(np.array_equal(a, b) for a, b in zip(new, weights))


def test_defaults_are_the_caffe_scripts_values():
    # ducha-aiki/LSUVinit, tools/extra/lsuv_init.py: margin 0.02 on the variance, 20 tries.
    assert (DEFAULT_TOL, DEFAULT_MAX_ITER) == (0.02, 20)


def test_lsuv_mlp_matches_the_mlp_layout(batch):
    net, record = lsuv_mlp([32, 64, 64, 10], batch, "tanh", rng=10)
    _, inputs = mlp.forward(net, batch)               # inputs[l] = x_{l-1}, the MLP's own pass
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = inputs[l].astype(np.float64) @ w.astype(np.float64).T + b
        assert abs(z.var() - 1) < DEFAULT_TOL, l
    assert net.activation == "tanh" and net.dtype == np.float32 and record.converged.all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(batch, dtype):
    weights = orthogonal_weights([32, 16, 4], rng=11, dtype=dtype)
    new, _ = lsuv(weights, batch, "relu")
    assert all(w.dtype == dtype for w in new)


@pytest.mark.parametrize("sizes", [[8, 16, 4], [16, 16], [16, 4, 32]])
def test_orthogonal_start_has_orthonormal_rows_or_columns(sizes):
    for w in orthogonal_weights(sizes, rng=12, dtype=np.float64):
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        assert np.allclose(gram, np.eye(min(w.shape)), atol=1e-12)


def test_same_seed_gives_the_same_network_and_another_seed_does_not(batch):
    first, _ = lsuv_mlp([32, 64, 10], batch, rng=13)
    again, _ = lsuv_mlp([32, 64, 10], batch, rng=13)
    other, _ = lsuv_mlp([32, 64, 10], batch, rng=14)
    assert np.array_equal(first.params, again.params)
    assert not np.array_equal(first.params, other.params)


def test_inputs_are_not_mutated(batch):
    weights = orthogonal_weights([32, 64, 10], rng=15, dtype=np.float64)
    biases = [np.full(64, 0.1), np.zeros(10)]
    copies = [w.copy() for w in weights], batch.copy(), [b.copy() for b in biases]
    new, _ = lsuv(weights, batch, "relu", biases=biases)
    assert all(np.array_equal(a, b) for a, b in zip(weights, copies[0]))
    assert np.array_equal(batch, copies[1])
    assert all(np.array_equal(a, b) for a, b in zip(biases, copies[2]))
    assert all(a is not b for a, b in zip(new, weights))


_W = [np.eye(4), np.eye(4)]
_X = np.ones((8, 4))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"weights": np.eye(4)}, TypeError, "weights must be a non-empty list"),
    ({"weights": []}, TypeError, "weights must be a non-empty list"),
    ({"weights": [[1.0, 2.0]]}, TypeError, r"weights\[0\] must be a numpy.ndarray"),
    ({"weights": [np.ones(4)]}, ValueError, r"weights\[0\] must be 2-dimensional"),
    ({"weights": [np.eye(4, dtype=int)]}, TypeError, r"weights\[0\] must have a floating"),
    ({"weights": [np.eye(4), np.eye(4, dtype=np.float32)]}, TypeError, "one dtype"),
    ({"weights": [np.eye(4), np.ones((2, 3))]}, ValueError, r"weights\[1\] has shape \(2, 3\)"),
    ({"weights": [np.full((4, 4), np.nan)]}, ValueError, "finite"),
    ({"x": [[1.0] * 4]}, TypeError, "x must be a numpy.ndarray"),
    ({"x": np.ones((8, 3))}, ValueError, r"x must have shape \(batch, 4\).*\(8, 3\)"),
    ({"x": np.ones(4)}, ValueError, "x must be 2-dimensional"),
    ({"x": np.full((8, 4), np.inf)}, ValueError, "x must contain only finite"),
    ({"activation": "gelu"}, ValueError, r"activation must be one of .*got 'gelu'"),
    ({"activation": None}, TypeError, "activation must be a string"),
    ({"negative_slope": 1.5}, ValueError, r"negative_slope must be in \[0, 1\]; got 1.5"),
    ({"negative_slope": True}, TypeError, "negative_slope must be a real number; got True"),
    ({"tol": 0.0}, ValueError, r"tol must be in \(0, 1\).*got 0.0"),
    ({"tol": 1.0}, ValueError, r"tol must be in \(0, 1\).*got 1.0"),
    ({"tol": "0.1"}, TypeError, "tol must be a real number; got '0.1'"),
    ({"max_iter": 0}, ValueError, "max_iter must be at least 1; got 0"),
    ({"max_iter": 2.5}, TypeError, "max_iter must be an integer; got 2.5"),
    ({"biases": np.zeros(4)}, TypeError, "biases must be None or a list"),
    ({"biases": [np.zeros(4)]}, ValueError, "biases must have one entry per layer, 2; got 1"),
    ({"biases": [np.zeros(4), np.zeros(3)]}, ValueError, r"biases\[1\] must have shape \(4,\)"),
])
def test_bad_input_is_rejected_with_a_message_naming_it(kwargs, error, match):
    args = {"weights": _W, "x": _X, **kwargs}
    with pytest.raises(error, match=match):
        lsuv(args.pop("weights"), args.pop("x"), **args)


@pytest.mark.parametrize("sizes, error, match", [
    ([8], ValueError, "at least an input and an output size"),
    ("8,4", TypeError, "layer_sizes must be a sequence of integers"),
    ([8, 0], ValueError, "layer_sizes entry must be at least 1; got 0"),
    ([8, 4.0], TypeError, "layer_sizes entry must be an integer; got 4.0"),
])
def test_bad_layer_sizes_are_rejected(sizes, error, match):
    with pytest.raises(error, match=match):
        orthogonal_weights(sizes)


def test_lsuv_mlp_rejects_a_batch_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 8\)"):
        lsuv_mlp([8, 4], np.ones((5, 6)), rng=0)
