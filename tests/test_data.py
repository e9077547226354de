"""Tests for kaiming_lib.data: the shipped digits, the split, standardization, synthetic sets."""

import hashlib
import math
import re
import tracemalloc
import warnings
from importlib import resources

import numpy as np
import pytest

from kaiming_lib import data
from kaiming_lib.data import (
    ChecksumError, Dataset, load_digits, make_spirals, make_teacher, read_digits_file,
    standardize, stratified_split, verify_sha256,
)
from kaiming_lib.init import SuspiciousInputWarning

# From kaiming_lib/datasets/README.md, stated here rather than read from the code.
README_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
README_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def _shipped_bytes() -> bytes:
    return resources.files("kaiming_lib").joinpath("datasets", "digits.csv.gz").read_bytes()


@pytest.fixture(scope="module")
def raw_digits():
    return read_digits_file()


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# -- the digits file -------------------------------------------------------------------------

def test_the_shipped_file_has_the_sha256_stated_in_the_readme():
    assert hashlib.sha256(_shipped_bytes()).hexdigest() == README_SHA256


def test_digits_have_1797_images_of_64_pixels_in_0_to_16_with_the_readme_class_counts(
        raw_digits):
    images, labels = raw_digits
    assert images.shape == (1797, 64) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    assert np.bincount(labels).tolist() == README_CLASS_COUNTS


def test_a_corrupted_copy_raises_checksum_error_naming_the_file_and_both_hashes(tmp_path):
    data = bytearray(_shipped_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    for given in (path, str(path)):
        with pytest.raises(ChecksumError) as caught:
            load_digits(path=given)
        message = str(caught.value)
        assert str(path) in message and actual in message and README_SHA256 in message
    assert issubclass(ChecksumError, ValueError)


def test_a_truncated_copy_is_refused_before_parsing(tmp_path):
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(_shipped_bytes()[:-10])
    with pytest.raises(ValueError, match=re.escape(README_SHA256)):
        read_digits_file(path)


def test_an_intact_copy_elsewhere_loads_like_the_shipped_file(tmp_path, raw_digits):
    path = tmp_path / "copy.csv.gz"
    path.write_bytes(_shipped_bytes())
    images, labels = read_digits_file(str(path))
    assert np.array_equal(images, raw_digits[0]) and np.array_equal(labels, raw_digits[1])


# -- the split -------------------------------------------------------------------------------

def test_the_default_split_is_stratified_within_one_sample_per_class(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.x_train.shape[1] == digits.x_test.shape[1] == 64
    test_counts = np.bincount(digits.y_test, minlength=10)
    train_counts = np.bincount(digits.y_train, minlength=10)
    assert (test_counts + train_counts).tolist() == README_CLASS_COUNTS
    for count, n_test in zip(README_CLASS_COUNTS, test_counts):
        assert abs(n_test - 0.2 * count) <= 1


def test_train_and_test_are_disjoint_and_cover_every_image(raw_digits):
    images, labels = raw_digits
    ds = load_digits(standardized=False, dtype=np.float64)
    rows = np.concatenate([np.c_[ds.x_train, ds.y_train], np.c_[ds.x_test, ds.y_test]])
    expected = np.c_[images, labels].astype(np.float64)
    # same multiset of (image, label) rows: sort both lexicographically and compare
    assert np.array_equal(rows[np.lexsort(rows.T[::-1])], expected[np.lexsort(expected.T[::-1])])


def test_stratified_split_indices_are_disjoint_covering_and_keep_class_shares():
    labels = np.repeat([0, 1, 2], [50, 31, 7])
    train, test = stratified_split(labels, 0.3, rng=5)
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    for cls, count in enumerate([50, 31, 7]):
        assert abs(np.sum(labels[test] == cls) - 0.3 * count) <= 1


def test_the_same_split_seed_gives_the_same_split_and_another_seed_a_different_one(digits):
    again, other = load_digits(split_seed=0), load_digits(split_seed=1)
    assert np.array_equal(digits.x_train, again.x_train)
    assert np.array_equal(digits.y_test, again.y_test)
    assert not np.array_equal(digits.y_train, other.y_train)
    a, b = stratified_split(np.arange(40) % 4, rng=3), stratified_split(np.arange(40) % 4, rng=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_stratified_split_does_not_mutate_the_labels():
    labels = np.arange(30) % 3
    copy = labels.copy()
    stratified_split(labels, 0.2, rng=0)
    assert np.array_equal(labels, copy)


# -- standardization -------------------------------------------------------------------------

def test_standardized_training_pixels_have_mean_0_and_std_1_and_constant_pixels_stay_0(
        digits):
    raw = load_digits(standardized=False, dtype=np.float64)
    constant = raw.x_train.std(axis=0) == 0
    assert constant.any()                   # e.g. the blank corner: the guard is exercised
    x = digits.x_train.astype(np.float64)
    # float32 storage: relative rounding 6e-8 on values of order 1..10
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(x.std(axis=0)[~constant], 1.0, atol=1e-6)
    assert np.all(x[:, constant] == 0)


def test_standardization_uses_training_statistics_only(digits):
    raw = load_digits(standardized=False, dtype=np.float64)
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    np.testing.assert_allclose(digits.x_test, (raw.x_test - mean) / std, rtol=1e-6, atol=1e-6)
    # the test set's own statistics differ from 0 and 1: they were not used
    assert np.abs(digits.x_test.astype(np.float64).mean(axis=0)).max() > 1e-3


def test_standardize_handles_constant_features_without_dividing_by_zero():
    x_train = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 0.0]])
    x_test = np.array([[2.0, 6.0, 1.0]])
    with np.errstate(all="raise"):
        a, b = standardize(x_train, x_test)
    assert a.tolist() == [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert b.tolist() == [[0.0, 1.0, 1.0]]
    assert x_train.tolist() == [[1.0, 5.0, 0.0], [3.0, 5.0, 0.0]]     # not mutated


def test_digits_are_float32_by_default_and_float64_on_request(digits):
    assert digits.x_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert load_digits(dtype=np.float64).x_test.dtype == np.float64
    assert digits.n_classes == 10 and digits.n_features == 64 and digits.n_outputs == 10


# -- synthetic sets --------------------------------------------------------------------------

def test_spirals_have_the_requested_shapes_and_balanced_classes():
    ds = make_spirals(601, 3, rng=0)
    assert isinstance(ds, Dataset) and ds.n_classes == 3
    assert ds.x_train.shape[1] == 2 and len(ds.x_train) + len(ds.x_test) == 601
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]))
    assert counts.max() - counts.min() <= 1
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64


