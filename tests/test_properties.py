"""Property-based tests (hypothesis) of the initializers and the theory.

Each property holds for every shape, mode, slope and scheme hypothesis draws.  Sampled
statistics are compared with a bound derived from their sampling distribution, at a fixed
seed per example, so a failure means a wrong formula, not bad luck; hypothesis runs with
``derandomize=True`` so that the examples themselves are the same on every run.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaiming_lib import init, variance

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

dims = st.integers(min_value=1, max_value=48)
kernels = st.lists(st.integers(min_value=1, max_value=5), min_size=0, max_size=2)
shapes = st.builds(lambda o, i, k: (o, i, *k), dims, dims, kernels)
slopes = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)
modes = st.sampled_from(["fan_in", "fan_out"])
dense_schemes = st.sampled_from(sorted(set(init.SCHEMES) - {"zeros"}))


def _sample_variance_bound(n, kurtosis, variance_, sigmas=5.0):
    # The mean of n iid w^2 has standard deviation sqrt((kurtosis - 1) / n) * Var[w], where
    # kurtosis = E[w^4] / Var[w]^2 (3 normal, 1.8 uniform, about 2.64 for the normal
    # truncated at 2 std).  Here the mean is known to be 0, so E[w^2] estimates Var[w].
    return sigmas * math.sqrt((kurtosis - 1) / n) * variance_


@SETTINGS
@given(shape=shapes)
def test_fans_multiply_channels_by_the_kernel_area(shape):
    fan_in, fan_out = init.fan_in_and_fan_out(shape)
    area = math.prod(shape[2:])
    assert (fan_in, fan_out) == (shape[1] * area, shape[0] * area)


@SETTINGS
@given(shape=shapes, a=slopes, mode=modes)
def test_kaiming_uniform_bound_is_sqrt3_times_the_normal_std(shape, a, mode):
    std = init.kaiming_std(shape, a, mode)
    fan = dict(zip(("fan_in", "fan_out"), init.fan_in_and_fan_out(shape)))[mode]
    assert std == pytest.approx(math.sqrt(2 / ((1 + a * a) * fan)), rel=1e-12)
    w = init.kaiming_uniform(shape, a, mode, rng=0, dtype=np.float64)
    assert np.abs(w).max() <= math.sqrt(3.0) * std


@SETTINGS
@given(shape=shapes, a=slopes, mode=modes, seed=st.integers(0, 2**32 - 1))
def test_kaiming_normal_sample_variance_matches_the_prediction(shape, a, mode, seed):
    w = init.kaiming_normal(shape, a, mode, rng=seed, dtype=np.float64)
    target = init.kaiming_std(shape, a, mode) ** 2
    assert abs(np.mean(w**2) - target) <= _sample_variance_bound(w.size, 3.0, target)


@SETTINGS
@given(name=dense_schemes, n_out=st.integers(16, 64), n_in=st.integers(16, 64),
       seed=st.integers(0, 2**32 - 1))
def test_every_scheme_draws_the_variance_it_declares(name, n_out, n_in, seed):
    scheme = init.SCHEMES[name]
    w = scheme((n_out, n_in), rng=seed, dtype=np.float64)
    target = scheme.variance(n_in, n_out)
    if name == "orthogonal":
        # Not random entrywise: an orthogonal matrix's squared entries sum exactly to
        # gain^2 * min(n_out, n_in), so the mean square is exact.
        assert np.mean(w**2) == pytest.approx(target, rel=1e-9)
        return
    # The registry's distributions: normal (3), uniform (1.8) or truncated normal (2.64);
    # the normal's kurtosis 3 is the largest, so its bound covers all three.
    assert abs(np.mean(w**2) - target) <= _sample_variance_bound(w.size, 3.0, target)


@SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**32 - 1),
       scale=st.floats(0.1, 10.0), mode=st.sampled_from(["fan_in", "fan_out", "fan_avg"]))
def test_truncated_normal_stays_inside_two_uncorrected_stds(shape, seed, scale, mode):
    w = init.variance_scaling(shape, scale, mode, "truncated_normal", rng=seed,
                              dtype=np.float64)
    fan_in, fan_out = init.fan_in_and_fan_out(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    limit = 2 * math.sqrt(scale / fan) / init.TRUNCATED_NORMAL_STD
    assert np.abs(w).max() <= limit * (1 + 1e-12)


@SETTINGS
@given(shape=st.lists(dims, min_size=2, max_size=4), name=dense_schemes)
def test_no_initializer_mutates_its_shape_argument(shape, name):
    given_shape = list(shape)
    init.SCHEMES[name](given_shape, rng=0)
    assert given_shape == shape


@SETTINGS
@given(shape=shapes, name=dense_schemes, seed=st.integers(0, 2**32 - 1))
def test_the_same_seed_gives_the_same_weights(shape, name, seed):
    first = init.SCHEMES[name](shape, rng=seed)
    second = init.SCHEMES[name](shape, rng=seed)
    assert np.array_equal(first, second)


@SETTINGS
@given(a=slopes, q=st.floats(1e-3, 1e3))
def test_leaky_relu_quadrature_matches_its_closed_form(a, q):
    numeric = variance.activation_moments("leaky_relu", q, negative_slope=a, method="quadrature")
    assert numeric.second_moment == pytest.approx((1 + a * a) * q / 2, rel=1e-10)
    assert numeric.mean == pytest.approx((1 - a) * math.sqrt(q / (2 * math.pi)), rel=1e-10,
                                         abs=1e-12)
    assert numeric.derivative_second_moment == pytest.approx((1 + a * a) / 2, rel=1e-10)


@SETTINGS
@given(a=slopes)
def test_the_preserving_gain_of_leaky_relu_is_the_frameworks_gain(a):
    assert variance.preserving_gain("leaky_relu", negative_slope=a) == pytest.approx(
        init.calculate_gain("leaky_relu", a), rel=1e-12)


@SETTINGS
@given(widths=st.lists(st.integers(1, 4096), min_size=2, max_size=12),
       scheme=st.sampled_from(["kaiming_normal", "kaiming_normal_fan_out"]))
def test_he_products_telescope_to_the_ratio_of_widths(widths, scheme):
    forward = variance.forward_product(widths, scheme)
    backward = variance.backward_product(widths, scheme)
    if scheme == "kaiming_normal":
        assert forward == pytest.approx(1.0, rel=1e-12)
        assert backward == pytest.approx(widths[-1] / widths[1], rel=1e-12)
    else:
        assert backward == pytest.approx(1.0, rel=1e-12)
        assert forward == pytest.approx(widths[1] / widths[-1], rel=1e-12)
