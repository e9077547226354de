"""Tests of ``kaiming_lib.init``: the initializers that match ``torch.nn.init``.

Sections, in order:

1. fans and gains (closed forms, compared exactly with values computed here);
2. the samplers' statistics (fixed seeds, tolerances derived from sampling errors);
3. the registry of named schemes;
4. bad input (one parametrized table);
5. basic properties (no mutation, reproducibility, dtypes, generators, empty shapes);
6. parity with ``torch.nn.init`` (marker ``torch``; skipped when torch is missing).

Tolerances for sampled statistics: the sample variance (or the mean of squares, when the
mean is known to be 0) of ``n`` i.i.d. draws has standard error
``sqrt((mu4 - var**2) / n) = var * sqrt((kurtosis - 1) / n)``: ``var * sqrt(2 / n)`` for a
normal (kurtosis 3), ``var * sqrt(0.8 / n)`` for a uniform (kurtosis 9/5), and for a
truncated normal the kurtosis computed in closed form below.  A check allows ``Z = 5``
standard errors, so with fixed seeds a failure means a bug, not bad luck.
"""

import contextlib
import math
import warnings

import numpy as np
import pytest

from kaiming_lib import init
from kaiming_lib.init import (
    SCHEMES, TRUNCATED_NORMAL_STD, SuspiciousInputWarning, calculate_gain, constant,
    fan_in_and_fan_out, get_scheme, kaiming_normal, kaiming_std, kaiming_uniform, lecun_normal,
    normal, ones, orthogonal, trunc_normal, uniform, variance_scaling, xavier_normal, xavier_std,
    xavier_uniform, zeros,
)

Z = 5.0                      # standard errors allowed for every sampled statistic
SQRT5 = math.sqrt(5.0)
SLOPES = (0, 0.01, 0.2, SQRT5, np.float64(0.3))
NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
)
KURTOSIS_NORMAL = 3.0
KURTOSIS_UNIFORM = 9.0 / 5.0
EMPTY_WARNING = "Initializing zero-element tensors is a no-op"


# -- closed forms computed by the tests themselves ------------------------------------------

def normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def normal_mass(lo: float, hi: float) -> float:
    """P(lo <= X <= hi) for X ~ N(0, 1), using erfc in a tail to avoid cancellation."""
    if lo > 0:
        return 0.5 * (math.erfc(lo / math.sqrt(2)) - math.erfc(hi / math.sqrt(2)))
    if hi < 0:
        return 0.5 * (math.erfc(-hi / math.sqrt(2)) - math.erfc(-lo / math.sqrt(2)))
    return 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))


def truncated_normal_moments(mean, std, a, b):
    """Mean, variance and 4th central moment of N(mean, std^2) truncated to [a, b].

    Raw moments of the standard normal truncated to [lo, hi], by parts:
    ``m_k = (k - 1) m_{k-2} - (hi^(k-1) phi(hi) - lo^(k-1) phi(lo)) / P``.
    """
    lo, hi = (a - mean) / std, (b - mean) / std
    mass = normal_mass(lo, hi)

    def edge(k):  # (hi^k phi(hi) - lo^k phi(lo)) / P
        return (hi**k * normal_pdf(hi) - lo**k * normal_pdf(lo)) / mass

    m1 = -edge(0)
    m2 = 1 - edge(1)
    m3 = 2 * m1 - edge(2)
    m4 = 3 * m2 - edge(3)
    var = m2 - m1**2
    mu4 = m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4
    return mean + std * m1, std**2 * var, std**4 * mu4


def truncated_normal_kurtosis(mean, std, a, b):
    _, var, mu4 = truncated_normal_moments(mean, std, a, b)
    return mu4 / var**2


_TRUNC_VAR = truncated_normal_moments(0.0, 1.0, -2.0, 2.0)[1]
KURTOSIS_TRUNCATED = truncated_normal_kurtosis(0.0, 1.0, -2.0, 2.0)  # 2.36 for a cut at +-2


def variance_tolerance(var, kurtosis, n):
    """Z standard errors of a sample variance: Z * var * sqrt((kurtosis - 1) / n)."""
    return Z * var * math.sqrt((kurtosis - 1) / n)


def expected_fans(shape):
    """(fan_in, fan_out) for the layout (out, in, *kernel), written out by hand."""
    kernel_area = 1
    for size in shape[2:]:
        kernel_area *= size
    return shape[1] * kernel_area, shape[0] * kernel_area


def pick_fan(shape, mode):
    fan_in, fan_out = expected_fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


# == 1. Fans and gains =========================================================================

@pytest.mark.parametrize("shape, expected", [
    ((300, 100), (100, 300)),
    ((1, 1), (1, 1)),
    ((64, 3, 7, 7), (3 * 7 * 7, 64 * 7 * 7)),
    ((16, 8, 5), (8 * 5, 16 * 5)),
    ((8, 4, 3, 3, 3), (4 * 27, 8 * 27)),
    ((0, 3), (3, 0)),
])
def test_fans_are_channels_times_kernel_area(shape, expected):
    fans = fan_in_and_fan_out(shape)

    assert fans == expected
    assert all(type(f) is int for f in fans)


def test_gain_of_linear_like_functions_and_sigmoid_is_the_int_one():
    for name in NONLINEARITIES[:8]:
        gain = calculate_gain(name)
        assert gain == 1 and type(gain) is int, name


@pytest.mark.parametrize("name, expected", [
    ("tanh", 5.0 / 3), ("relu", math.sqrt(2.0)), ("selu", 3.0 / 4),
])
def test_gain_of_tanh_relu_selu_are_the_pytorch_constants(name, expected):
    assert calculate_gain(name) == expected
    # param only matters for leaky_relu: ignored elsewhere, as in PyTorch, with a warning
    with pytest.warns(SuspiciousInputWarning, match=f"ignores param=0.5 for .*'{name}'"):
        assert calculate_gain(name, 0.5) == expected


@pytest.mark.parametrize("slope", [0, 0.01, 0.2, 1, SQRT5, 3, np.float64(0.3)])
def test_leaky_relu_gain_is_sqrt_2_over_1_plus_slope_squared(slope):
    assert calculate_gain("leaky_relu", slope) == math.sqrt(2.0 / (1 + slope**2))


def test_leaky_relu_default_slope_is_0_01_not_0():
    assert calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert calculate_gain("leaky_relu") != math.sqrt(2.0)
    assert calculate_gain("leaky_relu", 0) == math.sqrt(2.0)


def test_leaky_relu_gain_of_a_large_int_slope_squares_it_exactly():
    # PyTorch squares an int slope in exact integer arithmetic; squaring float(slope)
    # rounds twice and differs in the last bit for this slope.
    slope = 681727638109
    assert calculate_gain("leaky_relu", slope) == math.sqrt(2.0 / (1 + slope**2))
    assert math.sqrt(2.0 / (1 + float(slope) ** 2)) != math.sqrt(2.0 / (1 + slope**2))


@pytest.mark.parametrize("slope", [1.4e154, -1e200, 1e308, 10**200, -(10**300)])
def test_leaky_relu_gain_of_a_slope_whose_square_overflows_is_sqrt2_over_its_size(slope):
    # a^2 overflows (PyTorch raises OverflowError); 1 + a^2 rounds to a^2 for |a| > 1e8, so
    # sqrt(2 / (1 + a^2)) is sqrt(2) / |a| to double precision.
    expected = math.sqrt(2.0) / abs(float(slope))
    assert calculate_gain("leaky_relu", slope) == pytest.approx(expected, rel=1e-15)
    assert kaiming_std((8, 16), slope) == pytest.approx(expected / 4, rel=1e-15)


