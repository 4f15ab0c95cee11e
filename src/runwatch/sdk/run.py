"""``Run``: one run's lifecycle and the ``log()`` hot path.

``log()`` only copies the dict, stamps the step and time and appends to a
deque; the writer thread does everything else. Step rules are wandb's: every
call is a new step from 0; ``commit=False`` merges into the current row; an
explicit ``step`` merges into the current row or moves past it; a lower step is
dropped with wandb's warning.
"""

from __future__ import annotations

import numbers
import sys
import time
import traceback as tb_module
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from runwatch.errors import UsageError
from runwatch.records import FAILED, FINISHED, KILLED, RunStart, StateChange
from runwatch.sdk.batcher import Batcher
from runwatch.sdk.config import Config
from runwatch.sdk.metrics import MetricRegistry, SummaryTracker
from runwatch.sdk.sinks import Sink
from runwatch.sdk.summary import Summary
from runwatch.sdk.warn import Warner
from runwatch.sdk.writer import Writer
from runwatch.settings import Settings

_time = time.time
_FINISHED = object()  # stands in for the pending row once the run is finished
# Seconds finish() waits for the environment capture (git is usually done in ~20 ms).
ENV_WAIT = 2.0
# Seconds (at most; never more than finish_timeout) finish() waits for alert webhooks.
WEBHOOK_WAIT = 5.0
_LOWER_STEP_WARNINGS = 10


