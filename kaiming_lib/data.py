"""Data sets for the training notebooks, all offline: the 8x8 digits and two synthetic sets.

- :func:`load_digits`: the UCI 8x8 handwritten digits (1,797 images, 10 classes), shipped in
  ``kaiming_lib/datasets/digits.csv.gz`` and checked against its SHA-256 on every load;
- :func:`make_spirals`: interleaved spiral arms, one per class, with Gaussian noise;
- :func:`make_teacher`: labels or targets produced by a random ReLU "teacher" network.

Every loader returns a :class:`Dataset` with a fixed, seeded, stratified train/test split.
Inputs are float32 by default; labels are int64 class indices (float targets for the
regression teacher).
"""

import gzip
import hashlib
import io
import math
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

from ._validation import (
    as_rng, check_array, check_choice, check_float_dtype, check_int, check_real, warn_suspicious,
)

__all__ = [
    "Dataset", "ChecksumError", "DIGITS_SHA256", "DIGITS_FILE",
    "load_digits", "read_digits_file", "verify_sha256",
    "stratified_split", "standardize", "make_spirals", "make_teacher", "MAX_DATA_BYTES",
]

#: SHA-256 of the shipped ``digits.csv.gz`` (the file scikit-learn distributes).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"

#: Name of the digits file inside ``kaiming_lib/datasets/``.
DIGITS_FILE = "digits.csv.gz"

#: The most memory (bytes) :func:`make_spirals` or :func:`make_teacher` may use while
#: generating: 4 GiB, so that a typo such as ``n_samples=10**12`` gets a clear error.
MAX_DATA_BYTES = 4 * 2**30

_DIGITS_SHAPE = (1797, 65)  # 64 pixels and the label per row


class ChecksumError(ValueError):
    """A data file's SHA-256 differs from the one recorded for it."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification (or regression) data set with a fixed train/test split.

    Attributes
    ----------
    x_train : (n_train, n_features) ndarray
    y_train : (n_train,) int64 ndarray, or (n_train, n_outputs) float ndarray
        Class indices in ``range(n_classes)``; float targets for regression.
    x_test : (n_test, n_features) ndarray
    y_test : (n_test,) or (n_test, n_outputs) ndarray
    n_classes : int
        Number of classes; 0 for a regression set.
    name : str
        A short description, e.g. ``'digits'``.

    Raises
    ------
    TypeError
        If a part is not an ndarray, ``n_classes`` not an int or ``name`` not a string.
    ValueError
        If the parts do not fit together: ``x_train`` and ``x_test`` must be 2-D with the
        same number of features, and each ``y`` must have one row per row of its ``x``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str

    def __post_init__(self):
        # The loaders always build consistent sets; this catches a hand-made one whose
        # parts disagree before a training loop fails deep inside a matrix product.
        for part in ("x_train", "y_train", "x_test", "y_test"):
            if not isinstance(getattr(self, part), np.ndarray):
                raise TypeError(f"{part} must be a numpy.ndarray; got "
                                f"{type(getattr(self, part)).__name__}")
        for part in ("x_train", "x_test"):
            if getattr(self, part).ndim != 2:
                raise ValueError(f"{part} must be 2-D (n_samples, n_features); got shape "
                                 f"{getattr(self, part).shape!r}")
        if self.x_test.shape[1] != self.x_train.shape[1]:
            raise ValueError(
                f"x_train and x_test must have the same number of features; got shapes "
                f"{self.x_train.shape!r} and {self.x_test.shape!r}"
            )
        for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
            if getattr(self, y).ndim == 0 or len(getattr(self, y)) != len(getattr(self, x)):
                raise ValueError(f"{y} must have one row per row of {x}; got shapes "
                                 f"{getattr(self, y).shape!r} and {getattr(self, x).shape!r}")
        check_int("n_classes", self.n_classes, minimum=0)
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string; got {self.name!r}")

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Width of a network's output layer: classes, or regression targets."""
        return self.n_classes if self.n_classes else self.y_train.shape[1]

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n_train={len(self.x_train)}, "
                f"n_test={len(self.x_test)}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, dtype={self.x_train.dtype})")


