"""Tests for kaiming_lib.probes: measured signal propagation through stacks of layers.

Sampled statistics are checked against tolerances derived from their sampling distribution,
written next to each assertion.  Two facts carry most of the derivations:

* Given the activations ``x_{l-1}`` below a layer, the units of layer ``l`` are iid: unit
  ``i`` only depends on row ``w_i`` of ``W_l``.  Any per-unit statistic (mean square over the
  batch, fraction of zeros, fraction saturated) is therefore an iid sample of size ``n_l``,
  and its average over units has standard error ``sd / sqrt(n_l)``, with ``sd`` estimated
  from the units themselves or bounded (a fraction in [0, 1] with mean p has variance at
  most p (1 - p)).
* The weight distributions are symmetric and zero-mean, so ``E[v_i | x_{l-1}] =
  n_{l-1} Var[w] E_batch[x_{l-1}^2]`` for the mean square ``v_i`` of unit i, and
  ``E[relu(y)^2] = E[y^2] / 2`` unit by unit (``w_i -> -w_i`` swaps the two halves).  These
  conditional expectations are exact at any width; He et al.'s recursion is their chain.

Every conditional step is a martingale increment, so the variances of the log-steps add up
along the depth; the marginal checks use that sum (estimated from the same units) as their
tolerance.
"""

import dataclasses
import math

import numpy as np
import pytest

from kaiming_lib.init import SCHEMES, SuspiciousInputWarning
from kaiming_lib.probes import (
    DEFAULT_HIST_EDGES, layers_until_out_of_range, probe_stack, propagate, sample_weights,
)
from kaiming_lib.variance import Activation, predict_stack

# 5 standard errors: P(|N(0, 1)| > 5) = 5.7e-7, so even with ~200 such checks in this file a
# false failure has probability below 1e-4.
Z = 5.0
TANH_SATURATION = 0.97          # the documented threshold |tanh(y)| > 0.97


# -- helpers written for the tests, independent of the library ---------------------------------

def _relu(y):
    return np.where(y > 0, y, 0.0).astype(y.dtype)


def _forward(weights, x, phi, final_activation=True):
    """Return ``(preacts, acts)`` of a stack, by the textbook formula."""
    preacts, acts = [], []
    for l, w in enumerate(weights):
        y = x @ w.T
        x = phi(y) if (l < len(weights) - 1 or final_activation) else y
        preacts.append(y)
        acts.append(x)
    return preacts, acts


def _loss(weights, x, g, phi, final_activation=True):
    return float(np.sum(g * _forward(weights, x, phi, final_activation)[1][-1]))


def _mean_square(a):
    return float(np.mean(np.asarray(a, dtype=np.float64) ** 2))


def _unit_mean_squares(a):
    """Mean over the batch of ``a[:, i]**2``: one value per unit, shape ``(n,)``."""
    a = np.asarray(a, dtype=np.float64)
    return np.einsum("bi,bi->i", a, a) / a.shape[0]


def _stack_run(widths, scheme, seed, batch_size, activation="relu", gain=1.0):
    """Inputs, weights, the probe of one stack (activations kept) and its preacts by hand.

    ``preacts[l]`` is ``x_{l-1} @ W_l.T`` computed from the probe's own ``x_{l-1}``, so
    that each layer is checked given the layer below, as the derivations condition.
    """
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((batch_size, widths[0])).astype(np.float32)
    weights = sample_weights(widths, scheme, gain=gain, rng=rng)
    result = propagate(weights, x0, activation, backward=False, keep_activations=True)
    below = [x0, *result.activations[0][:-1]]
    preacts = [x @ w.T for x, w in zip(below, weights)]
    return x0, weights, preacts, result


def _step_statistics(x0, preacts, result, n_in_var):
    """Per layer: z-scores of the two halves of He's Eq. 8 and their relative variances.

    ``n_in_var`` is ``n_{l-1} Var[w_l]`` (2 for Kaiming fan_in, 1 for LeCun), so that
    ``E[q_l | x_{l-1}] = n_in_var * E_batch[x_{l-1}^2]``.  Returns arrays of length L:
    ``z_w`` for ``q_l`` against that expectation, ``z_relu`` for ``E[x_l^2]`` against
    ``q_l / 2``, and the squared relative standard errors ``rel_w`` and ``rel_relu``.
    """
    q, a = result.preact_second_moment[0], result.act_second_moment[0]
    a_below = np.concatenate([[_mean_square(x0)], a[:-1]])
    z_w, z_relu, rel_w, rel_relu = (np.empty(len(preacts)) for _ in range(4))
    for l, (y, x) in enumerate(zip(preacts, result.activations[0])):
        v = _unit_mean_squares(y)                  # iid over units given x_{l-1}
        d = _unit_mean_squares(x) - v / 2          # iid, mean 0 by the symmetry w -> -w
        se_w, se_relu = v.std(ddof=1) / math.sqrt(v.size), d.std(ddof=1) / math.sqrt(d.size)
        expected = n_in_var * a_below[l]
        z_w[l] = (q[l] - expected) / se_w
        z_relu[l] = (a[l] - q[l] / 2) / se_relu
        rel_w[l] = (se_w / expected) ** 2
        rel_relu[l] = (se_relu / (q[l] / 2)) ** 2
    return z_w, z_relu, rel_w, rel_relu


@pytest.fixture(scope="module")
def kaiming_relu():
    """Kaiming normal + ReLU, widths [512] * 21, batch 512: one seed, activations kept."""
    widths = [512] * 21
    x0, weights, preacts, result = _stack_run(widths, "kaiming_normal", 20240501, 512)
    return widths, x0, weights, preacts, result


# -- forward: He et al.'s recursion ----------------------------------------------------------

