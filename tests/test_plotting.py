"""The plot helpers draw what they are given, return their Axes, and write only when asked."""

import matplotlib

matplotlib.use("Agg")  # before pyplot: the tests never need a screen

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from kaiming_lib import plotting
from kaiming_lib.init import SCHEMES, SuspiciousInputWarning
from kaiming_lib.probes import probe_stack


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _is_hex_colour(value):
    return isinstance(value, str) and len(value) == 7 and value[0] == "#"


def test_every_registered_scheme_has_its_own_colour():
    assert set(plotting.SCHEME_COLORS) == set(SCHEMES)
    colours = list(plotting.SCHEME_COLORS.values())
    assert len(set(colours)) == len(colours)
    assert all(_is_hex_colour(c) for c in colours)


def test_scheme_color_rejects_an_unknown_scheme():
    with pytest.raises(ValueError, match="scheme must be one of .*got 'he'"):
        plotting.scheme_color("he")


def test_plot_band_draws_the_median_and_the_range_over_seeds():
    values = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [4.0, 5.0, 9.0]])
    _, ax = plt.subplots()
    assert plotting.plot_band(np.arange(3), values, ax=ax, label="m") is ax
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [2.0, 4.0, 6.0])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 1.0 and band[:, 1].max() == 9.0


def test_plot_band_leaves_out_points_a_log_axis_cannot_show():
    values = np.array([[1.0, 0.0, np.inf, 4.0], [1.0, 1.0, 1.0, 4.0]])
    _, ax = plt.subplots()
    ax.set_yscale("log")
    plotting.plot_band(np.arange(4), values, ax=ax)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 3])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"x": [0, 1], "values": np.ones((2, 2))}, TypeError, "x must be a numpy.ndarray"),
    ({"x": np.arange(3), "values": np.ones((2, 2))}, ValueError,
     r"values must have one column per x, 3; got shape \(2, 2\)"),
    ({"x": np.arange(2), "values": np.ones(2)}, ValueError, "values must be 2-dimensional"),
    ({"x": np.arange(2), "values": np.ones((2, 2)), "band": "sd"}, ValueError,
     "band must be one of 'range', 'quartiles'; got 'sd'"),
    ({"x": np.arange(2), "values": np.ones((2, 2)), "ax": "left"}, TypeError,
     "ax must be a matplotlib Axes or None; got str"),
    ({"x": np.arange(2), "values": np.ones((2, 2)), "color": "notacolor"}, ValueError,
     "color must be None or a Matplotlib colour .*got 'notacolor'"),
    ({"x": np.arange(2), "values": np.ones((2, 2)), "linestyle": "~"}, ValueError,
     "linestyle must be one of '-', '--'.*got '~'"),
    ({"x": np.arange(2), "values": np.ones((2, 2)), "linestyle": 3}, ValueError,
     "linestyle must be one of .*got 3"),
])
def test_plot_band_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_band(**kwargs)


@pytest.mark.parametrize("values, log", [
    (np.full((2, 3), np.nan), False),
    (np.array([[np.inf, 1.0], [1.0, -np.inf]]), False),
    (np.array([[0.0, 1.0], [1.0, -2.0]]), True),        # finite, but not positive on a log axis
])
def test_plot_band_warns_when_nothing_is_left_to_draw(values, log):
    _, ax = plt.subplots()
    if log:
        ax.set_yscale("log")
    with pytest.warns(SuspiciousInputWarning, match="plot_band draws nothing for label='m'"):
        plotting.plot_band(np.arange(values.shape[1]), values, ax=ax, label="m")
    assert ax.lines[0].get_xdata().size == 0


def test_plot_band_with_some_points_left_does_not_warn():
    _, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plotting.plot_band(np.arange(3), np.array([[1.0, np.nan, 3.0]]), ax=ax)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 2])


def test_plot_depth_profile_draws_the_band_and_the_prediction_in_the_scheme_colour():
    result = probe_stack([32] * 5, "kaiming_normal", n_seeds=2, batch_size=16, rng=0,
                         backward=False)
    prediction = np.full(4, 2.0)
    _, ax = plt.subplots()
    plotting.plot_depth_profile(result, "preact_second_moment", prediction=prediction, ax=ax)
    measured, theory = ax.lines
    np.testing.assert_allclose(measured.get_ydata(),
                               np.median(result.preact_second_moment, axis=0))
    np.testing.assert_array_equal(theory.get_ydata(), prediction)
    assert measured.get_color() == theory.get_color() == plotting.SCHEME_COLORS["kaiming_normal"]
    assert theory.get_linestyle() == "--"


def test_plot_depth_profile_needs_one_prediction_per_layer():
    result = probe_stack([16] * 4, n_seeds=1, batch_size=8, rng=0, backward=False)
    with pytest.raises(ValueError, match="prediction must have 3 values, one per layer; got 2"):
        plotting.plot_depth_profile(result, prediction=np.ones(2))
    with pytest.raises(TypeError, match="result must be a ProbeResult; got dict"):
        plotting.plot_depth_profile({})


