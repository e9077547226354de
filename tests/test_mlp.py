"""Tests for kaiming_lib.mlp: layout, hand-written backprop, losses, optimizers, training."""

import math
import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from kaiming_lib import mlp
from kaiming_lib.data import load_digits
from kaiming_lib.init import SCHEMES
from kaiming_lib.mlp import (
    MLP, SGD, Adam, History, Workspace, backward, dead_unit_fraction, evaluate, forward,
    init_mlp, layer_norms, mean_squared_error, predict, softmax_cross_entropy, train, train_epoch,
)

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "identity"]


# -- helpers written for the tests, independent of the library -------------------------------

def _reference_activation(z, activation, slope):
    if activation == "relu":
        return np.where(z > 0, z, 0.0)
    if activation == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if activation == "tanh":
        return np.tanh(z)
    return z


def _reference_forward(weights, biases, activation, slope, x):
    """Return (outputs, pre-activations of the hidden layers), by the textbook formula."""
    a, hidden_z = x, []
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        if l == len(weights) - 1:
            return z, hidden_z
        hidden_z.append(z)
        a = _reference_activation(z, activation, slope)


def _reference_loss(outputs, y, loss):
    if loss == "cross_entropy":
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.mean(log_probs[np.arange(len(y)), y])
    return np.mean((outputs - y) ** 2)


def _data(dtype=np.float32, n=6, n_in=3):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    return x, np.arange(n) % 2


def _net(sizes=(3, 4, 2), **kwargs):
    return init_mlp(list(sizes), rng=0, **kwargs)


def _history_fields():
    return ["epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
            "grad_norm", "dead_fraction", "update_ratio"]


# -- the network and its layout --------------------------------------------------------------

def test_forward_computes_x_times_w_transposed_plus_b_per_layer():
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((5, 3)), rng.standard_normal((2, 5))]
    biases = [rng.standard_normal(5), rng.standard_normal(2)]
    net = MLP(weights, biases, activation="tanh")
    x = rng.standard_normal((7, 3))
    expected = np.tanh(x @ weights[0].T + biases[0]) @ weights[1].T + biases[1]
    outputs, inputs = forward(net, x)
    np.testing.assert_allclose(outputs, expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(inputs[1], np.tanh(x @ weights[0].T + biases[0]), rtol=1e-13)
    assert inputs[0] is x or np.array_equal(inputs[0], x)


def test_weights_have_shape_out_in_and_the_kaiming_variance_uses_fan_in():
    net = init_mlp([400, 100, 10], "kaiming_normal", rng=3)
    assert [w.shape for w in net.weights] == [(100, 400), (10, 100)]
    assert [b.shape for b in net.biases] == [(100,), (10,)]
    # 40,000 iid N(0, 2/400) draws: the sample variance has relative std sqrt(2/(n-1)) =
    # 0.0071; 5 standard errors allow 3.5 %.  A fan_out layout would give 2/100, 4x larger.
    w = net.weights[0].astype(np.float64)
    assert abs(w.var() / (2 / 400) - 1) < 5 * math.sqrt(2 / (w.size - 1))


def test_biases_are_zero_by_default_and_uniform_on_request():
    assert all(np.all(b == 0) for b in _net().biases)
    net = init_mlp([16, 8, 2], bias="uniform", rng=0)
    assert np.all(np.abs(net.biases[0]) <= 1 / math.sqrt(16))
    assert np.all(np.abs(net.biases[1]) <= 1 / math.sqrt(8))
    assert np.any(net.biases[0] != 0)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_registered_scheme_builds_a_float32_network(scheme):
    net = init_mlp([6, 5, 4], scheme, rng=0)
    assert net.dtype == np.float32 and [w.dtype for w in net.weights] == [np.float32] * 2
    assert [w.shape for w in net.weights] == [(5, 6), (4, 5)]
    again = init_mlp([6, 5, 4], scheme, rng=0)
    assert np.array_equal(net.params, again.params)


def test_float32_is_the_default_and_float64_inputs_are_cast():
    net = _net()
    outputs, inputs = forward(net, np.ones((2, 3), dtype=np.float64))
    assert outputs.dtype == np.float32 and inputs[0].dtype == np.float32
    assert init_mlp([3, 2], rng=0, dtype=np.float64).dtype == np.float64


def test_weights_and_biases_are_views_into_params():
    net = _net()
    net.params[:] = 0
    net.weights[0][1, 2] = 5.0
    assert net.params[1 * 3 + 2] == 5.0 and net.params.size == 4 * 3 + 4 + 2 * 4 + 2


def test_forward_with_a_workspace_matches_forward_without_and_backward_too():
    net, (x, y) = _net((3, 6, 5, 2)), _data()
    plain_out, plain_in = forward(net, x)
    plain_grads = backward(net, plain_in, softmax_cross_entropy(plain_out, y)[1])
    ws = Workspace(net, batch_size=16)
    out, inputs = forward(net, x, workspace=ws)
    grads = backward(net, inputs, softmax_cross_entropy(out, y)[1], workspace=ws)
    assert np.array_equal(out, plain_out) and np.array_equal(grads.flat, plain_grads.flat)


def test_predict_equals_the_outputs_of_forward():
    net, (x, _) = _net((3, 6, 2)), _data()
    assert np.array_equal(predict(net, x), forward(net, x)[0])


def test_forward_and_training_do_not_mutate_their_inputs():
    x, y = _data()
    x_copy, y_copy = x.copy(), y.copy()
    net = _net()
    forward(net, x)
    train(net, SGD(0.1), SimpleNamespace(x_train=x, y_train=y, x_test=x, y_test=y),
          n_epochs=2, batch_size=4, rng=0)
    logits = np.array([[1.0, 2.0]])
    softmax_cross_entropy(logits, np.array([0]))
    assert np.array_equal(x, x_copy) and np.array_equal(y, y_copy)
    assert logits.tolist() == [[1.0, 2.0]]


# -- gradient checks (float64, central differences) ------------------------------------------

def _numerical_gradient(net, x, y, loss, h=1e-6):
    """Central differences of the *reference* loss with respect to every parameter."""
    params, grad = net.params, np.zeros_like(net.params)

    def value():
        outputs, _ = _reference_forward(net.weights, net.biases, net.activation,
                                        net.negative_slope, x)
        return _reference_loss(outputs, y, loss)

    for i in range(params.size):
        old = params[i]
        params[i] = old + h
        plus = value()
        params[i] = old - h
        minus = value()
        params[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_matches_central_differences_for_every_weight_and_bias(activation, loss):
    sizes = [3, 5, 4, 3]                  # three linear layers, two hidden activations
    net = init_mlp(sizes, "kaiming_normal", activation=activation, negative_slope=0.2,
                   bias="uniform", rng=11, dtype=np.float64)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2]) if loss == "cross_entropy" else rng.standard_normal((4, 3))
    # Precondition: no pre-activation near a ReLU kink, where differences are meaningless.
    _, hidden_z = _reference_forward(net.weights, net.biases, activation, 0.2, x)
    assert min(np.abs(z).min() for z in hidden_z) > 1e-3

    outputs, inputs = forward(net, x)
    _, grad_outputs = (softmax_cross_entropy(outputs, y) if loss == "cross_entropy"
                       else mean_squared_error(outputs, y))
    grads = backward(net, inputs, grad_outputs)
    numerical = _numerical_gradient(net, x, y, loss)
    numeric_net = MLP([np.zeros_like(w) for w in net.weights])     # views to cut `numerical`
    numeric_net.params[:] = numerical
    pairs = list(zip(grads.weights, numeric_net.weights)) + list(zip(grads.biases,
                                                                     numeric_net.biases))
    assert len(pairs) == 2 * 3                   # every layer, weights and biases
    for analytic, numeric in pairs:
        assert np.linalg.norm(analytic) > 1e-6     # a zero gradient would check nothing
        rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic)
                                                    + np.linalg.norm(numeric))
        assert rel < 1e-6, (activation, loss, rel)