def test_probe_statistics_equal_hand_computed_moments(kaiming_relu):
    widths, x0, weights, preacts, result = kaiming_relu
    for l, (y, x) in enumerate(zip(preacts, result.activations[0])):
        y64, x64 = y.astype(np.float64), x.astype(np.float64)
        # float32 products and float32 row sums of 512 squares: relative error below 1e-5.
        np.testing.assert_allclose(result.preact_second_moment[0, l], np.mean(y64**2), rtol=1e-5)
        np.testing.assert_allclose(result.preact_mean[0, l], y64.mean(),
                                   atol=1e-5 * y64.std())
        np.testing.assert_allclose(result.preact_std[0, l], y64.std(), rtol=1e-5)
        np.testing.assert_allclose(x, _relu(y), rtol=1e-6, atol=1e-6 * y64.std())
        np.testing.assert_allclose(result.act_mean[0, l], x64.mean(), rtol=1e-5)
        np.testing.assert_allclose(result.act_std[0, l], x64.std(), rtol=1e-5)
        assert result.act_zero_fraction[0, l] == np.count_nonzero(x == 0) / x.size
    assert np.all(np.isnan(result.act_saturated_fraction))     # ReLU does not saturate
    assert np.all(result.nonfinite_fraction == 0)


def test_kaiming_relu_follows_he_recursion_layer_by_layer(kaiming_relu):
    # He et al. Eq. 8 in two exact conditional steps, for every one of the 20 layers:
    # E[q_l | x_{l-1}] = n (2 / n) E[x_{l-1}^2] and E[x_l^2 | y_l's units] = q_l / 2.
    # Each is a mean over 512 iid units: |z| < 5 standard errors estimated from the units.
    widths, x0, weights, preacts, result = kaiming_relu
    z_w, z_relu, _, _ = _step_statistics(x0, preacts, result, n_in_var=512 * (2 / 512))
    assert np.all(np.abs(z_w) < Z), z_w
    assert np.all(np.abs(z_relu) < Z), z_relu


def test_kaiming_relu_preact_second_moment_stays_near_two(kaiming_relu):
    widths, x0, weights, preacts, result = kaiming_relu
    # By hand: q_1 = n_0 Var[w] E[x_0^2] = 512 * (2/512) * 1 = 2, and every later layer
    # n Var[w] E[relu(y)^2] = 512 * (2/512) * q / 2 = q: q_l = 2 at every layer.
    expected = 512 * (2 / 512) * 1.0
    prediction = predict_stack(widths, "kaiming_normal", "relu")
    np.testing.assert_allclose(prediction.preact_second_moment, expected, rtol=1e-12)

    # q_l is 2 times a product of conditionally unbiased steps, so log(q_l / 2) is a sum of
    # martingale increments: its variance is the sum of the steps' relative variances
    # (2 / (B n_0) for the input's mean square, then the estimated W and ReLU steps below
    # layer l).  At width 512 that is about 0.4^2 at layer 20: finite width makes layer-to-
    # layer fluctuation, and the tolerance grows like sqrt(l / n) with it.
    _, _, rel_w, rel_relu = _step_statistics(x0, preacts, result, n_in_var=2.0)
    variance = 2 / x0.size + np.cumsum(rel_w) + np.concatenate([[0.0], np.cumsum(rel_relu)[:-1]])
    deviation = np.log(result.preact_second_moment[0] / expected)
    assert np.all(np.abs(deviation) < Z * np.sqrt(variance)), (deviation, np.sqrt(variance))
    # The first layer alone: 2 / (B n_0) + 2 / n_1 at most, i.e. within 5 * 0.063 of 2.
    assert abs(result.preact_second_moment[0, 0] - expected) < Z * expected * math.sqrt(
        2 / x0.size + 2 / 512)


def test_kaiming_relu_zeroes_half_of_the_units(kaiming_relu):
    widths, x0, weights, preacts, result = kaiming_relu
    zeros = result.act_zero_fraction[0]
    # Layer 1: x_0 is iid N(0, 1), so the signs of y = x_0 W^T are pairwise uncorrelated
    # (flip w_i or x_b) and the zero fraction is binomial: sd = 0.5 / sqrt(B n_1) = 0.001.
    assert abs(zeros[0] - 0.5) < Z * 0.5 / math.sqrt(512 * 512)
    # Deeper layers share the mean direction of x_{l-1}, so only units are independent: a
    # unit's fraction f_i lies in [0, 1] with mean 1/2, Var[f_i] <= 1/4, sd <= 0.5 / sqrt(n).
    assert np.all(np.abs(zeros[1:] - 0.5) < Z * 0.5 / math.sqrt(512))
    # The layers' deviations are martingale increments (mean 1/2 given the layers below):
    # their mean over 19 layers has sd <= 0.5 / sqrt(19 * 512) = 0.005.
    assert abs(zeros[1:].mean() - 0.5) < Z * 0.5 / math.sqrt(19 * 512)


def test_lecun_relu_halves_the_second_moment_at_every_layer():
    widths = [256] * 21
    x0, weights, preacts, result = _stack_run(widths, "lecun_normal", 7, 256)
    # By hand: n Var[w] E[relu(y)^2] / q = 256 * (1/256) * 1/2 = 1/2, i.e. -1 in log2.
    factor = 256 * (1 / 256) * 0.5
    prediction = predict_stack(widths, "lecun_normal", "relu").preact_second_moment
    np.testing.assert_allclose(prediction[1:] / prediction[:-1], factor, rtol=1e-12)

    z_w, z_relu, rel_w, rel_relu = _step_statistics(x0, preacts, result, n_in_var=1.0)
    assert np.all(np.abs(z_w) < Z) and np.all(np.abs(z_relu) < Z), (z_w, z_relu)
    # log2(q_l / q_{l-1}) + 1 is the ReLU step of layer l-1 plus the W step of layer l, in
    # log2 units: variance (rel_relu_{l-1} + rel_w_l) / ln(2)^2.
    q = result.preact_second_moment[0]
    log2_ratio = np.log2(q[1:] / q[:-1])
    step_sd = np.sqrt(rel_relu[:-1] + rel_w[1:]) / math.log(2)
    assert np.all(np.abs(log2_ratio - math.log2(factor)) < Z * step_sd), log2_ratio
    # Their mean over the 19 ratios: the increments add, sd = sqrt(sum of variances) / 19.
    assert abs(log2_ratio.mean() + 1) < Z * math.sqrt(np.sum(step_sd**2)) / 19


