"""``runwatch.init()`` and the module-level functions that act on the current run.

``init`` resolves settings once, applies wandb's ``reinit`` and ``resume``
rules, builds the :class:`Run` and makes it ``runwatch.run``. With a fresh
run id it touches no database: the writer opens the store in the background,
so ``init()`` costs milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runwatch import settings as settings_mod
from runwatch.errors import UsageError
from runwatch.records import FINISHED, RunStart
from runwatch.sdk import hooks, names
from runwatch.sdk.config import Config, as_mapping
from runwatch.sdk.disabled import DisabledRun
from runwatch.sdk.run import Run
from runwatch.sdk.sinks import LocalSink
from runwatch.system.environment import HOST, basic_metadata

RESUME_VALUES = (None, False, True, "allow", "must", "never", "auto")
REINIT_VALUES = ("default", "return_previous", "finish_previous", "create_new")
_IGNORED_ARGS = ("sync_tensorboard", "monitor_gym", "save_code", "force", "anonymous",
                 "magic", "tensorboard", "fork_from", "resume_from")


def _package() -> Any:
    return sys.modules["runwatch"]


def _set_current(run: Any) -> None:
    pkg = _package()
    pkg.run = run
    pkg.config = run.config
    pkg.summary = run.summary
    pkg.log = run.log


def _clear_current(run: Any) -> None:
    pkg = _package()
    if pkg.run is run:
        pkg.run = None
        pkg.config = _preinit_config
        pkg.summary = _preinit_summary
        pkg.log = log


def _reinit_policy(reinit: Any) -> str:
    if reinit is None or reinit == "default" or reinit is False:
        return "return_previous"
    if reinit is True:
        return "finish_previous"
    if reinit not in REINIT_VALUES:
        raise UsageError(f"reinit={reinit!r} is not one of {', '.join(REINIT_VALUES)}.")
    return str(reinit)


def _tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        raise UsageError(f"tags must be a list of strings, got the string {tags!r}; "
                         f"write tags=[{tags!r}].")
    out = []
    for tag in tags:
        if not isinstance(tag, str):
            raise UsageError(f"Every tag must be a string, got {type(tag).__name__} {tag!r}.")
        if not tag or len(tag) > 64:
            raise UsageError(f"Tag {tag!r} must have 1 to 64 characters.")
        out.append(tag)
    return list(dict.fromkeys(out))


def _resume_file(settings: settings_mod.Settings, project: str) -> Path:
    where = f"{os.getcwd()}\0{sys.argv[0] if sys.argv else ''}\0{project}"
    return Path(settings.dir) / "resume" / (hashlib.sha1(where.encode()).hexdigest()[:16] + ".json")


def _capture_environment(run: Run, settings: settings_mod.Settings) -> None:
    from runwatch.system import environment

    try:
        found = environment.capture(settings.capture_git, settings.capture_packages)
    except Exception:  # noqa: BLE001 - a missing environment detail never fails a run
        return
    if found and not run.finished:
        run._update(metadata=found)


def init(
    project: str | None = None,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    config: Any = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    id: str | None = None,  # noqa: A002 - wandb's name
    resume: bool | str | None = None,
    mode: str | None = None,
    dir: str | os.PathLike[str] | None = None,  # noqa: A002 - wandb's name
    reinit: bool | str | None = None,
    entity: str | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    allow_val_change: bool | None = None,
    settings: Any = None,
    **kwargs: Any,
) -> Any:
    """Start a run (wandb's ``init``). Returns the :class:`Run`, also ``runwatch.run``."""
    unknown = [k for k in kwargs if k not in _IGNORED_ARGS]
    if unknown:
        raise UsageError(f"init() got unexpected argument(s) {', '.join(unknown)}.")
    overrides: dict[str, Any] = dict(settings or {}) if isinstance(settings, dict) else {}
    overrides.update(mode=mode, dir=os.fspath(dir) if dir is not None else None)
    resolved = settings_mod.resolve(overrides)

    policy = _reinit_policy(reinit)
    current = _package().run
    if current is not None and not current.finished:
        if policy == "return_previous":
            return current
        if policy == "finish_previous":
            current.finish()

    if resume not in RESUME_VALUES:
        raise UsageError(f"resume={resume!r} is not one of allow, must, never, auto, True, False.")
    cfg = as_mapping(config)
    if config_include_keys:
        cfg = {k: v for k, v in cfg.items() if k in set(config_include_keys)}
    if config_exclude_keys:
        cfg = {k: v for k, v in cfg.items() if k not in set(config_exclude_keys)}

    if resolved.mode == "disabled":
        run: Any = DisabledRun(project, name, id or names.new_run_id(), cfg)
        run._on_finish.append(_on_finish)
        if policy != "create_new" or _package().run is None:
            _set_current(run)
        return run

    if project is not None and "/" in str(project) and entity is None:
        entity, project = str(project).split("/", 1)
    project = names.check_project(project if project is not None else "uncategorized")
    tag_list = _tags(tags)
    run_id = names.check_run_id(id) if id is not None else None

    resume_path = _resume_file(resolved, project)
    if resume == "auto" and run_id is None and resume_path.exists():
        try:
            run_id = names.check_run_id(json.loads(resume_path.read_text())["run_id"])
        except (OSError, ValueError, KeyError, UsageError):
            run_id = None

    existing = None
    if run_id is not None:
        existing = _lookup(resolved, project, run_id, resume)
    if existing is not None and (resume in (None, False, "never")):
        raise UsageError(
            f"Run {project}/{run_id} already exists. Pass resume='allow' (or 'must') to continue "
            "it, or choose another id.")
    if existing is None and resume == "must":
        raise UsageError(f"resume='must' but run {project}/{run_id} does not exist in "
                         f"{resolved.dir}.")
    resuming = existing is not None and resume in (True, "allow", "must", "auto")
    if run_id is None:
        run_id = names.new_run_id()

    if resuming and cfg:
        # Refuse a changed config before anything is started or sent for this run.
        check = Config()
        check.update(existing.config, allow_val_change=True)
        check.update(cfg, allow_val_change=allow_val_change)

    now = time.time()
    meta = basic_metadata()
    start = RunStart(
        name=str(name) if name is not None else (existing.name if resuming else
                                                  names.new_run_name()),
        created_at=existing.created_at if resuming else now,
        entity=entity, tags=tag_list, notes=notes, group=group, job_type=job_type,
        host=HOST, pid=os.getpid(), resumed=resuming, metadata=meta,
    )
    sink, spill_dir = _sink(resolved, project, run_id)
    run = Run(
        resolved, sink, project=project, run_id=run_id, start=start, spill_dir=spill_dir,
        entity=entity, config=None,
        first_step=(existing.last_step + 1 if resuming and existing.last_step is not None else 0),
        first_seq=existing.last_seq + 1 if resuming else 0,
        resumed_summary=existing.summary if resuming else None,
    )
    if resuming:
        # Load without re-sending: the store has these already.
        run.config._items.update(existing.config)
    if cfg:
        run.config.update(cfg, allow_val_change=allow_val_change if resuming else True)
    if resume == "auto":
        _remember_for_resume(run, resume_path)
    hooks.track(run)
    run._on_finish.append(_on_finish)
    if resolved.system_interval > 0:
        from runwatch.system.sampler import Sampler

        run._sampler = Sampler(resolved.system_interval, run._system_sample)
        run._sampler.start()
    if resolved.capture_git or resolved.capture_packages:
        # git and package metadata take subprocesses and disk reads: off the init path.
        run._env_thread = threading.Thread(target=_capture_environment, args=(run, resolved),
                                           name="runwatch-environment", daemon=True)
        run._env_thread.start()
    if policy != "create_new" or _package().run is None:
        _set_current(run)
    if not resolved.silent:
        verb = "resumed" if resuming else "started"
        where = (f"server {resolved.url}" if resolved.mode == "online" and resolved.url else
                 f"offline spool {sink.path}" if resolved.mode == "offline" else
                 f"store {resolved.dir}")
        print(f"runwatch: {verb} run {run.name} ({run_id}) in project {project}; {where}",
              file=sys.stderr)
    if resolved.console != "off":
        _capture_console(run, resolved)
    return run


def _capture_console(run: Run, resolved: settings_mod.Settings) -> None:
    from runwatch.system.console import ConsoleCapture

    def warn(message: str) -> None:
        run._warner.warn("console", message, background=True)

    capture = ConsoleCapture(run._console_lines, resolved.console_max_mb * 1_000_000, warn)
    if capture.start(resolved.console) != "off":
        run._console = capture


def _sink(resolved: settings_mod.Settings, project: str, run_id: str) -> tuple[Any, Path]:
    """Where the run's batches go, and the folder its spill files wait in (each
    destination its own, so a replay always reaches the place the batches were for)."""
    base = Path(resolved.dir)
    if resolved.mode == "offline":
        from runwatch.sdk.remote import SpoolSink

        return SpoolSink(base / "offline", project, run_id), base / "offline" / "spill"
    if resolved.url:
        from runwatch.sdk.remote import HttpSink, spool_folder

        return (HttpSink(resolved.url, resolved.api_key, base / "blobs"),
                spool_folder(base, resolved.url))
    return LocalSink(resolved.store_url), resolved.spill_dir


def _lookup(resolved: settings_mod.Settings, project: str, run_id: str,
            resume: Any = None) -> Any:
    if resolved.mode == "offline":
        return None  # nothing to look in: `runwatch sync` refuses a clash of ids later
    if resolved.url:
        from runwatch.sdk.remote import ServerAway, lookup_run

        try:
            return lookup_run(resolved.url, resolved.api_key, project, run_id)
        except ServerAway as exc:
            if resume not in (None, False, "never"):
                raise  # resuming needs the run's last step and seq
            # A new run with a chosen id: start it; should the id be taken after all, the
            # server refuses its batches and they stay on disk for `runwatch sync`.
            import warnings

            from runwatch.errors import RunwatchWarning

            warnings.warn(f"runwatch: {exc} Starting it as a new run; its batches wait on "
                          "disk until the server answers.", RunwatchWarning, stacklevel=3)
            return None
    if not resolved.db_path.exists():
        return None
    from runwatch.store import open_store
    from runwatch.store.read import get_run

    store = open_store(resolved.store_url)
    try:
        with store.read() as conn:
            return get_run(conn, project, run_id, resolved.heartbeat_timeout)
    finally:
        store.close()


def _remember_for_resume(run: Run, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"run_id": run.id, "project": run.project}))
    except OSError:
        return

    def forget(finished: Run) -> None:
        if finished._exit_state in (None, FINISHED):
            path.unlink(missing_ok=True)

    run._on_finish.insert(0, forget)


