"""Every exercise checker accepts the reference solution and rejects typical wrong answers.

The reference solutions are the files in ``solutions/``; the wrong answers are the mistakes
each checker is meant to recognise, plus one it does not know, which must still fail.
"""

import importlib.util
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from kaiming_lib import exercises

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def _solution(notebook: str, name: str):
    spec = importlib.util.spec_from_file_location(notebook, SOLUTIONS / f"{notebook}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


REFERENCES = [
    (exercises.check_std_after, "00_why_initialization_matters", "std_after"),
    (exercises.check_uniform_bound, "01_variance_of_a_linear_layer", "uniform_bound"),
    (exercises.check_leaky_relu_std, "02_relu_and_the_factor_two", "leaky_relu_std"),
    (exercises.check_fans, "03_backward_pass_fan_in_and_fan_out", "fans"),
    (exercises.check_he_backward_factor, "03_backward_pass_fan_in_and_fan_out",
     "backward_factor"),
    (exercises.check_linear_default_variance, "04_comparing_initialization_schemes",
     "linear_default_variance"),
    (exercises.check_update_ratio, "05_training_small_relu_nets", "update_ratio"),
    (exercises.check_xavier_gradient_ratio, "06_reproducing_he_et_al_depth_experiment",
     "xavier_gradient_ratio"),
    (exercises.check_lsuv_step, "07_beyond_kaiming", "lsuv_step"),
]


@pytest.mark.parametrize("checker, notebook, name", REFERENCES,
                         ids=[r[2] for r in REFERENCES])
def test_the_reference_solution_passes(checker, notebook, name):
    feedback = checker(_solution(notebook, name))
    assert feedback.passed, feedback
    assert repr(feedback).startswith("Right: ")


WRONG = [
    (exercises.check_std_after, lambda L, n, s: math.sqrt(n * s**2 / 2) ** L,
     "the input of layer 1 is not a ReLU output"),
    (exercises.check_std_after, lambda L, n, s: n * s**2 * (n * s**2 / 2) ** (L - 1),
     "this is the variance"),
    (exercises.check_std_after, lambda L, n, s: math.sqrt(n) * s, "the answer is off"),
    (exercises.check_uniform_bound, lambda s: s, "variance b\\*\\*2 / 3, not b\\*\\*2"),
    (exercises.check_uniform_bound, lambda s: 3 * s, "square root of 3"),
    (exercises.check_uniform_bound, lambda s: 2 * s, "the answer is off"),
    (exercises.check_leaky_relu_std, lambda n, a: math.sqrt(2 / ((1 + a) * n)), "a\\*\\*2, not a"),
    (exercises.check_leaky_relu_std, lambda n, a: math.sqrt(2 / n), "right for a = 0 only"),
    (exercises.check_leaky_relu_std, lambda n, a: 2 / ((1 + a * a) * n), "this is the variance"),
    (exercises.check_fans, lambda s: (s[1], s[0]), "right for dense layers"),
    (exercises.check_fans, lambda s: (s[0] * math.prod(s[2:]), s[1] * math.prod(s[2:])),
     "swapped"),
    (exercises.check_he_backward_factor, lambda n, v: n * v, "derivative is 0 for half"),
    (exercises.check_update_ratio,
     lambda a, b: (np.linalg.norm(b) - np.linalg.norm(a)) / np.linalg.norm(a),
     "compares the sizes of the two weight matrices"),
    (exercises.check_update_ratio,
     lambda a, b: np.linalg.norm(b - a) / np.linalg.norm(b), "before the step"),
    (exercises.check_update_ratio, lambda a, b: np.abs(b - a).max(), "the answer is off"),
    (exercises.check_xavier_gradient_ratio, lambda L: 2.0 ** (-L / 2), "one fewer"),
    (exercises.check_xavier_gradient_ratio, lambda L: 2.0 ** (1 - L), "ratio of the variances"),
    (exercises.check_lsuv_step, lambda W, x: W / (x @ W.T).var(), "not its variance"),
    (exercises.check_linear_default_variance, lambda n: 1 / n, "not b\\*\\*2"),
    (exercises.check_linear_default_variance, lambda n: 2 / n, "He's variance"),
    (exercises.check_lsuv_step, lambda W, x: W / W.std() / np.sqrt(W.shape[1]),
     "normalizes the weights themselves"),
]


@pytest.mark.parametrize("checker, answer, hint", WRONG)
def test_a_wrong_answer_fails_with_a_hint_that_does_not_give_the_answer(checker, answer, hint):
    feedback = checker(answer)
    assert not feedback.passed
    assert repr(feedback).startswith("Not yet: ")
    assert re.search(hint, feedback.message), feedback.message


@pytest.mark.parametrize("answer, fragment", [
    (lambda *args: None, "should return a number"),
    (lambda *args: "0.1", "should return a number"),
    (lambda *args: True, "should return a number"),
    (lambda *args: float("nan"), "not a finite number"),
    (lambda *args: 1 / 0, "raised ZeroDivisionError"),
    (lambda *args: "0.1", "it returned str '0.1'"),
    (lambda *args: np.ones(3), r"it returned an ndarray of dtype float64 and shape (3,)"),
])
def test_an_answer_that_breaks_is_reported_not_raised(answer, fragment):
    feedback = exercises.check_uniform_bound(answer)
    assert not feedback.passed and fragment in feedback.message


def test_the_fans_checker_reports_a_function_that_returns_the_wrong_thing():
    assert "should return (fan_in, fan_out)" in exercises.check_fans(lambda s: (1, 2, 3)).message
    assert "should return two integers" in exercises.check_fans(lambda s: None).message
    # a string of two digits is not two integers, though tuple(int(c) for c in "12") is
    assert "it returned str '12'" in exercises.check_fans(lambda s: "12").message
    assert "it returned (3.5, 2)" in exercises.check_fans(lambda s: (3.5, 2)).message


def _zero_before(a, b):
    a[...] = 0.0                # writes into W_before, then returns a number
    return 0.0


def _zero_batch(W, x):
    x *= 0.0
    return W / (x @ W.T).std()


@pytest.mark.parametrize("checker, answer, name", [
    (exercises.check_update_ratio, _zero_before, "W_before"),
    (exercises.check_update_ratio, lambda a, b: (b.__isub__(a), 1e-3)[1], "W_after"),
    (exercises.check_lsuv_step, _zero_batch, "x"),
])
def test_every_array_checker_reports_an_answer_that_changes_its_inputs(checker, answer, name):
    # Under the suite's filterwarnings=error a stray divide-by-zero RuntimeWarning (from
    # the checker's formulas evaluated on zeroed inputs, say) would fail this test.
    feedback = checker(answer)
    assert not feedback.passed
    assert f"it changed {name} in place" in feedback.message, feedback.message


@pytest.mark.parametrize("checker, answer", [
    (exercises.check_update_ratio, lambda a, b: np.linalg.norm(b - a) / np.linalg.norm(0 * a)),
    (exercises.check_lsuv_step, lambda W, x: W / 0.0),
    (exercises.check_uniform_bound, lambda s: np.float64(s) / np.float64(0.0)),
    (exercises.check_std_after, lambda L, n, s: np.exp(np.float64(1e4))),
])
def test_an_answer_that_divides_by_zero_or_overflows_warns_nothing_and_fails(checker, answer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feedback = checker(answer)
    assert not feedback.passed and "finite" in feedback.message, feedback.message


@pytest.mark.parametrize("returned, shown", [
    ("x", "it returned str 'x'; expected an ndarray of real numbers of shape (32, 64)"),
    (None, "it returned None; expected an ndarray"),
    ([[1.0]], "it returned list; expected an ndarray"),
    (np.array(["a"]), "it returned an ndarray of dtype <U1 and shape (1,); expected"),
])
def test_the_lsuv_checker_reports_a_wrong_return_type_as_such(returned, shown):
    message = exercises.check_lsuv_step(lambda W, x: returned).message
    assert shown in message and "raised" not in message, message


@pytest.mark.parametrize("checker", [r[0] for r in REFERENCES], ids=[r[2] for r in REFERENCES])
def test_a_checker_needs_a_function(checker):
    with pytest.raises(TypeError, match="answer must be a function; got float 0.5"):
        checker(0.5)


def test_the_lsuv_checker_refuses_an_answer_that_rescales_in_place():
    def in_place(W, x):
        W /= (x @ W.T).std()
        return W
    feedback = exercises.check_lsuv_step(in_place)
    assert not feedback.passed and "in place" in feedback.message


def test_every_checker_has_a_reference_solution():
    checked = {checker for checker, _, _ in REFERENCES}
    every = {getattr(exercises, name) for name in exercises.__all__ if name.startswith("check_")}
    assert every == checked


def test_a_one_element_array_counts_as_a_number():
    assert exercises.check_uniform_bound(lambda s: np.array([np.sqrt(3) * s])).passed


def test_messages_show_arrays_by_their_shape_not_their_values():
    message = exercises.check_update_ratio(lambda a, b: None).message
    assert "an array of shape (8, 4)" in message and "[" not in message