def test_tanh_with_large_weights_saturates_nearly_every_unit():
    widths = [256] * 6
    x0, weights, preacts, result = _stack_run(widths, "large_normal", 11, 256,
                                              activation="tanh", gain=4.0)
    # Given x_{l-1}, y_bi = w_i . x_b ~ N(0, (4 |x_b|)^2) exactly (w_i ~ N(0, 4^2 I)), so
    # P(|tanh y_bi| > 0.97) = erfc(atanh(0.97) / (4 |x_b| sqrt 2)); averaged over the batch it
    # is the expected fraction p_l.  Units are iid given x_{l-1}, each fraction in [0, 1] has
    # variance <= p (1 - p): sd <= sqrt(p (1 - p) / n).
    threshold = math.atanh(TANH_SATURATION)
    below = [x0, *result.activations[0][:-1]]
    for l, x_prev in enumerate(below):
        norms = np.linalg.norm(x_prev.astype(np.float64), axis=1)
        p = np.mean([math.erfc(threshold / (4 * r * math.sqrt(2))) for r in norms])
        measured = result.act_saturated_fraction[0, l]
        assert p > 0.96                        # near 1: |y| has a std of about 64 here
        assert abs(measured - p) < Z * math.sqrt(p * (1 - p) / 256), (l, measured, p)
    # The saturated fraction counts |x| > 0.97 among the kept activations, by hand:
    for l, x in enumerate(result.activations[0]):
        assert result.act_saturated_fraction[0, l] == np.count_nonzero(np.abs(x) > 0.97) / x.size


def test_zero_init_gives_exact_zeros_everywhere_without_warnings():
    result = probe_stack([64] * 6, "zeros", "relu", batch_size=32, n_seeds=2, rng=0)
    for name in ("preact_mean", "preact_std", "preact_second_moment", "act_mean", "act_std",
                 "act_second_moment", "nonfinite_fraction", "input_grad_std",
                 "weight_grad_norm", "weight_norm"):
        assert np.all(result.values(name) == 0), name
    assert np.all(result.act_zero_fraction == 1)
    # All mass of every histogram in the bin [0, 0.2) that holds 0 (the std is 0, so the
    # values are binned unscaled).
    zero_bin = np.searchsorted(DEFAULT_HIST_EDGES, 0.0, side="right") - 1
    expected = np.zeros(DEFAULT_HIST_EDGES.size - 1)
    expected[zero_bin] = 1.0
    np.testing.assert_array_equal(result.act_hist,
                                  np.broadcast_to(expected, result.act_hist.shape))
    np.testing.assert_array_equal(layers_until_out_of_range(result), [1, 1])


def test_small_normal_vanishes_below_1e6_at_the_predicted_layer():
    n, sigma = 530, 0.01
    result = probe_stack([n] * 13, "small_normal", "relu", batch_size=64, n_seeds=2, rng=3,
                         backward=False)
    # By hand: q_1 = n sigma^2 E[x_0^2], then q_l = q_{l-1} * (n sigma^2 / 2) (ReLU halves,
    # n sigma^2 multiplies), and std[relu(y)] = sqrt(q (1/2 - 1/(2 pi))) for y ~ N(0, q).
    factor = n * sigma**2 / 2                       # 0.0265: the std shrinks 6.1x per layer
    q = n * sigma**2 * factor ** np.arange(12)
    predicted_std = np.sqrt(q * (0.5 - 1 / (2 * math.pi)))
    expected_layer = int(np.argmax(predicted_std < 1e-6)) + 1
    assert expected_layer == 8
    # Margin: the prediction is a factor 2.5 above 1e-6 at layer 7 and 2.5 below it at
    # layer 8 (0.9 in log).  Fluctuation, bounded per sample (the batch mean varies less,
    # by Cauchy-Schwarz): |x_l|^2 = |x_0|^2 prod_k rho_k with independent factors, where
    # |x_0|^2 / n has relative variance 2 / n and rho = (2/n) sum_i relu(z_i)^2 has 5 / n
    # (E[relu(z)^4] = 3/2, E[relu(z)^2] = 1/2), so the relative variance of E[x_l^2] is at
    # most (1 + 2/n)(1 + 5/n)^l - 1, and the sd of log(std) half its square root.
    layers = np.arange(1, 13)
    sd_log_std = 0.5 * np.sqrt((1 + 2 / n) * (1 + 5 / n) ** layers - 1)
    margin = np.abs(np.log(predicted_std / 1e-6))
    assert np.all(margin[6:8] > Z * sd_log_std[6:8])
    np.testing.assert_array_equal(layers_until_out_of_range(result), [expected_layer] * 2)


