"""Tests of kaiming_lib.variance: moments, gains, the q_l recursion and He et al.'s products.

Every expected value is computed here, independently of the module: closed forms are typed
from the formulas, smooth moments come from a composite Simpson rule written below (and a
seeded Monte Carlo with a stated bound), and the stack recursions are unrolled by hand.
"""

import math
import re
import subprocess
import sys
import warnings
from dataclasses import fields
from fractions import Fraction

import numpy as np
import pytest

from kaiming_lib import variance as V
from kaiming_lib._validation import SuspiciousInputWarning
from kaiming_lib.init import calculate_gain

# SELU's constants, from Klambauer et al. (2017), typed here rather than read from the module.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

QS = [1e-4, 1e-2, 1.0, 1e2, 1e4]
SLOPES = [0.0, 0.01, 0.2, 0.5, 1.0, -0.3, 2.5]


# -- independent references -------------------------------------------------------------------

def _tanh_pair(z):
    # sech^2 = (1 / cosh)^2; |z| capped at 700 so cosh does not overflow (sech^2(700) ~ 1e-608
    # underflows to 0, which is the right value to double precision).
    return np.tanh(z), (1 / np.cosh(np.minimum(np.abs(z), 700))) ** 2


def _sigmoid_pair(z):
    # s = 1 / (1 + e^-z) = exp(-log(1 + e^-z)) and s (1 - s) = exp(-log(1 + e^-z) - log(1 + e^z)),
    # through logaddexp, which never overflows.
    log_s, log_1ms = -np.logaddexp(0, -z), -np.logaddexp(0, z)
    return np.exp(log_s), np.exp(log_s + log_1ms)


def _gelu_pair(z):
    cdf = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in z.tolist()]))
    return z * cdf, cdf + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _selu_pair(z):
    negative = np.minimum(z, 0)
    value = SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(negative))
    slope = SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(negative))
    return value, slope


#: phi and phi' written in the test, for the activations without a closed form.
SMOOTH = {"tanh": _tanh_pair, "sigmoid": _sigmoid_pair, "gelu": _gelu_pair, "selu": _selu_pair}

# Composite Simpson on each half-line t in [0, 12] of the standard normal (the mass beyond
# 12 is below 4e-33), with N = 2^16 intervals per side.  The two halves are integrated
# separately, so the kink of ReLU-like and SELU-like functions at 0 is an end point of both;
# the node t = 0 is moved to 1e-300 so that each half sees its own one-sided limit there.
# For analytic integrands Simpson's rule is accurate to rounding; across SELU's kink its
# error is O(h^4 g''''), largest at q = 1e4, where the exponential branch lives on
# |t| < 0.01: measured against 50-digit mpmath it is ~1e-10 there, so 1e-9 is the tolerance.
_N = 2**16
_T = np.linspace(0.0, 12.0, _N + 1)
_T[0] = 1e-300
_W = np.ones(_N + 1)
_W[1:-1:2], _W[2:-1:2] = 4.0, 2.0
_W *= (12.0 / _N) / 3.0 * np.exp(-0.5 * _T * _T) / math.sqrt(2 * math.pi)
SIMPSON_RTOL = 1e-9


def simpson_moments(pair, q):
    """Return (E[phi], E[phi^2], E[phi'^2]) for z ~ N(0, q) by the Simpson rule above."""
    std = math.sqrt(q)
    total = np.zeros(3)
    for z in (std * _T, -std * _T):
        value, slope = pair(z)
        total += [_W @ value, _W @ value**2, _W @ slope**2]
    return tuple(total)


def leaky_closed_form(a, q):
    """He et al.'s moments of phi(z) = z (z > 0), a z (z <= 0) for z ~ N(0, q)."""
    return (1 - a) * math.sqrt(q / (2 * math.pi)), (1 + a * a) * q / 2, (1 + a * a) / 2


def moments_tuple(m):
    return m.mean, m.second_moment, m.derivative_second_moment


