"""Notebook 04, exercise: the variance of PyTorch's nn.Linear default weights."""

import math


def linear_default_variance(fan_in):
    # kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)) = sqrt(1/3), so the bound is
    # sqrt(3) * sqrt(1/3) / sqrt(fan_in) = 1 / sqrt(fan_in), and U(-b, b) has variance b**2 / 3.
    gain = math.sqrt(2 / (1 + 5))
    bound = math.sqrt(3) * gain / math.sqrt(fan_in)
    return bound**2 / 3


if __name__ == "__main__":      # python solutions/04_comparing_initialization_schemes.py runs the notebook's checker
    from kaiming_lib.exercises import check_linear_default_variance

    print(check_linear_default_variance(linear_default_variance))