def test_leaky_relu_gain_just_below_the_overflow_keeps_pytorchs_order():
    slope = 1.3e154      # slope**2 = 1.69e308 is still finite
    assert calculate_gain("leaky_relu", slope) == math.sqrt(2.0 / (1 + slope**2))


def test_numpy_real_scalars_are_accepted_as_slopes_and_dims():
    slope = np.float32(0.2)
    assert calculate_gain("leaky_relu", slope) == math.sqrt(2.0 / (1 + float(slope) ** 2))
    assert calculate_gain("leaky_relu", np.int64(3)) == math.sqrt(2.0 / (1 + 3**2))
    assert fan_in_and_fan_out((np.int64(3), np.int32(4))) == (4, 3)
    w = kaiming_normal((np.int64(3), np.int64(4)), a=slope, rng=np.int64(3))
    assert w.shape == (3, 4)
    assert np.array_equal(w, kaiming_normal((3, 4), a=float(slope), rng=3))
    assert variance_scaling((4, 3), np.float32(2.0), rng=0).shape == (4, 3)


def test_kaiming_default_gain_is_relu_sqrt2_not_leaky_relu_0_01():
    # Defaults a=0, nonlinearity='leaky_relu': the slope passed is 0, not None.
    assert kaiming_std((256, 128)) == math.sqrt(2.0) / math.sqrt(128)
    assert kaiming_std((256, 128)) != math.sqrt(2.0 / (1 + 0.01**2)) / math.sqrt(128)


@pytest.mark.parametrize("shape", [(256, 128), (64, 3, 7, 7), (1, 1)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("slope", SLOPES)
def test_kaiming_std_is_leaky_relu_gain_over_sqrt_fan(shape, mode, slope):
    expected = math.sqrt(2.0 / (1 + slope**2)) / math.sqrt(pick_fan(shape, mode))
    assert kaiming_std(shape, slope, mode) == expected


def test_kaiming_mode_is_case_insensitive_as_in_pytorch():
    assert kaiming_std((64, 32), mode="FAN_OUT") == kaiming_std((64, 32), mode="fan_out")
    assert kaiming_std((64, 32), mode="Fan_In") == math.sqrt(2.0) / math.sqrt(32)


@pytest.mark.parametrize("shape", [(300, 100), (64, 3, 7, 7), (1, 1)])
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3, math.sqrt(2.0), 1])
def test_xavier_std_is_gain_times_sqrt_2_over_fan_sum(shape, gain):
    fan_in, fan_out = expected_fans(shape)
    assert xavier_std(shape, gain) == gain * math.sqrt(2.0 / float(fan_in + fan_out))


def test_pytorch_linear_default_bound_is_one_over_sqrt_fan_in():
    # a = sqrt(5): gain sqrt(2 / 6) = sqrt(1/3), so sqrt(3) * std = 1 / sqrt(fan_in) (up to
    # the last bit: sqrt(5)**2 rounds to 5.000000000000001).
    std = kaiming_std((32, 64), a=SQRT5)
    assert std == math.sqrt(2.0 / (1 + SQRT5**2)) / math.sqrt(64)
    assert math.isclose(math.sqrt(3.0) * std, 1 / 8, rel_tol=1e-15)


def test_truncated_normal_constant_is_the_std_of_a_normal_cut_at_two():
    # sqrt(1 - 4 phi(2) / erf(sqrt 2)), the std of N(0, 1) truncated to (-2, 2).
    closed_form = math.sqrt(1 - 4 * normal_pdf(2.0) / math.erf(math.sqrt(2.0)))
    assert math.isclose(TRUNCATED_NORMAL_STD, closed_form, rel_tol=1e-15)
    assert math.isclose(math.sqrt(_TRUNC_VAR), closed_form, rel_tol=1e-14)


# == 2. The samplers' statistics ===============================================================

def test_normal_sample_mean_and_variance_match_its_parameters():
    n, mean, std = 200_000, 0.3, 2.0
    w = normal((n,), mean, std, rng=1, dtype=np.float64)

    # The sample mean has standard error std / sqrt(n).
    assert abs(w.mean() - mean) <= Z * std / math.sqrt(n)
    assert abs(w.var(ddof=1) - std**2) <= variance_tolerance(std**2, KURTOSIS_NORMAL, n)


def test_uniform_sample_moments_and_range_match_its_bounds():
    n, a, b = 200_000, -1.0, 3.0
    w = uniform((n,), a, b, rng=2, dtype=np.float64)
    var = (b - a) ** 2 / 12

    assert w.min() >= a and w.max() < b
    assert abs(w.mean() - (a + b) / 2) <= Z * math.sqrt(var / n)
    assert abs(w.var(ddof=1) - var) <= variance_tolerance(var, KURTOSIS_UNIFORM, n)


def test_zeros_ones_constant_fill_the_shape_with_their_value():
    assert np.array_equal(zeros((2, 3)), np.full((2, 3), 0.0))
    assert np.array_equal(ones((2, 3)), np.full((2, 3), 1.0))
    assert np.array_equal(constant((4,), -0.25), np.full((4,), -0.25))


KAIMING_SHAPES = [(512, 256), (128, 64, 3, 3), (256, 128, 5)]


@pytest.mark.parametrize("shape", KAIMING_SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("slope", [0, 0.01, 0.2, SQRT5])
@pytest.mark.parametrize("sampler, kurtosis", [
    (kaiming_normal, KURTOSIS_NORMAL), (kaiming_uniform, KURTOSIS_UNIFORM),
], ids=["normal", "uniform"])
def test_kaiming_sample_variance_is_2_over_1_plus_a2_fan(shape, mode, slope, sampler, kurtosis):
    w = sampler(shape, slope, mode, rng=3, dtype=np.float64)
    var = 2.0 / ((1 + slope**2) * pick_fan(shape, mode))

    # The mean is 0 by construction, so the mean of squares estimates the variance; its
    # standard error is the same var * sqrt((kurtosis - 1) / n).
    assert abs(np.mean(w**2) - var) <= variance_tolerance(var, kurtosis, w.size)


@pytest.mark.parametrize("sampler, std_of", [
    (kaiming_uniform, lambda s: math.sqrt(2.0 / s[1])),
    (xavier_uniform, lambda s: math.sqrt(2.0 / (s[0] + s[1]))),
], ids=["kaiming", "xavier"])
def test_uniform_samplers_never_exceed_sqrt3_std_and_come_close_to_it(sampler, std_of):
    shape = (512, 256)
    bound = math.sqrt(3.0) * std_of(shape)
    w64 = sampler(shape, rng=4, dtype=np.float64)
    w32 = sampler(shape, rng=4, dtype=np.float32)

    assert np.abs(w64).max() <= bound
    # Rounding to float32 is monotone, so float32 draws stay within float32(bound).
    assert np.abs(w32).max() <= np.float32(bound)
    # P(max |w| < (1 - eps) bound) = (1 - eps)^n = exp(-131) for eps = 1e-3, n = 131072.
    assert np.abs(w64).max() >= (1 - 1e-3) * bound


@pytest.mark.parametrize("shape", [(300, 100), (64, 32, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3])
@pytest.mark.parametrize("sampler, kurtosis", [
    (xavier_normal, KURTOSIS_NORMAL), (xavier_uniform, KURTOSIS_UNIFORM),
], ids=["normal", "uniform"])
def test_xavier_sample_variance_is_gain2_times_2_over_fan_sum(shape, gain, sampler, kurtosis):
    w = sampler(shape, gain, rng=5, dtype=np.float64)
    fan_in, fan_out = expected_fans(shape)
    var = gain**2 * 2.0 / (fan_in + fan_out)

    assert abs(np.mean(w**2) - var) <= variance_tolerance(var, kurtosis, w.size)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution, kurtosis", [
    ("truncated_normal", KURTOSIS_TRUNCATED), ("normal", KURTOSIS_NORMAL),
    ("uniform", KURTOSIS_UNIFORM),
])
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.5])
def test_variance_scaling_sample_variance_is_scale_over_fan(mode, distribution, kurtosis, scale):
    shape = (256, 128, 3)                      # fan_in 384, fan_out 768, fan_avg 576
    w = variance_scaling(shape, scale, mode, distribution, rng=6, dtype=np.float64)
    var = scale / pick_fan(shape, mode)

    assert abs(np.mean(w**2) - var) <= variance_tolerance(var, kurtosis, w.size)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_truncated_variance_scaling_stays_within_2_std_over_the_constant(mode):
    shape, scale = (512, 256), 2.0
    std = math.sqrt(scale / pick_fan(shape, mode))
    w = variance_scaling(shape, scale, mode, rng=7, dtype=np.float64)
    cut = 2 * std / 0.87962566103423978           # 2.2737 std

    assert np.abs(w).max() <= cut
    # The truncated density at the cut is phi(2) / erf(sqrt 2) = 0.057 per unit of z, so a
    # band of width 0.01 at each end holds 0.11 % of the draws: P(none of 131072) = e^-149.
    assert np.abs(w).max() >= cut * (1.99 / 2)
    # The std after truncation is sqrt(scale / fan): here Z standard errors of the std,
    # std * sqrt((kurtosis - 1) / (4 n)) by the delta method.
    assert abs(w.std() - std) <= Z * std * math.sqrt((KURTOSIS_TRUNCATED - 1) / (4 * w.size))