class Run:
    """A run being logged. Made by :func:`runwatch.init`, not directly."""

    __slots__ = (
        "_queue", "_step", "_pending", "_queue_limit", "_writer", "_warner", "_settings",
        "_registry", "_tracker", "_dropped_steps", "_exit_state", "_exit_code", "_traceback",
        "_on_finish",
        "_env_thread",
        "_alerts_sent",
        "_webhook",
        "_sampler",
        "_console",
        "config", "summary", "id", "project", "entity", "_name", "_tags", "_notes", "_group",
        "_job_type", "start_time", "resumed", "_reader", "__weakref__",
    )

    def __init__(self, settings: Settings, sink: Sink, *, project: str, run_id: str,
                 start: RunStart, entity: str | None = None, config: Mapping[str, Any] | None = None,
                 first_step: int = 0, first_seq: int = 0,
                 resumed_summary: dict[str, Any] | None = None,
                 spill_dir: Any = None) -> None:
        self._settings = settings
        self._warner = Warner(settings.strict)
        self._queue: deque[Any] = deque()
        self._step = first_step
        self._pending: Any = None
        # The queue is flat triples (step, time, row), or (tag, payload, None) for other
        # records: a tuple per row would be a GC-tracked object per log() call, and
        # collecting a long queue of them costs milliseconds (see docs/storage.md).
        self._queue_limit = 3 * settings.queue_limit
        self._registry = MetricRegistry()
        self._tracker = SummaryTracker(self._registry)
        if resumed_summary:
            self._tracker.seed(resumed_summary)
        self._dropped_steps = 0
        self._exit_state: str | None = None
        self._exit_code: int | None = None
        self._traceback: str | None = None
        self._on_finish: list[Any] = []
        # Captures the environment (git, packages) after init; finish() waits briefly for it.
        self._env_thread: Any = None
        self._alerts_sent: dict[str, float] = {}
        self._sampler: Any = None
        self._console: Any = None
        self.id = run_id
        self.project = project
        self.entity = entity
        self._name = start.name
        self._tags = tuple(start.tags)
        self._notes = start.notes
        self._group = start.group
        self._job_type = start.job_type
        self.start_time = start.created_at
        self.resumed = start.resumed
        self._reader: Any = None
        batcher = Batcher(project, run_id, self._registry, self._tracker, self._warner)
        self._writer = Writer(
            self._queue, batcher, sink, self._warner,
            spill_dir=spill_dir or settings.spill_dir, name=f"{run_id}-{first_seq}",
            flush_interval=settings.flush_interval,
            heartbeat_interval=settings.heartbeat_interval,
            memory_limit=settings.memory_limit_mb * 1024 * 1024, first_seq=first_seq,
        )
        # Alert webhook: a delivery thread only when one is set, never offline.
        self._webhook: Any = None
        if settings.alert_webhook and settings.mode != "offline":
            from runwatch.sdk.webhook import WebhookSender

            self._webhook = WebhookSender(settings.alert_webhook, self._warner, project=project,
                                          run_id=run_id, run_name=lambda: self._name,
                                          stats=self._writer.stats)
            self._writer.on_alerts = self._webhook.send
        self.config = Config(on_change=self._config_changed)
        self.summary = Summary(self._tracker, self._writer)
        self._queue.extend(("start", start, None))
        if config:
            self.config.update(config, allow_val_change=True)
        self._writer.start()

    # -- the hot path --
    def log(self, data: dict[str, Any], step: int | None = None,
            commit: bool | None = None) -> None:
        """Log a dict of values as one history row (wandb's ``run.log``)."""
        if step is None and commit is None and self._pending is None and type(data) is dict:
            q = self._queue
            q.extend((self._step, _time(), data.copy()))
            self._step += 1
            if len(q) > self._queue_limit:
                self._wait_for_writer()
            return
        self._log_slow(data, step, commit)

    def _wait_for_writer(self) -> None:
        # The writer fell a whole queue behind: wait for it rather than grow without
        # bound. (Waking it earlier costs every log() call more than it saves: measured.)
        writer = self._writer
        writer.wake()
        limit = self._queue_limit // 2
        deadline = time.monotonic() + 60
        while len(self._queue) > limit and time.monotonic() < deadline:
            time.sleep(0.0005)
        if len(self._queue) > limit:  # writer thread gone: batch on this thread
            writer.flush_queue()

    def _log_slow(self, data: Any, step: Any, commit: bool | None) -> None:
        if self._pending is _FINISHED:
            raise UsageError(f"Run {self.id} is finished; log() after finish() is not stored. "
                             "Call runwatch.init() to start a new run.")
        if not isinstance(data, Mapping):
            raise UsageError(f"runwatch.log() takes a dict of {{key: value}}, got "
                             f"{type(data).__name__}: {data!r:.80}.")
        if step is not None:
            step = self._check_step(step)
        if step is None:
            self._merge(data)
            if commit is False:
                return
            self._commit()
            return
        if step < self._step:
            self._dropped_steps += 1
            if self._dropped_steps <= _LOWER_STEP_WARNINGS:
                more = (" Further warnings of this kind are not shown."
                        if self._dropped_steps == _LOWER_STEP_WARNINGS else "")
                self._warner.warn(
                    "lower-step",
                    f"Tried to log to step {step} that is less than the current step "
                    f"{self._step}. Steps must be monotonically increasing, so this data will be "
                    f"ignored. See https://wandb.me/define-metric{more}", every_time=True)
            return
        if step > self._step:
            if self._pending is not None:
                self._commit()
            self._step = step
        self._merge(data)
        if commit:
            self._commit()

    def _check_step(self, step: Any) -> int | None:
        if isinstance(step, numbers.Integral) and not isinstance(step, bool) and step >= 0:
            return int(step)
        if isinstance(step, float) and step.is_integer() and step >= 0:
            return int(step)
        self._warner.warn("bad-step",
                          f"runwatch.log: step={step!r} is not a whole number >= 0; the row is "
                          "logged at the next step instead.")
        return None

    def _merge(self, data: Mapping[str, Any]) -> None:
        if self._pending is None:
            self._pending = dict(data)
        else:
            self._pending.update(data)

    def _commit(self) -> None:
        row = self._pending if self._pending is not None else {}
        self._pending = None
        self._queue.extend((self._step, _time(), row))
        self._step += 1

    # -- other wandb calls --
    def define_metric(self, name: str, step_metric: str | None = None,
                      step_sync: bool | None = None, hidden: bool | None = None,
                      summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None, **kwargs: Any) -> Any:
        """Set how a key (or a trailing-``*`` glob) is summarised and charted."""
        if kwargs:
            self._warner.warn(f"define-metric-args:{sorted(kwargs)}",
                              f"define_metric: ignoring unsupported arguments {sorted(kwargs)}.")
        with self._writer.lock:
            # Rows queued before this call are summarised under the old definition.
            self._writer.drain()
            self._writer.batcher.fold_summary()
            spec = self._registry.define(name, step_metric, step_sync, hidden, summary, goal,
                                         overwrite)
            self._writer.batcher.add("metric", spec.record())
        return spec

    def log_artifact(self, artifact_or_path: Any, name: str | None = None,
                     type: str | None = None, aliases: Any = None) -> Any:  # noqa: A002
        """Log an Artifact (or a file/folder path) as the next version of its name; identical
        content makes no new version. ``latest`` and ``aliases`` move to it."""
        from runwatch.sdk import artifacts

        return artifacts.log_artifact(self, artifact_or_path, name, type, aliases)

    def use_artifact(self, artifact_or_name: Any, type: str | None = None,  # noqa: A002
                     aliases: Any = None, use_as: str | None = None) -> Any:
        """An artifact version (``"name:alias"``, ``"name:vN"``, ``"project/name:alias"``),
        recorded as an input of this run."""
        from runwatch.sdk import artifacts

        return artifacts.use_artifact(self, artifact_or_name, type, aliases, use_as)

    def log_model(self, path: Any, name: str | None = None, aliases: Any = None) -> Any:
        """Log a model file or folder as an artifact of type ``model``."""
        from runwatch.sdk import artifacts

        return artifacts.log_model(self, path, name, aliases)

    def use_model(self, name: str) -> str:
        """Download a model artifact; the path of its file (or folder)."""
        from runwatch.sdk import artifacts

        return artifacts.use_model(self, name)

    def link_model(self, path: Any, registered_model_name: str, name: str | None = None,
                   aliases: Any = None) -> Any:
        from runwatch.sdk import artifacts

        return artifacts.link_model(self, path, registered_model_name, name, aliases)

    def _open_reader(self) -> Any:
        if self._reader is None:
            from runwatch.store import open_store

            self._reader = open_store(self._settings.store_url)
        return self._reader

    def alert(self, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
        """Record an alert (``INFO``, ``WARN`` or ``ERROR``) with the run; the dashboard
        shows it. The same title again within ``wait_duration`` seconds (default 60) is
        dropped."""
        from runwatch.sdk.alerts import make_alert

        found = make_alert(title, text, level, self._alerts_sent, wait_duration)
        if found is not None:
            self._queue.extend(("alert", found, None))

    def _system_sample(self, step_ms: int, ts: float, sample: dict[str, float]) -> None:
        if self._pending is not _FINISHED:
            self._queue.extend(("system", (step_ms, ts, sample), None))

    def _console_lines(self, lines: list[tuple[float, int, str]]) -> None:
        self._queue.extend(("console", lines, None))

    def _config_changed(self, changes: dict[str, Any]) -> None:
        self._queue.extend(("config", dict(changes), None))

    def _update(self, **fields: Any) -> None:
        self._queue.extend(("update", fields, None))

    @property
    def step(self) -> int:
        """The step the next ``log()`` call without ``step`` writes to."""
        return self._step

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._update(name=self._name)

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._tags = tuple(str(t) for t in value)
        self._update(tags=list(self._tags))

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._notes = str(value)
        self._update(notes=self._notes)

    @property
    def group(self) -> str | None:
        return self._group

    @property
    def job_type(self) -> str | None:
        return self._job_type

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    @property
    def dir(self) -> str:
        return self._settings.dir

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def mode(self) -> str:
        return self._settings.mode

    @property
    def disabled(self) -> bool:
        return False

    @property
    def offline(self) -> bool:
        return self._settings.mode == "offline"

    @property
    def finished(self) -> bool:
        return self._pending is _FINISHED

    @property
    def stats(self) -> dict[str, int]:
        """Counters of what the writer did and survived (warnings, failures, spills)."""
        out = dict(self._writer.stats)
        out["warnings"] = sum(self._warner.counts.values())
        out["dropped_lower_steps"] = self._dropped_steps
        out["queued"] = len(self._queue) // 3
        return out

    def flush(self, timeout: float | None = None) -> bool:
        """Commit everything logged so far to the store (the writer does this every
        ``flush_interval`` anyway). True if it all arrived within ``timeout``."""
        done = self._writer.flush(self._settings.finish_timeout if timeout is None else timeout)
        self._warner.raise_pending()
        return done

    # -- the end --
    def mark_exit(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                  tb: TracebackType | None) -> None:
        """Record how the process is ending (called by the hooks and ``__exit__``)."""
        if exc_type is None or self._exit_state is not None:
            return
        if issubclass(exc_type, KeyboardInterrupt):
            self._exit_state = KILLED
        elif issubclass(exc_type, SystemExit):
            code = getattr(exc, "code", 0)
            if code not in (0, None):
                self._exit_state = FAILED
                self._exit_code = code if isinstance(code, int) else 1
        else:
            self._exit_state = FAILED
            self._traceback = "".join(tb_module.format_exception(exc_type, exc, tb))

    def mark_killed(self) -> None:
        self._exit_state = KILLED

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: write everything out, record its final state, stop the writer."""
        if self._pending is _FINISHED:
            return
        if self._pending is not None:
            self._commit()
        if self._env_thread is not None:
            self._env_thread.join(ENV_WAIT)
        if self._sampler is not None:
            self._sampler.stop()
        if self._console is not None:
            # Before the final state, so the run's last lines (a traceback) are stored.
            self._console.stop()
        state = self._exit_state
        if exit_code is not None and exit_code != 0 and state is None:
            state = FAILED
        state = state or FINISHED
        if exit_code is None:
            exit_code = self._exit_code
        if exit_code is None:
            exit_code = {FINISHED: 0, KILLED: 255}.get(state, 1)
        self._queue.extend(("state", StateChange(state=state, at=_time(), exit_code=exit_code,
                                                 traceback=self._traceback), None))
        self._pending = _FINISHED
        left = self._writer.close(self._settings.finish_timeout)
        if self._webhook is not None:
            self._webhook.close(min(WEBHOOK_WAIT, self._settings.finish_timeout))
        if self._reader is not None:
            self._reader.close()
        for callback in self._on_finish:
            callback(self)
        remote = self._settings.mode == "online" and self._settings.url
        if left is not None:
            later = ("`runwatch sync` sends it (the next run to this server also does)"
                     if remote else "it is written the next time runwatch opens this store")
            self._warner.warn("unsent", f"runwatch could not write everything to "
                              f"{self._writer.sink.description} within "
                              f"{self._settings.finish_timeout:g} s. Nothing is lost: the rest is "
                              f"in {left} and {later}.")
        if not (quiet or self._settings.silent):
            if self._settings.mode == "offline":
                where = (f"Saved offline in {self._writer.sink.path}; `runwatch sync` uploads "
                         "it.")
            elif remote:
                from urllib.parse import quote

                where = (f"See it at {self._settings.url}/p/{quote(self.project, safe='')}"
                         f"/r/{quote(self.id, safe='')}")
            else:
                where = f"View it with `runwatch ui` (store: {self._settings.dir})."
            print(f"runwatch: run {self._name} ({self.id}) {state}; {self._step} steps. {where}",
                  file=sys.stderr)
        self._warner.raise_pending()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        self.mark_exit(exc_type, exc, tb)
        self.finish()
        return False

    def __repr__(self) -> str:
        return f"<runwatch.Run {self.path} name={self._name!r}>"
