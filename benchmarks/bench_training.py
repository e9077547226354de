"""Benchmark one training epoch of ``kaiming_lib.mlp`` against PyTorch and bare matmuls.

Two networks, each trained for one epoch with SGD and momentum (float32, on the CPU):

- 30 ReLU layers of width 128, batch 128, on the 8x8 digits (64 inputs, 10 classes);
- 10 ReLU layers of width 1024, batch 256, on 4,096 synthetic teacher examples.

For each, these are timed side by side in one run, interleaved, several times: the NumPy
trainer (:func:`kaiming_lib.mlp.train_epoch`), the same network in PyTorch (same weights,
shapes, batch size, shuffling per epoch), the matrix products alone (the forward and
backward matmuls of the same shapes, into preallocated arrays), and the bare loop: those
products with the elementwise passes a NumPy trainer has to make between them (add the
bias, ReLU, multiply by the ReLU mask, the bias gradient, the SGD step), each in its
cheapest NumPy form, with no loss, no shuffling, no mask to compute and no checks.  The
bare loop shows what the goal on the matmuls asks of NumPy: where the bare loop is
already above 1.25x its matmuls, a trainer that makes these passes cannot meet it, and
where PyTorch is faster than the bare loop, such a trainer cannot be as fast as PyTorch.
(It bounds trainers built like this one, not every possible trainer: folding the learning
rate into the output gradient, for one, would save one of the SGD step's four passes.)
(Folding the bias into the products with a column of ones saves two passes but makes
every product one column wider and was slower.)  Each timed epoch follows a short idle
pause, and the median over repetitions of the per-repetition ratio is reported.
Everything runs twice: with one thread, and with every thread NumPy's BLAS starts with
(OpenBLAS, PyTorch's ``set_num_threads`` and the trainer's optimizer threads all set to
the same count).  Goals, at each thread count:

- goal: PyTorch / NumPy >= 1.2 on the first network and >= 1.0 on the second;
- goal: NumPy / matmuls alone <= 1.25 (the trainer adds at most 25 % to its matmuls).

Run ``python benchmarks/bench_training.py`` for the table; ``run()`` returns its rows.
PyTorch rows are skipped (``met`` is None) when torch is not installed.
"""

import ctypes
import glob
import os
import sys
import time

import numpy as np

from kaiming_lib.data import load_digits, make_teacher
from kaiming_lib import mlp
from kaiming_lib.mlp import SGD, _n_parameters, _parameter_views, init_mlp, train_epoch

LEARNING_RATE, MOMENTUM = 0.01, 0.9
CONFIGS = [
    {"name": "30 layers x 128, batch 128, digits", "depth": 30, "width": 128,
     "batch": 128, "data": "digits", "repeats": 9, "torch_goal": 1.2},
    {"name": "10 layers x 1024, batch 256, synthetic", "depth": 10, "width": 1024,
     "batch": 256, "data": "teacher", "repeats": 9, "torch_goal": 1.0},
]
MATMUL_GOAL = 1.25
PAUSE = 0.3  # seconds of idle time before each timed epoch


def _openblas(name: str):
    """Return the function ``scipy_openblas_<name>`` of NumPy's OpenBLAS, or None."""
    import numpy

    for path in glob.glob(os.path.join(os.path.dirname(numpy.__file__) + ".libs",
                                       "*openblas*")):
        lib = ctypes.CDLL(path)
        for suffix in ("64_", ""):
            function = getattr(lib, f"scipy_openblas_{name}{suffix}", None)
            if function is not None:
                return function
    return None


def blas_info() -> dict:
    """Return NumPy's OpenBLAS thread count and kernel name (None where unknown)."""
    threads, corename = _openblas("get_num_threads"), _openblas("get_corename")
    if threads is None or corename is None:
        return {"threads": os.cpu_count(), "kernel": None}
    corename.restype = ctypes.c_char_p
    return {"threads": int(threads()), "kernel": corename().decode()}


def make_data(config):
    """Return float32 inputs and int64 labels for a configuration."""
    if config["data"] == "digits":
        digits = load_digits()
        return digits.x_train, digits.y_train
    teacher = make_teacher(5120, config["width"], 10, test_fraction=0.2, rng=0)
    return teacher.x_train, teacher.y_train


def layer_sizes(config, n_in):
    return [n_in] + [config["width"]] * (config["depth"] - 1) + [10]


def numpy_epoch(net, optimizer, x, y, batch, seed):
    train_epoch(net, optimizer, x, y, batch_size=batch, rng=seed)


def set_threads(threads: int) -> None:
    """Use ``threads`` threads in OpenBLAS, in PyTorch (if installed) and in the trainer."""
    setter = _openblas("set_num_threads")
    if setter is not None:
        setter(ctypes.c_int(threads))
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    mlp._N_THREADS, mlp._POOL = threads, None