def test_lecun_normal_is_truncated_normal_of_variance_1_over_fan_in():
    shape = (512, 256)
    w = lecun_normal(shape, rng=8, dtype=np.float64)
    var = 1.0 / 256

    assert np.abs(w).max() <= 2 * math.sqrt(var) / 0.87962566103423978
    assert abs(np.mean(w**2) - var) <= variance_tolerance(var, KURTOSIS_TRUNCATED, w.size)


TRUNC_WINDOWS = [
    pytest.param(0.0, 1.0, -2.0, 2.0, id="default-window"),
    pytest.param(0.5, 2.0, -1.0, 3.0, id="asymmetric"),
    pytest.param(0.0, 1.0, 1.0, 1e6, id="far-tail-1-to-1e6"),
    pytest.param(0.0, 1.0, -1e6, -1.0, id="far-left-tail"),
    pytest.param(0.0, 1.0, 0.5, 0.6, id="narrow"),
    pytest.param(1.0, 0.5, 1.1, 1.2, id="narrow-shifted"),
    pytest.param(0.0, 1.0, -0.05, 0.05, id="narrow-around-mean"),
]


@pytest.mark.parametrize("mean, std, a, b", TRUNC_WINDOWS)
def test_trunc_normal_respects_bounds_and_matches_closed_form_moments(mean, std, a, b):
    n = 100_000
    w = trunc_normal((n,), mean, std, a, b, rng=9, dtype=np.float64)
    exp_mean, exp_var, exp_mu4 = truncated_normal_moments(mean, std, a, b)

    assert w.min() >= a and w.max() <= b
    assert abs(w.mean() - exp_mean) <= Z * math.sqrt(exp_var / n)
    assert abs(w.var(ddof=1) - exp_var) <= Z * math.sqrt((exp_mu4 - exp_var**2) / n)


@pytest.mark.parametrize("mean, std, a, b", TRUNC_WINDOWS)
def test_trunc_normal_float32_draws_stay_within_float32_bounds(mean, std, a, b):
    w = trunc_normal((20_000,), mean, std, a, b, rng=10, dtype=np.float32)
    assert w.min() >= np.float32(a) and w.max() <= np.float32(b)


def test_trunc_normal_far_tail_window_warns_and_stays_exact():
    n, a, b = 50_000, 4.0, 4.5                  # mean 0 is more than 2 std below a
    with pytest.warns(SuspiciousInputWarning, match=r"mean is more than 2 std from \[a, b\]"):
        w = trunc_normal((n,), 0.0, 1.0, a, b, rng=11, dtype=np.float64)
    exp_mean, exp_var, exp_mu4 = truncated_normal_moments(0.0, 1.0, a, b)

    assert w.min() >= a and w.max() <= b
    assert abs(w.mean() - exp_mean) <= Z * math.sqrt(exp_var / n)
    assert abs(w.var(ddof=1) - exp_var) <= Z * math.sqrt((exp_mu4 - exp_var**2) / n)


def test_trunc_normal_bounds_are_absolute_not_multiples_of_std():
    # std = 0.02 with the default (-2, 2): nothing is cut, so 4.55 % of the draws lie beyond
    # 2 std, as for an untruncated normal; the fraction has standard error sqrt(p (1-p) / n).
    n, std = 100_000, 0.02
    w = trunc_normal((n,), std=std, rng=12, dtype=np.float64)
    p = math.erfc(2 / math.sqrt(2))

    assert abs(np.mean(np.abs(w) > 2 * std) - p) <= Z * math.sqrt(p * (1 - p) / n)
    assert abs(w.var(ddof=1) - std**2) <= variance_tolerance(std**2, KURTOSIS_NORMAL, n)


