"""The public read API: ``Api``, ``Runs``, ``Run``, ``Project`` (wandb's names and shapes).

Reads go through the store's query layer (``runwatch.store.read`` and
``runwatch.store.history``); nothing here writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from runwatch import settings as settings_mod
from runwatch.api import filters as flt
from runwatch.errors import RunNotFoundError, UsageError
from runwatch.store import Store, history, open_store, read

if TYPE_CHECKING:
    from runwatch.data.artifact import Artifact


def _split(path: str, parts: int, what: str) -> list[str | None]:
    if not isinstance(path, str) or not path.strip("/"):
        raise UsageError(f"{what} path must be a string such as "
                         f"{'project/run_id' if parts == 3 else 'project'}, got {path!r}.")
    items = [p for p in path.strip("/").split("/") if p]
    if parts == 3 and len(items) == 4 and items[2] == "runs":  # entity/project/runs/id (URL form)
        items = [items[0], items[1], items[3]]
    if len(items) > parts or len(items) < parts - 1:
        shape = "[entity/]project/run_id" if parts == 3 else "[entity/]project"
        raise UsageError(f"{what} path {path!r} is not of the form {shape}.")
    return [None] * (parts - len(items)) + items


class Api:
    """Reads runs from the store in ``RUNWATCH_DIR`` (or ``dir=...``), or from the runwatch
    server that ``RUNWATCH_URL`` (or ``overrides={"base_url": URL}``) names."""

    def __new__(cls, overrides: dict[str, Any] | None = None, timeout: float | None = None,
                api_key: str | None = None, *, dir: str | os.PathLike[str] | None = None,  # noqa: A002
                ) -> Api:
        if cls is Api and dir is None:
            known = {s.name for s in settings_mod.SETTINGS}
            given = dict(overrides or {})
            settings = settings_mod.resolve({k: v for k, v in given.items() if k in known})
            from runwatch.api.remote import remote_api

            remote = remote_api(given, api_key, settings)
            if remote is not None:
                return remote
        return super().__new__(cls)

    def __init__(self, overrides: dict[str, Any] | None = None, timeout: float | None = None,
                 api_key: str | None = None, *, dir: str | os.PathLike[str] | None = None  # noqa: A002
                 ) -> None:
        overrides = dict(overrides or {})
        if dir is not None:
            overrides["dir"] = os.fspath(dir)
        known = {s.name for s in settings_mod.SETTINGS}
        self.settings = settings_mod.resolve({k: v for k, v in overrides.items() if k in known})
        self._store: Store | None = None

    @classmethod
    def over(cls, store: Store) -> Api:
        """An Api reading an already opened store (for objects that carry one)."""
        api = object.__new__(cls)  # not through __new__: never a server's
        api.settings = settings_mod.resolve()
        api._store = store
        return api

    @property
    def store(self) -> Store:
        if self._store is None:
            if not self.settings.db_path.exists():
                raise RunNotFoundError(
                    f"No runwatch store at {self.settings.db_path}. Log a run first, or point "
                    "RUNWATCH_DIR (or Api(dir=...)) at the folder that holds runwatch.db.")
            self._store = open_store(self.settings.store_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def flush(self) -> None:
        """wandb clears its caches here; runwatch reads live, so there is nothing to clear."""

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _where(self) -> str:
        """Where this Api reads, for messages."""
        return self.settings.dir

    @property
    def _timeout(self) -> float:
        return self.settings.heartbeat_timeout

    def projects(self, entity: str | None = None) -> list[Project]:
        if not self.settings.db_path.exists():
            return []
        with self.store.read() as conn:
            return [Project(self, p) for p in read.list_projects(conn, self._timeout)
                    if entity is None or p.entity in (None, entity)]

    def project(self, name: str, entity: str | None = None) -> Project:
        for p in self.projects():
            if p.name == name:
                return p
        raise RunNotFoundError(f"No project {name!r} in {self._where}.")

    def runs(self, path: str = "", filters: dict[str, Any] | None = None,
             order: str = "+created_at", per_page: int = 50, include_sweeps: bool = True,
             lazy: bool = True) -> Runs:
        """Runs of a project (``"project"`` or ``"entity/project"``)."""
        _entity, project = _split(path, 2, "Runs")
        assert project is not None
        with self.store.read() as conn:
            if not read.project_exists(conn, project):
                raise RunNotFoundError(f"No project {project!r} in {self.settings.dir}; known: "
                                       f"{', '.join(p.name for p in read.list_projects(conn))}.")
            records = read.list_runs(conn, project, self._timeout)
        if filters:
            records = [r for r in records if flt.matches(r, filters)]
        records = flt.sort_runs(records, order)
        return Runs(self, project, [Run(self, r) for r in records])

    def artifact(self, name: str, type: str | None = None) -> Artifact:  # noqa: A002 - wandb's name
        """An artifact version: ``"project/name:alias"`` or ``"entity/project/name:vN"``."""
        from runwatch.data.artifact import Artifact
        from runwatch.store.artifacts import get_version, parse_ref

        _entity, project, ref = _split(name, 3, "Artifact")
        assert project is not None and ref is not None
        art_name, alias = parse_ref(ref)
        with self.store.read() as conn:
            record = get_version(conn, project, art_name, alias)
        if type is not None and record.type != type:
            raise UsageError(f"Artifact {name!r} is of type {record.type!r}, not {type!r}.")
        return Artifact._from_record(self.store, record)

    def artifacts(self, project: str) -> list[Artifact]:
        """Every version of every artifact in ``project`` (grouped by type and name)."""
        from runwatch.data.artifact import Artifact
        from runwatch.store.artifacts import list_artifacts

        _entity, name = _split(project, 2, "Project")
        assert name is not None
        with self.store.read() as conn:
            return [Artifact._from_record(self.store, r) for r in list_artifacts(conn, name)]

    def run(self, path: str) -> Run:
        """One run: ``"project/run_id"`` or ``"entity/project/run_id"``."""
        _entity, project, run_id = _split(path, 3, "Run")
        assert project is not None and run_id is not None
        with self.store.read() as conn:
            record = read.get_run(conn, project, run_id, self._timeout)
        if record is None:
            raise RunNotFoundError(f"No run {project}/{run_id} in {self.settings.dir}.")
        return Run(self, record)


class Project:
    def __init__(self, api: Api, record: read.ProjectRecord) -> None:
        self._api = api
        self.name = record.name
        self.entity = record.entity
        self.created_at = read.iso(record.created_at)
        self.run_count = record.run_count
        self.running_count = record.running_count
        self.last_activity = read.iso(record.last_activity)

    def runs(self, **kwargs: Any) -> Runs:
        return self._api.runs(self.name, **kwargs)

    def __repr__(self) -> str:
        return f"<Project {self.name} runs={self.run_count}>"


class Runs(Sequence["Run"]):
    """The runs of a project, a list in ``order``."""

    def __init__(self, api: Api, project: str, runs: list[Run]) -> None:
        self._api = api
        self.project = project
        self._runs = runs

    def __getitem__(self, index: Any) -> Any:
        return self._runs[index]

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    def histories(self, samples: int = 500, keys: list[str] | None = None,
                  pandas: bool = True) -> Any:
        frames = []
        for run in self._runs:
            df = run.history(samples=samples, keys=keys, pandas=True)
            df.insert(0, "run_id", run.id)
            frames.append(df)
        import pandas as pd

        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return out if pandas else out.to_dict("records")

    def __repr__(self) -> str:
        return f"<Runs {self.project} ({len(self)})>"


class Run:
    """A stored run (wandb's ``Api().run``): fields, config, summary and history."""

    def __init__(self, api: Api, record: read.RunRecord) -> None:
        self._api = api
        self._set(record)

    def _set(self, record: read.RunRecord) -> None:
        self._record = record
        self.id = record.id
        self.name = record.name
        self.display_name = record.name
        self.project = record.project
        self.entity = record.entity
        self.state = record.state
        self.config = record.config
        self.summary = record.summary
        self.tags = list(record.tags)
        self.notes = record.notes
        self.group = record.group
        self.job_type = record.job_type
        self.host = record.host
        self.metadata = record.metadata
        self.exit_code = record.exit_code
        self.traceback = record.traceback
        self.created_at = read.iso(record.created_at)
        self.heartbeat_at = read.iso(record.heartbeat_at)
        self.finished_at = read.iso(record.finished_at)
        self.last_step = record.last_step
        self.lastHistoryStep = record.last_step if record.last_step is not None else -1
        self.metric_definitions = record.metrics

    @property
    def path(self) -> list[str]:
        return [p for p in (self.entity, self.project, self.id) if p]

    def load(self, force: bool = True) -> Run:
        """Read the run again (its state, summary and config may have moved on)."""
        with self._api.store.read() as conn:
            record = read.get_run(conn, self.project, self.id, self._api._timeout)
        if record is None:
            raise RunNotFoundError(f"Run {self.project}/{self.id} is gone from the store.")
        self._set(record)
        return self

    refresh = load

    def keys(self) -> list[str]:
        """Every history key the run logged."""
        with self._api.store.read() as conn:
            return list(read.run_keys(conn, self._record.pk))

    def history(self, samples: int = 500, keys: list[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default") -> Any:
        """At most ``samples`` rows, the same ones every call (first, last, each key's
        extremes, evenly spaced rows between). With ``keys``, only rows holding all of them.
        ``stream="system"`` gives the system metrics (``system/...``) instead, as in wandb."""
        if stream not in history.STREAMS:
            raise UsageError(f"stream={stream!r} is not one of {', '.join(history.STREAMS)}.")
        if samples < 1:
            raise UsageError(f"samples must be at least 1, got {samples}.")
        keys = _check_keys(keys)
        with self._api.store.read() as conn:
            names, rows = history.sample(conn, self._record, keys, samples, stream)
        if not pandas:
            return rows
        import pandas as pd

        return pd.DataFrame(rows, columns=names)

    def scan_history(self, keys: list[str] | None = None, page_size: int = 1000,
                     min_step: int | None = None, max_step: int | None = None
                     ) -> Iterator[dict[str, Any]]:
        """Every row at full resolution, in step order; with ``keys``, only rows holding all
        of them. ``max_step`` is exclusive, as in wandb."""
        keys = _check_keys(keys)
        hi = None if max_step is None else max_step - 1
        with self._api.store.read() as conn:
            yield from history.scan(conn, self._record, keys, min_step, hi)

    def media_steps(self, key: str) -> list[int]:
        """Steps at which ``key`` holds a non-numeric value (an image, table, chart...)."""
        with self._api.store.read() as conn:
            info = read.run_keys(conn, self._record.pk).get(key)
            return [] if info is None else read.load_values(conn, info.id)[0]

    def media(self, key: str, step: int | None = None) -> Any:
        """The object logged under ``key`` at ``step`` (default: the latest), as its own
        type: Table, Image (list of Images for a list), Histogram or chart."""
        from runwatch.data.media import decode

        return decode(self._media_meta(key, step), self._api.store.blobs.get)

    def table_page(self, key: str, offset: int = 0, limit: int = 100, sort: str | None = None,
                   descending: bool = False, step: int | None = None) -> dict[str, Any]:
        """One page of the table logged under ``key`` (a Table, or a chart's table), sorted
        by any column, read straight from its columnar file: only the page is decoded.
        Returns ``{"columns", "kinds", "nrows", "offset", "rows"}``; image cells are
        their metas (``{"_type": "image", "sha256": ...}``)."""
        meta = self._media_meta(key, step)
        if meta.get("_type") == "chart":
            meta = meta["table"]
        if meta.get("_type") != "table":
            raise UsageError(f"{key!r} of run {self.project}/{self.id} is a "
                             f"{meta.get('_type')!r}, not a table.")
        from runwatch.data.tablefile import TableFile

        blobs, sha = self._api.store.blobs, meta["sha256"]
        # A folder store's file is memory-mapped (only the page is read); from object
        # storage the file is fetched whole, hash-checked.
        tf = TableFile(blobs.local_path(sha) or blobs.get(sha))
        try:
            rows = tf.page(offset=offset, limit=limit, sort=sort, descending=descending)
            return {"columns": list(tf.columns), "kinds": list(tf.kinds), "nrows": tf.nrows,
                    "offset": offset, "rows": rows}
        finally:
            tf.close()

    def _media_meta(self, key: str, step: int | None) -> dict[str, Any]:
        with self._api.store.read() as conn:
            info = read.run_keys(conn, self._record.pk).get(key)
            if info is None:
                raise UsageError(f"Run {self.project}/{self.id} logged no {key!r}.")
            _steps, _times, values = read.load_values(conn, info.id, step, step)
        if not values or not isinstance(values[-1], dict):
            raise UsageError(f"Run {self.project}/{self.id} has no logged object {key!r}"
                             + (f" at step {step}." if step is not None else "."))
        return values[-1]

    def console_logs(self, last: int | None = None) -> list[str]:
        """The run's console output, a string per line (the last ``last`` lines, or all)."""
        from runwatch.store import console

        if last is not None and (not isinstance(last, int) or last < 0):
            raise UsageError(f"last must be a whole number >= 0 or None, got {last!r}.")
        with self._api.store.read() as conn:
            if last is not None:
                lines, _more = console.page(conn, self._record.pk, limit=last) if last else ([], 0)
                return [line["text"] for line in lines]
            return [text for texts in console.iter_texts(conn, self._record.pk) for text in texts]

    def logged_artifacts(self) -> list[Artifact]:
        """The artifact versions this run logged (its outputs)."""
        return self._artifacts(used=False)

    def used_artifacts(self) -> list[Artifact]:
        """The artifact versions this run used (its inputs)."""
        return self._artifacts(used=True)

    def _artifacts(self, used: bool) -> list[Artifact]:
        from runwatch.data.artifact import Artifact
        from runwatch.store.artifacts import run_versions

        with self._api.store.read() as conn:
            return [Artifact._from_record(self._api.store, v)
                    for v in run_versions(conn, self._record.pk, used=used)]

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"


def _check_keys(keys: Any) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str):
        return [keys]
    return [str(k) for k in keys]