def test_large_normal_overflows_and_is_reported_without_warnings():
    # pytest runs with filterwarnings=error: any RuntimeWarning (overflow, invalid value in
    # a product, a reduction or a quantile) would fail this test.
    n = 256
    result = probe_stack([n] * 51, "large_normal", "relu", batch_size=16, n_seeds=2, rng=5,
                         dtype=np.float32, hist_units="absolute",
                         hist_edges=np.linspace(-3.5e38, 3.5e38, 8), hist_sample_size=16 * n)
    # By hand: q_1 = n * 1 * E[x_0^2] = 256, then q_l = q_{l-1} * n / 2 (std x11.3 per
    # layer), std[relu(y)] = sqrt(q (1/2 - 1/(2 pi))).
    q = n * (n / 2.0) ** np.arange(50)
    predicted_std = np.sqrt(q * (0.5 - 1 / (2 * math.pi)))
    # A threshold half-way (in log) between layers 4 and 5 is crossed at layer 5: the margin
    # is ln(sqrt(128)) / 2 = 1.2 on either side, over 5 sd of log act_std bounded as in the
    # small_normal test (0.5 sqrt((1 + 2/n)(1 + 5/n)^l - 1) = 0.16 at l = 5).
    high = math.sqrt(predicted_std[3] * predicted_std[4])
    assert math.log(math.sqrt(n / 2)) / 2 > Z * 0.5 * math.sqrt((1 + 2 / n) * (1 + 5 / n) ** 5 - 1)
    np.testing.assert_array_equal(layers_until_out_of_range(result, 1e-6, high), [5, 5])

    # float32 overflows where |y| passes 3.4e38: given x_{l-1}, y ~ N(0, q) per entry, so the
    # expected number of overflows among the 16 n entries is 16 n erfc(3.4e38 / sqrt(2 q)):
    # about 19 at layer 36 (sqrt(q) = 1.2e38) and below 1e-200 at layer 35 (1.1e37).
    largest = float(np.finfo(np.float32).max)
    expected_overflows = [16 * n * math.erfc(largest / math.sqrt(2 * v)) for v in q]
    first_inf = 1 + int(np.argmax(np.array(expected_overflows) >= 1))
    assert first_inf == 36
    nonfinite = result.nonfinite_fraction
    first = 1 + np.argmax(nonfinite > 0, axis=1)
    assert np.all(np.abs(first - first_inf) <= 1), first
    assert np.all(nonfinite[:, -1] == 1)          # inf * (+w) + inf * (-w) = nan from then on
    # preact_std becomes non-finite exactly where nonfinite_fraction becomes positive.
    np.testing.assert_array_equal(
        layers_until_out_of_range(result, 1e-6, 1e300, name="preact_std"), first)
    assert np.all(np.isfinite(result.act_second_moment[:, : first_inf - 2]))
    # The NaN at the top reaches every gradient: none is reported as a finite number.
    assert not np.any(np.isfinite(result.input_grad_std))
    assert not np.any(np.isfinite(result.weight_grad_norm))
    # Histogram edges span every finite float32: the fractions sum to the finite fraction.
    np.testing.assert_allclose(result.preact_hist.sum(axis=2), 1 - nonfinite, atol=1e-12)
    np.testing.assert_array_equal(result.median("preact_std")[-1], np.nan)
    assert np.all(np.isfinite(result.median("act_rms")[: first_inf - 2]))


# -- histograms --------------------------------------------------------------------------------

def test_histograms_bin_values_in_units_of_the_layer_std(kaiming_relu):
    widths, x0, weights, preacts, result = kaiming_relu
    edges = result.hist_edges
    np.testing.assert_array_equal(edges, DEFAULT_HIST_EDGES)
    np.testing.assert_array_equal(result.hist_layers, np.arange(1, 21))
    assert result.act_hist.shape == result.preact_hist.shape == (1, 20, edges.size - 1)
    rows = result.hist_rows
    assert rows * 512 >= 65536                   # at least hist_sample_size values
    for l, (y, x) in enumerate(zip(preacts, result.activations[0])):
        for hist, values, std in ((result.preact_hist, y, result.preact_std[0, l]),
                                  (result.act_hist, x, result.act_std[0, l])):
            scaled = values[:rows].astype(np.float64) / std
            counts, _ = np.histogram(scaled, bins=edges)
            np.testing.assert_array_equal(hist[0, l], counts / scaled.size)
            inside = np.count_nonzero((scaled >= edges[0]) & (scaled <= edges[-1]))
            np.testing.assert_allclose(hist[0, l].sum(), inside / scaled.size, rtol=1e-12)


def test_histograms_on_chosen_layers_and_edges_count_every_finite_value():
    edges = [-50.0, -1.0, 0.0, 0.5, 1.0, 50.0]        # not uniform: still fixed bins
    result = probe_stack([64, 32, 48, 40], "kaiming_normal", "tanh", batch_size=50,
                         n_seeds=3, rng=1, hist_edges=edges, hist_layers=[3, 1],
                         hist_sample_size=10**6)
    assert result.preact_hist.shape == result.act_hist.shape == (3, 2, 5)
    np.testing.assert_array_equal(result.hist_layers, [1, 3])
    np.testing.assert_array_equal(result.hist_edges, edges)
    assert result.hist_rows == 50
    # Edges of +-50 std cover every value: the pre-activations are zero-mean bell shapes
    # (a Gaussian beyond 50 std has probability 1e-545), and |tanh| <= 1 is below 2 std
    # of the activations here, so every row of fractions sums to 1.
    np.testing.assert_allclose(result.preact_hist.sum(axis=2), 1.0, rtol=1e-12)
    np.testing.assert_allclose(result.act_hist.sum(axis=2), 1.0, rtol=1e-12)


@pytest.mark.parametrize("hist_layers, batch_size, rows", [
    (None, 64, 20),       # the narrowest histogrammed layer has 16 units: ceil(320 / 16)
    ([2], 64, 5),         # only layer 2, 64 units: ceil(320 / 64)
    (None, 12, 12),       # never more rows than the batch has
])
def test_histograms_use_enough_rows_for_the_narrowest_layer(hist_layers, batch_size, rows):
    result = probe_stack([64, 16, 64], batch_size=batch_size, rng=0, hist_layers=hist_layers,
                         hist_sample_size=320, backward=False)
    assert result.hist_rows == rows


# -- backward ----------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme, fan", [("kaiming_normal_fan_out", "out"),
                                         ("kaiming_normal", "in")])