def test_noiseless_spiral_points_lie_on_their_arm():
    # Closed form: radius r = t, angle = 2 pi (k / K + n_turns r), modulo 2 pi.
    ds = make_spirals(300, 3, noise=0.0, n_turns=1.5, rng=1, dtype=np.float64)
    x, k = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.all((r >= 0.05) & (r < 1.0))
    expected = 2 * np.pi * (k / 3 + 1.5 * r)
    gap = np.angle(np.exp(1j * (np.arctan2(x[:, 1], x[:, 0]) - expected)))   # wrapped
    assert np.abs(gap).max() < 1e-9


def test_spiral_noise_has_the_requested_standard_deviation():
    # With the same seed the positions and the split are drawn identically, so the
    # difference of a noisy and a noiseless set is the noise itself: N = 2 * 4000 draws.
    # The sample variance has relative std sqrt(2/(N-1)) = 0.0158; allow 5 of them.
    clean = make_spirals(4000, 2, noise=0.0, rng=7, dtype=np.float64)
    noisy = make_spirals(4000, 2, noise=0.2, rng=7, dtype=np.float64)
    assert np.array_equal(clean.y_train, noisy.y_train)
    diff = np.concatenate([noisy.x_train - clean.x_train, noisy.x_test - clean.x_test])
    assert abs(diff.var() / 0.2 ** 2 - 1) < 5 * math.sqrt(2 / (diff.size - 1))


def test_synthetic_sets_are_deterministic_for_a_seed_and_differ_across_seeds():
    for make in (lambda s: make_spirals(200, rng=s), lambda s: make_teacher(200, 5, 3, rng=s)):
        a, b, c = make(0), make(0), make(1)
        assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
        assert not np.array_equal(a.x_train, c.x_train)


