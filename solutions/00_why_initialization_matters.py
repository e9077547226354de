"""Notebook 00, exercise 3: the predicted std of y_L in a ReLU stack."""

import math


def std_after(n_layers, n_in, weight_std):
    # Layer 1 sees the raw input: Var[y_1] = n_in Var[w].  Every later layer sees a ReLU
    # output, whose second moment is half the variance before it: a factor n_in Var[w] / 2.
    n_var = n_in * weight_std**2
    return math.sqrt(n_var * (n_var / 2) ** (n_layers - 1))


if __name__ == "__main__":      # python solutions/00_why_initialization_matters.py runs the notebook's checker
    from kaiming_lib.exercises import check_std_after

    print(check_std_after(std_after))