def _on_finish(run: Any) -> None:
    hooks.untrack(run)
    _clear_current(run)


# -- module-level functions before (and between) runs --

def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``runwatch.log``: log to the current run."""
    run = _package().run
    if run is None:
        raise UsageError("You must call runwatch.init() before runwatch.log().")
    run.log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``runwatch.finish``: finish the current run, if any."""
    run = _package().run
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def define_metric(name: str, *args: Any, **kwargs: Any) -> Any:
    run = _package().run
    if run is None:
        raise UsageError("You must call runwatch.init() before runwatch.define_metric().")
    return run.define_metric(name, *args, **kwargs)


def _current(what: str) -> Any:
    run = _package().run
    if run is None:
        raise UsageError(f"You must call runwatch.init() before runwatch.{what}().")
    return run


def use_artifact(artifact_or_name: Any, *args: Any, **kwargs: Any) -> Any:
    """``runwatch.use_artifact``: use an artifact version in the current run."""
    return _current("use_artifact").use_artifact(artifact_or_name, *args, **kwargs)


def log_artifact(artifact_or_path: Any, *args: Any, **kwargs: Any) -> Any:
    """``runwatch.log_artifact``: log an artifact in the current run."""
    return _current("log_artifact").log_artifact(artifact_or_path, *args, **kwargs)


