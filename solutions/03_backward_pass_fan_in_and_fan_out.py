"""Notebook 03, exercise 2: fans of a weight, and one ReLU layer's backward factor."""

import math


def fans(shape):
    # Weights are (out, in, *kernel): one output sums over in * kernel-area inputs, and one
    # input reaches out * kernel-area outputs.
    kernel_area = math.prod(shape[2:])
    return shape[1] * kernel_area, shape[0] * kernel_area


def backward_factor(fan_out, weight_variance):
    # Var[dx_l] = fan_out Var[w] E[relu'(y)^2] Var[dx_{l+1}], and E[relu'(y)^2] = 1/2.
    return fan_out * weight_variance / 2


if __name__ == "__main__":      # python solutions/03_backward_pass_fan_in_and_fan_out.py runs the notebook's checker
    from kaiming_lib.exercises import check_fans, check_he_backward_factor

    print(check_fans(fans))
    print(check_he_backward_factor(backward_factor))
