"""Checkers for the notebooks' coding exercises.

Each checker takes the attendee's answer (usually a function), tries it on cases the
attendee has not seen, and returns a :class:`Feedback`: whether the answer is right and a
hint that points at the mistake without giving the answer away.  Checkers recognise the
common mistakes of each exercise (a missing factor of two, the wrong fan, a forgotten
square root) and name the idea that was missed.  The reference solutions live in the
repository's ``solutions/`` folder, one file per notebook.

A wrong answer is not an error: it gives ``Feedback(passed=False, ...)``.  An answer of the
wrong kind (not callable where a function is asked for) raises ``TypeError``.  The
function is run on copies of the cases' arrays: one that writes into its inputs is told
so, as is one that returns the wrong type; warnings it emits (a division by zero) are
caught rather than shown, and the verdict reports what went wrong.

Examples
--------
>>> import math
>>> check_uniform_bound(lambda std: math.sqrt(3) * std)
Right: U(-b, b) with this b has exactly the variance std**2.
>>> check_uniform_bound(lambda std: 3 * std).passed
False
"""

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Feedback", "check_std_after", "check_uniform_bound", "check_leaky_relu_std",
    "check_fans", "check_he_backward_factor", "check_update_ratio",
    "check_xavier_gradient_ratio", "check_lsuv_step", "check_linear_default_variance",
]


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``passed`` and a one-line ``message``."""

    passed: bool
    message: str

    def __repr__(self) -> str:
        return ("Right: " if self.passed else "Not yet: ") + self.message


def _check_callable(name: str, answer) -> Callable:
    if not callable(answer):
        raise TypeError(f"{name} must be a function; got {type(answer).__name__} {answer!r:.60}")
    return answer


def _describe(args) -> str:
    """Show a case briefly: arrays by their shape, numbers as they are."""
    parts = [f"an array of shape {a.shape}" if isinstance(a, np.ndarray) else repr(a)
             for a in args]
    return "(" + ", ".join(parts) + ")"


def _run(answer, args, names=None):
    """Run the answer on copies of ``args``; return ``(value, None)`` or ``(None, Feedback)``.

    The answer gets copies of the arrays, so a function that writes into its inputs
    cannot spoil the checker's own cases; the copies are compared afterwards and such a
    function is told so.  Floating-point warnings (a division by zero, an overflow) and
    any other warning the answer emits are caught, not shown: the verdict speaks for them.
    """
    case = _describe(args)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            value = answer(*copies)
    except Exception as exc:  # the attendee's code: report, do not propagate
        return None, Feedback(False, f"calling it with {case} raised {type(exc).__name__}: "
                                     f"{exc}")
    for i, (original, copy) in enumerate(zip(args, copies)):
        if isinstance(original, np.ndarray) and not np.array_equal(original, copy,
                                                                    equal_nan=True):
            name = names[i] if names else f"argument {i + 1}"
            return None, Feedback(False, f"it changed {name} in place (for {case}); compute "
                                         "the result without writing into the inputs")
    return value, None


def _call(answer, *args, names=None):
    """Call the answer; return its value as a float, or a Feedback saying what went wrong."""
    case = _describe(args)
    value, failure = _run(answer, args, names)
    if failure is not None:
        return failure
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        value = value.reshape(())[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return Feedback(False, f"it should return a number; for {case} it returned "
                               f"{_kind(value)}")
    value = float(value)
    if not math.isfinite(value):
        return Feedback(False, f"for {case} it returned {value!r}, which is not a finite number")
    return value


def _kind(value) -> str:
    """Name what an answer returned: its type, with the value when it is short to show."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of dtype {value.dtype} and shape {value.shape}"
    if value is None:
        return "None"
    if isinstance(value, (str, bytes, numbers.Number)):
        return f"{type(value).__name__} {value!r:.40}"
    return type(value).__name__


