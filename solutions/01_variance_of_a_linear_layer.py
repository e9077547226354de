"""Notebook 01, exercise 3: the bound of a uniform distribution with a given std."""

import math


def uniform_bound(std):
    # U(-b, b) has variance b**2 / 3; solve b**2 / 3 = std**2.
    return math.sqrt(3.0) * std