def log_model(path: Any, name: str | None = None, aliases: Any = None) -> Any:
    """``runwatch.log_model``: log a model file or folder in the current run."""
    return _current("log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    """``runwatch.use_model``: download a model artifact; its file (or folder) path."""
    return _current("use_model").use_model(name)


def link_model(path: Any, registered_model_name: str, name: str | None = None,
               aliases: Any = None) -> Any:
    return _current("link_model").link_model(path, registered_model_name, name, aliases)


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """``runwatch.alert``: record an alert with the current run (see ``Run.alert``)."""
    _current("alert").alert(title, text, level=level, wait_duration=wait_duration)


def login(anonymous: Any = None, key: str | None = None, relogin: Any = None,
          host: str | None = None, *args: Any, **kwargs: Any) -> bool:
    """wandb's ``login``. Logging locally needs no account, so with no arguments this does
    nothing; ``host`` (a runwatch server's URL) and ``key`` (its API key) make this
    process's later runs log there, as RUNWATCH_URL and RUNWATCH_API_KEY would."""
    if host is not None:
        os.environ["RUNWATCH_URL"] = settings_mod.resolve({"url": host}).url or ""
    if key is not None:
        if not isinstance(key, str) or not key.strip():
            raise UsageError(f"login(key=...) takes an API key string, got {key!r}.")
        os.environ["RUNWATCH_API_KEY"] = key.strip()
    return True


class _PreInit:
    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"You must call runwatch.init() before using runwatch.{self._what}.")

    __getattr__ = __getitem__ = __setattr__ = __setitem__ = __iter__ = __len__ = _fail

    def __repr__(self) -> str:
        return f"<runwatch.{self._what} before init()>"


_preinit_config = _PreInit("config")
_preinit_summary = _PreInit("summary")