def test_gradient_check_also_passes_with_leaky_relu_slope_zero_and_one():
    for slope in (0.0, 1.0):
        net = init_mlp([2, 4, 2], activation="leaky_relu", negative_slope=slope, bias=0.1,
                       rng=5, dtype=np.float64)
        x, y = np.random.default_rng(6).standard_normal((3, 2)), np.array([0, 1, 1])
        _, hidden_z = _reference_forward(net.weights, net.biases, "leaky_relu", slope, x)
        assert np.abs(hidden_z[0]).min() > 1e-3
        outputs, inputs = forward(net, x)
        grads = backward(net, inputs, softmax_cross_entropy(outputs, y)[1])
        numerical = _numerical_gradient(net, x, y, "cross_entropy")
        np.testing.assert_allclose(grads.flat, numerical, rtol=1e-6, atol=1e-9)


# -- losses ----------------------------------------------------------------------------------

def test_softmax_cross_entropy_matches_the_formula_and_its_gradient():
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((5, 4)) * 3, np.array([0, 3, 1, 1, 2])
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(5), labels])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss, grad = softmax_cross_entropy(logits, labels)
    assert math.isclose(loss, expected, rel_tol=1e-13)
    np.testing.assert_allclose(grad, (probs - np.eye(4)[labels]) / 5, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e4), (np.float64, 1e300),
                                          (np.float32, 1e4), (np.float32, 1e30)])
def test_softmax_cross_entropy_is_finite_and_warning_free_for_huge_logits(dtype, scale):
    logits = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=dtype) * dtype(scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow is fine
            loss, grad = softmax_cross_entropy(logits, np.array([2, 1]))
    # Row 0: the label's logit is 2 * scale below the maximum; row 1 is certain (loss 0).
    assert math.isfinite(loss) and math.isclose(loss, scale, rel_tol=1e-6)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [[0.5, 0.0, -0.5], [0.0, 0.0, 0.0]], atol=1e-7)


def test_mean_squared_error_is_the_mean_over_entries_and_its_gradient():
    rng = np.random.default_rng(3)
    outputs, targets = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss, grad = mean_squared_error(outputs, targets)
    assert math.isclose(loss, ((outputs - targets) ** 2).sum() / 12, rel_tol=1e-13)
    np.testing.assert_allclose(grad, 2 * (outputs - targets) / 12, rtol=1e-13)


def test_evaluate_on_a_zero_network_gives_log_of_the_class_count():
    net = init_mlp([3, 5], "zeros")
    x, y = _data()
    loss, accuracy = evaluate(net, x, y)
    # All logits 0: softmax uniform over 5 classes; arg-max is class 0, the label of 3/6.
    assert math.isclose(loss, math.log(5), rel_tol=1e-6) and accuracy == 0.5


# -- optimizers ------------------------------------------------------------------------------

def test_sgd_momentum_follows_pytorch_v_equals_mu_v_plus_g():
    p0, g1, g2 = np.array([1.0, -2.0, 0.5]), np.array([0.3, -0.1, 2.0]), np.array([1.0, 1.0, -1.0])
    p, opt = p0.copy(), SGD(0.1, momentum=0.9)
    opt.step(p, g1)
    np.testing.assert_allclose(p, p0 - 0.1 * g1, rtol=1e-15)          # v1 = g1
    opt.learning_rate = 0.2      # PyTorch keeps lr out of v: step 2 uses 0.2 * (mu g1 + g2)
    opt.step(p, g2)
    np.testing.assert_allclose(p, p0 - 0.1 * g1 - 0.2 * (0.9 * g1 + g2), rtol=1e-15)
    # the other convention (v = mu v + lr g, p -= v) would give p0 - 0.1 g1 - (0.09 g1 + 0.2 g2)
    assert not np.allclose(p, p0 - 0.1 * g1 - (0.9 * 0.1 * g1 + 0.2 * g2))


