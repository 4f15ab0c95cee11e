#!/usr/bin/env python3
"""Regenerate the README's dashboard screenshots (docs/images/*.png).

Builds a store with a small learning-rate sweep (three learning rates x two seeds,
one failed run), serves it with `runwatch server`, and photographs the workspace and a
run page in Debian's Chromium:

    python scripts/screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        build(store)
        server = subprocess.Popen([sys.executable, "-c", "from runwatch.cli import main; main()",
                                  "server", "--port", "0", "--dir", str(store)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            url = line.split(" at ")[1].split()[0]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
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
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    print(f"wrote {args.out / 'workspace.png'} and {args.out / 'run.png'}")


if __name__ == "__main__":
    main()