def build_torch(net):
    """Return (model, optimizer, loss) in PyTorch with ``net``'s weights, or None."""
    try:
        import torch
    except ImportError:
        return None
    layers = []
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(linear)
        if l < len(net.weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    return model, optimizer, torch.nn.CrossEntropyLoss()


def torch_epoch(parts, x, y, batch, seed):
    import torch

    model, optimizer, loss_fn = parts
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    x, y = x[order], y[order]
    for start in range(0, len(x), batch):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[start:start + batch]), y[start:start + batch])
        loss.backward()
        optimizer.step()


def matmul_buffers(sizes, n, batch):
    """Preallocate every array the bare matmuls of one epoch read and write."""
    batches = [min(batch, n - s) for s in range(0, n, batch)]
    rng = np.random.default_rng(0)
    # Scaled by 1/sqrt(in), so that values stay near 1 along the chain of products: with
    # 0.01 per weight they fell to 1e-27 by layer 30, and the backward products, which
    # multiply two such values, underflowed and ran 4 % slower at one thread.
    weights = [rng.standard_normal((o, i), dtype=np.float32) * np.float32(1 / np.sqrt(i))
               for i, o in zip(sizes[:-1], sizes[1:])]
    grads = [np.empty_like(w) for w in weights]
    acts = {b: [rng.standard_normal((b, s), dtype=np.float32) for s in sizes] for b in set(batches)}
    deltas = {b: [np.empty((b, s), dtype=np.float32) for s in sizes] for b in set(batches)}
    return batches, weights, grads, acts, deltas


def matmul_epoch(buffers):
    """Forward ``a W^T``, backward ``delta^T a`` and ``delta W`` for every layer and step."""
    batches, weights, grads, acts, deltas = buffers
    for b in batches:
        a, d = acts[b], deltas[b]
        for l, w in enumerate(weights):
            np.matmul(a[l], w.T, out=a[l + 1])
        for l in range(len(weights) - 1, -1, -1):
            np.matmul(a[l + 1].T, a[l], out=grads[l])     # delta_l^T x_{l-1}, same shapes
            if l > 0:
                np.matmul(a[l + 1], weights[l], out=d[l])


def bare_buffers(sizes, n, batch):
    """The matmul buffers, plus what the bare loop's elementwise passes read and write:
    one zeros and one mask array per width (as the trainer's workspace keeps them), and
    gradients laid out as the trainer lays them out, in one flat array that the products
    write into and SGD reads, and a flat parameter array for SGD to update.  The biases
    the forward pass adds are kept apart, at zero: SGD on these stand-in gradients would
    otherwise drive every unit dead.  The values mean nothing (with ReLU and weights of
    scale 1/sqrt(in) their RMS falls from 0.7 to 4e-5 over 30 layers), but none is
    subnormal, which would change the cost of the arithmetic."""
    batches, weights, _, acts, deltas = matmul_buffers(sizes, n, batch)
    n_params = _n_parameters(sizes)
    # Written in full, so that no page is the system's shared page of zeros (reading one
    # costs no memory traffic, which would flatter the SGD step).
    params = np.random.default_rng(1).standard_normal(n_params, dtype=np.float32)
    grads = np.random.default_rng(2).standard_normal(n_params, dtype=np.float32)
    weight_grads, bias_grads = _parameter_views(grads, sizes)
    return {"matmuls": (batches, weights, weight_grads, acts, deltas),
            "zeros": {s: np.zeros((batch, s), np.float32) for s in set(sizes)},
            "masks": {s: np.ones((batch, s), np.float32) for s in set(sizes)},
            "biases": [np.zeros(s, np.float32) for s in sizes[1:]], "bias_grads": bias_grads,
            "ones": np.ones(max(batches), np.float32),
            "params": params, "grads": grads, "optimizer": SGD(LEARNING_RATE, MOMENTUM)}


def bare_epoch(buffers):
    """The matmuls of :func:`matmul_epoch` with the elementwise passes between them."""
    batches, weights, grads, acts, deltas = buffers["matmuls"]
    biases, bias_grads = buffers["biases"], buffers["bias_grads"]
    last = len(weights) - 1
    for b in batches:
        a, d, ones = acts[b], deltas[b], buffers["ones"][:b]
        for l, w in enumerate(weights):
            z = np.matmul(a[l], w.T, out=a[l + 1])
            z += biases[l]
            if l < last:
                np.maximum(z, buffers["zeros"][z.shape[1]][:b], out=z)
        for l in range(last, -1, -1):
            np.matmul(a[l + 1].T, a[l], out=grads[l])
            np.matmul(ones, a[l + 1], out=bias_grads[l])
            if l > 0:
                delta = np.matmul(a[l + 1], weights[l], out=d[l])
                delta *= buffers["masks"][delta.shape[1]][:b]
        buffers["optimizer"].step(buffers["params"], buffers["grads"])