def test_input_grad_std_follows_he_backward_recursion(scheme, fan):
    widths = [512, 1024, 512, 1024, 512]
    n_seeds = 4
    result = probe_stack(widths, scheme, "relu", batch_size=64, n_seeds=n_seeds, rng=2)
    # By hand (He et al. Eq. 12): Var[dL/dx_{l-1}] = (1/2) n_l Var[w_l] Var[dL/dx_l], with
    # Var[dL/dx_L] = Var[G] = 1.  fan_out: Var[w_l] = 2 / n_l, every factor 1 (flat);
    # fan_in: Var[w_l] = 2 / n_{l-1}, the factor is n_l / n_{l-1} (2 or 1/2 here).
    expected = np.ones(len(widths) - 1)
    for l in reversed(range(len(widths) - 1)):
        fan_value = widths[l + 1] if fan == "out" else widths[l]
        above = expected[l + 1] if l + 1 < len(expected) else 1.0
        expected[l] = 0.5 * widths[l + 1] * (2 / fan_value) * above
    predicted = predict_stack(widths, scheme, "relu").input_grad_variance
    np.testing.assert_allclose(predicted, expected, rtol=1e-12)

    # A loose but principled bound.  For one sample, under He's assumption that the ReLU
    # masks are independent of the weights they multiply, a step down through W_l multiplies
    # |g|^2 / n by (2/n_l) sum_i g_i^2 m_i (relative variance 5 / n_l: g Gaussian, m a fair
    # coin) times chi^2_{n_{l-1}} / n_{l-1} (relative variance 2 / n_{l-1}).  The batch mean
    # of the per-sample values has at most the per-sample variance (Cauchy-Schwarz), so the
    # relative variance of the measured variance k steps below the top is at most
    # prod (1 + 2/n_{l-1})(1 + 5/n_l) - 1; the std has half that relative sd, and the mean
    # over independent seeds divides it by sqrt(n_seeds).  (The mean of the gradient, which
    # the std subtracts, is O(1/n) smaller and neglected.)
    steps = [(1 + 2 / widths[l]) * (1 + 5 / widths[l + 1]) for l in range(len(widths) - 1)]
    rel_var = np.cumprod(steps[::-1])[::-1] - 1
    tolerance = Z * 0.5 * np.sqrt(rel_var / n_seeds)
    measured = result.input_grad_std.mean(axis=0) / np.sqrt(expected)
    assert np.all(np.abs(measured - 1) < tolerance), (measured, tolerance)
    # The bound separates the two schemes: fan_in differs from flat by a factor sqrt(2)
    # at alternate layers, more than the tolerance (at most 0.26 here).
    assert tolerance.max() < math.sqrt(2) - 1

    assert result.weight_grad_norm.shape == result.weight_norm.shape == (n_seeds, 4)
    assert np.all(result.weight_grad_norm > 0)
    assert np.all(np.isfinite(result.weight_grad_norm))


@pytest.mark.parametrize("activation, phi", [("relu", _relu), ("tanh", np.tanh)])
@pytest.mark.parametrize("final_activation", [True, False])
def test_backward_matches_finite_differences(activation, phi, final_activation):
    widths, batch, seed = [3, 4, 5, 2], 6, 13
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((batch, widths[0]))
    weights = sample_weights(widths, "kaiming_normal", rng=rng, dtype=np.float64)
    result = propagate(weights, x0, activation, rng=seed, final_activation=final_activation)
    # The documented upstream gradient: G = rng.standard_normal((batch, n_L)), the only draw.
    g = np.random.default_rng(seed).standard_normal((batch, widths[-1]))
    preacts, acts = _forward(weights, x0, phi, final_activation)
    # ReLU's kink must be farther than the step from every pre-activation.
    assert min(np.abs(y).min() for y in preacts) > 1e-3

    h = 1e-6     # central differences: error O(h^2) = 1e-12, rounding O(1e-16 / h) = 1e-10

    def gradient(f, a):
        out = np.empty_like(a)
        for index in np.ndindex(a.shape):
            plus, minus = a.copy(), a.copy()
            plus[index] += h
            minus[index] -= h
            out[index] = (f(plus) - f(minus)) / (2 * h)
        return out

    for l in range(len(weights)):
        def loss_of_weight(w, l=l):
            return _loss([*weights[:l], w, *weights[l + 1:]], x0, g, phi, final_activation)

        def loss_of_input(x, l=l):
            return _loss(weights[l:], x, g, phi, final_activation)

        dw = gradient(loss_of_weight, weights[l])
        dx = gradient(loss_of_input, x0 if l == 0 else acts[l - 1])
        np.testing.assert_allclose(result.weight_grad_norm[0, l], np.linalg.norm(dw), rtol=1e-6)
        np.testing.assert_allclose(result.input_grad_std[0, l], dx.std(), rtol=1e-6)
        np.testing.assert_allclose(result.weight_norm[0, l], np.linalg.norm(weights[l]),
                                   rtol=1e-12)


# -- seeds, reproducibility, memory ------------------------------------------------------------

def _arrays(result):
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
            if isinstance(getattr(result, f.name), np.ndarray)}


def test_seeds_differ_and_the_same_seed_reproduces():
    kwargs = dict(widths=[32, 24, 16], batch_size=20, hist_layers=[2])
    three = probe_stack(n_seeds=3, rng=4, **kwargs)
    assert three.n_seeds == 3 and three.act_std.shape == (3, 2)
    assert len({tuple(row) for row in three.preact_second_moment}) == 3
    again = probe_stack(n_seeds=3, rng=4, **kwargs)
    for name, value in _arrays(three).items():
        np.testing.assert_array_equal(value, _arrays(again)[name], err_msg=name)
    # An int seed's child k depends only on k: one seed repeats the first row of three.
    one = probe_stack(n_seeds=1, rng=4, **kwargs)
    np.testing.assert_array_equal(one.input_grad_std[0], three.input_grad_std[0])


