"""run.config and run.summary, with wandb's semantics, persisted in the store."""

from __future__ import annotations

import argparse
import math

import pytest

import runwatch
from runwatch.errors import ConfigError, UsageError


def stored(api, run):
    return api.run(f"{run.project}/{run.id}")


def test_config_attribute_and_key_access(api):
    run = runwatch.init(project="p", config={"lr": 0.1, "model": {"layers": 3}})
    assert runwatch.config.lr == 0.1
    assert run.config["model"] == {"layers": 3}
    run.config.batch = 32
    run.config["epochs"] = 2
    run.config.update({"wd": 1e-5})
    assert run.config.as_dict() == {"lr": 0.1, "model": {"layers": 3}, "batch": 32, "epochs": 2,
                                    "wd": 1e-5}
    with pytest.raises(AttributeError):
        run.config.missing  # noqa: B018
    run.finish()
    assert stored(api, run).config == {"lr": 0.1, "model": {"layers": 3}, "batch": 32,
                                       "epochs": 2, "wd": 1e-5}


def test_config_change_needs_allow_val_change(api):
    run = runwatch.init(project="p", config={"lr": 0.1})
    run.config.lr = 0.1  # same value: fine
    with pytest.raises(ConfigError, match="allow_val_change"):
        run.config.lr = 0.2
    with pytest.raises(ConfigError):
        run.config.update({"lr": 0.3})
    run.config.update({"lr": 0.3}, allow_val_change=True)
    assert run.config.lr == 0.3
    run.finish()
    assert stored(api, run).config == {"lr": 0.3}


def test_config_from_argparse_namespace(api):
    ns = argparse.Namespace(lr=0.01, epochs=3)
    run = runwatch.init(project="p", config=ns)
    assert run.config.epochs == 3
    run.finish()
    assert stored(api, run).config == {"lr": 0.01, "epochs": 3}


def test_config_include_exclude_keys(api):
    run = runwatch.init(project="p", config={"a": 1, "b": 2, "c": 3}, config_exclude_keys=["b"])
    assert run.config.keys() == ["a", "c"]
    run.finish()


def test_config_with_nonfinite_values_round_trips(api):
    run = runwatch.init(project="p", config={"x": math.inf, "y": [math.nan, 1]})
    run.finish()
    cfg = stored(api, run).config
    assert cfg["x"] == math.inf and math.isnan(cfg["y"][0]) and cfg["y"][1] == 1


def test_summary_defaults_to_last_value(api):
    run = runwatch.init(project="p")
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "name": f"s{i}"})
    assert run.summary["loss"] == 0.2
    assert runwatch.summary["name"] == "s4"
    run.finish()
    assert stored(api, run).summary == {"loss": 0.2, "name": "s4"}


def test_summary_assignment_wins_over_logged_values(api):
    run = runwatch.init(project="p")
    run.log({"acc": 0.5})
    run.summary["acc"] = 0.99
    run.log({"acc": 0.6})
    run.summary["best"] = {"epoch": 3}
    run.summary.update({"note": "<b>x</b>"})
    assert run.summary["acc"] == 0.99
    run.finish()
    assert stored(api, run).summary == {"acc": 0.99, "best": {"epoch": 3}, "note": "<b>x</b>"}


def test_summary_delete(api):
    run = runwatch.init(project="p")
    run.log({"a": 1, "b": 2})
    run.flush()
    del run.summary["a"]
    with pytest.raises(KeyError):
        del run.summary["zzz"]
    run.finish()
    assert stored(api, run).summary == {"b": 2}


def test_define_metric_summary_ops(api):
    run = runwatch.init(project="p")
    runwatch.define_metric("loss", summary="min")
    run.define_metric("acc", summary="max,mean,first,last")
    run.define_metric("hidden_one", summary="none")
    for v in (3.0, 1.0, 2.0):
        run.log({"loss": v, "acc": v, "hidden_one": v})
    assert run.summary["loss"] == {"min": 1.0}
    assert run.summary["acc"] == {"max": 3.0, "mean": 2.0, "first": 3.0, "last": 2.0}
    assert "hidden_one" not in run.summary
    run.finish()
    summary = stored(api, run).summary
    assert summary == {"loss": {"min": 1.0}, "acc": {"max": 3.0, "mean": 2.0, "first": 3.0,
                                                     "last": 2.0}}


def test_define_metric_glob_and_exact_precedence(api):
    run = runwatch.init(project="p")
    run.define_metric("train/*", summary="max")
    run.define_metric("train/loss", summary="min")
    run.log({"train/loss": 2.0, "train/acc": 0.1, "val/loss": 5.0})
    run.log({"train/loss": 1.0, "train/acc": 0.3, "val/loss": 4.0})
    assert run.summary["train/loss"] == {"min": 1.0}
    assert run.summary["train/acc"] == {"max": 0.3}
    assert run.summary["val/loss"] == 4.0
    run.finish()


def test_define_metric_min_ignores_nan(api):
    run = runwatch.init(project="p")
    run.define_metric("loss", summary="min,max")
    for v in (2.0, math.nan, 1.0):
        run.log({"loss": v})
    assert run.summary["loss"] == {"min": 1.0, "max": 2.0}
    run.finish()


def test_define_metric_bad_input():
    run = runwatch.init(project="p")
    with pytest.raises(UsageError, match="only allowed at the end"):
        run.define_metric("a*b")
    with pytest.raises(UsageError, match="Unknown summary op"):
        run.define_metric("a", summary="median")
    with pytest.raises(UsageError, match="goal"):
        run.define_metric("a", summary="best")
    run.finish()


def test_define_metric_step_metric_and_hidden_are_stored(api):
    run = runwatch.init(project="p")
    run.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("debug", hidden=True)
    run.log({"epoch": 0})
    run.log({"val/acc": 0.5})  # step_sync copies the last epoch into this row
    run.finish()
    defs = {d["name"]: d for d in stored(api, run).metric_definitions}
    assert defs["val/*"]["step_metric"] == "epoch"
    assert defs["debug"]["hidden"] is True
    rows = list(stored(api, run).scan_history(keys=["val/acc", "epoch"]))
    assert rows == [{**rows[0], "_step": 1, "val/acc": 0.5, "epoch": 0}]


def test_summary_nan_and_inf_persist(api):
    run = runwatch.init(project="p")
    run.log({"a": math.nan, "b": -math.inf})
    run.finish()
    s = stored(api, run).summary
    assert math.isnan(s["a"]) and s["b"] == -math.inf