def _seconds(fn, *args):
    # Idle first: OpenBLAS and OpenMP worker threads spin for a while after their last
    # job, and on two cores a spinning thread of one library slows the next one down.
    time.sleep(PAUSE)
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def measure(config, threads) -> dict:
    """Per-repetition seconds per epoch: NumPy trainer, PyTorch (or None), matmuls alone
    and the bare loop."""
    x, y = make_data(config)
    net = init_mlp(layer_sizes(config, x.shape[1]), "kaiming_normal", rng=0)
    optimizer = SGD(LEARNING_RATE, MOMENTUM)
    parts = build_torch(net)
    if parts is not None:
        import torch
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    sizes = layer_sizes(config, x.shape[1])
    buffers = matmul_buffers(sizes, len(x), config["batch"])
    bare = bare_buffers(sizes, len(x), config["batch"])
    times = {"numpy": [], "torch": [], "matmul": [], "bare": []}
    for rep in range(config["repeats"] + 1):      # repetition 0 warms up and is dropped
        sample = {"numpy": _seconds(numpy_epoch, net, optimizer, x, y, config["batch"], rep),
                  "matmul": _seconds(matmul_epoch, buffers),
                  "bare": _seconds(bare_epoch, bare)}
        if parts is not None:
            sample["torch"] = _seconds(torch_epoch, parts, tx, ty, config["batch"], rep)
        for key, value in sample.items():
            if rep:
                times[key].append(value)
    return {key: np.array(v) if v else None for key, v in times.items()}


def _median_ratio(numerator, denominator) -> float:
    """Median over repetitions of the ratio of two times measured in the same repetition."""
    return float(np.median(numerator / denominator))


def run() -> list[dict]:
    """Measure both networks at 1 and at all threads; return rows {benchmark, measured,
    goal, unit, met}."""
    full = blas_info()["threads"]
    rows = []
    for threads in sorted({1, full}):
        set_threads(threads)
        rows += _rows(threads)
    set_threads(full)
    return rows


def _rows(threads) -> list[dict]:
    rows = []
    for config in CONFIGS:
        config = dict(config, name=f"{config['name']}, {threads} thread"
                      + ("s" if threads > 1 else ""))
        t = measure(config, threads)
        if t["torch"] is None:
            rows.append({"benchmark": f"{config['name']}: PyTorch / NumPy epoch time "
                         "(skipped: torch is not installed)", "measured": float("nan"),
                         "goal": f">= {config['torch_goal']}", "unit": "x", "met": None})
        else:
            ratio = _median_ratio(t["torch"], t["numpy"])
            rows.append({"benchmark": f"{config['name']}: PyTorch / NumPy epoch time",
                         "measured": round(ratio, 2), "goal": f">= {config['torch_goal']}",
                         "unit": "x", "met": bool(ratio >= config["torch_goal"])})
        ratio = _median_ratio(t["numpy"], t["matmul"])
        rows.append({"benchmark": f"{config['name']}: NumPy epoch / its matmuls alone",
                     "measured": round(ratio, 2), "goal": f"<= {MATMUL_GOAL}", "unit": "x",
                     "met": bool(ratio <= MATMUL_GOAL)})
        # What the goals ask of NumPy itself (reported, no goal of their own): a trainer
        # cannot beat the bare loop, so where the bare loop misses a goal, so must it.
        for key, other, label in (("bare", "matmul", "bare loop / its matmuls alone"),
                                  ("torch", "bare", "PyTorch epoch / bare loop"),
                                  ("numpy", "bare", "NumPy epoch / bare loop")):
            if t[key] is not None:
                rows.append({"benchmark": f"{config['name']}: {label}",
                             "measured": round(_median_ratio(t[key], t[other]), 2),
                             "goal": "-", "unit": "x", "met": None})
        for key, label in (("numpy", "NumPy"), ("torch", "PyTorch"), ("matmul", "matmuls"),
                           ("bare", "bare loop")):
            if t[key] is not None:
                rows.append({"benchmark": f"{config['name']}: {label} epoch (median)",
                             "measured": round(float(np.median(t[key])) * 1e3, 1),
                             "goal": "-", "unit": "ms", "met": None})
    return rows


def main() -> int:
    info = blas_info()
    print(f"NumPy {np.__version__}, OpenBLAS kernel {info['kernel']}, {info['threads']} BLAS "
          f"threads; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    try:
        import torch
        print(f"PyTorch {torch.__version__}; torch.set_num_threads as NumPy's BLAS")
    except ImportError:
        print("PyTorch is not installed: its rows are skipped")
    rows = run()
    width = max(len(r["benchmark"]) for r in rows)
    for r in rows:
        met = {True: "met", False: "NOT MET", None: ""}[r["met"]]
        print(f"{r['benchmark']:<{width}}  {r['measured']:>8} {r['unit']:<2}  "
              f"goal {r['goal']:<7} {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