def test_teacher_classification_has_the_requested_shapes_and_roughly_balanced_classes():
    for seed in range(5):
        ds = make_teacher(2000, 20, 10, rng=seed)
        assert ds.x_train.shape[1] == ds.x_test.shape[1] == 20
        # per-class rounding: each class moves the test size by at most half a sample
        assert len(ds.x_train) + len(ds.x_test) == 2000 and abs(len(ds.x_test) - 400) <= 5
        assert ds.n_classes == 10 and ds.y_train.dtype == np.int64
        counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10)
        # every class gets at least a quarter of its fair share 2000 / 10 = 200
        assert counts.min() >= 50, (seed, counts.tolist())


def test_teacher_regression_targets_have_mean_0_and_std_1_per_output():
    ds = make_teacher(1000, 6, 3, task="regression", rng=2, dtype=np.float64)
    assert ds.n_classes == 0 and ds.n_outputs == 3
    assert ds.y_train.shape == (800, 3) and ds.y_test.shape == (200, 3)
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-12)


def test_a_linear_teacher_produces_targets_affine_in_the_inputs():
    ds = make_teacher(300, 4, 2, hidden_sizes=(), task="regression", rng=3, dtype=np.float64)
    x = np.c_[ds.x_train, np.ones(len(ds.x_train))]
    _, residual, _, _ = np.linalg.lstsq(x, ds.y_train, rcond=None)
    assert np.all(residual < 1e-20)


# -- bad input -------------------------------------------------------------------------------

