"""System metrics, sampled on a background thread while a run is open.

Every ``interval`` seconds: CPU (this process and the system), this process's RSS,
system memory, disk usage and I/O, network I/O and, when NVML finds NVIDIA GPUs,
each GPU's utilisation, memory, temperature and power. Keys are ``system/...``; each
sample is stamped with the wall clock, and its "step" is the time in milliseconds, so
system series never touch the run's own step.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

Sample = dict[str, float]


class _Probe:
    """psutil (and NVML) handles kept between samples; counters start at zero."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.proc = psutil.Process(os.getpid())
        self.proc.cpu_percent(None)
        psutil.cpu_percent(None)
        self.cores = psutil.cpu_count() or 1
        self.disk0 = psutil.disk_io_counters()
        self.net0 = psutil.net_io_counters()
        self.path = os.getcwd()
        self.gpus = _nvml_handles()

    def sample(self) -> Sample:
        ps = self.psutil
        out: Sample = {
            "system/cpu": self.proc.cpu_percent(None) / self.cores,
            "system/cpu_system": ps.cpu_percent(None),
            "system/proc.memory.rss_mb": self.proc.memory_info().rss / 2**20,
            "system/memory_percent": ps.virtual_memory().percent,
        }
        try:
            out["system/disk.percent"] = ps.disk_usage(self.path).percent
        except OSError:
            pass
        disk = ps.disk_io_counters()
        if disk is not None and self.disk0 is not None:
            out["system/disk.read_mb"] = (disk.read_bytes - self.disk0.read_bytes) / 2**20
            out["system/disk.write_mb"] = (disk.write_bytes - self.disk0.write_bytes) / 2**20
        net = ps.net_io_counters()
        if net is not None and self.net0 is not None:
            out["system/network.sent_mb"] = (net.bytes_sent - self.net0.bytes_sent) / 2**20
            out["system/network.recv_mb"] = (net.bytes_recv - self.net0.bytes_recv) / 2**20
        for i, handle in enumerate(self.gpus):
            out.update(_gpu_sample(i, handle))
        return out


def _nvml_handles() -> list[Any]:
    """NVML device handles, or none: no nvidia-ml-py, no driver or no GPU is normal."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
        return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # noqa: BLE001 - any NVML failure means: no GPU metrics
        return []


def _gpu_sample(i: int, handle: Any) -> Sample:
    import pynvml

    out: Sample = {}
    probes: list[tuple[str, Callable[[], float]]] = [
        ("gpu", lambda: pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
        ("memory_used_mb", lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).used / 2**20),
        ("temp", lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
        ("power_watts", lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000),
    ]
    for name, read in probes:
        try:
            out[f"system/gpu.{i}.{name}"] = float(read())
        except Exception:  # noqa: BLE001, S112 - a GPU without that sensor
            continue
    return out


class Sampler:
    """Calls ``emit(step_ms, time, sample)`` every ``interval`` seconds until stopped.
    ``probe``, ``clock`` and ``wait`` are replaceable for tests."""

    def __init__(self, interval: float, emit: Callable[[int, float, Sample], None],
                 probe: Callable[[], Sample] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.interval = interval
        self.emit = emit
        self._probe = probe
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runwatch-system", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def tick(self) -> None:
        """Take and emit one sample now."""
        if self._probe is None:
            self._probe = _Probe().sample
        now = self.clock()
        self.emit(int(now * 1000), now, self._probe())

    def _loop(self) -> None:
        try:
            if self._probe is None:
                self._probe = _Probe().sample  # primes the CPU counters
        except Exception:  # noqa: BLE001 - no psutil access: no system metrics, no failure
            return
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one failed sample never stops training
                continue