def test_sgd_without_momentum_is_plain_gradient_descent_in_float32():
    p, g = np.array([1.0, 2.0], dtype=np.float32), np.array([0.5, -0.5], dtype=np.float32)
    opt = SGD(0.5, momentum=0.0)
    opt.step(p, g)
    opt.step(p, g)
    assert p.dtype == np.float32 and p.tolist() == [0.5, 2.5]


def test_adam_two_steps_match_the_bias_corrected_update_by_hand():
    lr, b1, b2, eps = 0.01, 0.8, 0.9, 1e-3     # eps comparable to sqrt(v): its place matters
    p0 = np.array([1.0, -1.0, 0.2])
    g1, g2 = np.array([1e-3, -2e-3, 0.5]), np.array([-3e-3, 1e-3, 0.4])
    p, opt = p0.copy(), Adam(lr, b1, b2, eps)
    m = v = np.zeros(3)
    expected = p0.copy()
    for t, g in enumerate((g1, g2), start=1):
        opt.step(p, g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(p, expected, rtol=1e-12)
        assert opt.n_steps == t
    # eps inside the square root would give a visibly different first coordinate
    assert not np.isclose(p[0], p0[0] - lr * (1 - b1) * g1[0] / (1 - b1)
                          / np.sqrt((1 - b2) * g1[0] ** 2 / (1 - b2) + eps))


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.01)])
def test_large_steps_split_over_threads_give_the_serial_result_bit_for_bit(
        make, n_threads, monkeypatch):
    # Large enough to be split (> _PARALLEL_MIN) and not a whole number of blocks, so the
    # last part and the last block are short; every element must still be updated once,
    # by the same float32 operations as in one thread.
    n = mlp._PARALLEL_MIN + 3 * mlp._BLOCK + 7
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(n, dtype=np.float32)
    grads = [rng.standard_normal(n, dtype=np.float32) for _ in range(2)]
    results = []
    for threads in (1, n_threads):
        monkeypatch.setattr(mlp, "_N_THREADS", threads)
        monkeypatch.setattr(mlp, "_POOL", None)
        p, opt = p0.copy(), make()
        for g in grads:
            opt.step(p, g)
        results.append(p)
    assert not np.array_equal(results[0], p0)
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("env, expected", [
    ({"OPENBLAS_NUM_THREADS": "1"}, 1), ({"OMP_NUM_THREADS": "3"}, 3),
    ({"OPENBLAS_NUM_THREADS": "64"}, 4), ({"OPENBLAS_NUM_THREADS": "zero"}, None), ({}, None),
])
def test_optimizer_threads_follow_the_blas_thread_setting(env, expected, monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert mlp._thread_count() == (expected if expected is not None else min(4, cpus))


def test_one_optimizer_refuses_params_of_another_shape():
    opt = SGD(0.1)
    opt.step(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"params of shape \(3,\); got \(4,\)"):
        opt.step(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match=r"grads must have the shape of params \(2,\)"):
        SGD(0.1).step(np.zeros(2), np.ones(3))


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Adam(0.1)])
def test_one_optimizer_refuses_another_network_of_the_same_shape(make):
    # Its momentum (Adam: moments) belongs to the first network's parameters.
    first, second = init_mlp([4, 8, 3], rng=0), init_mlp([4, 8, 3], rng=1)
    x, y = np.ones((10, 4), np.float32), np.zeros(10, np.int64)
    opt = make()
    train_epoch(first, opt, x, y, rng=0)
    train_epoch(first, opt, x, y, rng=1)                  # the same network: fine
    view = first.params.reshape(1, -1)[0]                 # its memory through a view: fine
    opt.step(view, np.zeros_like(view))
    before = second.params.copy()
    with pytest.raises(ValueError, match="used for another params array .* one optimizer per"):
        train_epoch(second, opt, x, y, rng=0)
    assert np.array_equal(second.params, before)


@pytest.mark.parametrize("params, grads, match", [
    (np.ones(3, np.int64), np.ones(3, np.int64),
     r"params must have a floating dtype .*; got dtype int64"),
    (np.ones(3, np.float32), np.ones(3, np.float64),
     r"grads must have the dtype of params \(float32\); got dtype float64"),
])
@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Adam(0.1)])
def test_optimizers_refuse_integer_or_mixed_dtypes(make, params, grads, match):
    # SGD(0.1) on integers would do nothing at all: 0.1 is 0 as an integer.
    opt = make()
    with pytest.raises(TypeError, match=match):
        opt.step(params, grads)
    assert getattr(opt, "n_steps", 0) == 0


@pytest.mark.parametrize("make, dtype, match", [
    (lambda: Adam(0.01), np.float16, r"eps=1e-08 is 0.0 in the parameters' dtype float16"),
    (lambda: SGD(1e300), np.float32, r"learning_rate=1e\+300 is inf in .* float32"),
    (lambda: SGD(1e-50), np.float32, r"learning_rate=1e-50 is 0.0 in .* float32"),
    (lambda: Adam(1e-10), np.float16, r"learning_rate=1e-10 is 0.0 in .* float16"),
])
def test_hyperparameters_that_vanish_or_overflow_in_the_dtype_are_refused(make, dtype, match):
    # In float16 Adam's default eps is 0, and a zero gradient gave 0/0 = NaN.
    opt, p = make(), np.ones(3, dtype)
    with pytest.raises(ValueError, match=match):
        opt.step(p, np.array([1, 0, 0], dtype))
    assert np.array_equal(p, np.ones(3, dtype))