def _is_integer(value) -> bool:
    """An int, or a float holding a whole number (``3.0``); never a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()


def _close(value: float, target: float) -> bool:
    return math.isclose(value, target, rel_tol=1e-6, abs_tol=1e-12)


def _first_failure(answer, cases, reference, mistakes, names=None):
    """Compare ``answer`` with ``reference`` on ``cases``; name a known mistake if it fits.

    ``mistakes`` maps a hint to a wrong formula; the first mistake that reproduces every
    value the answer gave is the one reported.  ``names`` names the arguments in the
    message about an answer that changes its inputs in place.
    """
    values = []
    for args in cases:
        value = _call(answer, *args, names=names)
        if isinstance(value, Feedback):
            return value
        values.append(value)
    if all(_close(v, reference(*args)) for v, args in zip(values, cases)):
        return None
    for hint, wrong in mistakes.items():
        if all(_close(v, wrong(*args)) for v, args in zip(values, cases)):
            return Feedback(False, hint)
    args = next(a for v, a in zip(values, cases) if not _close(v, reference(*a)))
    return Feedback(False, f"for {_describe(args)} the answer is off; work the formula out on "
                           "paper for this case and compare")


# -- notebook 00 ----------------------------------------------------------------------------

def _std_after(n_layers, n_in, weight_std):
    n_var = n_in * weight_std**2
    return math.sqrt(n_var) * (n_var / 2) ** ((n_layers - 1) / 2)


def check_std_after(answer) -> Feedback:
    """Check ``std_after(n_layers, n_in, weight_std)``: the predicted std of ``y_L``.

    Notebook 00: a ReLU stack of width ``n_in`` with N(0, weight_std^2) weights and
    standard normal inputs.

    Examples
    --------
    >>> check_std_after(lambda L, n, s: math.sqrt(n * s**2 / 2) ** L).passed
    False
    """
    answer = _check_callable("answer", answer)
    cases = [(1, 256, 0.05), (2, 100, 0.2), (5, 64, 0.1), (10, 512, 0.0625)]
    failure = _first_failure(answer, cases, _std_after, {
        "every layer is halved, the first one too; the input of layer 1 is not a ReLU "
        "output, so layer 1 multiplies the variance by n_in Var[w], not half of it":
            lambda L, n, s: math.sqrt(n * s**2 / 2) ** L,
        "this is the variance, not the standard deviation: take a square root":
            lambda L, n, s: _std_after(L, n, s) ** 2,
        "no ReLU halves the second moment here; each ReLU layer keeps only half of it":
            lambda L, n, s: math.sqrt(n * s**2) ** L,
    })
    return failure if failure is not None else Feedback(
        True, "the first layer sees the raw input, every later layer halves the second "
              "moment.")


# -- notebook 01 ----------------------------------------------------------------------------

def check_uniform_bound(answer) -> Feedback:
    """Check ``uniform_bound(std)``: the b for which U(-b, b) has standard deviation std.

    Examples
    --------
    >>> check_uniform_bound(lambda std: std).message.startswith('U(-b, b) has variance')
    True
    """
    answer = _check_callable("answer", answer)
    cases = [(1.0,), (0.05,), (2.5,)]
    failure = _first_failure(answer, cases, lambda s: math.sqrt(3.0) * s, {
        "U(-b, b) has variance b**2 / 3, not b**2: solve b**2 / 3 = std**2":
            lambda s: s,
        "that solves b**2 / 3 = std, not b**2 / 3 = std**2":
            lambda s: math.sqrt(3.0 * s),
        "U(-b, b) has variance b**2 / 3, so b grows like the square root of 3, not like 3":
            lambda s: 3.0 * s,
        "U(-b, b) has variance b**2 / 3 (the width 2b gives (2b)**2 / 12)":
            lambda s: math.sqrt(12.0) * s,
    })
    return failure if failure is not None else Feedback(
        True, "U(-b, b) with this b has exactly the variance std**2.")


# -- notebook 02 ----------------------------------------------------------------------------

def check_leaky_relu_std(answer) -> Feedback:
    """Check ``leaky_relu_std(n_in, a)``: the std that preserves the variance.

    Examples
    --------
    >>> check_leaky_relu_std(lambda n, a: math.sqrt(2 / ((1 + a * a) * n)))
    Right: sqrt(2 / ((1 + a**2) n_in)), He et al.'s Eq. 15.
    """
    answer = _check_callable("answer", answer)
    cases = [(256, 0.0), (100, 0.25), (64, 0.5), (1000, 1.0), (50, 2.0)]
    failure = _first_failure(answer, cases, lambda n, a: math.sqrt(2 / ((1 + a * a) * n)), {
        "the negative half is scaled by a, so its square by a**2, not a":
            lambda n, a: math.sqrt(2 / ((1 + a) * n)),
        "this is the variance; the question asks for the standard deviation":
            lambda n, a: 2 / ((1 + a * a) * n),
        "right for a = 0 only: the negative half keeps a**2 of its second moment":
            lambda n, a: math.sqrt(2 / n),
        "the ReLU keeps half, and the negative slope adds a**2 of the other half; where "
        "did the factor 2 go?":
            lambda n, a: math.sqrt(1 / ((1 + a * a) * n)),
    })
    return failure if failure is not None else Feedback(
        True, "sqrt(2 / ((1 + a**2) n_in)), He et al.'s Eq. 15.")


# -- notebook 03 ----------------------------------------------------------------------------

def _reference_fans(shape):
    area = math.prod(shape[2:])
    return shape[1] * area, shape[0] * area


def check_fans(answer) -> Feedback:
    """Check ``fans(shape)``: ``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``.

    Examples
    --------
    >>> check_fans(lambda s: (s[1], s[0])).passed
    False
    """
    answer = _check_callable("answer", answer)
    cases = [(64, 3, 7, 7), (128, 64), (16, 8, 3), (10, 20, 1, 1)]
    got = []
    for shape in cases:
        value, failure = _run(answer, (shape,))
        if failure is not None:
            return failure
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)):
            return Feedback(False, f"fans({shape}) should return two integers (fan_in, "
                                   f"fan_out); it returned {_kind(value)}")
        if len(value) != 2:
            return Feedback(False, f"fans({shape}) should return (fan_in, fan_out); got "
                                   f"{len(value)} values {tuple(value)!r:.60}")
        if not all(_is_integer(v) for v in value):
            return Feedback(False, f"fans({shape}) should return two integers; it returned "
                                   f"{tuple(value)!r:.60}")
        got.append(tuple(int(v) for v in value))
    want = [_reference_fans(s) for s in cases]
    if got == want:
        return Feedback(True, "each output sees in * kernel area inputs, and each input "
                              "reaches out * kernel area outputs.")
    if got == [w[::-1] for w in want]:
        return Feedback(False, "fan_in and fan_out are swapped: the layout is (out, in, ...)")
    if got == [(s[1], s[0]) for s in cases]:
        return Feedback(False, "right for dense layers; a convolution's kernel multiplies "
                               "both fans by its area")
    shape = next(s for s, g, w in zip(cases, got, want) if g != w)
    return Feedback(False, f"for shape {shape} the fans are off; count how many inputs one "
                           "output unit sums over")


def check_he_backward_factor(answer) -> Feedback:
    """Check ``backward_factor(fan_out, weight_variance)``: Var[dx_l] / Var[dx_{l+1}].

    For one ReLU layer, He et al.'s Eq. 12: the factor is ``fan_out * Var[w] / 2``.

    Examples
    --------
    >>> check_he_backward_factor(lambda n, v: n * v / 2)
    Right: half of fan_out Var[w]: with Var[w] = 2 / fan_out the gradient keeps its scale.
    """
    answer = _check_callable("answer", answer)
    cases = [(256, 2 / 256), (64, 0.01), (1000, 1e-3)]
    failure = _first_failure(answer, cases, lambda n, v: n * v / 2, {
        "the ReLU's derivative is 0 for half of the units, which halves the gradient's "
        "second moment":
            lambda n, v: n * v,
        "the gradient sums over the units the input feeds, fan_out of them; the square "
        "root belongs to the std, not to this variance ratio":
            lambda n, v: math.sqrt(n * v / 2),
    })
    return failure if failure is not None else Feedback(
        True, "half of fan_out Var[w]: with Var[w] = 2 / fan_out the gradient keeps its "
              "scale.")


# -- notebook 04 ----------------------------------------------------------------------------

def check_linear_default_variance(answer) -> Feedback:
    """Check ``linear_default_variance(fan_in)``: the variance of PyTorch's nn.Linear weights.

    ``kaiming_uniform_(a=sqrt(5))``: a uniform distribution whose bound is
    ``sqrt(3) * gain / sqrt(fan_in)`` with ``gain = sqrt(2 / (1 + a**2))``.

    Examples
    --------
    >>> check_linear_default_variance(lambda n: 1 / (3 * n)).passed
    True
    """
    answer = _check_callable("answer", answer)
    cases = [(64,), (256,), (1000,)]
    failure = _first_failure(answer, cases, lambda n: 1 / (3 * n), {
        "that is the bound, 1/sqrt(fan_in); a uniform U(-b, b) has variance b**2 / 3":
            lambda n: 1 / math.sqrt(n),
        "that is the square of the bound; a uniform U(-b, b) has variance b**2 / 3, "
        "not b**2":
            lambda n: 1 / n,
        "that is He's variance; PyTorch's default uses a = sqrt(5), which changes the gain":
            lambda n: 2 / n,
    })
    return failure if failure is not None else Feedback(
        True, "1 / (3 fan_in): a third of LeCun's and a sixth of He's variance.")


# -- notebook 05 ----------------------------------------------------------------------------

def _weight_pairs():
    rng = np.random.default_rng(20150206)          # fixed: the same cases for everyone
    pairs = []
    for shape, step in (((8, 4), 0.1), ((16, 16), 1e-3), ((3, 5), 0.5)):
        before = rng.standard_normal(shape)
        pairs.append((before, before + step * rng.standard_normal(shape)))
    return pairs


def check_update_ratio(answer) -> Feedback:
    """Check ``update_ratio(W_before, W_after)``: the size of a step relative to the weights.

    The ratio of the Frobenius norms ``||W_after - W_before|| / ||W_before||``, the
    update-to-weight ratio of notebook 05's dashboard.

    Examples
    --------
    >>> check_update_ratio(lambda a, b: np.linalg.norm(b - a) / np.linalg.norm(a)).passed
    True
    """
    answer = _check_callable("answer", answer)
    cases = _weight_pairs()
    norm = np.linalg.norm
    failure = _first_failure(answer, cases, lambda a, b: norm(b - a) / norm(a), names=(
        "W_before", "W_after"), mistakes={
        "that compares the sizes of the two weight matrices; the question is how big the "
        "step between them is":
            lambda a, b: (norm(b) - norm(a)) / norm(a),
        "the ratio is upside down: the step goes on top":
            lambda a, b: norm(a) / norm(b - a),
        "divide by the weights before the step, the ones the step was taken from":
            lambda a, b: norm(b - a) / norm(b),
        "that is the squared ratio; the dashboard compares norms, not their squares":
            lambda a, b: (norm(b - a) / norm(a)) ** 2,
    })
    return failure if failure is not None else Feedback(
        True, "the step's norm over the weights' norm; about 1e-3 is Karpathy's rule of "
              "thumb for a healthy rate.")


# -- notebook 06 ----------------------------------------------------------------------------

def check_xavier_gradient_ratio(answer) -> Feedback:
    """Check ``xavier_gradient_ratio(n_layers)``: Xavier's weight gradients over Kaiming's.

    At initialization, in a ReLU net of equal widths, the ratio of the weight-gradient
    norms of any layer under Xavier (variance 1/n) and under Kaiming (2/n).

    Examples
    --------
    >>> check_xavier_gradient_ratio(lambda L: 2 ** (-(L - 1) / 2)).passed
    True
    """
    answer = _check_callable("answer", answer)
    cases = [(2,), (5,), (22,), (30,)]
    failure = _first_failure(answer, cases, lambda L: 2.0 ** (-(L - 1) / 2), {
        "close: count the layers the forward signal crosses before layer l and the layers "
        "the gradient crosses after it; together they are one fewer than the depth":
            lambda L: 2.0 ** (-L / 2),
        "that is the ratio of the variances; the norms go with the square root":
            lambda L: 2.0 ** (-(L - 1)),
        "each layer halves the variance, so the standard deviation by the square root of 2, "
        "not by 2":
            lambda L: 2.0 ** (-L),
    })
    return failure if failure is not None else Feedback(
        True, "2 ** (-(L - 1) / 2), the same at every layer: about 4e-5 at 30 layers.")


# -- notebook 07 ----------------------------------------------------------------------------

def check_lsuv_step(answer) -> Feedback:
    """Check ``lsuv_step(W, x)``: rescale ``W`` so that ``x @ W.T`` has unit variance.

    One LSUV step for a layer without bias: ``x`` is a batch ``(batch, in)``, ``W`` the
    weight ``(out, in)``; the answer returns the rescaled weight and leaves ``W`` as it was.

    Examples
    --------
    >>> check_lsuv_step(lambda W, x: W / (x @ W.T).std()).passed
    True
    """
    answer = _check_callable("answer", answer)
    rng = np.random.default_rng(15110642)          # fixed: the same cases for everyone
    for out, n_in, scale in ((32, 64, 0.3), (10, 20, 4.0), (64, 16, 1e-2)):
        W = scale * rng.standard_normal((out, n_in))
        x = np.maximum(rng.standard_normal((256, n_in)), 0.0)
        rescaled, failure = _run(answer, (W, x), ("W", "x"))
        if failure is not None:
            return failure
        if not isinstance(rescaled, np.ndarray) or rescaled.dtype.kind not in "fiu":
            return Feedback(False, f"it returned {_kind(rescaled)}; expected an ndarray of "
                                   f"real numbers of shape {W.shape}, the rescaled W")
        if rescaled.shape != W.shape:
            return Feedback(False, f"it should return a weight of shape {W.shape}; "
                                   f"got {rescaled.shape}")
        with np.errstate(all="ignore"):
            variance_ = float((x @ rescaled.astype(float).T).var())
        if not math.isfinite(variance_):
            return Feedback(False, f"the returned weight holds values that are not finite "
                                   f"(the output variance is {variance_!r})")
        if math.isclose(variance_, 1.0, rel_tol=1e-9):
            continue
        before = (x @ W.T).var()
        if math.isclose(variance_, 1.0 / before, rel_tol=1e-6):
            return Feedback(False, "dividing W by c divides the output variance by c**2: "
                                   "divide by the output's std, not its variance")
        if math.isclose((rescaled.var() * n_in), 1.0, rel_tol=1e-6):
            return Feedback(False, "that normalizes the weights themselves; LSUV normalizes "
                                   "what the layer outputs on the batch")
        return Feedback(False, f"after the step the output variance on the batch is "
                               f"{variance_:.3g}, not 1")
    return Feedback(True, "dividing W by the output's std makes the output's variance 1 "
                          "exactly, for a layer without bias.")
