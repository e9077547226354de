"""Notebook 02, exercise 3: the variance-preserving std for a leaky ReLU."""

import math


def leaky_relu_std(n_in, a):
    # E[phi(y)^2] = (1 + a**2) / 2 Var[y], so n_in Var[w] (1 + a**2) / 2 must be 1.
    return math.sqrt(2.0 / ((1.0 + a * a) * n_in))


if __name__ == "__main__":      # python solutions/02_relu_and_the_factor_two.py runs the notebook's checker
    from kaiming_lib.exercises import check_leaky_relu_std

    print(check_leaky_relu_std(leaky_relu_std))
