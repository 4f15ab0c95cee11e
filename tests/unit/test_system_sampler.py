"""System metrics: the sampler with a fake clock and probe, and real samples stored as
``system/...`` series apart from the run's steps."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

import runwatch
from runwatch.system.sampler import Sampler


def test_tick_emits_a_sample_stamped_by_the_clock():
    got = []
    clock = iter([100.0, 110.0]).__next__
    s = Sampler(10.0, lambda step, ts, sample: got.append((step, ts, sample)),
                probe=lambda: {"system/cpu": 12.5}, clock=clock)
    s.tick()
    s.tick()
    assert got == [(100_000, 100.0, {"system/cpu": 12.5}), (110_000, 110.0, {"system/cpu": 12.5})]


def test_the_thread_samples_every_interval_and_survives_a_failing_probe():
    got = []
    calls = {"n": 0}

    def probe():
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("sensor gone")
        return {"system/x": float(calls["n"])}

    s = Sampler(0.02, lambda step, ts, sample: got.append(sample), probe=probe)
    s.start()
    deadline = time.time() + 10
    while len(got) < 3 and time.time() < deadline:
        time.sleep(0.01)
    s.stop()
    assert len(got) >= 3 and {"system/x": 2.0} not in got  # the failed sample is skipped
    n = len(got)
    time.sleep(0.1)
    assert len(got) == n  # stopped means stopped


def test_real_samples_are_stored_apart_from_the_run_steps(store_dir: Path):
    run = runwatch.init(project="sys", settings={"system_interval": 0.05})
    for i in range(10):
        run.log({"loss": 1.0 / (i + 1)})
        time.sleep(0.03)
    run.finish()
    api = runwatch.Api(dir=store_dir)
    try:
        stored = api.run(f"sys/{run.id}")
        keys = set(stored.keys())
        assert {"system/cpu", "system/cpu_system", "system/proc.memory.rss_mb",
                "system/memory_percent"} <= keys
        assert stored.last_step == 9  # samples do not move the run's step
        assert "system/cpu" not in stored.history(pandas=False)[0]
        rss = [r for r in stored.scan_history()]
        assert len(rss) == 10
        system = stored.history(pandas=False, stream="system")
        assert len(system) >= 2 and "loss" not in system[0]
        assert all(r["system/proc.memory.rss_mb"] > 0 for r in system)
        stamps = [r["_timestamp"] for r in system]
        assert stamps == sorted(stamps) and run.start_time - 1 <= stamps[0]
        assert [r["_step"] for r in system] == [int(t * 1000) for t in stamps]
        with pytest.raises(runwatch.errors.UsageError, match="'gpu'.*default, system"):
            stored.history(stream="gpu")
    finally:
        api.close()


def test_off_with_zero_and_user_keys_cannot_take_the_prefix(store_dir: Path):
    run = runwatch.init(project="sys", settings={"system_interval": 0})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log({"system/cpu": 5.0, "loss": 1.0})
        run.finish()
    assert any("system/" in str(w.message) for w in caught)
    api = runwatch.Api(dir=store_dir)
    try:
        assert set(api.run(f"sys/{run.id}").keys()) == {"loss"}
    finally:
        api.close()


@pytest.mark.parametrize("bad", ["-1", "soon"])
def test_a_bad_interval_is_refused(store_dir: Path, monkeypatch: pytest.MonkeyPatch, bad: str):
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", bad)
    with pytest.raises(Exception, match="RUNWATCH_SYSTEM_INTERVAL"):
        runwatch.init(project="sys")