def test_adam_in_float16_with_an_eps_it_can_hold_gives_finite_steps():
    p = np.ones(3, np.float16)
    Adam(0.1, eps=1e-4).step(p, np.array([1, 0, 0], np.float16))
    assert np.all(np.isfinite(p)) and p[1] == p[2] == 1 and p[0] < 1


# -- training --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_a_kaiming_relu_net_fits_the_digits_to_95_percent_in_five_epochs(digits):
    net = init_mlp([64, 64, 10], "kaiming_normal", rng=0)
    history = train(net, SGD(0.05, momentum=0.9), digits, n_epochs=5, batch_size=32, rng=0)
    assert history.train_accuracy[0] < 0.3           # chance level at initialization
    assert history.train_accuracy[-1] >= 0.95 and history.test_accuracy[-1] >= 0.9
    assert not history.diverged


def test_adam_also_fits_the_digits_to_95_percent(digits):
    net = init_mlp([64, 64, 10], "kaiming_normal", rng=1)
    history = train(net, Adam(3e-3), digits, n_epochs=5, batch_size=32, rng=1)
    assert history.train_accuracy[-1] >= 0.95


def test_history_fields_have_one_row_per_epoch_plus_initialization(digits):
    net = init_mlp([64, 32, 16, 10], rng=0)
    history = train(net, SGD(0.01), digits, n_epochs=3, batch_size=64, rng=0)
    assert isinstance(history, History)
    assert history.epoch.tolist() == [0, 1, 2, 3]
    for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        assert getattr(history, name).shape == (4,)
        assert np.all(np.isfinite(getattr(history, name)))
    assert history.grad_norm.shape == (4, 3) and history.update_ratio.shape == (4, 3)
    assert history.dead_fraction.shape == (4, 2)
    assert np.all(np.isnan(history.update_ratio[0])) and np.all(history.update_ratio[1:] > 0)
    assert np.all((history.dead_fraction >= 0) & (history.dead_fraction <= 1))
    assert history.diverged_epoch is None and history.diverged is False


def test_same_seeds_give_a_bit_identical_history_and_other_seeds_differ(digits):
    def run(init_seed, shuffle_seed):
        net = init_mlp([64, 32, 10], rng=init_seed)
        return net, train(net, Adam(1e-2), digits, n_epochs=2, batch_size=64, rng=shuffle_seed)

    (net_a, a), (net_b, b) = run(0, 0), run(0, 0)
    for name in _history_fields():
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(net_a.params, net_b.params)
    assert not np.array_equal(a.train_loss[1:], run(1, 0)[1].train_loss[1:])   # init seed
    assert not np.array_equal(a.train_loss[1:], run(0, 1)[1].train_loss[1:])   # shuffle seed