BAD_INPUT = [
    (lambda: load_digits(test_fraction=0), ValueError,
     r"test_fraction must lie strictly between 0 and 1; got 0.0"),
    (lambda: load_digits(test_fraction=1), ValueError,
     r"test_fraction must lie strictly between 0 and 1; got 1.0"),
    (lambda: load_digits(test_fraction=float("nan")), ValueError,
     r"test_fraction must be finite; got nan"),
    (lambda: load_digits(test_fraction="0.2"), TypeError, r"test_fraction must be a real"),
    (lambda: load_digits(split_seed=-1), ValueError, r"split_seed must be at least 0; got -1"),
    (lambda: load_digits(split_seed=1.5), TypeError, r"split_seed must be an integer; got 1.5"),
    (lambda: load_digits(split_seed=True), TypeError, r"split_seed must be an integer; got True"),
    (lambda: load_digits(standardized="yes"), TypeError,
     r"standardized must be True or False; got 'yes'"),
    (lambda: load_digits(dtype=np.int32), ValueError, r"dtype must be one of float16"),
    (lambda: make_spirals(0), ValueError, r"n_samples must be at least 4; got 0"),
    (lambda: make_spirals(100, 1), ValueError, r"n_classes must be at least 2; got 1"),
    (lambda: make_spirals(100, 2.0), TypeError, r"n_classes must be an integer; got 2.0"),
    (lambda: make_spirals(noise=-0.1), ValueError, r"noise must be non-negative; got -0.1"),
    (lambda: make_spirals(noise=float("nan")), ValueError, r"noise must be finite; got nan"),
    (lambda: make_spirals(noise="0.1"), TypeError, r"noise must be a real number; got '0.1'"),
    (lambda: make_spirals(n_turns=0), ValueError, r"n_turns must be positive; got 0.0"),
    (lambda: make_spirals(test_fraction=1.5), ValueError, r"test_fraction must lie strictly"),
    (lambda: make_spirals(rng=-3), ValueError, r"rng seed must be non-negative; got -3"),
    (lambda: make_teacher(0), ValueError, r"n_samples must be at least 2; got 0"),
    (lambda: make_teacher(100, 5, 1), ValueError, r"n_outputs must be at least 2; got 1"),
    (lambda: make_teacher(100, 0), ValueError, r"n_features must be at least 1; got 0"),
    (lambda: make_teacher(100, hidden_sizes=(8, 0)), ValueError,
     r"hidden_sizes entry must be at least 1; got 0"),
    (lambda: make_teacher(100, task="clustering"), ValueError,
     r"task must be one of 'classification', 'regression'; got 'clustering'"),
    (lambda: stratified_split([0, 1, 0, 1]), TypeError,
     r"labels must be a 1-D integer ndarray; got \[0, 1, 0, 1\]"),
    (lambda: stratified_split(np.array([0.0, 1.0])), TypeError, r"labels must be a 1-D integer"),
    (lambda: stratified_split(np.array([0, 1]), 0.1), ValueError,
     r"test_fraction=0.1 leaves an empty train or test set for 2 examples"),
    (lambda: stratified_split(np.array([], dtype=np.int64)), ValueError,
     r"labels must not be empty; got shape \(0,\)"),
    # standardize: the two sets must describe the same features
    (lambda: standardize(np.ones((5, 64)), np.ones((3, 10))), ValueError,
     r"x_train and x_test must have the same number of features \(columns\); got shapes "
     r"\(5, 64\) and \(3, 10\)"),
    (lambda: standardize(np.ones(5), np.ones(3)), ValueError,
     r"x_train must be 2-dimensional; got shape \(5,\)"),
    (lambda: standardize(np.ones((5, 2)), np.ones((3, 2, 1))), ValueError,
     r"x_test must be 2-dimensional; got shape \(3, 2, 1\)"),
    (lambda: standardize([[1.0, 2.0]], np.ones((3, 2))), TypeError,
     r"x_train must be a numpy.ndarray; got list"),
    (lambda: standardize(np.ones((3, 2)), np.ones((3, 2), dtype=bool)), TypeError,
     r"x_test must have a real numeric dtype; got dtype bool"),
    (lambda: standardize(np.zeros((0, 2)), np.ones((3, 2))), ValueError,
     r"x_train must not be empty; got shape \(0, 2\)"),
    (lambda: standardize(np.array([[np.nan, 1.0], [0.0, 1.0]]), np.ones((3, 2))), ValueError,
     r"x_train must contain only finite values"),
    (lambda: standardize(np.array([[1e308, 1.0], [1e308, 2.0]]), np.ones((3, 2))), ValueError,
     r"x_train's feature means and stds must be finite; with values up to 1e\+308"),
    # Dataset: the parts must fit together
    (lambda: Dataset(np.ones((3, 2)), np.ones(3), np.ones((2, 3)), np.ones(2), 2, "d"),
     ValueError, r"x_train and x_test must have the same number of features; got shapes "
                 r"\(3, 2\) and \(2, 3\)"),
    (lambda: Dataset(np.ones((3, 2)), np.ones(2), np.ones((2, 2)), np.ones(2), 2, "d"),
     ValueError, r"y_train must have one row per row of x_train; got shapes \(2,\) and \(3, 2\)"),
    (lambda: Dataset(np.ones(3), np.ones(3), np.ones((2, 2)), np.ones(2), 2, "d"),
     ValueError, r"x_train must be 2-D \(n_samples, n_features\); got shape \(3,\)"),
    (lambda: Dataset(np.ones((3, 2)), [0, 1, 1], np.ones((2, 2)), np.ones(2), 2, "d"),
     TypeError, r"y_train must be a numpy.ndarray; got list"),
    (lambda: Dataset(np.ones((3, 2)), np.ones(3), np.ones((2, 2)), np.ones(2), -1, "d"),
     ValueError, r"n_classes must be at least 0; got -1"),
    # the other arguments of the same kind
    (lambda: make_teacher(100, hidden_sizes=64), TypeError,
     r"hidden_sizes must be a sequence of positive integers \(may be empty\); got 64"),
    (lambda: make_teacher(100, hidden_sizes="64"), TypeError, r"hidden_sizes must be a sequence"),
    (lambda: verify_sha256("abc", README_SHA256), TypeError, r"data must be bytes .*got str"),
    (lambda: verify_sha256(b"abc", "3"), ValueError,
     r"expected must be a SHA-256 digest, 64 lower-case hexadecimal digits; got '3'"),
    (lambda: verify_sha256(b"abc", None), TypeError, r"expected must be a hexadecimal string"),
    (lambda: read_digits_file(123), TypeError,
     r"path must be None, a string or a path-like object; got 123"),
    (lambda: load_digits(dtype=None), TypeError,
     r"dtype must be a NumPy floating dtype, one of float16, float32, float64; got None"),
    (lambda: make_spirals(dtype=None), TypeError, r"dtype must be .*got None"),
    (lambda: make_teacher(dtype=None), TypeError, r"dtype must be .*got None"),
    # sizes that could not be held in memory
    (lambda: make_spirals(10**12), ValueError,
     r"n_samples=1000000000000 needs about .* GiB to generate; the limit is MAX_DATA_BYTES"),
    (lambda: make_teacher(10**9, 1000), ValueError,
     r"n_samples=1000000000, n_features=1000, .* needs about .* GiB to generate"),
    # two hidden layers of 10**6: the second weight alone is 10**12 float64 values
    (lambda: make_teacher(100, 10, hidden_sizes=[10**6, 10**6]), ValueError,
     r"n_samples=100, n_features=10, hidden_sizes=\[1000000, 1000000\], n_outputs=10 needs "
     r"about 7.\d+e\+03 GiB"),
    # more arms than points: the cause is named, not the split it would break
    (lambda: make_spirals(n_classes=1000), ValueError,
     r"n_classes must be at most n_samples // 2 = 300, .*got n_classes=1000 for n_samples=600"),
    (lambda: make_spirals(10, 6), ValueError, r"n_classes must be at most n_samples // 2 = 5"),
    (lambda: load_digits(path=""), ValueError, r"path must name the digits file .*got ''"),
]