def test_a_generator_is_advanced_between_calls():
    generator = np.random.default_rng(9)
    first = probe_stack([16, 16], batch_size=8, rng=generator)
    second = probe_stack([16, 16], batch_size=8, rng=generator)
    assert not np.array_equal(first.preact_second_moment, second.preact_second_moment)


def test_propagate_on_the_same_weights_equals_probe_stack():
    widths, batch = [40, 30, 20, 10], 25
    result = probe_stack(widths, "xavier_uniform", "tanh", batch_size=batch, rng=6)
    # The documented draws of probe_stack: child 0 of rng.spawn, which draws x_0 (float64,
    # cast), then the weights layer by layer, then G.
    child = np.random.default_rng(6).spawn(1)[0]
    x0 = child.standard_normal((batch, widths[0])).astype(np.float32)
    weights = sample_weights(widths, "xavier_uniform", rng=child)
    given = propagate(weights, x0, "tanh", rng=child)
    assert given.scheme == "given" and result.scheme == "xavier_uniform"
    for name, value in _arrays(result).items():
        np.testing.assert_array_equal(value, _arrays(given)[name], err_msg=name)


def test_propagate_leaves_weights_and_inputs_unchanged():
    rng = np.random.default_rng(8)
    weights = sample_weights([12, 10, 8], "kaiming_normal", rng=rng)
    x0 = rng.standard_normal((9, 12)).astype(np.float32)
    copies = [w.copy() for w in weights], x0.copy()
    for backward, keep in [(True, False), (False, False), (False, True), (True, True)]:
        propagate(weights, x0, "relu", rng=0, backward=backward, keep_activations=keep)
        for w, c in zip(weights, copies[0]):
            np.testing.assert_array_equal(w, c)
        np.testing.assert_array_equal(x0, copies[1])


def test_results_are_read_only():
    result = probe_stack([8, 8, 8], batch_size=4, rng=0, keep_activations=True)
    for name, value in _arrays(result).items():
        assert not value.flags.writeable, name
    assert not result.activations[0][0].flags.writeable


def test_keep_activations_false_keeps_no_batch_arrays():
    widths, batch, n_seeds = [48, 40, 40, 36], 64, 2
    result = probe_stack(widths, batch_size=batch, n_seeds=n_seeds, rng=0)
    assert result.activations is None
    n_bins, n_layers = DEFAULT_HIST_EDGES.size - 1, len(widths) - 1
    allowed = {(n_seeds, n_layers), (n_seeds, n_layers, n_bins), (n_bins + 1,), (n_layers,)}
    for name, value in _arrays(result).items():
        assert value.shape in allowed, (name, value.shape)
        assert value.size < batch * min(widths), name
    # Nothing else holds arrays: every other field is a scalar, a string or a tuple of ints.
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if not isinstance(value, np.ndarray):
            assert value is None or isinstance(value, (int, float, str, bool)) or all(
                isinstance(v, int) for v in value), f.name


def test_keep_activations_true_keeps_every_layer_of_every_seed():
    widths, batch, n_seeds = [48, 40, 36], 64, 2
    result = probe_stack(widths, batch_size=batch, n_seeds=n_seeds, rng=0,
                         keep_activations=True, final_activation=False)
    assert len(result.activations) == n_seeds
    for seed in result.activations:
        assert [x.shape for x in seed] == [(batch, 40), (batch, 36)]
        assert np.count_nonzero(seed[0] == 0) > 0       # ReLU'd hidden layer
        assert np.count_nonzero(seed[1] < 0) > 0        # y_L, no activation after it
    for s in range(n_seeds):
        for l, x in enumerate(result.activations[s]):
            np.testing.assert_allclose(result.act_second_moment[s, l], _mean_square(x),
                                       rtol=1e-5)


# -- quantile bands over seeds and the out-of-range finder -------------------------------------

def test_median_and_band_ignore_nan_and_keep_inf_largest():
    result = probe_stack([8] * 5, batch_size=4, n_seeds=4, rng=0)
    inf, nan = math.inf, math.nan
    values = np.array([[1.0, inf, nan, 1.0],
                       [2.0, inf, nan, nan],
                       [3.0, inf, nan, 3.0],
                       [4.0, inf, nan, inf]])
    custom = dataclasses.replace(result, act_std=values)
    median = custom.median("act_std")
    # Column 0: linear interpolation of 1..4 at 0.5 -> 2.5; column 1: all inf -> inf;
    # column 2: all NaN -> NaN; column 3: {1, 3, inf}, median 3.
    np.testing.assert_array_equal(median, [2.5, inf, nan, 3.0])
    low, high = custom.band("act_std", (0.25, 0.75))
    np.testing.assert_array_equal(low, [1.75, inf, nan, 2.0])
    np.testing.assert_array_equal(high, [3.25, inf, nan, inf])
    finite = np.random.default_rng(0).standard_normal((4, 4))
    finite_result = dataclasses.replace(result, act_mean=finite)
    np.testing.assert_allclose(finite_result.quantiles("act_mean", (0.1, 0.5, 0.9)),
                               np.quantile(finite, (0.1, 0.5, 0.9), axis=0), rtol=1e-12)


def test_layers_until_out_of_range_on_arrays():
    values = np.array([[1.0, 1e3, 1e7, 1.0],
                       [1.0, 1.0, 1.0, 1.0],
                       [1e-7, 1.0, 1.0, 1.0],
                       [1.0, np.nan, 1.0, 1.0],
                       [1.0, 1.0, 1.0, np.inf]])
    np.testing.assert_array_equal(layers_until_out_of_range(values), [3, -1, 1, 2, 4])
    np.testing.assert_array_equal(layers_until_out_of_range(values, 1e-8, 1e8), [-1, -1, -1, 2, 4])
    np.testing.assert_array_equal(layers_until_out_of_range([1.0, 2.0, 3.0], 0.5, 2.5), [3])