# -- checksums and the digits file ------------------------------------------------------------

def verify_sha256(data: bytes, expected: str, *, source: str = "data") -> None:
    """Raise :class:`ChecksumError` unless ``data`` has the SHA-256 ``expected``.

    Parameters
    ----------
    data : bytes
    expected : str
        Lower-case hexadecimal digest.
    source : str, default 'data'
        What to call the data in the error message (a file name).

    Raises
    ------
    ChecksumError
        If the digests differ; the message shows both.
    TypeError
        If ``data`` is not bytes-like or ``expected`` and ``source`` are not strings.
    ValueError
        If ``expected`` is not 64 lower-case hexadecimal digits (no SHA-256 at all).

    Examples
    --------
    >>> verify_sha256(b"abc", hashlib.sha256(b"abc").hexdigest())
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes (the file's contents); got {type(data).__name__} "
                        f"{data!r:.60}")
    if not isinstance(expected, str):
        raise TypeError(f"expected must be a hexadecimal string; got {expected!r}")
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise ValueError(
            f"expected must be a SHA-256 digest, 64 lower-case hexadecimal digits; got "
            f"{expected!r}"
        )
    if not isinstance(source, str):
        raise TypeError(f"source must be a string; got {source!r}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{source} has SHA-256 {actual}, expected {expected}: the file is corrupted or "
            "was modified; reinstall kaiming_lib (or restore the file from the repository)"
        )


def _default_digits_path():
    return resources.files(__package__).joinpath("datasets", DIGITS_FILE)


def read_digits_file(path=None) -> tuple[np.ndarray, np.ndarray]:
    """Read the raw digits, after checking the file's SHA-256.

    Parameters
    ----------
    path : path-like, optional
        The gzip-compressed CSV file; by default the copy shipped in
        ``kaiming_lib/datasets/``.

    Returns
    -------
    images : (1797, 64) uint8 ndarray
        Pixel values 0-16, each row an 8x8 image in row-major order.
    labels : (1797,) int64 ndarray
        The digits 0-9.

    Raises
    ------
    ChecksumError
        If the file's SHA-256 is not :data:`DIGITS_SHA256`.
    TypeError
        If ``path`` is not None, a string or a path-like object.
    ValueError
        If ``path`` is empty or names a folder.
    FileNotFoundError
        If no file exists at ``path`` (the message says which path).

    Examples
    --------
    >>> images, labels = read_digits_file()
    >>> images.shape, int(images.max()), np.bincount(labels).tolist()[:3]
    ((1797, 64), 16, [178, 182, 177])
    """
    path = _default_digits_path() if path is None else path
    if isinstance(path, (str, os.PathLike)):
        path = _check_file_path(path)
    elif not hasattr(path, "read_bytes"):     # the default: a package resource
        raise TypeError(f"path must be None, a string or a path-like object; got {path!r}")
    raw = path.read_bytes()
    verify_sha256(raw, DIGITS_SHA256, source=str(path))
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.uint8)
    if table.shape != _DIGITS_SHAPE:  # unreachable for the verified file; guards the parser
        raise ChecksumError(f"digits table has shape {table.shape}, expected {_DIGITS_SHAPE}")
    return np.ascontiguousarray(table[:, :64]), table[:, 64].astype(np.int64)


def _check_file_path(path) -> pathlib.Path:
    """Return ``path`` as a Path after checking that it names an existing file."""
    text = os.fspath(path)
    if not text:
        raise ValueError(f"path must name the digits file (digits.csv.gz); got {path!r}, an "
                         "empty path (pass None for the shipped copy)")
    resolved = pathlib.Path(text)
    if resolved.is_dir():
        raise ValueError(f"path must name the digits file (digits.csv.gz), not a folder; got "
                         f"{path!r}")
    if not resolved.exists():
        raise FileNotFoundError(f"path {path!r} does not exist: there is no digits file at "
                                f"{str(resolved.absolute())!r} (pass None for the shipped copy)")
    return resolved


# -- splitting and standardizing --------------------------------------------------------------

def _check_fraction(name, value) -> float:
    value = check_real(name, value)
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value!r}")
    return value


def stratified_split(labels: np.ndarray, test_fraction: float = 0.2,
                     rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into train and test, keeping each class's share in both.

    Each class contributes ``round(test_fraction * count)`` examples to the test set, drawn
    at random; both index arrays are shuffled.

    Parameters
    ----------
    labels : (n,) integer ndarray
    test_fraction : float in (0, 1), default 0.2
    rng : None, int or numpy.random.Generator

    Returns
    -------
    train_index, test_index : int64 ndarrays
        Disjoint; together a permutation of ``range(n)``.

    Raises
    ------
    TypeError
        If ``labels`` is not an integer ndarray.
    ValueError
        If ``labels`` is empty, ``test_fraction`` is outside (0, 1), or either part would
        be empty.

    Examples
    --------
    >>> train, test = stratified_split(np.repeat([0, 1], [80, 20]), 0.25, rng=0)
    >>> len(train), len(test), int(np.repeat([0, 1], [80, 20])[test].sum())
    (75, 25, 5)
    """
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise TypeError(f"labels must be a 1-D integer ndarray; got {labels!r:.80}")
    if labels.size == 0:
        raise ValueError(f"labels must not be empty; got shape {labels.shape!r}")
    test_fraction = _check_fraction("test_fraction", test_fraction)
    rng = as_rng(rng)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(test_fraction * len(members)))
        test.append(members[:n_test])
        train.append(members[n_test:])
    train, test = np.concatenate(train), np.concatenate(test)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"test_fraction={test_fraction!r} leaves an empty train or test set "
                         f"for {len(labels)} examples")
    return rng.permutation(train), rng.permutation(test)


def standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale each feature with the training set's mean and std only.

    Features that are constant on the training set (std 0, e.g. the digits' always-blank
    corner pixels) are only centred, not scaled, so no division by zero happens.  The
    test set never influences the statistics, so its features are only approximately
    standardized.

    Parameters
    ----------
    x_train : (n_train, n_features) ndarray
        Finite real values, at least one row; the statistics come from it alone.
    x_test : (n_test, n_features) ndarray
        Finite real values with the same features (``n_test`` may be 0).

    Returns
    -------
    x_train_standardized, x_test_standardized : floating ndarrays
        float64 for integer input; otherwise NumPy's promotion of the inputs' dtypes.

    Raises
    ------
    TypeError
        If an input is not a real ndarray.
    ValueError
        If an input is not 2-D, holds NaN or infinity, ``x_train`` has no rows, the two
        have different numbers of features, or the statistics exceed the float range.

    Warns
    -----
    SuspiciousInputWarning
        If ``x_train`` has a single row: every feature's std is 0, so nothing is scaled
        (an example passed where a data set was meant, or swapped axes).

    Examples
    --------
    >>> a, b = standardize(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    >>> a.tolist(), b.tolist()
    ([[-1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0]])
    """
    x_train = check_array("x_train", x_train, ndim=2)
    x_test = check_array("x_test", x_test, ndim=2, min_size=0)
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError(
            f"x_train and x_test must have the same number of features (columns); got shapes "
            f"{x_train.shape!r} and {x_test.shape!r}"
        )
    if x_train.shape[0] == 1:
        warn_suspicious("x_train has a single row, so every feature's std is 0 and nothing "
                        "is scaled; pass the whole training set, one example per row")
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise ValueError(
            "x_train's feature means and stds must be finite; with values up to "
            f"{float(np.abs(x_train).max())!r} they exceed the float range (rescale the data)"
        )
    std = np.where(std > 0, std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std


def _split_dataset(x, y, labels, test_fraction, rng, n_classes, name, dtype) -> Dataset:
    train, test = stratified_split(labels, test_fraction, rng)
    return Dataset(x[train].astype(dtype), y[train], x[test].astype(dtype), y[test],
                   n_classes, name)


# -- the loaders ------------------------------------------------------------------------------

def load_digits(*, test_fraction: float = 0.2, split_seed: int = 0, standardized: bool = True,
                dtype=np.float32, path=None) -> Dataset:
    """Load the 8x8 handwritten digits with a fixed stratified train/test split.

    Parameters
    ----------
    test_fraction : float in (0, 1), default 0.2
        Share of each class held out for testing (rounded per class).
    split_seed : int, default 0
        Seed of the split; the default gives the course's fixed split (1,438 train,
        359 test).
    standardized : bool, default True
        Standardize each pixel with the *training* set's mean and std
        (:func:`standardize`); otherwise return the raw values 0-16.
    dtype : floating dtype, default float32
    path : path-like, optional
        Another copy of ``digits.csv.gz`` (it must have the same SHA-256).

    Returns
    -------
    Dataset
        ``x`` of shape ``(n, 64)``, ``y`` int64 labels 0-9, ``n_classes=10``.

    Raises
    ------
    ChecksumError
        If the file's SHA-256 is not :data:`DIGITS_SHA256`.
    ValueError
        If ``test_fraction`` is outside (0, 1), ``split_seed`` negative, or ``path``
        empty or a folder.
    FileNotFoundError
        If no file exists at ``path``.

    Notes
    -----
    UCI Optical Recognition of Handwritten Digits, test part, as distributed with
    scikit-learn; E. Alpaydin and C. Kaynak, CC BY 4.0 (``kaiming_lib/datasets/README.md``).

    Examples
    --------
    >>> digits = load_digits()
    >>> digits.x_train.shape, digits.x_test.shape, digits.x_train.dtype
    ((1438, 64), (359, 64), dtype('float32'))
    >>> round(float(digits.x_train.mean()), 6), np.bincount(digits.y_test).tolist()
    (0.0, [36, 36, 35, 37, 36, 36, 36, 36, 35, 36])
    """
    test_fraction = _check_fraction("test_fraction", test_fraction)
    split_seed = check_int("split_seed", split_seed, minimum=0)
    dtype = check_float_dtype("dtype", dtype)
    if not isinstance(standardized, (bool, np.bool_)):
        raise TypeError(f"standardized must be True or False; got {standardized!r}")
    images, labels = read_digits_file(path)
    train, test = stratified_split(labels, test_fraction, split_seed)
    x_train, x_test = images[train].astype(np.float64), images[test].astype(np.float64)
    if standardized:
        x_train, x_test = standardize(x_train, x_test)
    return Dataset(x_train.astype(dtype), labels[train], x_test.astype(dtype), labels[test],
                   10, "digits")


def make_spirals(n_samples: int = 600, n_classes: int = 2, *, noise: float = 0.1,
                 n_turns: float = 1.0, test_fraction: float = 0.25, rng=None,
                 dtype=np.float32) -> Dataset:
    """Draw interleaved spiral arms in the plane, one arm per class.

    Point ``i`` of class ``k`` sits at radius ``r = t`` and angle
    ``2 pi (k / n_classes + n_turns * t)`` with ``t`` uniform in ``(0.05, 1)``, plus
    isotropic Gaussian noise of std ``noise``.

    Parameters
    ----------
    n_samples : int, default 600
        Total number of points (split as evenly as possible among the classes).
    n_classes : int, default 2
        Number of arms, from 2 to ``n_samples // 2`` (two points per arm at least).
    noise : float, default 0.1
        Std of the Gaussian noise added to each coordinate.
    n_turns : float, default 1.0
        How many full turns each arm makes; more turns make a harder problem.
    test_fraction : float in (0, 1), default 0.25
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32

    Returns
    -------
    Dataset
        ``x`` of shape ``(n, 2)`` with coordinates of order 1, ``y`` int64 labels.

    Raises
    ------
    TypeError
        If an argument has the wrong kind (the message names it).
    ValueError
        If an argument is out of range, ``n_classes > n_samples // 2``, or the data
        would need more than :data:`MAX_DATA_BYTES`.

    Examples
    --------
    >>> spirals = make_spirals(400, 3, rng=0)
    >>> spirals.x_train.shape, spirals.n_classes, np.bincount(spirals.y_test).tolist()
    ((300, 2), 3, [34, 33, 33])
    """
    n_samples = check_int("n_samples", n_samples, minimum=4)
    n_classes = check_int("n_classes", n_classes, minimum=2)
    noise = check_real("noise", noise, nonnegative=True)
    n_turns = check_real("n_turns", n_turns, positive=True)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    dtype, rng = check_float_dtype("dtype", dtype), as_rng(rng)
    if n_classes > n_samples // 2:
        raise ValueError(f"n_classes must be at most n_samples // 2 = {n_samples // 2}, so "
                         f"that every arm has at least two points; got n_classes={n_classes} "
                         f"for n_samples={n_samples}")
    _check_data_bytes(f"n_samples={n_samples}", 2 * 8 * n_samples * 6)   # float64 columns
    labels = np.arange(n_samples) % n_classes
    t = rng.uniform(0.05, 1.0, size=n_samples)
    angle = 2 * math.pi * (labels / n_classes + n_turns * t)
    x = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x += rng.normal(0.0, noise, size=x.shape)
    return _split_dataset(x, labels, labels, test_fraction, rng, n_classes,
                          f"spirals ({n_classes} arms)", dtype)


def _check_data_bytes(arguments: str, n_bytes: int) -> None:
    """Refuse a synthetic data set whose arrays would need more than MAX_DATA_BYTES."""
    if n_bytes > MAX_DATA_BYTES:
        raise ValueError(f"{arguments} needs about {n_bytes / 2**30:.3g} GiB to generate; "
                         f"the limit is MAX_DATA_BYTES = {MAX_DATA_BYTES / 2**30:g} GiB")


def _teacher_bytes(n_samples: int, n_features: int, hidden_sizes, n_outputs: int,
                   itemsize: int) -> int:
    """Estimate the peak memory of :func:`make_teacher`, in bytes.

    The float64 inputs ``x`` (``n * n_features``) live throughout; on top of them the
    largest of these stages: a hidden layer (its input activation, its weight
    ``n_l * n_(l-1)``, and ``h @ W.T`` with its ReLU, ``2 * n * n_l``), the output
    layer (last activation, weight, the outputs and two temporaries while they are
    standardized) and the split (a float64 copy of the training inputs and its cast).
    """
    widths = [n_features, *hidden_sizes]
    stages = [(n_samples * widths[l] if l else 0) + width * widths[l] + 2 * n_samples * width
              for l, width in enumerate(hidden_sizes)]
    stages.append((n_samples * widths[-1] if hidden_sizes else 0) + n_outputs * widths[-1]
                  + 3 * n_samples * n_outputs)
    split = n_samples * n_features * (8 + itemsize) + n_samples * n_outputs * 8
    return 8 * (n_samples * n_features + max(stages)) + split


def _standardize_outputs(out: np.ndarray) -> np.ndarray:
    """Shift and scale each column to mean 0 and std 1 (a column of zeros stays 0)."""
    std = out.std(axis=0)
    return (out - out.mean(axis=0)) / np.where(std > 0, std, 1.0)


def make_teacher(n_samples: int = 2000, n_features: int = 20, n_outputs: int = 10, *,
                 hidden_sizes=(64, 64), task: Literal["classification", "regression"] =
                 "classification", test_fraction: float = 0.2, rng=None,
                 dtype=np.float32) -> Dataset:
    """Generate inputs and let a random ReLU network (the teacher) label them.

    Inputs are standard normal.  The teacher has Kaiming-normal weights (fan_in, gain
    sqrt(2)) and zero biases on its hidden layers, and LeCun-variance output weights
    (1 / fan_in) followed by a per-output shift and scale that give every output mean 0
    and std 1 over the drawn inputs.  For classification the label is the arg-max of
    the outputs; for regression the outputs themselves are the targets.  A student
    network of enough capacity can fit the teacher exactly, so the achievable loss is
    known (zero error).

    The shift matters for classification: ReLU features are non-negative, so without it
    the output layer adds a large constant to a few outputs and a handful of classes
    take most of the examples (some get none).  With it, the classes are roughly
    balanced, not exactly.

    Parameters
    ----------
    n_samples : int, default 2000
    n_features : int, default 20
    n_outputs : int, default 10
        Classes (classification, at least 2) or target dimensions (regression).
    hidden_sizes : sequence of int, default (64, 64)
        Widths of the teacher's hidden ReLU layers (may be empty: a linear teacher).
    task : {'classification', 'regression'}
    test_fraction : float in (0, 1), default 0.2
    rng : None, int or numpy.random.Generator
    dtype : floating dtype, default float32

    Returns
    -------
    Dataset
        Classification: int64 labels; the split is stratified.  Regression: float targets
        of shape ``(n, n_outputs)`` and ``n_classes=0``; the split is random.

    Raises
    ------
    TypeError
        If an argument has the wrong kind (the message names it).
    ValueError
        If an argument is out of range, or generating would need more than
        :data:`MAX_DATA_BYTES` (estimated before anything is drawn from the float64
        inputs, each hidden activation and weight ``n_l * n_(l-1)``, the outputs and
        the split's copies).

    Examples
    --------
    >>> teacher = make_teacher(1000, 8, 4, rng=0)
    >>> teacher.x_train.shape, teacher.n_classes, int(teacher.y_train.max())
    ((800, 8), 4, 3)
    >>> make_teacher(100, 3, 2, task="regression", rng=0).y_test.shape
    (20, 2)
    """
    n_samples = check_int("n_samples", n_samples, minimum=2)
    n_features = check_int("n_features", n_features, minimum=1)
    task = check_choice("task", task, ("classification", "regression"))
    n_outputs = check_int("n_outputs", n_outputs, minimum=2 if task == "classification" else 1)
    if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes,
                                                                 (Sequence, np.ndarray)):
        raise TypeError(f"hidden_sizes must be a sequence of positive integers (may be "
                        f"empty); got {hidden_sizes!r}")
    hidden_sizes = [check_int("hidden_sizes entry", h, minimum=1) for h in hidden_sizes]
    test_fraction = _check_fraction("test_fraction", test_fraction)
    dtype, rng = check_float_dtype("dtype", dtype), as_rng(rng)
    _check_data_bytes(
        f"n_samples={n_samples}, n_features={n_features}, hidden_sizes={hidden_sizes}, "
        f"n_outputs={n_outputs}",
        _teacher_bytes(n_samples, n_features, hidden_sizes, n_outputs, dtype.itemsize))
    x = rng.standard_normal((n_samples, n_features))
    h = x
    for width in hidden_sizes:
        w = rng.normal(0.0, math.sqrt(2.0 / h.shape[1]), size=(width, h.shape[1]))
        h = np.maximum(h @ w.T, 0.0)
    out = h @ rng.normal(0.0, math.sqrt(1.0 / h.shape[1]), size=(n_outputs, h.shape[1])).T
    out = _standardize_outputs(out)
    if task == "regression":
        strata = np.zeros(n_samples, dtype=np.int64)
        return _split_dataset(x, out.astype(dtype), strata, test_fraction, rng, 0,
                              "teacher regression", dtype)
    labels = out.argmax(axis=1).astype(np.int64)
    return _split_dataset(x, labels, labels, test_fraction, rng, n_outputs,
                          "teacher classification", dtype)