# -- activations ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_named_activation_and_derivative_match_their_definitions(name):
    z = np.linspace(-6.0, 6.0, 241)
    activation = V.get_activation(name)
    value, slope = SMOOTH[name](z)
    np.testing.assert_allclose(activation(z), value, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(activation.derivative(z), slope, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("a", SLOPES)
def test_leaky_relu_is_identity_above_zero_and_slope_a_below(a):
    z = np.array([-3.0, -0.5, 0.0, 0.25, 4.0])
    activation = V.get_activation("leaky_relu", a)
    np.testing.assert_array_equal(activation(z), np.where(z > 0, z, a * z))
    np.testing.assert_array_equal(activation.derivative(z), np.where(z > 0, 1.0, a))
    assert activation.negative_slope == a


def test_relu_returns_positive_zero_for_negative_input():
    out = V.get_activation("relu")(np.array([-2.0, -0.0]))
    assert not np.signbit(out).any()


def test_linear_is_an_alias_of_identity():
    z = np.array([-1.5, 0.0, 2.0])
    for name in ("identity", "linear"):
        np.testing.assert_array_equal(V.get_activation(name)(z), z)
        np.testing.assert_array_equal(V.get_activation(name).derivative(z), np.ones(3))


def test_activations_built_from_the_same_slope_compare_equal():
    assert V.get_activation("leaky_relu", 0.2) == V.get_activation("leaky_relu", 0.2)
    assert V.get_activation("leaky_relu", 0.2) != V.get_activation("leaky_relu", 0.3)
    assert hash(V.get_activation("relu")) == hash(V.get_activation("relu"))


def test_as_activation_wraps_a_callable_without_derivative():
    act = V.as_activation(np.sin)
    assert act.name == "sin" and act.derivative is None and act.kinks == ()
    assert V.as_activation(act) is act


# -- Gaussian expectations: closed forms ------------------------------------------------------

@pytest.mark.parametrize("q", QS)
def test_relu_closed_form_moments_are_half_q_and_sqrt_q_over_2pi(q):
    m = V.closed_form_moments("relu", q)
    assert m.second_moment == q / 2
    assert m.mean == math.sqrt(q / (2 * math.pi))
    assert m.derivative_second_moment == 0.5
    assert m.q == q


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("a", SLOPES)
def test_leaky_relu_closed_form_moments(a, q):
    mean, second, slope = leaky_closed_form(a, q)
    m = V.closed_form_moments("leaky_relu", q, negative_slope=a)
    assert m.mean == pytest.approx(mean, rel=1e-15, abs=1e-300)
    assert m.second_moment == pytest.approx(second, rel=1e-15)
    assert m.derivative_second_moment == pytest.approx(slope, rel=1e-15)


@pytest.mark.parametrize("q", QS)
def test_identity_closed_form_moments_are_q_zero_one(q):
    for name in ("identity", "linear"):
        assert moments_tuple(V.closed_form_moments(name, q)) == (0.0, q, 1.0)


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("a", SLOPES)
def test_quadrature_matches_leaky_relu_closed_form_to_1e_12(a, q):
    mean, second, slope = leaky_closed_form(a, q)
    m = V.activation_moments("leaky_relu", q, negative_slope=a, method="quadrature")
    # the mean vanishes at a = 1, so it is compared on the scale sqrt(q) of z
    assert abs(m.mean - mean) <= 1e-12 * math.sqrt(q)
    assert m.second_moment == pytest.approx(second, rel=1e-12)
    assert m.derivative_second_moment == pytest.approx(slope, rel=1e-12)


@pytest.mark.parametrize("q", QS)
def test_quadrature_matches_relu_and_identity_closed_forms_to_1e_12(q):
    relu = V.activation_moments("relu", q, method="quadrature")
    assert relu.second_moment == pytest.approx(q / 2, rel=1e-12)
    assert relu.mean == pytest.approx(math.sqrt(q / (2 * math.pi)), rel=1e-12)
    assert relu.derivative_second_moment == pytest.approx(0.5, rel=1e-12)
    identity = V.activation_moments("identity", q, method="quadrature")
    assert abs(identity.mean) <= 1e-12 * math.sqrt(q)
    assert identity.second_moment == pytest.approx(q, rel=1e-12)
    assert identity.derivative_second_moment == pytest.approx(1.0, rel=1e-12)


def test_auto_method_uses_the_closed_form_where_one_exists():
    # the closed form is exact: q / 2 to the last bit, which quadrature is not guaranteed to be
    assert V.activation_moments("relu", 3.0).second_moment == 1.5
    assert V.activation_second_moment("leaky_relu", 2.0, negative_slope=0.5) == 1.25
    assert V.derivative_second_moment("identity", 7.0) == 1.0


def test_custom_activation_named_linear_is_integrated_not_taken_for_identity():
    # A regression: the closed forms used to be chosen by name.
    doubled = V.Activation("linear", lambda x: 2 * x, lambda x: np.full_like(x, 2.0))
    m = V.activation_moments(doubled, 3.0)
    assert m.second_moment == pytest.approx(4 * 3.0, rel=1e-12)
    assert m.derivative_second_moment == pytest.approx(4.0, rel=1e-12)
    with pytest.raises(ValueError, match="closed forms exist"):
        V.closed_form_moments(doubled, 3.0)


@pytest.mark.parametrize("q", [0.5, 2.0, 50.0])
def test_gaussian_expectation_reproduces_normal_moments(q):
    # E[z^2] = q, E[z^4] = 3 q^2, E[|z|] = sqrt(2 q / pi), E[1] = 1 (a scalar-valued f)
    assert V.gaussian_expectation(lambda z: z**2, q) == pytest.approx(q, rel=1e-13)
    assert V.gaussian_expectation(lambda z: z**4, q) == pytest.approx(3 * q * q, rel=1e-13)
    assert V.gaussian_expectation(np.abs, q, kinks=[0.0]) == pytest.approx(
        math.sqrt(2 * q / math.pi), rel=1e-13)
    assert V.gaussian_expectation(lambda z: 1.0, q) == pytest.approx(1.0, rel=1e-13)


def test_gaussian_expectation_of_a_step_at_a_kink_is_the_normal_cdf():
    # P(z > 1) for z ~ N(0, 4) is (1 - erf(1 / (2 sqrt 2))) / 2
    value = V.gaussian_expectation(lambda z: (z > 1.0).astype(float), 4.0, kinks=[1.0])
    assert value == pytest.approx(0.5 * (1 - math.erf(1 / (2 * math.sqrt(2)))), rel=1e-13)


def test_gaussian_expectation_warns_when_a_jump_or_kink_is_missing_from_kinks():
    # Without its kinks the first rule (Gauss-Hermite for q <= 1) misses |z| by 0.2 % and
    # the indicator of |z| < 1/2 by 10 %; the second estimate exposes both.
    band = lambda z: (np.abs(z) < 0.5).astype(float)            # noqa: E731
    for f, exact in ((np.abs, math.sqrt(2 / math.pi)), (band, math.erf(0.5 / math.sqrt(2)))):
        with pytest.warns(SuspiciousInputWarning, match=r"disagree at q=1\.0 .* kinks="):
            rough = V.gaussian_expectation(f, 1.0)
        assert abs(rough - exact) > 1e-3 * exact
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert V.gaussian_expectation(np.abs, 1.0, kinks=[0.0]) == pytest.approx(
            math.sqrt(2 / math.pi), rel=1e-13)
        assert V.gaussian_expectation(band, 1.0, kinks=[-0.5, 0.5]) == pytest.approx(
            math.erf(0.5 / math.sqrt(2)), rel=1e-13)


def test_gaussian_expectation_warns_when_the_truncation_cuts_off_part_of_it():
    # E[exp(z)] = exp(q/2).  Up to q = 2 the rules are exact; at q = 100 the mass sits
    # near z = q = 100, 10 standard deviations out, and the cut at 12 loses 2 %.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for q in (0.25, 1.0, 2.0):
            assert V.gaussian_expectation(np.exp, q) == pytest.approx(math.exp(q / 2),
                                                                      rel=1e-12)
    with pytest.warns(SuspiciousInputWarning, match="beyond 12 standard deviations"):
        value = V.gaussian_expectation(np.exp, 100.0)
    assert value < 0.99 * math.exp(50)


def test_moments_of_a_plain_callable_with_an_unlisted_kink_warn():
    # Its kink at 0 unknown, ReLU as a lambda got E[phi] 0.2 % off without a word.
    relu = lambda z: np.maximum(z, 0.0)                            # noqa: E731
    with pytest.warns(SuspiciousInputWarning, match=r"E\[phi\(z\)\] of activation '<lambda>'"):
        rough = V.activation_moments(relu).mean
    assert abs(rough - 1 / math.sqrt(2 * math.pi)) > 5e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kinked = V.Activation("my_relu", relu, lambda z: (z > 0) * 1.0, (0.0,))
        assert V.activation_moments(kinked).mean == pytest.approx(1 / math.sqrt(2 * math.pi),
                                                                  rel=1e-13)
        V.activation_moments(np.sin)                               # smooth: no warning


@pytest.mark.parametrize("q", [0.01, 0.25, 1.0, 2.0, 100.0])
def test_gaussian_expectation_of_smooth_functions_does_not_warn(q):
    smooth = [np.tanh, np.sin, lambda z: np.cos(3 * z), lambda z: z**20,
              lambda z: 1 / (1 + np.exp(-z)), lambda z: np.logaddexp(0, z),
              lambda z: np.maximum(z, 0) ** 2]   # a kink in the second derivative only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in smooth:
            V.gaussian_expectation(f, q)


def test_gaussian_expectation_at_q_zero_is_f_of_zero():
    assert V.gaussian_expectation(lambda z: np.cos(z) + 2, 0.0) == 3.0
    assert V.gaussian_expectation(lambda z: 5.0, 0.0) == 5.0


# -- Gaussian expectations: smooth activations ------------------------------------------------

@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_quadrature_matches_independent_simpson_integral(name, q):
    mean, second, slope = simpson_moments(SMOOTH[name], q)
    m = V.activation_moments(name, q)
    # tanh's mean is 0 by symmetry: compare means on the scale sqrt(E[phi^2])
    assert abs(m.mean - mean) <= SIMPSON_RTOL * math.sqrt(second)
    assert m.second_moment == pytest.approx(second, rel=SIMPSON_RTOL)
    assert m.derivative_second_moment == pytest.approx(slope, rel=SIMPSON_RTOL)


@pytest.mark.parametrize("q", [1.0, 3.0])
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_quadrature_agrees_with_monte_carlo_within_five_standard_errors(name, q):
    # The mean of n iid values g(z_i) has standard error sd(g(z)) / sqrt(n); with the sample
    # sd and n = 200_000 the estimate misses E[g(z)] by more than 5 standard errors with
    # probability below 6e-7 (normal tail), so a failure means a wrong integral.
    n = 200_000
    z = np.random.default_rng(20150206).normal(0.0, math.sqrt(q), n)
    value, slope = SMOOTH[name](z)
    m = V.activation_moments(name, q)
    for sample, exact in [(value, m.mean), (value**2, m.second_moment),
                          (slope**2, m.derivative_second_moment)]:
        standard_error = sample.std(ddof=1) / math.sqrt(n)
        assert abs(sample.mean() - exact) <= 5 * standard_error


def test_selu_has_zero_mean_and_unit_second_moment_at_q_one():
    # Klambauer et al.'s constants make q = 1, mean 0 the fixed point of a SELU layer.
    m = V.activation_moments("selu", 1.0)
    assert abs(m.mean) < 1e-13
    assert m.second_moment == pytest.approx(1.0, abs=1e-13)
    assert m.variance == pytest.approx(1.0, abs=1e-13)


@pytest.mark.parametrize("q", [1e-4, 1e-3, 1e-2])
def test_tanh_derivative_moment_tends_to_one_at_small_q(q):
    # sech^4 z = 1 - 2 z^2 + 7 z^4 / 3 - 94 z^6 / 45 + ..., E[z^4] = 3 q^2, E[z^6] = 15 q^3,
    # so E[tanh'(z)^2] = 1 - 2 q + 7 q^2 - (94/3) q^3 + ...; the remainder after the q^2
    # term is below 32 q^3 for q <= 0.01.
    slope = V.derivative_second_moment("tanh", q)
    assert slope < 1
    assert abs(slope - (1 - 2 * q + 7 * q * q)) <= 32 * q**3


def test_sigmoid_mean_is_one_half_by_symmetry():
    for q in QS:
        assert V.activation_mean("sigmoid", q) == pytest.approx(0.5, abs=1e-14)


def test_moments_of_a_plain_callable_have_no_derivative_moment_not_a_silent_nan():
    m = V.activation_moments(lambda z: z**2, 2.0)
    assert m.second_moment == pytest.approx(3 * 2.0**2, rel=1e-13)
    assert m.derivative_second_moment is None
    # np.tanh passed as a function is a plain callable too: its derivative is unknown, and
    # the named 'tanh' is the way to get E[phi'(z)^2] = E[(1 - tanh(z)^2)^2].
    assert V.activation_moments(np.tanh).derivative_second_moment is None
    assert V.activation_moments("tanh").derivative_second_moment > 0
    with pytest.raises(ValueError, match="activation 'tanh' has no derivative"):
        V.derivative_second_moment(np.tanh)


def test_a_stack_of_a_plain_callable_predicts_nan_gradients_as_documented():
    p = V.predict_stack([16, 16, 16], "kaiming_normal", np.tanh)
    assert np.all(np.isfinite(p.preact_second_moment))
    assert np.all(np.isnan(p.input_grad_variance))


IGNORED_SLOPES = [
    lambda: V.predict_stack([10, 10], negative_slope=2),
    lambda: V.predict_stack([10, 10], activation="tanh", negative_slope=0.2),
    lambda: V.activation_moments("relu", negative_slope=0.2),
    lambda: V.activation_second_moment("gelu", negative_slope=0.3),
    lambda: V.preserving_gain("relu", negative_slope=0.5),
    lambda: V.forward_product([4, 4, 4], activation="relu", negative_slope=0.2),
    lambda: V.get_activation("identity", 0.5),
    lambda: V.as_activation(V.get_activation("leaky_relu", 0.2), negative_slope=0.3),
    lambda: V.activation_moments(np.sin, negative_slope=0.3),
]


@pytest.mark.parametrize("call", IGNORED_SLOPES)
def test_a_negative_slope_the_activation_ignores_is_warned_about(call):
    with pytest.warns(SuspiciousInputWarning, match=r"negative_slope=.* is ignored with"):
        call()


def test_a_slope_the_activation_uses_or_the_default_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        leaky = V.predict_stack([10, 10], activation="leaky_relu", negative_slope=2)
        V.predict_stack([10, 10], activation="relu")
        V.gain_table(negative_slope=0.2)
    # With slope 2, E[phi(z)^2] = (1 + 4) / 2 q: the slope was used.
    assert leaky.act_second_moment[0] == 2.5 * leaky.preact_second_moment[0]


# -- gains ------------------------------------------------------------------------------------

@pytest.mark.parametrize("q", [1e-3, 1.0, 1e3])
def test_preserving_gains_of_homogeneous_activations(q):
    assert V.preserving_gain("relu", q) == math.sqrt(2)
    assert V.preserving_gain("identity", q) == 1.0
    for a in SLOPES:
        gain = V.preserving_gain("leaky_relu", q, negative_slope=a)
        assert gain == pytest.approx(math.sqrt(2 / (1 + a * a)), rel=1e-15)


@pytest.mark.parametrize("a", [1.4e154, -1e200, 1e300])
def test_preserving_gain_of_a_slope_whose_square_overflows_is_sqrt2_over_its_size(a):
    # a^2 overflows; 1 + a^2 rounds to a^2 for |a| > 1e8, so sqrt(2 / (1 + a^2)) is
    # sqrt(2) / |a| to double precision (not 0, as sqrt(q / inf) would give).
    gain = V.preserving_gain("leaky_relu", 3.0, negative_slope=a)
    assert gain == pytest.approx(math.sqrt(2) / abs(a), rel=1e-15)
    row = next(r for r in V.gain_table(negative_slope=a) if r["activation"] == "leaky_relu")
    assert row["preserving_gain"] == gain and row["ratio"] == pytest.approx(1.0, rel=1e-15)


def test_closed_form_moments_beyond_the_float_range_are_inf_without_warning():
    # (1 + a^2) / 2 = 5e399 for a = 1e200 is not representable; the mean (1 - a) sqrt(q/2pi)
    # still is.
    m = V.closed_form_moments("leaky_relu", 2.0, negative_slope=1e200)
    assert m.second_moment == math.inf and m.derivative_second_moment == math.inf
    assert m.mean == pytest.approx((1 - 1e200) * math.sqrt(2.0 / (2 * math.pi)), rel=1e-15)


@pytest.mark.parametrize("q", [1e300, 1e307])
def test_moments_near_the_float_range_are_finite_and_reach_their_large_q_limits(q):
    # For z = sqrt(q) t with t standard normal and q -> inf, GELU tends to ReLU, SELU to
    # SELU_SCALE * ReLU plus a bounded part, tanh to sign(z) and sigmoid to a unit step; the
    # corrections are O(q^-1/2) < 1e-150.  E[phi^2] (about q / 2) is representable, although
    # phi(z)^2 at the outer nodes (|z| up to 12 sqrt(q)) is not.
    limits = {"gelu": (q / 2, 0.5), "selu": (SELU_SCALE**2 * q / 2, SELU_SCALE**2 / 2),
              "tanh": (1.0, 0.0), "sigmoid": (0.5, 0.0)}
    for name, (second, slope) in limits.items():
        m = V.activation_moments(name, q)
        assert m.second_moment == pytest.approx(second, rel=1e-12), name
        assert m.derivative_second_moment == pytest.approx(slope, rel=1e-12, abs=1e-12), name


def test_gelu_derivative_does_not_overflow_for_huge_inputs():
    x = np.array([-1e200, -50.0, 50.0, 1e200])
    np.testing.assert_array_equal(V.get_activation("gelu").derivative(x), [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("q", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_preserving_gain_squared_times_second_moment_is_q(name, q):
    _, second, _ = simpson_moments(SMOOTH[name], q)
    assert V.preserving_gain(name, q) == pytest.approx(math.sqrt(q / second), rel=SIMPSON_RTOL)


@pytest.mark.parametrize("q", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "selu"])
def test_preserving_gain_makes_q_a_fixed_point_of_the_stack(name, q):
    # Var[w] = gain^2 / fan_in ('lecun_normal' = 1 / fan_in, times gain^2); an input second
    # moment of q / gain^2 makes q_1 = n_0 Var[w] E[x_0^2] = q, and then every q_l = q.
    slope = {"negative_slope": 0.2} if name == "leaky_relu" else {}
    gain = V.preserving_gain(name, q, **slope)
    p = V.predict_stack([40, 70, 25, 90, 60], "lecun_normal", name, **slope,
                        gain=gain, input_second_moment=q / gain**2)
    np.testing.assert_allclose(p.preact_second_moment, q, rtol=1e-12)


def test_tanh_preserving_gain_tends_to_one_at_small_q_and_is_below_five_thirds_at_one():
    assert V.preserving_gain("tanh", 1e-6) == pytest.approx(1.0, abs=1e-5)
    assert 1.0 < V.preserving_gain("tanh", 1.0) < 5 / 3


def test_selu_preserving_gain_at_q_one_is_one():
    assert V.preserving_gain("selu", 1.0) == pytest.approx(1.0, abs=1e-13)


DEFAULT_TABLE = ("identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "selu")


def test_gain_table_has_one_row_of_floats_per_activation():
    rows = V.gain_table()
    assert [r["activation"] for r in rows] == list(DEFAULT_TABLE)
    keys = {"activation", "preserving_gain", "framework_gain", "ratio", "second_moment"}
    for row in rows:
        assert set(row) == keys
        assert all(type(row[k]) is float for k in keys - {"activation"})


@pytest.mark.parametrize("a", [0.01, 0.2])
def test_gain_table_framework_column_is_pytorchs_convention(a):
    # PyTorch's calculate_gain values, typed in: linear 1, relu sqrt 2, tanh 5/3,
    # sigmoid 1, selu 3/4, leaky sqrt(2 / (1 + a^2)); GELU has none.
    convention = {"identity": 1.0, "relu": math.sqrt(2.0), "tanh": 5 / 3, "sigmoid": 1.0,
                  "selu": 3 / 4, "leaky_relu": math.sqrt(2.0 / (1 + a**2))}
    torch_names = {"identity": "linear", "relu": "relu", "leaky_relu": "leaky_relu",
                   "tanh": "tanh", "sigmoid": "sigmoid", "selu": "selu"}
    rows = {r["activation"]: r for r in V.gain_table(negative_slope=a)}
    for name, expected in convention.items():
        assert rows[name]["framework_gain"] == expected
        slope = a if name == "leaky_relu" else None      # the others take no slope
        assert rows[name]["framework_gain"] == calculate_gain(torch_names[name], slope)
    assert math.isnan(rows["gelu"]["framework_gain"]) and math.isnan(rows["gelu"]["ratio"])


@pytest.mark.parametrize("q", [0.5, 1.0])
def test_gain_table_preserving_column_and_ratio(q):
    a = 0.2
    rows = {r["activation"]: r for r in V.gain_table(q, negative_slope=a)}
    assert rows["relu"]["preserving_gain"] == math.sqrt(2)
    assert rows["identity"]["preserving_gain"] == 1.0
    assert rows["leaky_relu"]["preserving_gain"] == pytest.approx(math.sqrt(2 / (1 + a * a)))
    assert rows["leaky_relu"]["second_moment"] == pytest.approx((1 + a * a) * q / 2)
    for name in SMOOTH:
        _, second, _ = simpson_moments(SMOOTH[name], q)
        row = rows[name]
        assert row["second_moment"] == pytest.approx(second, rel=SIMPSON_RTOL)
        assert row["preserving_gain"] == pytest.approx(math.sqrt(q / second), rel=SIMPSON_RTOL)
    for row in rows.values():
        if not math.isnan(row["framework_gain"]):
            assert row["ratio"] == row["framework_gain"] / row["preserving_gain"]


def test_gain_table_accepts_a_subset_of_activations():
    assert [r["activation"] for r in V.gain_table(activations=["selu", "linear"])] == [
        "selu", "linear"]


# -- the forward and backward recursions ------------------------------------------------------

def test_kaiming_relu_keeps_q_at_two_and_activations_at_one():
    p = V.predict_stack([100] * 11, "kaiming_normal", "relu")
    # q_1 = 100 * (2 / 100) * E[x_0^2] = 2 (the raw input is not rectified), then
    # q_l = 100 * (2 / 100) * q_{l-1} / 2 = 2; E[x_l^2] = q_l / 2 = 1
    np.testing.assert_allclose(p.preact_second_moment, 2.0, rtol=1e-15)
    np.testing.assert_allclose(p.act_second_moment, 1.0, rtol=1e-15)
    np.testing.assert_allclose(p.act_mean, 1 / math.sqrt(math.pi), rtol=1e-15)
    # backward: n_l Var[w_l] E[phi'^2] = 100 * 2/100 * 1/2 = 1 on equal widths
    np.testing.assert_allclose(p.input_grad_variance, 1.0, rtol=1e-14)
    assert p.n_layers == 10
    np.testing.assert_array_equal(p.layers, np.arange(1, 11))


def test_lecun_relu_halves_q_at_each_layer():
    p = V.predict_stack([100] * 11, "lecun_normal", "relu")
    layers = np.arange(1, 11)
    np.testing.assert_allclose(p.preact_second_moment, 2.0 ** -(layers - 1), rtol=1e-14)
    # backward factor 100 * 1/100 * 1/2 = 1/2 per layer: Var[dL/dx_{l-1}] = 2^-(L - l + 1)
    np.testing.assert_allclose(p.input_grad_variance, 2.0 ** -(11 - layers), rtol=1e-14)


WIDTHS = [30, 50, 20, 80, 10, 45]


def test_kaiming_fan_in_relu_on_uneven_widths():
    p = V.predict_stack(WIDTHS, "kaiming_normal", "relu", output_grad_variance=3.0)
    np.testing.assert_allclose(p.weight_variance, [2 / n for n in WIDTHS[:-1]], rtol=1e-15)
    np.testing.assert_allclose(p.preact_second_moment, 2.0, rtol=1e-14)
    # v_{l-1} = n_l (2 / n_{l-1}) (1/2) v_l telescopes to Var[dL/dx_{l-1}] = (n_L / n_{l-1}) v_L
    expected = [3.0 * WIDTHS[-1] / n for n in WIDTHS[:-1]]
    np.testing.assert_allclose(p.input_grad_variance, expected, rtol=1e-14)


def test_kaiming_fan_out_relu_keeps_gradients_flat_on_uneven_widths():
    p = V.predict_stack(WIDTHS, "kaiming_normal_fan_out", "relu")
    np.testing.assert_allclose(p.input_grad_variance, 1.0, rtol=1e-14)
    # forward: q_1 = n_0 (2 / n_1), q_l = n_{l-1} (2 / n_l) q_{l-1} / 2, so q_l = 2 n_0 / n_l
    np.testing.assert_allclose(p.preact_second_moment, [2 * WIDTHS[0] / n for n in WIDTHS[1:]],
                               rtol=1e-14)


def hand_recursion(widths, variances, moments, x_second=1.0, top=1.0):
    """Unroll q_l and the gradient variances with moments(q) -> (mean, E[phi^2], E[phi'^2])."""
    q, slopes = [], []
    for n_in, var in zip(widths[:-1], variances):
        q.append(n_in * var * x_second)
        _, x_second, slope = moments(q[-1])
        slopes.append(slope)
    grads, v = [], top
    for n_out, var, slope in reversed(list(zip(widths[1:], variances, slopes))):
        v = n_out * var * slope * v
        grads.append(v)
    return np.array(q), np.array(grads[::-1])


def test_tanh_recursion_with_per_layer_variances_matches_hand_unrolling():
    variances = [0.05, 0.01, 0.09, 0.02, 0.03]
    q, grads = hand_recursion(WIDTHS, variances, lambda q: simpson_moments(_tanh_pair, q),
                              x_second=0.7, top=2.0)
    p = V.predict_stack(WIDTHS, variances, "tanh", input_second_moment=0.7,
                        output_grad_variance=2.0)
    np.testing.assert_allclose(p.preact_second_moment, q, rtol=SIMPSON_RTOL)
    np.testing.assert_allclose(p.input_grad_variance, grads, rtol=SIMPSON_RTOL)
    np.testing.assert_array_equal(p.weight_variance, variances)


@pytest.mark.parametrize("a", [0.0, 0.25, 1.0])
def test_constant_weight_variance_with_leaky_relu_matches_hand_unrolling(a):
    # a real weight_variance is Var[w] itself for every layer (not c / fan_in)
    q, grads = hand_recursion(WIDTHS, [0.04] * 5, lambda q: leaky_closed_form(a, q))
    p = V.predict_stack(WIDTHS, 0.04, "leaky_relu", negative_slope=a)
    np.testing.assert_allclose(p.preact_second_moment, q, rtol=1e-14)
    np.testing.assert_allclose(p.input_grad_variance, grads, rtol=1e-14)


def test_first_layer_sees_the_raw_input_second_moment():
    # q_1 = n_0 Var[w_1] E[x_0^2], with no factor 1/2: the input is not rectified
    p = V.predict_stack([64, 32, 16], "kaiming_normal", "relu", input_second_moment=3.0)
    assert p.preact_second_moment[0] == pytest.approx(64 * (2 / 64) * 3.0, rel=1e-15)
    assert p.preact_second_moment[1] == pytest.approx(32 * (2 / 32) * 3.0, rel=1e-15)


def test_gain_multiplies_the_weight_variances_by_its_square():
    base = V.layer_weight_variances(WIDTHS, "xavier_normal")
    np.testing.assert_allclose(base, [2 / (i + o) for i, o in zip(WIDTHS[:-1], WIDTHS[1:])],
                               rtol=1e-15)
    np.testing.assert_allclose(V.layer_weight_variances(WIDTHS, "xavier_normal", gain=3.0),
                               9 * base, rtol=1e-15)
    p = V.predict_stack(WIDTHS, 0.02, "relu", gain=2.0)
    np.testing.assert_allclose(p.weight_variance, 0.08, rtol=1e-15)


def test_scheme_object_and_scheme_name_give_the_same_variances():
    from kaiming_lib.init import get_scheme

    np.testing.assert_array_equal(V.layer_weight_variances(WIDTHS, get_scheme("lecun_normal")),
                                  [1 / n for n in WIDTHS[:-1]])


def test_without_final_activation_the_last_layer_is_linear():
    p = V.predict_stack([50, 50, 50], "kaiming_normal", "relu", final_activation=False,
                        output_grad_variance=1.0)
    assert p.act_second_moment[-1] == p.preact_second_moment[-1] == pytest.approx(2.0)
    assert p.act_mean[-1] == 0.0
    # top layer: 50 * (2/50) * 1 = 2 (no ReLU), the one below: 50 * (2/50) * 1/2 = 1
    np.testing.assert_allclose(p.input_grad_variance, [2.0, 2.0], rtol=1e-15)


def test_stack_prediction_derived_statistics():
    p = V.predict_stack([100] * 4, "kaiming_normal", "relu")
    np.testing.assert_allclose(p.preact_std, math.sqrt(2.0), rtol=1e-15)
    np.testing.assert_allclose(p.act_rms, 1.0, rtol=1e-15)
    # Var[relu(z)] = q/2 - q/(2 pi) with q = 2
    np.testing.assert_allclose(p.act_std, math.sqrt(1 - 1 / math.pi), rtol=1e-14)
    np.testing.assert_allclose(p.input_grad_std, 1.0, rtol=1e-14)


def test_zero_weights_predict_zero_signal_and_gradient():
    p = V.predict_stack([10, 10, 10], "zeros", "tanh")
    np.testing.assert_array_equal(p.preact_second_moment, 0.0)
    np.testing.assert_array_equal(p.input_grad_variance, 0.0)


def test_exploding_stack_overflows_to_inf_without_error_or_warning():
    # q_l grows by 1000 * 1 * 1/2 per layer and passes the float range near layer 114;
    # pytest turns any RuntimeWarning into an error.
    relu = V.predict_stack([1000] * 200, "large_normal", "relu")
    assert np.isinf(relu.preact_second_moment[-1]) and np.isinf(relu.input_grad_variance[0])
    assert np.all(np.isfinite(relu.preact_second_moment[:100]))
    relu.act_std      # no warning from inf - inf
    gelu = V.predict_stack([1000] * 200, "large_normal", "gelu")
    assert np.isnan(gelu.preact_second_moment[-1])


def test_exploding_stack_of_a_custom_activation_overflows_without_error_or_warning():
    # q_1 = 1000; exp(z)^2 overflows at the quadrature's outer nodes (|z| up to 12 sqrt(q_1),
    # exp(2 * 379) > 1.8e308), so q_2 and everything after it are inf or NaN.
    p = V.predict_stack([1000] * 5, 1.0, np.exp)
    assert p.preact_second_moment[0] == 1000.0
    assert not np.isfinite(p.preact_second_moment[1:]).any()


def test_he_products_beyond_the_float_range_are_inf_without_warning():
    # Var[w] = 1, ReLU: each of the 298 factors is 1/2 * 1000 * 1 = 500; 500^298 ~ 1e804.
    assert V.forward_product([1000] * 300, 1.0) == math.inf
    assert V.backward_product([1000] * 300, 1.0) == math.inf
    # (1 + a^2) / 2 overflows for a = 1e200, but a zero variance still gives exactly 0.
    assert V.forward_product([4, 4, 4], [0.0, 0.0], activation="leaky_relu",
                             negative_slope=1e200) == 0.0


# -- He et al.'s product argument -------------------------------------------------------------

UNEVEN = [3, 7, 2, 11, 5, 13]


@pytest.mark.parametrize("a", [0.0, 0.25])
def test_fan_in_scaling_makes_forward_product_one_and_backward_product_n_L_over_n_1(a):
    # Var[w_l] = 2 / ((1 + a^2) n_{l-1}), He et al.'s Eq. 15 with fan_in
    variances = [2 / ((1 + a * a) * n) for n in UNEVEN[:-1]]
    assert V.forward_product(UNEVEN, variances, activation="leaky_relu",
                             negative_slope=a) == pytest.approx(1.0, rel=1e-14)
    backward = V.backward_product(UNEVEN, variances, activation="leaky_relu", negative_slope=a)
    # prod_{l=2}^{L} n_l / n_{l-1} = n_L / n_1 = d_L / c_2, computed exactly with fractions
    telescoped = math.prod(Fraction(UNEVEN[l], UNEVEN[l - 1]) for l in range(2, len(UNEVEN)))
    assert telescoped == Fraction(UNEVEN[-1], UNEVEN[1])
    assert backward == pytest.approx(float(telescoped), rel=1e-14)


def test_fan_out_scaling_makes_backward_product_one_and_forward_product_c2_over_dL():
    assert V.backward_product(UNEVEN, "kaiming_normal_fan_out") == pytest.approx(1.0, rel=1e-14)
    assert V.forward_product(UNEVEN, "kaiming_normal_fan_out") == pytest.approx(
        UNEVEN[1] / UNEVEN[-1], rel=1e-14)      # c_2 / d_L = n_1 / n_L = 7 / 13
    assert V.forward_product(UNEVEN, "kaiming_normal") == pytest.approx(1.0, rel=1e-14)
    assert V.backward_product(UNEVEN, "kaiming_normal") == pytest.approx(13 / 7, rel=1e-14)


def test_products_with_per_layer_variances_match_hand_products():
    variances = [0.3, 0.1, 0.7, 0.05, 0.2]
    c = 0.5   # ReLU
    forward = math.prod(c * UNEVEN[l - 1] * variances[l - 1] for l in range(2, len(UNEVEN)))
    backward = math.prod(c * UNEVEN[l] * variances[l - 1] for l in range(2, len(UNEVEN)))
    assert V.forward_product(UNEVEN, variances) == pytest.approx(forward, rel=1e-14)
    assert V.backward_product(UNEVEN, variances) == pytest.approx(backward, rel=1e-14)
    assert V.forward_product(UNEVEN, variances, activation="identity") == pytest.approx(
        forward / c**4, rel=1e-14)


def test_xavier_with_relu_loses_a_factor_two_per_layer_forward():
    # n Var[w] = 1 on equal widths, so each factor is 1/2: He et al.'s 1/sqrt(2)^L in std
    assert V.forward_product([64] * 9, "xavier_normal") == pytest.approx(2.0**-7, rel=1e-14)


@pytest.mark.parametrize("scheme", ["kaiming_normal", "kaiming_normal_fan_out", "xavier_normal"])
def test_products_agree_with_the_stack_prediction(scheme):
    p = V.predict_stack(UNEVEN, scheme, "relu")
    # Var[y_L] / Var[y_1] and Var[dL/dx_1] / Var[dL/dx_L] (He et al.'s Delta x_2 / Delta x_{L+1})
    assert p.preact_second_moment[-1] / p.preact_second_moment[0] == pytest.approx(
        V.forward_product(UNEVEN, scheme), rel=1e-13)
    assert p.input_grad_variance[1] / p.output_grad_variance == pytest.approx(
        V.backward_product(UNEVEN, scheme), rel=1e-13)


# -- bad input --------------------------------------------------------------------------------

def _call(function, *args, **kwargs):
    return lambda: function(*args, **kwargs)


BAD_INPUT = [
    (_call(V.get_activation, "swish"), ValueError, "activation must be one of .*got 'swish'"),
    (_call(V.get_activation, 3), TypeError, "activation must be a string.*got 3"),
    (_call(V.as_activation, 42), TypeError, "activation must be one of .*got 42"),
    (_call(V.activation_moments, "relu", -1.0), ValueError, "q must be non-negative; got -1.0"),
    (_call(V.activation_moments, "tanh", math.nan), ValueError, "q must be finite; got nan"),
    (_call(V.activation_moments, "tanh", math.inf), ValueError, "q must be finite; got inf"),
    (_call(V.activation_moments, "tanh", True), TypeError, "q must be a real number; got True"),
    (_call(V.activation_moments, "tanh", "1"), TypeError, "q must be a real number; got '1'"),
    (_call(V.preserving_gain, "relu", 0.0), ValueError, "q must be positive; got 0.0"),
    (_call(V.gain_table, -1.0), ValueError, "q must be positive; got -1.0"),
    (_call(V.activation_moments, "relu", method="exact"), ValueError,
     "method must be one of .*got 'exact'"),
    (_call(V.closed_form_moments, "tanh"), ValueError, "closed forms .*got activation 'tanh'"),
    (_call(V.get_activation, "leaky_relu", math.nan), ValueError,
     "negative_slope must be finite; got nan"),
    (_call(V.get_activation, "leaky_relu", True), TypeError,
     "negative_slope must be a real number; got True"),
    (_call(V.activation_moments, "leaky_relu", negative_slope=False), TypeError,
     "negative_slope must be a real number; got False"),
    (_call(V.predict_stack, []), ValueError, r"widths must be .*at least two.*got \[\]"),
    (_call(V.predict_stack, [10, 0, 5]), ValueError, r"widths must be .*got \[10, 0, 5\]"),
    (_call(V.predict_stack, [10, -3]), ValueError, r"widths must be .*got \[10, -3\]"),
    (_call(V.predict_stack, [10, 5.0]), TypeError, r"widths must be .*got \[10, 5.0\]"),
    (_call(V.predict_stack, [10, True]), TypeError, r"widths must be .*got \[10, True\]"),
    (_call(V.predict_stack, np.array([10.0, 5.0])), TypeError,
     r"widths must be .*integers.*array\(\[10., +5.\]\)"),
    (_call(V.predict_stack, 10), TypeError, "widths must be a sequence .*got 10"),
    (_call(V.predict_stack, "10, 5"), TypeError, "widths must be a sequence .*got '10, 5'"),
    (_call(V.predict_stack, {10, 5}), TypeError, "widths must be a sequence .*got {"),
    (_call(V.predict_stack, [10]), ValueError, r"widths must be .*one layer.*got \[10\]"),
    (_call(V.predict_stack, [10, 5], "he_normal"), ValueError,
     "weight_variance must be one of .*'kaiming_normal'.*got 'he_normal'"),
    (_call(V.predict_stack, [10, 5], -0.1), ValueError,
     "weight_variance must be non-negative; got -0.1"),
    (_call(V.predict_stack, [10, 5, 2], [0.1]), ValueError,
     r"weight_variance must hold one value per layer \(2 .*got 1 values \[0.1\]"),
    (_call(V.predict_stack, [10, 5, 2], [0.1, math.nan]), ValueError,
     "weight_variance must be finite; got nan"),
    (_call(V.predict_stack, [10, 5], None), TypeError, "weight_variance must be .*got None"),
    (_call(V.predict_stack, [10, 5], True), TypeError, "weight_variance must be .*got True"),
    (_call(V.predict_stack, [10, 5], gain=0.0), ValueError, "gain must be positive; got 0.0"),
    (_call(V.predict_stack, [10, 5], input_second_moment=-1.0), ValueError,
     "input_second_moment must be non-negative; got -1.0"),
    (_call(V.predict_stack, [10, 5], final_activation="yes"), TypeError,
     "final_activation must be a bool; got 'yes'"),
    (_call(V.predict_stack, [10, 5], activation="softsign"), ValueError,
     "activation must be one of .*got 'softsign'"),
    (_call(V.gaussian_expectation, 3.0), TypeError, "f must be callable; got 3.0"),
    (_call(V.gaussian_expectation, np.sin, kinks=0.0), TypeError,
     "kinks must be a sequence of real numbers; got 0.0"),
    (_call(V.gaussian_expectation, np.sin, kinks=[math.inf]), ValueError,
     "kinks must be finite; got inf"),
    (_call(V.gaussian_expectation, lambda z: np.ones(3)), ValueError,
     r"f must be elementwise.*got shape \(3,\)"),
    (_call(V.gaussian_expectation, math.exp), TypeError,
     r"must take a 1-D float64 array .* as np.exp does \(math.exp does not\); on an array it "
     r"raised TypeError: only"),
    (_call(V.gaussian_expectation, lambda z: None), TypeError,
     "must return real numbers; got an array of dtype object"),
    (_call(V.gaussian_expectation, lambda z: z + 1j), TypeError,
     "must return real numbers; got an array of dtype complex128"),
    (_call(V.gaussian_expectation, lambda z: np.full(z.shape, "a")), TypeError,
     "must return real numbers; got an array of dtype <U1"),
    (_call(V.activation_moments, math.tanh), TypeError, "as np.exp does"),
    (_call(V.derivative_second_moment, np.sin), ValueError, "activation 'sin' has no derivative"),
    (_call(V.preserving_gain, lambda z: 0 * z), ValueError,
     r"activation '<lambda>' must have E\[phi\(z\)\^2\] > 0 at q=1.0"),
    (_call(V.gain_table, activations="relu"), TypeError,
     "activations must be a sequence of names; got 'relu'"),
    (_call(V.gain_table, activations=["relu", "swish"]), ValueError,
     "activations must be one of .*got 'swish'"),
    (_call(V.forward_product, [4, 4, 4], activation="tanh"), ValueError,
     "positively homogeneous .*got 'tanh'"),
    # A diverging expectation: exp(z^2) at q = 1 overflows at the outer nodes (|z| ~ 27).
    (_call(V.gaussian_expectation, lambda z: np.exp(z**2)), ValueError,
     r"f\(z\) must be finite where the quadrature samples it; got inf at z = -27.* for "
     r"q=1.0: its Gaussian expectation diverges"),
    (_call(V.gaussian_expectation, lambda z: 1 / z, 0.0), ValueError,
     r"f\(z\) must be finite .*got inf at z = 0 for q=0.0"),
    (_call(V.gaussian_expectation, np.log, 2.0, kinks=[0.0]), ValueError,
     r"f\(z\) must be finite .*got nan at z = -"),
    (_call(V.preserving_gain, np.exp, 1e3), ValueError,
     r"phi\(z\)\^2 of activation 'exp' must be finite .*q=1000.0"),
    (_call(V.activation_moments, "leaky_relu", negative_slope=1e200, method="quadrature"),
     ValueError, r"phi\(z\)\^2 of activation 'leaky_relu' must be finite"),
    # Finite at every node, but E[phi^2] = (1e254)^2 is beyond the float range.
    (_call(V.activation_moments, lambda z: np.full(np.shape(z), 1e254), 1e200), ValueError,
     r"E\[phi\(z\)\^2\] of activation '<lambda>' for z ~ N\(0, q\) must be finite; at "
     r"q=1e\+200 it exceeds the float range"),
    (_call(V.layer_weight_variances, [3, 3], 1e300, gain=1e10), ValueError,
     r"gain must keep gain\^2 \* Var\[w\] within the float range; got gain=10000000000.0"),
    (_call(V.predict_stack, [3, 3], 1.0, gain=1e200), ValueError, r"gain.*got gain=1e\+200"),
    (_call(V.backward_product, [4, 4, 4], activation=np.sin), ValueError,
     "positively homogeneous .*got 'sin'"),
]


@pytest.mark.parametrize("call, error, match", BAD_INPUT,
                         ids=[re.sub(r"\W+", "_", m)[:40] for _, _, m in BAD_INPUT])
def test_bad_input_raises_an_error_naming_the_argument_and_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- properties -------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: V.gaussian_expectation(lambda z: np.exp(z**2), 0.25),    # converges: 1/sqrt(0.5)
    lambda: V.gaussian_expectation(lambda z: np.full(z.shape, 1e308), 4.0),
    lambda: V.gain_table(negative_slope=0.2),
    lambda: V.preserving_gain("leaky_relu", negative_slope=2.5),
    lambda: V.activation_moments("leaky_relu", 1e300, negative_slope=-3.0),
])
def test_ordinary_calls_do_not_warn(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call()


def test_a_convergent_expectation_of_a_fast_growing_function_is_integrated():
    # E[exp(z^2)] = 1 / sqrt(1 - 2 q) for q < 1/2.
    assert V.gaussian_expectation(lambda z: np.exp(z**2), 0.25) == pytest.approx(
        1 / math.sqrt(0.5), rel=1e-12)


def test_no_call_mutates_widths_or_variances_passed_in():
    widths_list, widths_array = list(UNEVEN), np.array(UNEVEN)
    variances = np.array([0.3, 0.1, 0.7, 0.05, 0.2])
    copies = (list(widths_list), widths_array.copy(), variances.copy())
    for widths in (widths_list, widths_array):
        p = V.predict_stack(widths, variances, "tanh")
        V.layer_weight_variances(widths, variances, gain=2.0)
        V.forward_product(widths, variances)
        V.backward_product(widths, variances)
        p.weight_variance[:] = -1.0                 # the result does not alias the input
    assert widths_list == copies[0]
    np.testing.assert_array_equal(widths_array, copies[1])
    np.testing.assert_array_equal(variances, copies[2])


def test_activations_do_not_mutate_their_input():
    z = np.linspace(-3.0, 3.0, 13)
    original = z.copy()
    for name in V.ACTIVATIONS:
        act = V.get_activation(name)
        out = act(z)
        act.derivative(z)
        out[...] = 0.0                              # not a view of z either
    np.testing.assert_array_equal(z, original)


def test_results_are_plain_data():
    m = V.activation_moments("gelu", 2.0)
    assert all(type(getattr(m, f.name)) is float for f in fields(m))
    assert type(V.gaussian_expectation(np.cos, 1.0)) is float
    assert type(V.preserving_gain("tanh")) is float
    assert type(V.forward_product(UNEVEN)) is float
    p = V.predict_stack(UNEVEN, "kaiming_normal", "selu")
    assert p.widths == tuple(UNEVEN) and all(type(n) is int for n in p.widths)
    assert p.activation == "selu" and p.final_activation is True
    assert type(p.output_grad_variance) is float
    for name in ("weight_variance", "preact_second_moment", "act_mean", "act_second_moment",
                 "input_grad_variance"):
        value = getattr(p, name)
        assert isinstance(value, np.ndarray) and value.dtype == np.float64
        assert value.shape == (len(UNEVEN) - 1,)


def test_numpy_integer_widths_and_scalars_are_accepted():
    p = V.predict_stack(np.array(UNEVEN, dtype=np.int32), np.float32(0.1), "relu",
                        gain=np.float64(1.5))
    q = V.predict_stack(UNEVEN, 0.1 * 1.5**2, "relu")
    np.testing.assert_allclose(p.preact_second_moment, q.preact_second_moment, rtol=1e-6)
    assert V.activation_moments("relu", np.float32(2.0)).second_moment == 1.0


def test_import_is_light_and_computes_no_quadrature_rule():
    code = (
        "import sys, kaiming_lib.variance as v\n"
        "assert not any(m.split('.')[0] in ('scipy', 'matplotlib') for m in sys.modules)\n"
        "assert v._hermite_rule.cache_info().currsize == 0\n"
        "assert v._legendre_rule.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
