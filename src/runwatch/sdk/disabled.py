"""``mode="disabled"``: a run whose every call is a near-free no-op.

Config and summary still behave as dicts so code that reads them keeps working.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from runwatch.errors import UsageError
from runwatch.sdk.config import Config
from runwatch.sdk.metrics import MetricRegistry, SummaryTracker
from runwatch.sdk.summary import Summary


class DisabledRun:
    mode = "disabled"
    disabled = True
    offline = False
    resumed = False
    step = 0
    stats: dict[str, int] = {}

    def __init__(self, project: str | None, name: str | None, run_id: str,
                 config: Any = None) -> None:
        self.id = run_id
        self.project = project or "uncategorized"
        self.entity = None
        self.name = name or "disabled-run"
        self.tags: tuple[str, ...] = ()
        self.notes = None
        self.group = None
        self.job_type = None
        self.path = f"{self.project}/{run_id}"
        self.dir = ""
        self.start_time = 0.0
        self.finished = False
        self.config = Config()
        if config:
            self.config.update(config, allow_val_change=True)
        self.summary = Summary(SummaryTracker(MetricRegistry()), None)
        self._on_finish: list[Any] = []

    def log(self, data: Any, step: Any = None, commit: Any = None) -> None:
        return None

    def define_metric(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def use_artifact(self, *args: Any, **kwargs: Any) -> None:
        return None

    log_artifact = log_model = link_model = use_artifact

    def use_model(self, *args: Any, **kwargs: Any) -> str:
        raise UsageError("use_model has nothing to download in mode='disabled'.")

    def alert(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def mark_exit(self, *args: Any) -> None:
        return None

    def mark_killed(self) -> None:
        return None

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        if not self.finished:
            self.finished = True
            for callback in self._on_finish:
                callback(self)

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        self.finish()
        return False