def test_values_refuses_unknown_and_unmeasured_statistics():
    result = probe_stack([8, 8], batch_size=4, rng=0, backward=False)
    with pytest.raises(ValueError, match="name must be one of .*got 'act_var'"):
        result.values("act_var")
    with pytest.raises(ValueError, match="'input_grad_std' was not measured"):
        result.values("input_grad_std")
    with pytest.raises(ValueError, match=r"quantiles must be a 1-D sequence in \[0, 1\]"):
        result.quantiles("act_std", (0.5, 1.5))


# -- bad input -----------------------------------------------------------------------------------

def _weights(*shapes, dtype=np.float32):
    return [np.ones(shape, dtype=dtype) for shape in shapes]


_X = np.ones((4, 3), dtype=np.float32)

BAD_PROBES = [
    ({"widths": []}, ValueError, r"widths must be .*got \[\]"),
    ({"widths": [8]}, ValueError, r"widths must be .*got \[8\]"),
    ({"widths": [8, 0, 8]}, ValueError, r"widths must be .*got \[8, 0, 8\]"),
    ({"widths": [8, -3]}, ValueError, r"widths must be .*got \[8, -3\]"),
    ({"widths": [8, 4.0]}, TypeError, r"widths must be .*got \[8, 4.0\]"),
    ({"widths": [8, True]}, TypeError, r"widths must be .*got \[8, True\]"),
    ({"widths": "88"}, TypeError, "widths must be a sequence .*got '88'"),
    ({"widths": [8, 10**9]}, ValueError, r"widths=\[8, 1000000000\].*MAX_PROBE_BYTES = 2 GiB"),
    ({"widths": [1024, 1024], "batch_size": 10**6}, ValueError, "batch_size=1000000.*MAX_PROBE"),
    ({"widths": [64] * 3, "batch_size": 10**5, "n_seeds": 100, "keep_activations": True},
     ValueError, "MAX_PROBE_BYTES"),
    ({"scheme": "kaiming"}, ValueError, "scheme must be one of .*got 'kaiming'"),
    ({"scheme": 3}, TypeError, "scheme must be a scheme name, a Scheme or a callable"),
    ({"activation": "relu6"}, ValueError, "activation must be one of .*got 'relu6'"),
    ({"activation": 2.0}, TypeError, "activation must be one of .*got 2.0"),
    ({"activation": np.sin}, ValueError, "backward=True needs the derivative of activation"),
    ({"batch_size": 0}, ValueError, "batch_size must be at least 1; got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an integer; got 2.5"),
    ({"n_seeds": 0}, ValueError, "n_seeds must be at least 1; got 0"),
    ({"n_seeds": 10**6}, ValueError,
     "n_seeds must be at most MAX_PROBE_SEEDS = 10000; got 1000000"),
    # 10**4 seeds x batch 10**4 rows x 100 layers x 8 x (3 x 8 + 100) = 9.92e12 units
    ({"widths": [8] * 101, "batch_size": 10**4, "n_seeds": 10**4}, ValueError,
     r"the probe would do about 9.9\de\+12 units of work \(n_seeds=10000 x "
     r"batch_size=10000 .*above MAX_PROBE_WORK = 1e\+12"),
    ({"gain": 0.0}, ValueError, "gain must be positive; got 0.0"),
    ({"gain": -1}, ValueError, "gain must be positive; got -1.0"),
    ({"gain": math.nan}, ValueError, "gain must be finite; got nan"),
    ({"gain": True}, TypeError, "gain must be a real number; got True"),
    ({"dtype": np.int32}, ValueError, "dtype must be one of float16, float32, float64"),
    ({"rng": "seed"}, TypeError, "rng must be None, a non-negative int seed"),
    ({"final_activation": "yes"}, TypeError, "final_activation must be a bool; got 'yes'"),
    ({"hist_edges": [0.0, 1.0, 1.0, 2.0]}, ValueError, "hist_edges must be strictly increasing"),
    ({"hist_edges": [2.0, 1.0]}, ValueError, "hist_edges must be strictly increasing"),
    ({"hist_edges": [1.0]}, ValueError, r"hist_edges must be a 1-D .*got \[1.0\]"),
    ({"hist_edges": [0.0, math.inf]}, ValueError, "hist_edges must be .*finite"),
    ({"hist_edges": 3.0}, TypeError, "hist_edges must be a 1-D array-like"),
    ({"hist_units": "sigma"}, ValueError, "hist_units must be one of 'std', 'absolute'"),
    ({"hist_layers": [0]}, ValueError, "hist_layers must be at least 1; got 0"),
    ({"hist_layers": [3]}, ValueError, "hist_layers must be at most 2; got 3"),
    ({"hist_sample_size": 0}, ValueError, "hist_sample_size must be at least 1; got 0"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_PROBES)
def test_probe_stack_rejects_bad_input(kwargs, error, message):
    arguments = {"widths": [8, 8, 8], "batch_size": 4, **kwargs}
    with pytest.raises(error, match=message):
        probe_stack(**arguments)


_W = _weights((5, 3), (2, 5))

BAD_PROPAGATIONS = [
    (_W, [[1.0, 2.0, 3.0]], TypeError, "inputs must be a numpy.ndarray"),
    (_W, np.ones((4, 4)), ValueError, r"inputs must have shape \(batch_size, 3\)"),
    (_W, np.ones(3), ValueError, r"inputs must be 2-dimensional; got shape \(3,\)"),
    (_W, np.ones((0, 3)), ValueError, "inputs must not be empty"),
    (_W, np.ones((4, 3), bool), TypeError, "inputs must have a real numeric dtype"),
    (_W, np.ones((4, 3), complex), TypeError, "inputs must have a real numeric dtype"),
    (_W, np.full((4, 3), np.nan), ValueError, "inputs must contain only finite values"),
    (_weights((5, 3), (2, 4)), _X, ValueError,
     r"weights\[1\] has shape \(2, 4\) but weights\[0\] gives 5"),
    (np.ones((5, 3)), _X, TypeError, "weights must be a non-empty list of 2-D arrays"),
    ([], _X, TypeError, "weights must be a non-empty list of 2-D arrays"),
    ([np.ones((5, 3)).tolist()], _X, TypeError, r"weights\[0\] must be a numpy.ndarray"),
    (_weights((5, 3), (2, 5), dtype=np.int64), _X, TypeError,
     r"weights\[0\] must have a floating dtype .*got dtype int64"),
    ([np.ones((5, 3), np.float32), np.ones((2, 5))], _X, TypeError,
     r"weights must all have one dtype; weights\[0\] is float32 and weights\[1\] is float64"),
    ([np.full((5, 3), np.inf, np.float32)], _X, ValueError,
     r"weights\[0\] must contain only finite"),
    ([np.ones(3, np.float32)], _X, ValueError, r"weights\[0\] must be 2-dimensional"),
]


@pytest.mark.parametrize("weights, inputs, error, message", BAD_PROPAGATIONS)
def test_propagate_rejects_bad_input(weights, inputs, error, message):
    with pytest.raises(error, match=message):
        propagate(weights, inputs, "relu", rng=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"low": 0.0}, ValueError, "low must be positive; got 0.0"),
    ({"low": 2.0, "high": 1.0}, ValueError, "low must be below high; got low=2.0, high=1.0"),
    ({"high": math.inf}, ValueError, "high must be finite; got inf"),
    ({"name": "act_var"}, ValueError, "name must be one of"),
])
def test_layers_until_out_of_range_rejects_bad_input(kwargs, error, message):
    result = probe_stack([8, 8], batch_size=4, rng=0)
    with pytest.raises(error, match=message):
        layers_until_out_of_range(result, **kwargs)