def test_dead_unit_fraction_on_a_hand_built_network():
    # Inputs are positive.  Layer 1: unit 0 always on, unit 1 always off, unit 2 on for the
    # second example only (not dead), unit 3 always off: 2 of 4 dead.  Layer 2: unit 0 on,
    # unit 1 negative, unit 2 has zero weights (outputs 0 everywhere): 2 of 3 dead.
    w1 = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, -2.0], [0.0, -1.0]])
    w2 = np.array([[1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, -1.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    w3 = np.ones((2, 3))
    net = MLP([w1, w2, w3])
    x, y = np.array([[1.0, 2.0], [3.0, 1.0]]), np.array([0, 1])
    _, inputs = forward(net, x)
    assert dead_unit_fraction(inputs).tolist() == [2 / 4, 2 / 3]
    history = train(net, SGD(1e-9), SimpleNamespace(x_train=x, y_train=y, x_test=None,
                                                    y_test=None),
                    n_epochs=1, batch_size=2, rng=0, probe_size=2)
    assert history.dead_fraction[0].tolist() == [2 / 4, 2 / 3]
    assert np.all(np.isnan(history.test_loss))


def test_update_ratio_and_gradient_norm_on_a_hand_built_linear_network():
    # Two identity layers, MSE, one full-batch SGD step: every quantity by hand.
    w1, b1 = np.array([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]), np.array([0.1, 0.0, -0.2])
    w2, b2 = np.array([[1.0, -0.5, 0.3]]), np.array([0.05])
    x, y = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([[0.3], [-0.7]])
    h = x @ w1.T + b1
    out = h @ w2.T + b2
    delta2 = 2 * (out - y) / out.size
    dw2 = delta2.T @ h
    dw1 = (delta2 @ w2).T @ x
    lr = 0.05
    net = MLP([w1, w2], [b1, b2], activation="identity")
    history = train(net, SGD(lr, momentum=0.0),
                    SimpleNamespace(x_train=x, y_train=y, x_test=None, y_test=None),
                    n_epochs=1, batch_size=2, loss="mse", rng=0)
    np.testing.assert_allclose(history.grad_norm[0],
                               [np.linalg.norm(dw1), np.linalg.norm(dw2)], rtol=1e-12)
    np.testing.assert_allclose(history.update_ratio[1],
                               [lr * np.linalg.norm(dw1) / np.linalg.norm(w1),
                                lr * np.linalg.norm(dw2) / np.linalg.norm(w2)], rtol=1e-12)
    np.testing.assert_allclose(net.weights[0], w1 - lr * dw1, rtol=1e-13)
    assert math.isclose(history.train_loss[0], np.mean((out - y) ** 2), rel_tol=1e-13)
    assert np.all(np.isnan(history.train_accuracy))         # float targets: no accuracy


def test_layer_norms_of_tiny_float32_arrays_do_not_underflow():
    # 1e-25 is a normal float32, but its square 1e-50 is below float32's smallest
    # subnormal (1.4e-45): summing the squares in float32 would give a norm of exactly 0.
    tiny = np.full((4, 25), 1e-25, dtype=np.float32)
    expected = math.sqrt(100) * float(np.float32(1e-25))      # sqrt(n) * value
    assert math.isclose(layer_norms([tiny])[0], expected, rel_tol=1e-12)
    big = np.full(9, 1e30, dtype=np.float32)                  # 1e60 overflows float32
    assert math.isclose(layer_norms([big])[0], 3 * float(np.float32(1e30)), rel_tol=1e-12)


def test_update_ratio_is_measured_on_the_last_full_size_step_of_the_epoch():
    # 5 identical examples, batch 2: steps of size 2, 2, 1.  With identical rows every
    # minibatch has the same mean gradient, so the shuffling does not matter and the three
    # steps can be replayed by hand; their ratios differ, and step 2 (index 1) is reported.
    w1, w2 = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.0, -0.5]])
    x, y = np.tile([[1.0, 2.0]], (5, 1)), np.tile([[0.3]], (5, 1))
    lr, ratios = 0.1, []
    p1, p2, b1, b2 = w1.copy(), w2.copy(), np.zeros(2), np.zeros(1)
    for _ in range(3):
        h = x[:1] @ p1.T + b1
        delta2 = 2 * (h @ p2.T + b2 - y[:1])          # d(mean squared error)/d(output)
        delta1 = delta2 @ p2
        ratios.append(lr * np.linalg.norm(delta1.T @ x[:1]) / np.linalg.norm(p1))
        p1, p2 = p1 - lr * delta1.T @ x[:1], p2 - lr * delta2.T @ h
        b1, b2 = b1 - lr * delta1[0], b2 - lr * delta2[0]
    assert len(set(ratios)) == 3
    net = MLP([w1, w2], activation="identity")
    history = train(net, SGD(lr, momentum=0.0),
                    SimpleNamespace(x_train=x, y_train=y, x_test=None, y_test=None),
                    n_epochs=1, batch_size=2, loss="mse", rng=0)
    assert math.isclose(history.update_ratio[1, 0], ratios[1], rel_tol=1e-10)
    np.testing.assert_allclose(net.weights[0], p1, rtol=1e-12)     # the replay was faithful


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_zero_init_keeps_every_hidden_unit_identical_and_only_the_output_bias_learns(
        activation):
    net = init_mlp([4, 6, 5, 3], "zeros", activation=activation, rng=0, dtype=np.float64)
    rng = np.random.default_rng(4)
    data = SimpleNamespace(x_train=rng.standard_normal((40, 4)), y_train=np.arange(40) % 3,
                           x_test=None, y_test=None)
    train(net, SGD(0.5), data, n_epochs=3, batch_size=8, rng=0)
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        assert np.all(w == w[0]) and np.all(b == b[0])       # all units of a layer agree
    assert all(np.all(w == 0) for w in net.weights)          # the symmetry never breaks
    assert np.any(net.biases[-1] != 0)                       # while the output bias did learn


def test_constant_init_moves_the_units_but_keeps_them_identical():
    sizes = [4, 6, 5, 3]
    weights = [np.full((o, i), 0.3) for i, o in zip(sizes[:-1], sizes[1:])]
    net = MLP(weights, activation="tanh")
    rng = np.random.default_rng(4)
    data = SimpleNamespace(x_train=rng.standard_normal((40, 4)), y_train=np.arange(40) % 3,
                           x_test=None, y_test=None)
    train(net, SGD(0.5), data, n_epochs=3, batch_size=8, rng=0)
    assert not np.allclose(net.weights[0], 0.3)               # hidden weights did change
    for l in range(2):          # rows of W_l (incoming) and columns of W_{l+1} (outgoing)
        np.testing.assert_allclose(net.weights[l], np.broadcast_to(net.weights[l][0],
                                                                   net.weights[l].shape),
                                   rtol=1e-12)
        np.testing.assert_allclose(net.weights[l + 1], np.broadcast_to(
            net.weights[l + 1][:, :1], net.weights[l + 1].shape), rtol=1e-12)