# Orthogonal shapes stay small: LAPACK's QR of large matrices is slow on a busy 2-core machine.
@pytest.mark.parametrize("shape", [(32, 128), (128, 32), (100, 100), (16, 8, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    q = orthogonal(shape, gain, rng=13, dtype=np.float64).reshape(shape[0], -1)
    rows, cols = q.shape

    if rows <= cols:                            # wide (or square): Q Q^T = gain^2 I
        assert np.allclose(q @ q.T, gain**2 * np.eye(rows), atol=1e-12)
    if rows >= cols:                            # tall (or square): Q^T Q = gain^2 I
        assert np.allclose(q.T @ q, gain**2 * np.eye(cols), atol=1e-12)


def test_orthogonal_is_haar_distributed_diagonal_has_mean_zero():
    # For Haar Q in O(n), the moments of trace(Q) up to order n are those of N(0, 1)
    # (Diaconis and Shahshahani 1994): with n = 4, E[tr] = 0, Var(tr) = 1, E[tr^2] = 1 and
    # Var(tr^2) = 3 - 1 = 2.  Over m draws the two means have standard errors 1/sqrt(m) and
    # sqrt(2/m).
    m, n = 2000, 4
    rng = np.random.default_rng(14)
    traces = np.array([np.trace(orthogonal((n, n), rng=rng, dtype=np.float64))
                       for _ in range(m)])
    tolerance = Z / math.sqrt(m)

    assert abs(traces.mean()) <= tolerance
    assert abs(np.mean(traces**2) - 1.0) <= Z * math.sqrt(2 / m)

    # Power check: the Q of a plain QR, without the sign correction, is biased (LAPACK makes
    # Q's diagonal mostly negative, E[tr] is about -0.8), and the same test rejects it.
    plain = [np.trace(np.linalg.qr(rng.standard_normal((n, n)))[0]) for _ in range(m)]
    assert abs(np.mean(plain)) > 3 * tolerance


# == 3. The registry ===========================================================================

REQUIRED_SCHEMES = {
    # name: closed-form variance(fan_in, fan_out) on a dense (out, in) weight
    "zeros": lambda fi, fo: 0.0,
    "small_normal": lambda fi, fo: 0.01**2,
    "large_normal": lambda fi, fo: 1.0,
    "xavier_normal": lambda fi, fo: 2 / (fi + fo),
    "xavier_uniform": lambda fi, fo: 2 / (fi + fo),
    "lecun_normal": lambda fi, fo: 1 / fi,
    "kaiming_normal": lambda fi, fo: 2 / fi,
    "kaiming_normal_fan_out": lambda fi, fo: 2 / fo,
    "kaiming_uniform": lambda fi, fo: 2 / fi,
    "orthogonal": lambda fi, fo: 2 / max(fi, fo),
    "pytorch_linear_default": lambda fi, fo: 1 / (3 * fi),
}

# The family each registered scheme draws from, for its sampling error; None: not random.
SCHEME_KURTOSIS = {
    "zeros": None, "small_normal": KURTOSIS_NORMAL, "large_normal": KURTOSIS_NORMAL,
    "xavier_normal": KURTOSIS_NORMAL, "xavier_uniform": KURTOSIS_UNIFORM,
    "lecun_normal": KURTOSIS_TRUNCATED, "kaiming_normal": KURTOSIS_NORMAL,
    "kaiming_normal_fan_out": KURTOSIS_NORMAL, "kaiming_uniform": KURTOSIS_UNIFORM,
    "kaiming_truncated_normal": KURTOSIS_TRUNCATED,
    # Sum of squares of an orthogonal matrix is exactly gain^2 min(rows, cols); the normal
    # kurtosis gives a (loose) upper bound on the error.
    "orthogonal": KURTOSIS_NORMAL,
    "pytorch_linear_default": KURTOSIS_UNIFORM,
}


def test_registry_holds_the_required_schemes_under_their_names():
    assert set(REQUIRED_SCHEMES) <= set(SCHEMES)
    for name, scheme in SCHEMES.items():
        assert scheme.name == name
        assert get_scheme(name) is scheme
        assert isinstance(scheme.label, str) and scheme.label


@pytest.mark.parametrize("name", sorted(REQUIRED_SCHEMES))
@pytest.mark.parametrize("fans", [(128, 64), (64, 128), (3, 3)])
def test_scheme_variance_is_its_closed_form(name, fans):
    assert get_scheme(name).variance(*fans) == REQUIRED_SCHEMES[name](*fans)


@pytest.mark.parametrize("name", sorted(SCHEMES))
@pytest.mark.parametrize("orientation", ["tall", "wide"])
def test_every_scheme_variance_matches_the_variance_of_its_draws(name, orientation):
    # Orthogonal's mean of squares is exact, so a small matrix (a fast QR) is enough for it.
    rows, cols = (128, 64) if name == "orthogonal" else (512, 256)
    shape = (rows, cols) if orientation == "tall" else (cols, rows)
    scheme = get_scheme(name)
    w = scheme(shape, rng=15, dtype=np.float64)
    fan_in, fan_out = fan_in_and_fan_out(shape)
    var = scheme.variance(fan_in, fan_out)
    kurtosis = SCHEME_KURTOSIS[name]          # a new scheme must say which family it draws

    assert w.shape == shape
    if kurtosis is None:
        assert np.all(w == 0) and var == 0
    else:
        assert abs(np.var(w, ddof=1) - var) <= variance_tolerance(var, kurtosis, w.size)


def test_orthogonal_scheme_variance_on_kernels_follows_the_flattened_rows():
    # The documented caveat: on (out, in, k, k) the weight is flattened to (out, in k^2), so
    # the variance is gain^2 / max(out, fan_in), not the registry's 2 / max(fan_in, fan_out).
    shape = (16, 8, 3, 3)
    w = get_scheme("orthogonal")(shape, rng=16, dtype=np.float64)
    fan_in, fan_out = fan_in_and_fan_out(shape)

    assert math.isclose(np.mean(w**2), 2 / max(16, fan_in), rel_tol=1e-12)
    assert not math.isclose(get_scheme("orthogonal").variance(fan_in, fan_out),
                            2 / max(16, fan_in))


def test_scheme_call_draws_what_its_sample_draws():
    for scheme in SCHEMES.values():
        assert np.array_equal(scheme((32, 16), rng=17), scheme.sample((32, 16), rng=17))


def test_pytorch_linear_default_is_uniform_within_one_over_sqrt_fan_in():
    w = get_scheme("pytorch_linear_default")((512, 256), rng=18, dtype=np.float64)
    assert np.abs(w).max() <= 1 / math.sqrt(256)
    assert np.abs(w).max() >= (1 - 1e-3) / math.sqrt(256)        # see the uniform bound test


# == 4. Bad input ==============================================================================

BAD_INPUT = [
    # (callable, args, kwargs, exception, regex on the message)
    (calculate_gain, ("softplus",), {}, ValueError,
     r"nonlinearity must be one of 'linear'.*'selu'; got 'softplus'"),
    (calculate_gain, (3,), {}, TypeError, r"nonlinearity must be a string.*; got 3"),
    (calculate_gain, ("leaky_relu", True), {}, TypeError,
     r"param \(negative_slope\) must be a real number; got True"),
    (calculate_gain, ("leaky_relu", np.bool_(False)), {}, TypeError, r"real number; got "),
    (calculate_gain, ("leaky_relu", "0.2"), {}, TypeError, r"real number; got '0.2'"),
    (calculate_gain, ("leaky_relu", math.nan), {}, ValueError,
     r"param \(negative_slope\) must be finite; got nan"),
    (calculate_gain, ("leaky_relu", -math.inf), {}, ValueError, r"finite; got -inf"),
    (calculate_gain, ("leaky_relu", 10**400), {}, ValueError, r"must be finite.*; got 1000"),
    (kaiming_normal, ((4, 3),), {"mode": "fan_avg"}, ValueError,
     r"mode must be one of 'fan_in', 'fan_out'; got 'fan_avg'"),
    (kaiming_uniform, ((4, 3),), {"mode": None}, TypeError, r"mode must be a string.*got None"),
    (kaiming_uniform, ((4, 3),), {"nonlinearity": "gelu"}, ValueError,
     r"nonlinearity must be one of .*; got 'gelu'"),
    (kaiming_normal, ((4, 3),), {"a": True}, TypeError,
     r"a \(negative_slope\) must be a real number; got True"),
    (kaiming_normal, ((4, 3),), {"a": math.nan}, ValueError, r"a \(negative_slope\).*got nan"),
    (kaiming_normal, ((5,),), {}, ValueError, r"shape needs at least 2 dimensions.*got \(5,\)"),
    (kaiming_std, ((4, 0),), {}, ValueError, r"positive fan_in; got fan_in=0 for \(4, 0\)"),
    (xavier_std, ((0, 0),), {}, ValueError, r"fan_in \+ fan_out > 0; got 0 for \(0, 0\)"),
    (fan_in_and_fan_out, ((5,),), {}, ValueError, r"shape needs at least 2 dimensions"),
    (fan_in_and_fan_out, ((),), {}, ValueError, r"at least 2 dimensions.*got \(\)"),
    (fan_in_and_fan_out, ((3, -1),), {}, ValueError,
     r"shape must contain only non-negative sizes; got \(3, -1\)"),
    (fan_in_and_fan_out, ((3, 2.0),), {}, TypeError,
     r"shape must contain only integers; got \(3, 2.0\)"),
    (fan_in_and_fan_out, ((3, True),), {}, TypeError, r"only integers; got \(3, True\)"),
    (fan_in_and_fan_out, ("34",), {}, TypeError, r"shape must be a tuple of integers; got '34'"),
    (fan_in_and_fan_out, (np.array(3),), {}, TypeError, r"tuple of integers; got array\(3\)"),
    (xavier_normal, ((5,),), {}, ValueError, r"at least 2 dimensions.*got \(5,\)"),
    (xavier_uniform, ((4, 3),), {"gain": 0}, ValueError, r"gain must be positive; got 0"),
    (xavier_normal, ((4, 3),), {"gain": -1.0}, ValueError, r"gain must be positive; got -1.0"),
    (orthogonal, ((5,),), {}, ValueError, r"at least 2 dimensions.*got \(5,\)"),
    (orthogonal, ((4, 4),), {"gain": math.inf}, ValueError, r"gain must be finite; got inf"),
    (variance_scaling, ((4, 3),), {"mode": "fan_sum"}, ValueError,
     r"mode must be one of 'fan_in', 'fan_out', 'fan_avg'; got 'fan_sum'"),
    (variance_scaling, ((4, 3),), {"distribution": "untruncated_normal"}, ValueError,
     r"distribution must be one of 'truncated_normal', 'normal', 'uniform'; "
     r"got 'untruncated_normal'"),
    (variance_scaling, ((4, 3),), {"scale": 0.0}, ValueError, r"scale must be positive; got 0.0"),
    (variance_scaling, ((4, 3),), {"scale": -2}, ValueError, r"scale must be positive; got -2"),
    (variance_scaling, ((4, 3),), {"scale": True}, TypeError, r"scale must be a real.*True"),
    (variance_scaling, ((4, 3),), {"scale": math.nan}, ValueError, r"scale must be finite"),
    (variance_scaling, ((4,),), {}, ValueError, r"at least 2 dimensions.*got \(4,\)"),
    (normal, ((3,),), {"std": 0}, ValueError, r"std must be positive; got 0"),
    (normal, ((3,),), {"std": -1.0}, ValueError, r"std must be positive; got -1.0"),
    (normal, ((3,),), {"std": math.inf}, ValueError, r"std must be finite; got inf"),
    (normal, ((3,),), {"mean": math.nan}, ValueError, r"mean must be finite; got nan"),
    # Seeded, and 100 draws of std 1e6: P(every |w| < 65504) = 0.052**100, never.
    (normal, ((100,),), {"std": 1e6, "dtype": np.float16, "rng": 0}, ValueError,
     r"dtype float16 cannot hold these weights.*65504"),
    (uniform, ((3,), 1.0, 1.0), {}, ValueError, r"a < b; got a=1.0, b=1.0"),
    (uniform, ((3,), -1e308, 1e308), {}, ValueError, r"b - a must be finite; got a=-1e\+308"),
    (trunc_normal, ((3,),), {"a": 1.0, "b": -1.0}, ValueError, r"a < b; got a=1.0, b=-1.0"),
    (trunc_normal, ((3,),), {"std": 0.0}, ValueError, r"std must be positive; got 0.0"),
    (trunc_normal, ((3,),), {"b": math.inf}, ValueError, r"b must be finite; got inf"),
    (constant, ((3,), math.nan), {}, ValueError, r"val must be finite; got nan"),
    (constant, ((3,), "1"), {}, TypeError, r"val must be a real number; got '1'"),
    (constant, ((2,), 1e300), {"dtype": np.float32}, ValueError, r"dtype float32 cannot hold"),
    (normal, ((3,),), {"rng": "seed"}, TypeError,
     r"rng must be None, a non-negative int seed or a numpy.random.Generator; got 'seed'"),
    (normal, ((3,),), {"rng": -1}, ValueError, r"rng seed must be non-negative; got -1"),
    (normal, ((3,),), {"rng": 1.5}, TypeError, r"rng must be .*; got 1.5"),
    (kaiming_normal, ((3, 3),), {"rng": True}, TypeError, r"rng must be .*; got True"),
    (zeros, ((3,),), {"rng": "x"}, TypeError, r"rng must be .*; got 'x'"),
    (normal, ((3,),), {"dtype": np.int32}, ValueError,
     r"dtype must be one of float16, float32, float64; got <class 'numpy.int32'>"),
    (kaiming_normal, ((3, 3),), {"dtype": np.complex64}, ValueError, r"dtype must be one of"),
    (normal, ((3,),), {"dtype": "notadtype"}, TypeError,
     r"dtype must be a NumPy floating dtype; got 'notadtype'"),
    (get_scheme, ("he",), {}, ValueError, r"scheme must be one of 'zeros', .*; got 'he'"),
    (get_scheme, (None,), {}, TypeError, r"scheme must be a string.*; got None"),
    # dtype=None would be NumPy's float64, silently; every dtype argument refuses it.
    (kaiming_normal, ((3, 3),), {"dtype": None}, TypeError,
     r"dtype must be a NumPy floating dtype, one of float16, float32, float64; got None"),
    (orthogonal, ((3, 3),), {"dtype": None}, TypeError, r"dtype must be .*; got None"),
    (zeros, ((3,),), {"dtype": None}, TypeError, r"dtype must be .*; got None"),
    # Too much memory: 10**18 values, each a float64 draw (8 bytes) and a float32 weight (4),
    # are 1.2e19 bytes; the limit is 4 * 2**30 = 4.29e9 bytes.
    (kaiming_normal, ((10**9, 10**9),), {}, ValueError,
     r"shape \(1000000000, 1000000000\) would need 1.20e\+19 bytes .*above MAX_INIT_BYTES = "
     r"4.29e\+9 bytes \(4 GiB\)"),
    # orthogonal holds 4 float64 arrays: 10**18 * (4 * 8 + 4) = 3.6e19 bytes.
    (orthogonal, ((10**9, 10**9),), {}, ValueError,
     r"shape \(1000000000, 1000000000\) would need 3.60e\+19 bytes"),
    # 2**80 values overflow int64; counted in Python ints: 2**80 * (8 + 8) = 1.93e25 bytes.
    (normal, ((2**40, 2**40),), {"dtype": np.float64}, ValueError,
     r"shape \(1099511627776, 1099511627776\) would need 1.93e\+25 bytes"),
    (variance_scaling, ((10**200, 10**200),), {}, ValueError, r"would need 2.00e\+401 bytes"),
    # std = gain * sqrt(2 / 2) = 1.5e308: the bound sqrt(3) * std is beyond the float range.
    (xavier_uniform, ((1, 1),), {"gain": 1.5e308}, ValueError,
     r"uniform bound sqrt\(3\) \* std must keep 2 \* bound finite; got std=1.5e\+308"),
]


@pytest.mark.parametrize(
    "func, args, kwargs, exception, match", BAD_INPUT,
    ids=[f"{row[0].__name__}-{i}" for i, row in enumerate(BAD_INPUT)],
)
def test_bad_input_raises_an_error_naming_the_argument_and_the_value(
        func, args, kwargs, exception, match):
    with pytest.raises(exception, match=match):
        func(*args, **kwargs)


# == 5. Basic properties =======================================================================

SAMPLERS = [
    pytest.param(lambda s, **kw: normal(s, 0.1, 2.0, **kw), id="normal"),
    pytest.param(lambda s, **kw: uniform(s, -1.0, 2.0, **kw), id="uniform"),
    pytest.param(lambda s, **kw: trunc_normal(s, 0.0, 1.0, -0.5, 1.5, **kw), id="trunc"),
    pytest.param(lambda s, **kw: trunc_normal(s, 0.0, 1.0, 1.0, 1e6, **kw), id="trunc-tail"),
    pytest.param(lambda s, **kw: trunc_normal(s, 0.0, 1.0, 0.5, 0.6, **kw), id="trunc-narrow"),
    pytest.param(xavier_normal, id="xavier_normal"),
    pytest.param(xavier_uniform, id="xavier_uniform"),
    pytest.param(lecun_normal, id="lecun_normal"),
    pytest.param(orthogonal, id="orthogonal"),
    pytest.param(kaiming_normal, id="kaiming_normal"),
    pytest.param(lambda s, **kw: kaiming_uniform(s, 0.2, "fan_out", **kw), id="kaiming_uniform"),
    pytest.param(lambda s, **kw: variance_scaling(s, 2.0, "fan_avg", "truncated_normal", **kw),
                 id="vs-truncated"),
    pytest.param(lambda s, **kw: variance_scaling(s, 1.0, "fan_out", "normal", **kw),
                 id="vs-normal"),
    pytest.param(lambda s, **kw: variance_scaling(s, 3.0, "fan_in", "uniform", **kw),
                 id="vs-uniform"),
]
FILLERS = [
    pytest.param(zeros, id="zeros"), pytest.param(ones, id="ones"),
    pytest.param(lambda s, **kw: constant(s, 0.5, **kw), id="constant"),
]


@pytest.mark.parametrize("sampler", SAMPLERS + FILLERS)
@pytest.mark.parametrize("make_shape", [list, np.array], ids=["list", "ndarray"])
def test_sampler_does_not_mutate_the_shape_and_returns_that_shape(sampler, make_shape):
    shape = make_shape([24, 8, 3])
    before = list(shape)
    w = sampler(shape, rng=19)

    assert list(shape) == before
    assert isinstance(w, np.ndarray) and w.shape == (24, 8, 3) and w.dtype == np.float32


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_gives_the_same_draws_and_a_generator_is_advanced(sampler):
    first, again = sampler((24, 8, 3), rng=20), sampler((24, 8, 3), rng=20)
    generator = np.random.default_rng(20)
    from_generator = sampler((24, 8, 3), rng=generator)
    next_draw = sampler((24, 8, 3), rng=generator)

    assert np.array_equal(first, again)
    assert np.array_equal(first, from_generator)   # an int seed means default_rng(seed)
    assert not np.array_equal(from_generator, next_draw)


@pytest.mark.parametrize("sampler", SAMPLERS + FILLERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtype_only_changes_the_cast_of_the_float64_draws(sampler, dtype):
    w64 = sampler((24, 8, 3), rng=21, dtype=np.float64)
    w = sampler((24, 8, 3), rng=21, dtype=dtype)

    assert w.dtype == dtype and w64.dtype == np.float64
    assert np.array_equal(w, w64.astype(dtype))


@pytest.mark.parametrize("sampler", SAMPLERS + FILLERS)
def test_each_call_returns_a_new_array(sampler):
    w1, w2 = sampler((8, 4), rng=22), sampler((8, 4), rng=22)
    assert w1 is not w2 and not np.shares_memory(w1, w2)


def test_a_scalar_shape_gives_a_zero_dimensional_array_not_a_scalar():
    for w in (normal((), rng=0), trunc_normal((), rng=0), trunc_normal((), a=1, b=1e6, rng=0),
              constant((), 2.0)):
        assert isinstance(w, np.ndarray) and w.shape == ()


@pytest.mark.parametrize("sampler", SAMPLERS + FILLERS)
@pytest.mark.parametrize("shape", [(10**9, 10**9), (2**40, 2**40), (2**62, 2**62, 3)])
def test_a_shape_beyond_max_init_bytes_is_refused_before_anything_is_drawn(sampler, shape):
    with pytest.raises(ValueError, match=r"^shape \(.*\) would need .* above MAX_INIT_BYTES"):
        sampler(shape, rng=0)


@pytest.mark.parametrize("sampler, float64_arrays", [
    (lambda s, **kw: normal(s, **kw), 1),
    (lambda s, **kw: constant(s, 2.0, **kw), 1),
    (lambda s, **kw: kaiming_uniform(s, **kw), 1),
    (lambda s, **kw: variance_scaling(s, **kw), 2),               # truncated normal
    (lambda s, **kw: trunc_normal(s, **kw), 3),                   # most mass inside [a, b]
    (lambda s, **kw: trunc_normal(s, 0.0, 1.0, 1.0, 1.5, **kw), 11),   # rejection sampling
    (lambda s, **kw: orthogonal(s, **kw), 4),
])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_max_init_bytes_counts_the_float64_working_arrays_and_the_result(
        monkeypatch, sampler, float64_arrays, dtype):
    shape = (12, 10)
    needed = 120 * (8 * float64_arrays + np.dtype(dtype).itemsize)
    monkeypatch.setattr(init, "MAX_INIT_BYTES", needed)
    assert sampler(shape, rng=0, dtype=dtype).shape == shape          # exactly at the limit
    monkeypatch.setattr(init, "MAX_INIT_BYTES", needed - 1)
    mantissa, exponent = f"{needed:.2e}".split("e")          # e.g. 1.10e+04 -> 1.10e+4
    with pytest.raises(ValueError, match=rf"would need {mantissa}e\+{int(exponent)} bytes"):
        sampler(shape, rng=0, dtype=dtype)


def test_the_default_memory_limit_is_4_gib():
    assert init.MAX_INIT_BYTES == 4 * 2**30


@pytest.mark.parametrize("sampler", SAMPLERS + FILLERS)
def test_dtype_none_is_refused_rather_than_read_as_float64(sampler):
    with pytest.raises(TypeError, match="dtype must be a NumPy floating dtype.*got None"):
        sampler((4, 3), rng=0, dtype=None)


# -- warnings on legal but suspicious input ----------------------------------------------------

@pytest.mark.parametrize("nonlinearity", [n for n in NONLINEARITIES if n != "leaky_relu"])
def test_calculate_gain_warns_that_a_param_is_ignored_outside_leaky_relu(nonlinearity):
    with pytest.warns(SuspiciousInputWarning, match=rf"ignores param=0 for nonlinearity="
                                                    rf"'{nonlinearity}'.*'leaky_relu'"):
        gain = calculate_gain(nonlinearity, 0)
    assert gain == calculate_gain(nonlinearity)


@pytest.mark.parametrize("call", [
    lambda: kaiming_std((8, 4), 0.2, "fan_in", "relu"),
    lambda: kaiming_normal((8, 4), 0.2, nonlinearity="relu", rng=0),
    lambda: kaiming_uniform((8, 4), -1.0, nonlinearity="tanh", rng=0),
    lambda: kaiming_normal((8, 4), math.sqrt(5), nonlinearity="linear", rng=0),
])
def test_kaiming_warns_that_a_slope_is_ignored_outside_leaky_relu(call):
    with pytest.warns(SuspiciousInputWarning, match=r"a=.* is ignored with nonlinearity="):
        call()


def test_kaiming_ignoring_the_slope_still_gives_the_nonlinearitys_gain():
    with pytest.warns(SuspiciousInputWarning):
        std = kaiming_std((8, 4), 0.2, "fan_in", "relu")
    assert std == math.sqrt(2.0) / math.sqrt(4)


@pytest.mark.parametrize("call", [
    lambda: normal((100,), std=1e-50, rng=0),                        # float32 default
    lambda: normal((100,), std=1e-9, rng=0, dtype=np.float16),
    lambda: constant((3,), 1e-300),
    lambda: kaiming_normal((8, 4), a=1e200, rng=0),                  # std 1.4e-200 / 2
])
def test_weights_that_the_dtype_flushes_to_zero_warn(call):
    # normal std 1e-9: 100 draws stay below 6 std = 6e-9, and float16 rounds everything
    # below half its smallest subnormal (6e-8 / 2) to 0.
    with pytest.warns(SuspiciousInputWarning, match=r"flushes every one of these weights to "
                                                    r"zero.*smallest subnormal"):
        w = call()
    assert not w.any()


ORDINARY_CALLS = [
    lambda: calculate_gain("leaky_relu", 0.2),
    lambda: calculate_gain("relu"),
    lambda: calculate_gain("tanh"),
    lambda: kaiming_std((8, 4)),
    lambda: kaiming_normal((8, 4), nonlinearity="relu", rng=0),      # a=0, the default
    lambda: kaiming_uniform((8, 4), a=math.sqrt(5), rng=0),          # nn.Linear's default
    lambda: kaiming_normal((8, 4), 0.2, "fan_out", rng=0),
    lambda: normal((100,), std=0.01, rng=0, dtype=np.float16),
    lambda: normal((100,), std=1e-50, rng=0, dtype=np.float64),
    lambda: zeros((3, 4)),
    lambda: orthogonal((8, 4), rng=0),
]


@pytest.mark.parametrize("call", ORDINARY_CALLS)
def test_ordinary_calls_do_not_warn(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call()


EMPTY_WARNERS = [
    pytest.param(kaiming_normal, id="kaiming_normal"),
    pytest.param(kaiming_uniform, id="kaiming_uniform"),
    pytest.param(xavier_normal, id="xavier_normal"),
    pytest.param(xavier_uniform, id="xavier_uniform"),
    pytest.param(orthogonal, id="orthogonal"),
    pytest.param(lecun_normal, id="lecun_normal"),
    pytest.param(variance_scaling, id="variance_scaling"),
]


@pytest.mark.parametrize("sampler", EMPTY_WARNERS)
@pytest.mark.parametrize("shape", [(0, 3), (4, 0, 3, 3), (0, 0)])
def test_zero_element_shape_warns_and_returns_an_empty_array(sampler, shape):
    with pytest.warns(SuspiciousInputWarning, match=EMPTY_WARNING):
        w = sampler(shape, rng=23, dtype=np.float64)
    assert w.shape == shape and w.dtype == np.float64


def test_kaiming_on_an_empty_1d_shape_warns_before_computing_fans_as_pytorch():
    for sampler in (kaiming_normal, kaiming_uniform):
        with pytest.warns(UserWarning, match=EMPTY_WARNING):
            assert sampler((0,)).shape == (0,)


# == 6. Parity with torch.nn.init ==============================================================

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip(
        "torch", reason="torch is not installed: the parity tests compare with torch.nn.init")


PARITY_SHAPES = [(256, 128), (3, 5), (16, 8, 3), (64, 3, 7, 7), (8, 4, 3, 3, 3), (1, 1),
                 (1, 1, 1, 1)]


BIG = (256, 128, 3, 3)       # 294912 draws from each library in the sample-std comparison


def torch_std(torch, shape, a, mode, nonlinearity):
    """The std torch's kaiming_*_ computes, from torch's own helpers and formula."""
    tensor = torch.empty(shape)
    fan = torch.nn.init._calculate_correct_fan(tensor, mode)
    return torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)


def ignored_slope_warning(expected: bool):
    """Expect our 'slope is ignored' warning where PyTorch ignores the slope silently."""
    if expected:
        return pytest.warns(SuspiciousInputWarning, match="ignore")
    return contextlib.nullcontext()


@pytest.mark.torch
class TestTorchParity:

    @pytest.mark.parametrize("shape", PARITY_SHAPES + [(0, 3), (5, 0, 2)])
    def test_fans_equal_torch(self, torch, shape):
        fans = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert fan_in_and_fan_out(shape) == fans

    @pytest.mark.parametrize("shape", [(5,), ()])
    def test_fewer_than_two_dimensions_raise_value_error_in_both(self, torch, shape):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        with pytest.raises(ValueError, match="at least 2 dimensions"):
            fan_in_and_fan_out(shape)

    @pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
    @pytest.mark.parametrize("param", [None, *SLOPES, 1, 3, 0.25, 1.3e154])
    def test_gains_equal_torch_to_the_last_bit(self, torch, nonlinearity, param):
        expected = torch.nn.init.calculate_gain(nonlinearity, param)
        with ignored_slope_warning(param is not None and nonlinearity != "leaky_relu"):
            gain = calculate_gain(nonlinearity, param)

        assert gain == expected
        assert type(gain) is type(expected)      # the int 1 for the linear-like functions

    def test_unknown_nonlinearity_raises_value_error_in_both(self, torch):
        with pytest.raises(ValueError, match="Unsupported nonlinearity"):
            torch.nn.init.calculate_gain("gelu")
        with pytest.raises(ValueError, match="got 'gelu'"):
            calculate_gain("gelu")

    @pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
    @pytest.mark.parametrize("shape", PARITY_SHAPES)
    def test_kaiming_std_equals_torch_to_the_last_bit(self, torch, nonlinearity, shape):
        for mode in ("fan_in", "fan_out", "FAN_IN"):
            for a in SLOPES:
                expected = torch_std(torch, shape, a, mode, nonlinearity)
                with ignored_slope_warning(a != 0 and nonlinearity != "leaky_relu"):
                    std = kaiming_std(shape, a, mode, nonlinearity)
                assert std == expected, (mode, a)

    @pytest.mark.parametrize("shape", PARITY_SHAPES)
    @pytest.mark.parametrize("gain", [1.0, 5.0 / 3, math.sqrt(2.0), 1, 0.75])
    def test_xavier_std_equals_torch_to_the_last_bit(self, torch, shape, gain):
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert xavier_std(shape, gain) == gain * math.sqrt(2.0 / float(fan_in + fan_out))

    @pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
    @pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
    @pytest.mark.parametrize("a", SLOPES)
    def test_kaiming_draws_scale_the_generator_by_torch_std_and_bound(self, torch, shape,
                                                                      mode, a):
        # NumPy defines Generator.normal(0, std) as 0 + std * standard_normal() and
        # Generator.uniform(-B, B) as -B + (B - -B) * random(), so with torch's std and
        # bound = sqrt(3.0) * std the draws are known to the last bit.
        std = torch_std(torch, shape, a, mode, "leaky_relu")
        bound = math.sqrt(3.0) * std
        normal_draws = kaiming_normal(shape, a, mode, rng=24, dtype=np.float64)
        uniform_draws = kaiming_uniform(shape, a, mode, rng=24, dtype=np.float64)

        assert np.array_equal(normal_draws,
                              0.0 + std * np.random.default_rng(24).standard_normal(shape))
        assert np.array_equal(uniform_draws,
                              -bound + (bound - -bound) * np.random.default_rng(24).random(shape))

    @pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
    @pytest.mark.parametrize("gain", [1.0, 5.0 / 3])
    def test_xavier_draws_scale_the_generator_by_torch_std_and_bound(self, torch, shape, gain):
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
        bound = math.sqrt(3.0) * std

        assert np.array_equal(xavier_normal(shape, gain, rng=25, dtype=np.float64),
                              0.0 + std * np.random.default_rng(25).standard_normal(shape))
        assert np.array_equal(xavier_uniform(shape, gain, rng=25, dtype=np.float64),
                              -bound + (bound - -bound) * np.random.default_rng(25).random(shape))

    @pytest.mark.parametrize("ours, theirs, kurtosis, shape", [
        pytest.param(lambda s, rng: kaiming_normal(s, rng=rng),
                     lambda t, g, nn: nn.kaiming_normal_(t, generator=g),
                     KURTOSIS_NORMAL, BIG, id="kaiming_normal"),
        pytest.param(lambda s, rng: kaiming_normal(s, 0.2, "fan_out", "relu", rng=rng),
                     lambda t, g, nn: nn.kaiming_normal_(t, 0.2, "fan_out", "relu", generator=g),
                     KURTOSIS_NORMAL, BIG, id="kaiming_normal-fan_out-relu",
                     # both ignore the slope for relu; ours says so
                     marks=pytest.mark.filterwarnings(
                         "ignore::kaiming_lib.init.SuspiciousInputWarning")),
        pytest.param(lambda s, rng: kaiming_uniform(s, SQRT5, rng=rng),
                     lambda t, g, nn: nn.kaiming_uniform_(t, SQRT5, generator=g),
                     KURTOSIS_UNIFORM, BIG, id="kaiming_uniform-sqrt5"),
        pytest.param(lambda s, rng: kaiming_uniform(s, 0.01, "fan_out", rng=rng),
                     lambda t, g, nn: nn.kaiming_uniform_(t, 0.01, "fan_out", generator=g),
                     KURTOSIS_UNIFORM, BIG, id="kaiming_uniform-fan_out"),
        pytest.param(lambda s, rng: xavier_normal(s, 5.0 / 3, rng=rng),
                     lambda t, g, nn: nn.xavier_normal_(t, 5.0 / 3, generator=g),
                     KURTOSIS_NORMAL, BIG, id="xavier_normal"),
        pytest.param(lambda s, rng: xavier_uniform(s, rng=rng),
                     lambda t, g, nn: nn.xavier_uniform_(t, generator=g),
                     KURTOSIS_UNIFORM, BIG, id="xavier_uniform"),
        # An orthogonal matrix's sum of squares is fixed; the normal kurtosis bounds the rest.
        pytest.param(lambda s, rng: orthogonal(s, math.sqrt(2.0), rng=rng),
                     lambda t, g, nn: nn.orthogonal_(t, math.sqrt(2.0), generator=g),
                     KURTOSIS_NORMAL, (64, 32, 3, 3), id="orthogonal"),
        pytest.param(lambda s, rng: trunc_normal(s, rng=rng),
                     lambda t, g, nn: nn.trunc_normal_(t, generator=g),
                     KURTOSIS_TRUNCATED, BIG, id="trunc_normal-default"),
        pytest.param(lambda s, rng: trunc_normal(s, 0.5, 2.0, -1.0, 3.0, rng=rng),
                     lambda t, g, nn: nn.trunc_normal_(t, 0.5, 2.0, -1.0, 3.0, generator=g),
                     truncated_normal_kurtosis(0.5, 2.0, -1.0, 3.0),
                     BIG, id="trunc_normal-asymmetric"),
        pytest.param(lambda s, rng: trunc_normal(s, 0.0, 1.0, 0.5, 0.6, rng=rng),
                     lambda t, g, nn: nn.trunc_normal_(t, 0.0, 1.0, 0.5, 0.6, generator=g),
                     truncated_normal_kurtosis(0.0, 1.0, 0.5, 0.6),
                     BIG, id="trunc_normal-narrow"),
    ])
    def test_sample_std_agrees_with_torch_within_sampling_error(self, torch, ours, theirs,
                                                                kurtosis, shape):
        n = math.prod(shape)
        generator = torch.Generator().manual_seed(26)
        torch_draws = theirs(torch.empty(shape, dtype=torch.float64), generator, torch.nn.init)
        torch_draws = torch_draws.numpy()
        our_draws = ours(shape, np.random.default_rng(26))
        s_torch, s_ours = torch_draws.std(), our_draws.astype(np.float64).std()

        # Each sample std has standard error s * sqrt((kurtosis - 1) / (4 n)) (delta method);
        # the difference of two independent ones has sqrt(2) times that.
        tolerance = Z * math.sqrt(2) * s_torch * math.sqrt((kurtosis - 1) / (4 * n))
        assert abs(s_torch - s_ours) <= tolerance

    @pytest.mark.parametrize("shape", [(0, 3), (4, 0, 3, 3), (0,)])
    def test_kaiming_warns_on_zero_element_shapes_in_both(self, torch, shape):
        for theirs, ours in ((torch.nn.init.kaiming_normal_, kaiming_normal),
                             (torch.nn.init.kaiming_uniform_, kaiming_uniform)):
            with pytest.warns(UserWarning, match=EMPTY_WARNING):
                theirs(torch.empty(shape))
            with pytest.warns(UserWarning, match=EMPTY_WARNING):
                ours(shape)

    def test_kaiming_mode_handling_matches_torch(self, torch):
        with pytest.raises(ValueError, match="Mode fan_avg not supported"):
            torch.nn.init.kaiming_normal_(torch.empty(4, 3), mode="fan_avg")
        with pytest.raises(ValueError, match="mode must be one of 'fan_in', 'fan_out'"):
            kaiming_normal((4, 3), mode="fan_avg")

    def test_pytorch_linear_default_scheme_matches_nn_linear_weights(self, torch):
        fan_in, fan_out = 256, 512
        with torch.random.fork_rng():             # leave torch's global generator as it was
            torch.manual_seed(27)
            linear = torch.nn.Linear(fan_in, fan_out).weight.detach().numpy()
        linear = linear.astype(np.float64)
        ours = get_scheme("pytorch_linear_default")((fan_out, fan_in), rng=27, dtype=np.float64)
        var = get_scheme("pytorch_linear_default").variance(fan_in, fan_out)
        bound = math.sqrt(3.0) * torch_std(torch, (fan_out, fan_in), SQRT5, "fan_in",
                                           "leaky_relu")

        # torch draws in float32 with float32 bounds; round the bound the same way.
        assert np.abs(linear).max() <= np.float32(bound) and np.abs(ours).max() <= bound
        for w in (linear, ours):
            assert abs(np.var(w) - var) <= variance_tolerance(var, KURTOSIS_UNIFORM, w.size)

    def test_orthogonal_flattens_kernels_as_torch_does(self, torch):
        shape = (16, 8, 3, 3)
        theirs = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64)).numpy()
        ours = orthogonal(shape, rng=28, dtype=np.float64)
        for q in (theirs.reshape(16, -1), ours.reshape(16, -1)):
            assert np.allclose(q @ q.T, np.eye(16), atol=1e-12)


@pytest.mark.parametrize("fans, error, match", [
    ((0, 0), ValueError, "fan_in must be at least 1; got 0"),
    ((-1, 3), ValueError, "fan_in must be at least 1; got -1"),
    ((3, 0), ValueError, "fan_out must be at least 1; got 0"),
    (("3", 3), TypeError, "fan_in must be an integer; got '3'"),
    ((3.0, 3), TypeError, "fan_in must be an integer; got 3.0"),
])
def test_a_schemes_variance_refuses_fans_that_are_not_positive_integers(fans, error, match):
    with pytest.raises(error, match=match):
        get_scheme("xavier_normal").variance(*fans)
