"""Tests of kaiming_lib.widgets: the explorer's pure view, its drawing and its controls.

No front end is involved: setting a control's value calls its observers synchronously, as a
slider moved in the browser would.  Small stacks keep every test fast.
"""

import base64
import math
import socket

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.figure import Figure

from kaiming_lib import init
from kaiming_lib.widgets import (
    ACTIVATIONS, BOUNDS, DEFAULTS, MAX_EXPLORER_BYTES, Explorer, ExplorerView, build_explorer,
    draw_explorer, explorer_memory_bytes, explorer_view,
)

SMALL = {"depth": 6, "width": 32, "batch_size": 16}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any test that tries to open a network connection."""
    def refuse(*args, **kwargs):
        raise AssertionError("the explorer must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# -- the pure view --------------------------------------------------------------------------

def test_view_has_one_value_per_layer_and_histograms_of_first_selected_and_last():
    view = explorer_view(depth=12, width=32, batch_size=16, hist_layer=5)
    for values in (view.preact_std, view.predicted_preact_std, view.input_grad_std,
                   view.predicted_input_grad_std):
        assert values.shape == (12,)
    assert view.hist_layers == (1, 5, 12)
    assert view.act_hist.shape == (3, view.hist_edges.size - 1)
    assert np.array_equal(view.layers, np.arange(1, 13))


def test_hist_layer_defaults_to_the_last_layer_and_duplicates_are_merged():
    view = explorer_view(**SMALL)
    assert view.settings["hist_layer"] == 6
    assert view.hist_layers == (1, 6)
    assert explorer_view(depth=1, width=16, batch_size=16).hist_layers == (1,)


def test_kaiming_relu_prediction_is_sqrt_two_at_every_layer():
    # Var[y_1] = n * (2/n) * E[x_0^2] = 2; each ReLU layer halves E[y^2] and 2/n doubles it.
    view = explorer_view(depth=10, width=64, scheme="kaiming_normal", batch_size=16)
    assert np.allclose(view.predicted_preact_std, math.sqrt(2), rtol=1e-12)


def test_lecun_linear_prediction_is_one_and_relu_halves_the_variance_per_layer():
    linear = explorer_view(depth=8, width=64, scheme="lecun_normal", activation="linear",
                           batch_size=16)
    assert np.allclose(linear.predicted_preact_std, 1.0, rtol=1e-12)
    relu = explorer_view(depth=8, width=64, scheme="lecun_normal", batch_size=16)
    expected = np.sqrt(0.5 ** np.arange(8))        # computed here: q_l = 2^-(l-1)
    assert np.allclose(relu.predicted_preact_std, expected, rtol=1e-12)


def test_gain_multiplies_the_predicted_std_of_the_first_layer():
    view = explorer_view(depth=3, width=64, scheme="kaiming_normal", gain=1.5,
                         batch_size=16)
    assert math.isclose(view.predicted_preact_std[0], 1.5 * math.sqrt(2), rel_tol=1e-12)


def test_leaky_relu_prediction_uses_the_slope():
    # With Kaiming's 2/n and slope a, each layer multiplies q by (1 + a^2).
    a = 0.5
    view = explorer_view(depth=4, width=64, activation="leaky_relu", negative_slope=a,
                         batch_size=16)
    expected = np.sqrt(2 * (1 + a * a) ** np.arange(4))
    assert np.allclose(view.predicted_preact_std, expected, rtol=1e-12)


def test_measured_first_layer_std_is_within_sampling_error_of_the_prediction():
    # Width 256, batch 256: y_1 has 65536 values, correlated through the 256 x 256 weights.
    # Given W, the per-unit variance is |w_i|^2 (mean 2, relative sd sqrt(2/256) = 0.088 for
    # one unit); averaged over 256 units the relative sd of Var[y_1] is about
    # sqrt(2/256 / 256 + 2/65536) = 0.0078, so of the std about 0.004.  Five of those: 2 %.
    view = explorer_view(depth=1, width=256, batch_size=256, seed=3)
    assert abs(view.preact_std[0] / math.sqrt(2) - 1) < 0.02


def test_same_seed_gives_the_same_view_and_another_seed_differs():
    a, b = explorer_view(**SMALL, seed=7), explorer_view(**SMALL, seed=7)
    c = explorer_view(**SMALL, seed=8)
    assert np.array_equal(a.preact_std, b.preact_std)
    assert np.array_equal(a.act_hist, b.act_hist)
    assert not np.array_equal(a.preact_std, c.preact_std)


def test_zeros_never_enter_the_range_and_large_normal_leaves_it():
    assert explorer_view(**SMALL, scheme="zeros").first_out_of_range == 1
    # sigma = 1 at width 256: std(y_1) = 16, then x sqrt(128) = 11.3 per layer, so the std
    # passes 1e6 at layer 1 + log(1e6 / 16) / log(11.3) = 5.5, i.e. layer 6.
    big = explorer_view(depth=20, width=256, scheme="large_normal", batch_size=16)
    assert big.first_out_of_range == 6
    assert explorer_view(**SMALL).first_out_of_range == -1


def test_summary_names_the_depth_and_the_last_layer():
    text = explorer_view(**SMALL).summary()
    assert text.startswith("depth 6 · std of y_6: measured ")
    assert "stays in [1e-6, 1e6]" in text


@pytest.mark.parametrize("name, value, error, match", [
    ("depth", 0, ValueError, r"depth must be an integer in \[1, 100\]; got 0"),
    ("depth", 101, ValueError, r"depth must be an integer in \[1, 100\]; got 101"),
    ("depth", 2.5, TypeError, r"depth must be an integer; got 2\.5"),
    ("width", 7, ValueError, r"width must be an integer in \[8, 1024\]; got 7"),
    ("width", 1025, ValueError, r"width must be an integer in \[8, 1024\]; got 1025"),
    ("batch_size", 257, ValueError, r"batch_size must be an integer in \[16, 256\]"),
    ("seed", -1, ValueError, r"seed must be an integer in \[0, 2147483647\]; got -1"),
    ("seed", True, TypeError, r"seed must be an integer; got True"),
    ("gain", 0.1, ValueError, r"gain must be a real number in \[0\.25, 4\]; got 0\.1"),
    ("gain", "2", TypeError, r"gain must be a real number; got '2'"),
    ("negative_slope", -0.1, ValueError, r"negative_slope must be a real number in \[0, 1\]"),
    ("scheme", "he", ValueError, r"scheme must be one of 'zeros', .*; got 'he'"),
    ("activation", "gelu", ValueError,
     r"activation must be one of 'relu', 'leaky_relu', 'tanh', 'linear'; got 'gelu'"),
    ("activation", None, TypeError, r"activation must be a string"),
    ("hist_layer", 7, ValueError, r"hist_layer must be an integer in \[1, depth=6\]; got 7"),
])
def test_bad_settings_raise_clear_errors(name, value, error, match):
    with pytest.raises(error, match=match):
        explorer_view(**{**SMALL, name: value})
    with pytest.raises(error, match=match):
        build_explorer(**{**SMALL, name: value})


def test_every_registered_scheme_and_activation_is_accepted():
    for scheme in init.SCHEMES:
        assert explorer_view(depth=2, width=16, batch_size=16, scheme=scheme).settings[
            "scheme"] == scheme
    for activation in ACTIVATIONS:
        assert explorer_view(depth=2, width=16, batch_size=16,
                             activation=activation).preact_std.shape == (2,)


# -- memory bounds -----------------------------------------------------------------------------

def test_largest_setting_fits_the_memory_budget_of_a_binder_machine():
    depth, width, batch = BOUNDS["depth"][1], BOUNDS["width"][1], BOUNDS["batch_size"][1]
    # Counted here: all weights, 3 activations, L stored pre-activations and one gradient,
    # float32 (4 bytes).
    held = 4 * (depth * width**2 + 3 * batch * width + batch * (depth * width + width))
    assert explorer_memory_bytes(depth, width, batch) == held
    assert held <= MAX_EXPLORER_BYTES <= 2**30       # at most 1 GiB of a 2 GB machine


def test_memory_estimate_grows_with_every_setting():
    base = explorer_memory_bytes(10, 64, 32)
    assert explorer_memory_bytes(11, 64, 32) > base
    assert explorer_memory_bytes(10, 72, 32) > base
    assert explorer_memory_bytes(10, 64, 48) > base


# -- drawing -----------------------------------------------------------------------------------

def _three_axes():
    return list(Figure().subplots(1, 3))


def test_draw_explorer_draws_measured_and_predicted_lines_on_three_axes():
    view = explorer_view(**SMALL)
    profile, hists, grads = draw_explorer(view, _three_axes())
    measured, predicted = profile.get_lines()[:2]
    assert np.allclose(measured.get_ydata(), view.preact_std)
    assert np.allclose(predicted.get_ydata(), view.predicted_preact_std)
    assert profile.get_yscale() == "log" and grads.get_yscale() == "log"
    assert np.allclose(grads.get_lines()[0].get_ydata(), view.input_grad_std)
    visible = [p for p in hists.patches if p.get_visible()]
    assert len(visible) == len(view.hist_layers)
    assert np.allclose(visible[0].get_data().values, view.act_hist[0])


def test_draw_explorer_leaves_out_values_a_log_axis_cannot_show():
    view = explorer_view(**SMALL, scheme="zeros")
    profile = draw_explorer(view, _three_axes())[0]
    assert np.all(np.isnan(profile.get_lines()[0].get_ydata()))
    low, high = profile.get_ylim()
    assert 0 < low < high


def test_draw_explorer_rejects_bad_arguments():
    view = explorer_view(**SMALL)
    with pytest.raises(ValueError, match="axes must be a sequence of 3 matplotlib Axes .*; "
                                         "got 2 of them"):
        draw_explorer(view, _three_axes()[:2])
    with pytest.raises(TypeError, match="axes must be a sequence of 3 .*; got NoneType None"):
        draw_explorer(view, None)
    with pytest.raises(TypeError, match="axes must be a sequence of 3 .*; got Axes"):
        draw_explorer(view, _three_axes()[0])
    with pytest.raises(TypeError, match="axes must hold matplotlib Axes; got str"):
        draw_explorer(view, ["a", "b", "c"])
    with pytest.raises(TypeError, match="view must be an ExplorerView; got dict"):
        draw_explorer({}, _three_axes())


# -- the widget --------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, error, match", [
    ({}, ValueError, "settings must have exactly the keys depth, .*; got missing 'depth', "
                     "'width', "),
    ({**DEFAULTS, "depht": 5}, ValueError, "got unknown 'depht'"),
    ({k: v for k, v in DEFAULTS.items() if k != "seed"}, ValueError, "got missing 'seed'$"),
    ({**DEFAULTS, "depth": 0}, ValueError, r"depth must be an integer in \[1, 100\]; got 0"),
    (None, TypeError, "settings must be a dict with the keys depth, .*; got NoneType None"),
])
def test_explorer_names_the_settings_it_cannot_use(settings, error, match):
    with pytest.raises(error, match=match):
        Explorer(settings)


def test_explorer_builds_with_its_controls_and_a_png():
    explorer = build_explorer(**SMALL)
    assert isinstance(explorer, Explorer)
    assert set(explorer.controls) == {"depth", "width", "hist_layer", "scheme", "activation",
                                      "negative_slope", "gain", "seed", "batch_size"}
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.redraw_count == 1
    assert isinstance(explorer.view, ExplorerView)
    assert "depth 6" in explorer.status.value


def test_controls_have_the_stated_bounds():
    c = build_explorer(**SMALL).controls
    assert (c["depth"].min, c["depth"].max) == (1, 100)
    assert (c["width"].min, c["width"].max) == (8, 1024)
    assert (c["batch_size"].min, c["batch_size"].max) == (16, 256)
    assert (c["negative_slope"].min, c["negative_slope"].max) == (0.0, 1.0)
    assert (c["seed"].min, c["seed"].max) == (0, 2**31 - 1)
    # The gain slider is logarithmic in base 2: its ends are 2^-2 and 2^2.
    assert c["gain"].base == 2 and (c["gain"].min, c["gain"].max) == (-2, 2)
    assert (c["hist_layer"].min, c["hist_layer"].max) == (1, 6)
    assert list(c["activation"].options) == ["relu", "leaky_relu", "tanh", "linear"]
    assert [value for _, value in c["scheme"].options] == list(init.SCHEMES)


def test_controls_cannot_leave_their_bounds():
    c = build_explorer(**SMALL).controls
    c["depth"].value = 1000          # ipywidgets clamps bounded values to the range
    assert c["depth"].value == 100
    c["width"].value = 1
    assert c["width"].value == 8


def test_changing_a_control_redraws_with_new_data():
    explorer = build_explorer(**SMALL)
    before, png = explorer.view, explorer.image.value
    explorer.controls["depth"].value = 9
    assert explorer.redraw_count == 2
    assert explorer.view is not before
    assert explorer.view.preact_std.shape == (9,)
    assert explorer.image.value != png
    assert "depth 9" in explorer.status.value


@pytest.mark.parametrize("name, value", [
    ("width", 48), ("scheme", "xavier_normal"), ("activation", "tanh"), ("gain", 2.0),
    ("seed", 5), ("batch_size", 32), ("hist_layer", 3),
])
def test_every_control_triggers_a_redraw_with_its_value(name, value):
    explorer = build_explorer(**SMALL)
    png = explorer.image.value
    explorer.controls[name].value = value
    assert explorer.redraw_count == 2
    assert explorer.view.settings[name] == value
    assert explorer.image.value != png


def test_slope_control_is_enabled_only_for_leaky_relu():
    explorer = build_explorer(**SMALL)
    assert explorer.controls["negative_slope"].disabled
    explorer.controls["activation"].value = "leaky_relu"
    assert not explorer.controls["negative_slope"].disabled
    explorer.controls["negative_slope"].value = 0.5
    assert explorer.view.settings["negative_slope"] == 0.5


def test_reducing_the_depth_keeps_the_selected_layer_valid_with_one_redraw():
    explorer = build_explorer(**{**SMALL, "depth": 20}, hist_layer=15)
    explorer.controls["depth"].value = 10
    assert explorer.redraw_count == 2                # not one more for the clamped layer
    assert explorer.controls["hist_layer"].max == 10
    assert explorer.view.settings["hist_layer"] == 10
    explorer.controls["depth"].value = 30            # at the last layer: follows the depth
    assert explorer.view.settings["hist_layer"] == 30


def test_display_bundle_holds_the_widget_and_a_static_png_of_its_state():
    explorer = build_explorer(**SMALL)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == explorer.image.value
    assert bundle["text/plain"].startswith("Explorer: depth 6")


def test_build_explorer_does_not_touch_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    build_explorer(**SMALL)
    assert plt.get_fignums() == before
    assert mpl.get_backend()     # unchanged and still importable


@pytest.mark.parametrize("args, error, match", [
    ((-1, 5, 5), ValueError, "depth must be at least 1; got -1"),
    ((5, 0, 5), ValueError, "width must be at least 1; got 0"),
    ((5, 5, 2.5), TypeError, "batch_size must be an integer; got 2.5"),
])
def test_the_memory_estimate_refuses_sizes_that_are_not_positive_integers(args, error, match):
    with pytest.raises(error, match=match):
        explorer_memory_bytes(*args)