def test_a_huge_learning_rate_is_reported_as_divergence_without_warnings(digits):
    net = init_mlp([64, 64, 10], "kaiming_normal", rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train(net, SGD(1e6, momentum=0.9), digits, n_epochs=4, batch_size=32,
                        rng=0)
    assert history.diverged and history.diverged_epoch == 1
    assert np.isfinite(history.train_loss[0])
    assert np.all(np.isnan(history.train_loss[1:])) and np.all(np.isnan(history.grad_norm[1:]))


def test_divergence_in_the_last_step_of_an_epoch_is_reported_in_that_epoch():
    # One full-batch step per epoch.  Outputs ~1e15 give a finite float32 loss ~1e30, but
    # the gradient ~1e30 times lr 1e10 overflows every weight to infinity in that step.
    net = MLP([np.ones((2, 2), dtype=np.float32), np.ones((1, 2), dtype=np.float32)],
              activation="identity")
    x = np.full((4, 2), 1e15, dtype=np.float32)
    data = SimpleNamespace(x_train=x, y_train=np.zeros((4, 1), dtype=np.float32),
                           x_test=None, y_test=None)
    history = train(net, SGD(1e10, momentum=0.0), data, n_epochs=3, batch_size=4, loss="mse",
                    rng=0)
    assert not np.all(np.isfinite(net.params))
    assert history.diverged_epoch == 1 and np.isfinite(history.train_loss[0])
    assert np.all(np.isnan(history.train_loss[1:]))


def test_train_epoch_returns_a_decreasing_mean_loss(digits):
    net, opt = init_mlp([64, 32, 10], rng=0), SGD(0.05)
    losses = [train_epoch(net, opt, digits.x_train, digits.y_train, batch_size=64, rng=e)
              for e in range(3)]
    assert losses[2] < losses[0]


def test_train_epoch_in_a_loop_reuses_its_arrays_and_gives_the_same_result(digits, monkeypatch):
    # Stale gradients or activations from the previous call must not leak into the next:
    # the same training with new arrays at every call must give the same network.
    x, y = digits.x_train[:300], digits.y_train[:300]
    reused, fresh = init_mlp([64, 32, 32, 10], rng=0), init_mlp([64, 32, 32, 10], rng=0)
    opt_reused, opt_fresh = SGD(0.05), SGD(0.05)
    kept = []
    for epoch in range(3):
        train_epoch(reused, opt_reused, x, y, batch_size=64, rng=epoch)
        kept.append(mlp._REUSED[2:])
    for epoch in range(3):
        monkeypatch.setattr(mlp, "_REUSED", None)
        train_epoch(fresh, opt_fresh, x, y, batch_size=64, rng=epoch)
    assert all(k[0] is kept[0][0] and k[1] is kept[0][1] for k in kept)
    assert not np.array_equal(reused.params, init_mlp([64, 32, 32, 10], rng=0).params)
    assert np.array_equal(reused.params, fresh.params)


def test_train_epoch_makes_new_arrays_for_another_net_or_batch_size_and_frees_them(digits):
    import gc

    x, y = digits.x_train[:200], digits.y_train[:200]
    net, other = init_mlp([64, 16, 10], rng=0), init_mlp([64, 16, 10], rng=1)
    train_epoch(net, SGD(0.05), x, y, batch_size=50, rng=0)
    first = mlp._REUSED[3]
    train_epoch(net, SGD(0.05), x, y, batch_size=40, rng=0)
    assert mlp._REUSED[3] is not first and mlp._REUSED[3].batch_size == 40
    second = mlp._REUSED[3]
    train_epoch(other, SGD(0.05), x, y, batch_size=40, rng=0)
    assert mlp._REUSED[3] is not second and mlp._REUSED[0]() is other
    del other
    gc.collect()
    assert mlp._REUSED is None                        # nothing is kept for a dead network


def test_train_epoch_keeps_no_arrays_larger_than_the_reuse_limit(digits, monkeypatch):
    x, y = digits.x_train[:200], digits.y_train[:200]
    net = init_mlp([64, 16, 10], rng=0)
    train_epoch(net, SGD(0.05), x, y, batch_size=50, rng=0)
    assert mlp._REUSED is not None
    monkeypatch.setattr(mlp, "_REUSE_MAX_BYTES", net.params.nbytes)   # less than grads + workspace
    train_epoch(net, SGD(0.05), x, y, batch_size=40, rng=0)
    assert mlp._REUSED is None


def test_mse_with_integer_labels_trains_on_one_hot_targets():
    net = init_mlp([3, 2], "zeros", rng=0, dtype=np.float64)
    x, y = _data(np.float64)
    loss, accuracy = evaluate(net, x, y, loss="mse")
    assert loss == 0.5 and accuracy == 0.5            # outputs 0 vs one-hot: mean of 1/2


# -- bad input -------------------------------------------------------------------------------

def _train(**kwargs):
    x, y = _data()
    arguments = {"net": _net(), "optimizer": SGD(0.1),
                 "data": SimpleNamespace(x_train=x, y_train=y, x_test=None, y_test=None),
                 "n_epochs": 1, "batch_size": 2}
    arguments.update(kwargs)
    return train(**arguments)


def _with(x=None, y=None):
    x0, y0 = _data()
    return SimpleNamespace(x_train=x0 if x is None else x, y_train=y0 if y is None else y,
                           x_test=None, y_test=None)


BAD_INPUT = [
    # layer_sizes
    (lambda: init_mlp([]), ValueError, r"layer_sizes needs at least an input and an output"),
    (lambda: init_mlp([3]), ValueError, r"layer_sizes needs at least .*got \[3\]"),
    (lambda: init_mlp([3, 0, 2]), ValueError, r"layer_sizes entry must be at least 1; got 0"),
    (lambda: init_mlp([3, -4, 2]), ValueError, r"layer_sizes entry must be at least 1; got -4"),
    (lambda: init_mlp([3, 4.0, 2]), TypeError, r"layer_sizes entry must be an integer; got 4.0"),
    (lambda: init_mlp([3, True, 2]), TypeError, r"layer_sizes entry .*integer; got True"),
    (lambda: init_mlp("32"), TypeError, r"layer_sizes must be a sequence of integers; got '32'"),
    (lambda: init_mlp(np.array([[3, 2]])), TypeError, r"layer_sizes must be a sequence"),
    # names
    (lambda: init_mlp([3, 2], "he_normal"), ValueError,
     r"scheme must be one of 'zeros', .*; got 'he_normal'"),
    (lambda: init_mlp([3, 2], activation="sigmoid"), ValueError,
     r"activation must be one of 'relu', 'leaky_relu', 'tanh', 'identity'; got 'sigmoid'"),
    (lambda: _train(loss="hinge"), ValueError,
     r"loss must be one of 'cross_entropy', 'mse'; got 'hinge'"),
    (lambda: init_mlp([3, 2], negative_slope=2), ValueError,
     r"negative_slope must lie in \[0, 1\]; got 2.0"),
    (lambda: init_mlp([3, 2], bias="normal"), ValueError, r"bias must be one of 'uniform'"),
    (lambda: init_mlp([3, 2], dtype=np.int32), ValueError, r"dtype must be one of float16"),
    # optimizers
    (lambda: SGD(0.0), ValueError, r"learning_rate must be positive; got 0.0"),
    (lambda: SGD(-0.1), ValueError, r"learning_rate must be positive; got -0.1"),
    (lambda: SGD(float("nan")), ValueError, r"learning_rate must be finite; got nan"),
    (lambda: SGD(True), TypeError, r"learning_rate must be a real number; got True"),
    (lambda: Adam(float("inf")), ValueError, r"learning_rate must be finite; got inf"),
    (lambda: SGD(0.1, momentum=1.0), ValueError, r"momentum must lie in \[0, 1\); got 1.0"),
    (lambda: SGD(0.1, momentum=-0.1), ValueError, r"momentum must lie in \[0, 1\); got -0.1"),
    (lambda: Adam(beta1=1.0), ValueError, r"beta1 must lie in \[0, 1\); got 1.0"),
    (lambda: Adam(beta2=1.5), ValueError, r"beta2 must lie in \[0, 1\); got 1.5"),
    (lambda: Adam(eps=0.0), ValueError, r"eps must be positive; got 0.0"),
    # training arguments
    (lambda: _train(batch_size=0), ValueError, r"batch_size must be at least 1; got 0"),
    (lambda: _train(batch_size=2.0), TypeError, r"batch_size must be an integer; got 2.0"),
    (lambda: _train(n_epochs=0), ValueError, r"n_epochs must be at least 1; got 0"),
    (lambda: _train(probe_size=0), ValueError, r"probe_size must be at least 1; got 0"),
    (lambda: _train(net="net"), TypeError, r"net must be an MLP; got str"),
    (lambda: _train(optimizer=0.1), TypeError, r"optimizer must have a step"),
    # x
    (lambda: forward(_net(), np.ones(3)), ValueError,
     r"x must be 2-dimensional; got shape \(3,\)"),
    (lambda: forward(_net(), np.ones((2, 5))), ValueError,
     r"x must have 3 columns .*; got shape \(2, 5\)"),
    (lambda: forward(_net(), [[1.0, 2.0, 3.0]]), TypeError,
     r"x must be a numpy.ndarray; got list"),
    (lambda: _train(data=_with(x=np.full((6, 3), np.nan))), ValueError,
     r"data.x_train must contain only finite values"),
    (lambda: evaluate(_net(), np.full((6, 3), np.inf), _data()[1]), ValueError,
     r"x must contain only finite values"),
    (lambda: forward(_net(), np.full((2, 3), np.nan)), ValueError,
     r"x must contain only finite values; got NaN or infinity"),
    (lambda: predict(_net(), np.array([[1.0, np.inf, 0.0]])), ValueError,
     r"x must contain only finite values"),
    (lambda: predict("net", np.ones((2, 3))), TypeError, r"net must be an MLP; got str"),
    # the other public entry points
    (lambda: _train(n_epochs=10**9), ValueError,
     r"n_epochs must be at most 100000; got 1000000000"),
    (lambda: _train(progress="tqdm"), TypeError,
     r"progress must be None or a callable .*; got 'tqdm'"),
    (lambda: _train(progress=True), TypeError, r"progress must be None or a callable"),
    (lambda: _train(optimizer=SGD), TypeError,
     r"optimizer must be an optimizer object, e.g. SGD\(0.01\); got the class SGD itself"),
    (lambda: backward(_net(), None, np.zeros((2, 2), np.float32)), TypeError,
     r"inputs must be the list of layer inputs that forward returns; got NoneType"),
    (lambda: backward(_net(), forward(_net(), np.ones((2, 3)))[1], np.zeros((2, 5), np.float32)),
     ValueError, r"grad_outputs must have shape \(batch, 2\) and dtype float32; got shape "
     r"\(2, 5\)"),
    (lambda: backward(_net(), forward(_net(), np.ones((2, 3)))[1][:1],
                      np.zeros((2, 2), np.float32)),
     ValueError, r"inputs must hold one array per layer \(2\); got 1"),
    (lambda: backward(_net(), forward(_net(), np.ones((3, 3)))[1], np.zeros((2, 2), np.float32)),
     ValueError, r"inputs\[0\] must have shape \(2, 3\) and dtype float32"),
    (lambda: dead_unit_fraction(None), TypeError, r"inputs must be the list of layer inputs"),
    (lambda: dead_unit_fraction([np.ones((2, 3)), [1, 2]]), TypeError,
     r"inputs\[1\] must be a numpy.ndarray"),
    (lambda: softmax_cross_entropy(np.full((2, 3), np.inf), np.array([0, 1])), ValueError,
     r"logits must contain only finite values"),
    (lambda: mean_squared_error(np.full((2, 1), np.nan), np.zeros((2, 1))), ValueError,
     r"outputs must contain only finite values"),
    # memory and workspaces
    (lambda: init_mlp([10**5, 10**5]), ValueError,
     r"layer_sizes \[100000, 100000\] need 149 GiB to build; the limit is "
     r"MAX_NETWORK_BYTES = 4 GiB"),
    (lambda: init_mlp([2**40, 2**40, 2]), ValueError, r"need .* GiB to build"),
    (lambda: Workspace(_net(), 10**9), ValueError,
     r"batch_size 1000000000 needs .* GiB of workspace for layer sizes \(3, 4, 2\); the "
     r"limit is MAX_WORKSPACE_BYTES = 4 GiB"),
    (lambda: Workspace("net", 4), TypeError, r"net must be an MLP; got str"),
    (lambda: forward(_net(), np.ones((5, 3)), workspace=Workspace(_net(), 4)), ValueError,
     r"the batch has 5 rows but the workspace serves at most 4"),
    (lambda: forward(_net(), np.ones((2, 3)), workspace=Workspace(_net((3, 5, 2)), 4)),
     ValueError, r"workspace was made for another network"),
    (lambda: forward(_net(), np.ones((2, 3)), workspace="ws"), TypeError,
     r"workspace must be a Workspace or None; got str"),
    # labels
    (lambda: _train(data=_with(y=np.array([0, 1, 2, 0, 1, 0]))), ValueError,
     r"data.y_train labels must lie in range\(2\); got values from 0 to 2"),
    (lambda: _train(data=_with(y=np.array([0, -1, 1, 0, 1, 0]))), ValueError,
     r"labels must lie in range\(2\); got values from -1 to 1"),
    (lambda: _train(data=_with(y=np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))), TypeError,
     r"data.y_train must hold integer class labels .* for cross_entropy; got dtype float64"),
    (lambda: _train(data=_with(y=np.array([0, 1, 0, 1, 0]))), ValueError,
     r"data.x_train and data.y_train must have the same length; got 6 and 5"),
    (lambda: _train(data=_with(y=np.zeros((6, 3))), loss="mse"), ValueError,
     r"data.y_train must have shape \(n, 2\) for mse; got \(6, 3\)"),
    (lambda: _train(data=_with(y=[0, 1, 0, 1, 0, 1])), TypeError,
     r"data.y_train must be a numpy.ndarray; got list"),
    (lambda: _train(data=SimpleNamespace(**{**vars(_with()), "y_test": np.zeros(6, int)})),
     ValueError, r"data.x_test and data.y_test must both be arrays or both be None .*got "
     r"x_test NoneType and y_test ndarray"),
    # hand-built networks
    (lambda: MLP([np.ones((3, 2)), np.ones((1, 4))]), ValueError,
     r"weights\[1\] has shape \(1, 4\) but weights\[0\] gives 3 outputs"),
    (lambda: MLP([np.ones((3, 2), dtype=np.int64)]), TypeError,
     r"weights\[0\] must have a floating dtype .*; got dtype int64"),
    (lambda: MLP([np.ones((3, 2)), np.ones((1, 3), dtype=np.float32)]), TypeError,
     r"weights must all have one dtype; weights\[0\] is float64 and weights\[1\] is float32"),
    (lambda: MLP([]), TypeError, r"weights must be a non-empty list of 2-D arrays"),
    (lambda: predict(_net(), np.full((2, 3), 1e39)), ValueError,
     r"x must fit the network's dtype float32 \(magnitudes up to 3.4e\+38\); got values up to 1e\+39"),
    (lambda: MLP([np.ones((3, 2))], [np.ones(2)]), ValueError,
     r"biases\[0\] must have shape \(3,\); got \(2,\)"),
]


