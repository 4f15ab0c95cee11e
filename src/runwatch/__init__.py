"""runwatch: wandb's API, an embedded store on your disk, a local dashboard.

``import runwatch as wandb`` and the wandb tutorial runs unchanged. Importing
this package loads only the SDK; numpy, pandas and SQLAlchemy load when first
needed.
"""

from __future__ import annotations

from typing import Any

from runwatch.errors import ConfigError, RunwatchError, RunwatchWarning, UsageError
from runwatch.sdk.alerts import AlertLevel
from runwatch.sdk.config import Config
from runwatch.sdk.init import (
    _preinit_config,
    _preinit_summary,
    alert,
    define_metric,
    finish,
    init,
    link_model,
    log,
    log_artifact,
    log_model,
    login,
    use_artifact,
    use_model,
)
from runwatch.sdk.run import Run
from runwatch.settings import Settings

__version__ = "0.1.0"

run: Run | None = None
config: Any = _preinit_config
summary: Any = _preinit_summary

__all__ = [
    "AlertLevel",
    "Api",
    "Config",
    "ConfigError",
    "Run",
    "RunwatchError",
    "RunwatchWarning",
    "Settings",
    "UsageError",
    "__version__",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "login",
    "run",
    "summary",
    "use_artifact",
    "log_artifact",
    "log_model",
    "use_model",
    "link_model",
    "alert",
    "Artifact",
    "Table",
    "Image",
    "Histogram",
    "plot",
]


_LAZY = {
    "Api": ("runwatch.api", "Api"),
    "Artifact": ("runwatch.data.artifact", "Artifact"),
    "Table": ("runwatch.data.table", "Table"),
    "Image": ("runwatch.data.image", "Image"),
    "Histogram": ("runwatch.data.histogram", "Histogram"),
    "plot": ("runwatch.data.plot", None),
}


def __getattr__(name: str) -> Any:
    # These pull in SQLAlchemy, numpy, pandas or Pillow: load them only when asked for.
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'runwatch' has no attribute {name!r}")
