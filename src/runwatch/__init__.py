"""runwatch: wandb's API, an embedded store on your disk, a local dashboard.

``import runwatch as wandb`` and the wandb tutorial runs unchanged. Importing
this package loads only the SDK; numpy, pandas and SQLAlchemy load when first
needed.
"""

from __future__ import annotations

from typing import Any

from runwatch.errors import ConfigError, RunwatchError, RunwatchWarning, UsageError
from runwatch.sdk.config import Config
from runwatch.sdk.init import (
    _preinit_config,
    _preinit_summary,
    define_metric,
    finish,
    init,
    log,
    login,
)
from runwatch.sdk.run import Run
from runwatch.settings import Settings

__version__ = "0.1.0"

run: Run | None = None
config: Any = _preinit_config
summary: Any = _preinit_summary

__all__ = [
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
]


def __getattr__(name: str) -> Any:
    # The read API pulls in SQLAlchemy and pandas: load it only when asked for.
    if name == "Api":
        from runwatch.api import Api

        return Api
    raise AttributeError(f"module 'runwatch' has no attribute {name!r}")