@pytest.mark.parametrize("call, error, match", BAD_INPUT)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_folder_or_a_missing_file_as_path_is_named_in_the_error(tmp_path):
    with pytest.raises(ValueError, match="path must name the digits file .*not a folder; got"):
        load_digits(path=tmp_path)
    missing = tmp_path / "nowhere.csv.gz"
    with pytest.raises(FileNotFoundError, match=f"path {re.escape(repr(str(missing)))} does "
                                                "not exist"):
        load_digits(path=str(missing))


def test_make_teacher_estimates_a_wide_input_from_its_real_arrays():
    # 2000 x 10**5 float64 inputs are 1.5 GiB; the weights are 64 x 10**5, not 10**5 x 10**5
    # (the old estimate claimed 80 GiB).  Estimate: x, the split's float64 copy of the
    # training rows and its float32 cast, 8 n f + (8 + 4) n f = 20 n f bytes, about 3.7 GiB.
    estimate = data._teacher_bytes(2000, 10**5, [64, 64], 10, 4)
    assert 20 * 2000 * 10**5 <= estimate < 21 * 2000 * 10**5


@pytest.mark.parametrize("n_samples, n_features, hidden_sizes, n_outputs, task", [
    (2000, 20, (64, 64), 10, "classification"),
    (1000, 500, (32,), 5, "classification"),
    (300, 20, (128,) * 6, 4, "classification"),
    (1500, 30, (), 3, "regression"),
])
def test_make_teacher_memory_estimate_is_within_a_factor_two_of_the_traced_peak(
        n_samples, n_features, hidden_sizes, n_outputs, task):
    kwargs = dict(hidden_sizes=hidden_sizes, task=task, rng=0)
    make_teacher(n_samples, n_features, n_outputs, **kwargs)      # warm caches first
    tracemalloc.start()
    try:
        make_teacher(n_samples, n_features, n_outputs, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = data._teacher_bytes(n_samples, n_features, list(hidden_sizes), n_outputs, 4)
    assert peak / 2 <= estimate <= 2 * peak, (estimate, peak)


def test_standardize_warns_on_a_single_training_row_and_leaves_it_unscaled():
    with pytest.warns(SuspiciousInputWarning, match="x_train has a single row"):
        a, b = standardize(np.array([[1.0, 4.0]]), np.array([[2.0, 6.0]]))
    assert a.tolist() == [[0.0, 0.0]] and b.tolist() == [[1.0, 2.0]]


def test_standardize_accepts_an_empty_test_set_and_integer_features_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = standardize(np.array([[0, 2], [2, 2]]), np.zeros((0, 2)))
    assert a.tolist() == [[-1.0, 0.0], [1.0, 0.0]] and b.shape == (0, 2)