def test_layers_until_out_of_range_rejects_bad_arrays():
    with pytest.raises(ValueError, match=r"result must be 1-D or 2-D; got shape \(2, 2, 2\)"):
        layers_until_out_of_range(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="result must be a numpy.ndarray"):
        layers_until_out_of_range("1, 2")


def test_sample_weights_refuses_more_than_the_memory_cap():
    # 3 * 30000^2 float32 values are 10 GiB, above the documented 2 GiB.
    with pytest.raises(ValueError, match=r"widths=\[30000, 30000, 30000, 30000\].*2 GiB"):
        sample_weights([30000] * 4, rng=0)
    with pytest.raises(ValueError, match="dtype must be one of float16, float32, float64"):
        sample_weights([4, 4], dtype=np.int8)


def test_custom_activation_without_derivative_runs_forward_only():
    result = probe_stack([16, 16, 16], "kaiming_normal", Activation("sin", np.sin),
                         batch_size=8, rng=0, backward=False)
    assert result.activation == "sin" and result.input_grad_std is None
    assert np.all(np.isnan(result.act_saturated_fraction))


def test_every_registered_scheme_probes_without_warnings():
    for name in SCHEMES:
        result = probe_stack([16, 12, 8], name, "relu", batch_size=8, rng=0)
        assert result.scheme == name and result.preact_std.shape == (1, 2)


def test_the_work_estimate_counts_products_and_per_value_statistics():
    # Estimate per row: sum_l n_l (k n_(l-1) + 100); for [1000, 1000] forward only that is
    # 1000 * 1100 = 1.1e6, so 10**6 rows (10**4 seeds of 100) are 1.1e12 > 10**12 ...
    with pytest.raises(ValueError, match=r"about 1\.1e\+12 units of work .*1\.1e\+06 per row"):
        probe_stack([1000, 1000], batch_size=100, n_seeds=10**4, backward=False,
                    hist_layers=[], rng=0)
    # ... and with backward (k = 3) a row costs 1000 * 3100 = 3.1e6, so 4 * 10**5 rows are
    # 1.24e12, refused before anything is drawn.
    with pytest.raises(ValueError, match=r"about 1\.24e\+12 units of work"):
        probe_stack([1000, 1000], batch_size=400, n_seeds=10**3, rng=0)


def test_memory_advice_names_only_switches_that_are_on():
    # [64] * 100000 with the default backward=True keeps 10**5 weights and pre-activations;
    # keep_activations is already False, so the error must not suggest it.
    with pytest.raises(ValueError, match=r"backward=False") as info:
        probe_stack([64] * 100_000, rng=0, hist_layers=[])
    assert "keep_activations=False" not in str(info.value).split("; use ")[1]
    with pytest.raises(ValueError, match=r"keep_activations=False or fewer n_seeds") as info:
        probe_stack([64] * 3, batch_size=10**5, n_seeds=100, keep_activations=True,
                    backward=False, rng=0)
    assert "backward=False" not in str(info.value).split("; use ")[1]


def test_a_negative_slope_the_activation_ignores_is_warned_about():
    with pytest.warns(SuspiciousInputWarning, match=r"negative_slope=0.2 is ignored with "
                                                    r"activation='relu'"):
        probe_stack([8, 8], "kaiming_normal", "relu", negative_slope=0.2, batch_size=4, rng=0)


def test_the_memory_estimate_counts_every_weight_the_backward_pass_keeps():
    # 40 weights of 4096 x 4096 float32 are 2.5 GiB together, while one is 64 MiB and a
    # batch of one row is nothing: only the kept weights exceed MAX_PROBE_BYTES.
    with pytest.raises(ValueError, match=r"would hold about 2\.5 GiB"):
        probe_stack([4096] * 41, batch_size=1, rng=0, backward=True, hist_layers=[])
