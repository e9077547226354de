"""Notebook 06, exercise 4: Xavier's weight gradients relative to Kaiming's at init."""


def xavier_gradient_ratio(n_layers):
    # In a ReLU net of equal widths Xavier's variance is half of Kaiming's, so each layer
    # halves the forward second moment and the backward one.  The gradient of W_l is
    # delta_l x_{l-1}^T: x_{l-1} has crossed l - 1 layers and delta_l has crossed L - l, so
    # together L - 1 halvings of a variance, a factor 2 ** (-(L - 1) / 2) in the norm.
    return 2.0 ** (-(n_layers - 1) / 2)


if __name__ == "__main__":      # python solutions/06_reproducing_he_et_al_depth_experiment.py runs the notebook's checker
    from kaiming_lib.exercises import check_xavier_gradient_ratio

    print(check_xavier_gradient_ratio(xavier_gradient_ratio))