def test_plot_histograms_draws_one_layer_per_axes():
    result = probe_stack([64] * 6, n_seeds=2, batch_size=32, rng=0, backward=False,
                         hist_layers=[1, 5])
    axes = plotting.plot_histograms(result, seed=1)
    assert [ax.get_title() for ax in axes] == ["layer 1", "layer 5"]
    heights = axes[1].patches[0].get_path().vertices[:, 1]
    assert np.isclose(heights.max(), result.preact_hist[1, 1].max())
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\); got 2"):
        plotting.plot_histograms(result, seed=2)
    with pytest.raises(ValueError, match="axes must hold 2 Axes"):
        plotting.plot_histograms(result, axes=[plt.gca()])


@pytest.fixture(scope="module")
def probe_with_histograms():
    return probe_stack([16] * 4, n_seeds=2, batch_size=8, rng=0, backward=False,
                       hist_layers=[1, 3])


@pytest.mark.parametrize("hist_layers", [[], ()])
@pytest.mark.parametrize("kind", ["preact", "act"])
def test_plot_histograms_of_a_probe_without_histograms_says_how_to_get_them(hist_layers, kind):
    result = probe_stack([16] * 4, n_seeds=1, batch_size=8, rng=0, backward=False,
                         hist_layers=hist_layers)
    with pytest.raises(ValueError, match=r"result has no histograms to draw: the probe ran with "
                                         r"hist_layers=\[\]; probe again with hist_layers"):
        plotting.plot_histograms(result, kind=kind)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"seed": 1.5}, TypeError, "seed must be an integer; got 1.5"),
    ({"seed": True}, TypeError, "seed must be an integer; got True"),
    ({"seed": -1}, ValueError, r"seed must be in \[0, 2\); got -1"),
    ({"kind": "grad"}, ValueError, "kind must be one of 'preact', 'act'; got 'grad'"),
    ({"axes": ["left", "right"]}, TypeError, "axes must hold matplotlib Axes; got str"),
    ({"axes": [1, 2]}, TypeError, "axes must hold matplotlib Axes; got int"),
    ({"color": "notacolor"}, ValueError, "color must be None or a Matplotlib colour"),
])
def test_plot_histograms_rejects_bad_input(probe_with_histograms, kwargs, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_histograms(probe_with_histograms, **kwargs)


def test_plot_histograms_needs_a_probe_result():
    with pytest.raises(TypeError, match="result must be a ProbeResult; got dict"):
        plotting.plot_histograms({})


def test_plot_histograms_accepts_a_numpy_integer_seed_and_an_array_of_axes(
        probe_with_histograms):
    _, axes = plt.subplots(1, 2, squeeze=False)
    drawn = plotting.plot_histograms(probe_with_histograms, seed=np.int64(1), axes=axes)
    assert [ax.get_title() for ax in drawn] == ["layer 1", "layer 3"]


def test_save_figure_writes_nothing_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv(plotting.FIGURES_ENV, raising=False)
    fig, _ = plt.subplots()
    assert plotting.save_figure(fig, "nothing") == []
    written = plotting.save_figure(fig, "one", directory=tmp_path)
    assert sorted(p.name for p in written) == ["one.png", "one.svg"]
    assert all(p.stat().st_size > 0 for p in written)


def test_save_figure_gives_identical_files_for_the_same_figure(tmp_path):
    plotting.use_course_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label="line")
    ax.legend()
    first = [p.read_bytes() for p in plotting.save_figure(fig, "a", directory=tmp_path)]
    second = [p.read_bytes() for p in plotting.save_figure(fig, "a", directory=tmp_path)]
    assert first == second


@pytest.mark.parametrize("name", ["", "a b", "../up", "x.png"])
def test_save_figure_rejects_a_name_that_is_not_a_plain_stem(name, tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="name must be non-empty letters"):
        plotting.save_figure(fig, name, directory=tmp_path)


def test_save_figure_rejects_a_name_longer_than_the_documented_limit(tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="name must be at most 100 characters; got 300"):
        plotting.save_figure(fig, "x" * 300, directory=tmp_path)
    assert plotting.save_figure(fig, "x" * 100, directory=tmp_path)[0].name == "x" * 100 + ".png"


def test_save_figure_refuses_a_directory_that_is_a_file(tmp_path):
    fig, _ = plt.subplots()
    existing = tmp_path / "notes.txt"
    existing.write_text("not a folder")
    with pytest.raises(ValueError, match="directory must be a folder; got '.*notes.txt'"):
        plotting.save_figure(fig, "x", directory=existing)


def test_save_figure_creates_one_missing_level_but_never_a_tree(tmp_path):
    fig, _ = plt.subplots()
    written = plotting.save_figure(fig, "x", directory=tmp_path / "new")
    assert [p.parent for p in written] == [tmp_path / "new"] * 2
    deep = tmp_path / "missing" / "deep"
    with pytest.raises(ValueError, match="whose parent '.*missing' is not a folder"):
        plotting.save_figure(fig, "x", directory=deep)
    assert not (tmp_path / "missing").exists()


def test_save_figure_rejects_a_directory_that_is_not_a_path():
    fig, _ = plt.subplots()
    with pytest.raises(TypeError, match="directory must be None, a string or a path-like "
                                        "object; got 3"):
        plotting.save_figure(fig, "x", directory=3)


def test_save_figure_rejects_what_is_not_a_figure(tmp_path):
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure; got Axes"):
        plotting.save_figure(plt.gca(), "x", directory=tmp_path)
