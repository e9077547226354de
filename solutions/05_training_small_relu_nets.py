"""Notebook 05, exercise 5: the update-to-weight ratio of one step."""

import numpy as np


def update_ratio(W_before, W_after):
    # How big the step was, relative to the weights it was taken from (Frobenius norms).
    return np.linalg.norm(W_after - W_before) / np.linalg.norm(W_before)


if __name__ == "__main__":      # python solutions/05_training_small_relu_nets.py runs the notebook's checker
    from kaiming_lib.exercises import check_update_ratio

    print(check_update_ratio(update_ratio))
