"""Notebook 02, exercise 3: the variance-preserving std for a leaky ReLU."""

import math


def leaky_relu_std(n_in, a):
    # E[phi(y)^2] = (1 + a**2) / 2 Var[y], so n_in Var[w] (1 + a**2) / 2 must be 1.
    return math.sqrt(2.0 / ((1.0 + a * a) * n_in))
