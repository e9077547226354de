"""Notebook 01, exercise 3: the bound of a uniform distribution with a given std."""

import math


def uniform_bound(std):
    # U(-b, b) has variance b**2 / 3; solve b**2 / 3 = std**2.
    return math.sqrt(3.0) * std


if __name__ == "__main__":      # python solutions/01_variance_of_a_linear_layer.py runs the notebook's checker
    from kaiming_lib.exercises import check_uniform_bound

    print(check_uniform_bound(uniform_bound))
