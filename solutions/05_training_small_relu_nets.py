"""Notebook 05, exercise 5: the update-to-weight ratio of one step."""

import numpy as np


def update_ratio(W_before, W_after):
    # How big the step was, relative to the weights it was taken from (Frobenius norms).
    return np.linalg.norm(W_after - W_before) / np.linalg.norm(W_before)