@pytest.mark.parametrize("call, error, match", BAD_INPUT)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_batch_size_beyond_the_data_trains_on_the_whole_set_in_one_step():
    # Nothing is allocated for rows that do not exist: 10**9 behaves as len(x) exactly.
    x, y = _data()
    runs = []
    for batch_size in (len(x), 10**9):
        net = _net()
        loss = train_epoch(net, SGD(0.1), x, y, batch_size=batch_size, rng=0)
        history = train(net, SGD(0.1), SimpleNamespace(x_train=x, y_train=y, x_test=None,
                                                        y_test=None),
                        n_epochs=2, batch_size=batch_size, rng=0)
        runs.append((loss, net.params, history.train_loss))
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1]) and np.array_equal(runs[0][2], runs[1][2])


def test_a_numpy_array_of_layer_sizes_is_accepted():
    assert init_mlp(np.array([3, 4, 2]), rng=0).layer_sizes == (3, 4, 2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: mlp.mean_squared_error(np.ones((2, 1)), np.zeros(2)), ValueError,
     r"targets must have the shape of outputs, \(2, 1\); got \(2,\)"),
    (lambda: mlp.loss_and_gradient(np.ones((2, 2)), np.ones((2, 2)), "bogus"), ValueError,
     "loss must be one of 'cross_entropy', 'mse'; got 'bogus'"),
    (lambda: mlp.loss_and_gradient(np.ones((2, 2)), np.ones((2, 2)), None), TypeError,
     "loss must be a string"),
    (lambda: mlp.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, -1])), ValueError,
     r"labels must be class indices in range\(3\); got np.int64\(-1\)|got -1"),
    (lambda: mlp.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError,
     r"in range\(3\)"),
    (lambda: mlp.softmax_cross_entropy(np.zeros((2, 3)), np.array([[0], [1]])), ValueError,
     r"labels must have shape \(2,\)"),
    (lambda: mlp.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError,
     "labels must be a 1-D integer ndarray"),
    (lambda: mlp.softmax_cross_entropy(np.zeros((2, 3)), np.array([True, False])), TypeError,
     "labels must be a 1-D integer ndarray"),
    (lambda: mlp.softmax_cross_entropy([[0.0, 1.0]], np.array([0])), TypeError,
     "logits must be a numpy.ndarray"),
])
def test_the_losses_refuse_what_they_would_silently_get_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_train_names_what_its_data_lacks():
    net = init_mlp([2, 3, 2], rng=0)
    with pytest.raises(TypeError, match="data must have x_train, y_train, x_test and y_test.*"
                                        "got NoneType without x_train"):
        mlp.train(net, SGD(0.1), None)


def test_a_bias_too_large_for_the_dtype_is_refused():
    with pytest.raises(ValueError, match=r"bias 1e\+300 does not fit in float32"):
        init_mlp([2, 3], bias=1e300, rng=0)
