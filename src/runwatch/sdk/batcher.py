"""Turns what ``log()`` queued into one :class:`Batch`: values dispatched by type,
nested dicts flattened, columns built, summary and config folded in.

Runs on the writer thread (and on the training thread only when it reads the
summary), always under the writer's lock.
"""

from __future__ import annotations

import hashlib
import math
from itertools import chain
from operator import itemgetter
from typing import Any

from runwatch import jsonvalue
from runwatch.data.media import Media
from runwatch.records import (
    Alert,
    ArtifactFile,
    ArtifactUse,
    ArtifactVersion,
    Batch,
    Blob,
    ConsoleLine,
    MetricDef,
    RunStart,
    RunUpdate,
    Series,
    StateChange,
    ValueSeries,
    manifest_digest,
)
from runwatch.sdk.metrics import MetricRegistry, SummaryTracker
from runwatch.sdk.warn import Warner

MAX_KEY_LENGTH = 512
_RESERVED = frozenset(("_step", "_runtime", "_timestamp"))
SYSTEM_PREFIX = "system/"
_INT64 = (-(2**63), 2**63)
_NUMBER_TYPES = frozenset((float, int))


def run_table_name(run_id: str, key: str) -> str:
    """wandb's ``run-<run id>-<key>``, with characters artifact names can't hold made ``_``."""
    return f"run-{run_id}-" + "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                                      for c in key)


def _ints_fit(values: list[Any]) -> bool:
    """True if the ints among ``values`` (floats and ints only) all fit int64."""
    return _INT64[0] <= min(values) and max(values) < _INT64[1]


class Batcher:
    def __init__(self, project: str, run_id: str, registry: MetricRegistry,
                 tracker: SummaryTracker, warner: Warner) -> None:
        self.project = project
        self.run_id = run_id
        self.registry = registry
        self.tracker = tracker
        self.warner = warner
        self._series: dict[str, tuple[list[int], list[float], list[Any]]] = {}
        self._folded: dict[str, int] = {}
        self._values: dict[str, tuple[list[int], list[float], list[str]]] = {}
        self._good_keys: set[str] = set()
        self._bad_keys: set[Any] = set()
        self._aliases: dict[Any, str] = {}
        self._step_values: dict[str, Any] = {}
        self.start: RunStart | None = None
        self.update: dict[str, Any] = {}
        self.config: dict[str, Any] = {}
        self.metrics: list[MetricDef] = []
        self.state: StateChange | None = None
        self.points = 0
        self.blobs: list[Blob] = []
        self.artifacts: list[ArtifactVersion] = []
        self.uses: list[ArtifactUse] = []
        self.alerts: list[Alert] = []
        self.system: dict[str, tuple[list[int], list[float], list[float]]] = {}
        self.console: list[ConsoleLine] = []
        self._nonfinite_keys: set[str] = set()
        self._sent_blobs: set[str] = set()
        self._row_steps: list[int] = []
        self._row_times: list[float] = []
        self._row_data: list[dict[Any, Any]] = []

    # -- intake --
    def add(self, tag: str, payload: Any) -> None:
        """A record other than a history row, by its tag."""
        if tag == "config":
            self.config.update(payload)
        elif tag == "metric":
            self.metrics.append(payload)
        elif tag == "update":
            self.update.update(payload)
        elif tag == "start":
            self.start = payload
        elif tag == "state":
            self.state = payload
        elif tag == "use":
            self.uses.append(payload)
        elif tag == "artifact":  # its files are in the blob store already
            self.artifacts.append(payload)
        elif tag == "alert":
            self.alerts.append(payload)
        elif tag == "console":
            self.console.extend(ConsoleLine(at, stream, text) for at, stream, text in payload)
        elif tag == "system":
            step, ts, sample = payload
            for key, value in sample.items():
                cols = self.system.setdefault(key, ([], [], []))
                cols[0].append(step)
                cols[1].append(ts)
                cols[2].append(value)
            self.points += len(sample)

    def add_row(self, step: int, ts: float, data: dict[Any, Any]) -> None:
        """Hold a history row; rows become columns in bulk (:meth:`_columnize`)."""
        if self.registry.has_step_metrics:
            self._sync_step_metrics(data)
        self._row_steps.append(step)
        self._row_times.append(ts)
        self._row_data.append(data)
        self.points += len(data)

    def _columnize(self) -> None:
        """Turn held rows into per-key columns, a whole column at a time.

        The common case (every row has the same numeric keys) runs in C: a column is
        ``map(itemgetter(key), rows)`` and one ``set(map(type, ...))`` checks it.
        """
        rows = self._row_data
        if not rows:
            return
        steps, times = self._row_steps, self._row_times
        self._row_steps, self._row_times, self._row_data = [], [], []
        for key in dict.fromkeys(chain.from_iterable(rows)):
            try:
                values = list(map(itemgetter(key), rows))
            except KeyError:  # a sparse key: only some rows hold it
                self._add_sparse(key, steps, times, rows)
                continue
            types = set(map(type, values))
            if types <= _NUMBER_TYPES and (int not in types or _ints_fit(values)):
                cols = self._series.get(key) or self._new_series(key)
                if cols is not None:
                    cols[0].extend(steps)
                    cols[1].extend(times)
                    cols[2].extend(values)
                continue
            for step, ts, value in zip(steps, times, values):
                self._add_value(key, value, step, ts, 0)

    def _add_sparse(self, key: Any, steps: list[int], times: list[float],
                    rows: list[dict[Any, Any]]) -> None:
        for step, ts, row in zip(steps, times, rows):
            if key in row:
                self._add_value(key, row[key], step, ts, 0)

    def _sync_step_metrics(self, data: dict[Any, Any]) -> None:
        """wandb's step_sync: rows lacking their step metric get its last value."""
        for name in self.registry.step_metric_names:
            if name in data:
                self._step_values[name] = data[name]
        for key in list(data):
            spec = self.registry.lookup(key) if isinstance(key, str) else None
            if (spec is not None and spec.step_metric and spec.step_sync
                    and spec.step_metric not in data and spec.step_metric in self._step_values):
                data[spec.step_metric] = self._step_values[spec.step_metric]

    def _check_key(self, key: Any) -> str | None:
        """The str key to store ``key`` under, or None (with one warning) if it can't be."""
        if key in self._good_keys:
            return key
        alias = self._aliases.get(key)
        if alias is not None:
            return alias
        if key in self._bad_keys:
            return None
        name = key
        if not isinstance(key, str):
            name = str(key)
            self.warner.warn(f"key-type:{name}",
                             f"runwatch.log: key {key!r} is a {type(key).__name__}, not a str; "
                             f"logging it as {name!r}.", background=True)
        problem = None
        if name in _RESERVED:
            problem = "is reserved for runwatch's own columns"
        elif name.startswith(SYSTEM_PREFIX):
            problem = f"starts with {SYSTEM_PREFIX!r}, which is kept for runwatch's system metrics"
        elif not name:
            problem = "is empty"
        elif len(name) > MAX_KEY_LENGTH:
            problem = f"is {len(name)} characters long; the limit is {MAX_KEY_LENGTH}"
        elif "\x00" in name:
            problem = "contains a NUL character"
        if problem is not None:
            shown = name if len(name) <= 80 else name[:77] + "..."
            self.warner.warn(f"key:{name}", f"runwatch.log: key {shown!r} {problem}; its values "
                             "are skipped. Rename the key.", background=True)
            self._bad_keys.add(key)
            return None
        if name is key:
            self._good_keys.add(key)
        else:
            self._aliases[key] = name
        return name

    def _new_series(self, key: Any) -> tuple[list[int], list[float], list[Any]] | None:
        name = self._check_key(key)
        if name is None:
            return None
        cols = self._series.get(name)
        if cols is None:
            cols = self._series[name] = ([], [], [])
            self._folded[name] = 0
        if name is not key:
            self._series[key] = cols  # route the non-str key straight here next time
        return cols

    def _add_other(self, key: Any, value: Any, step: int, ts: float, depth: int) -> None:
        if isinstance(value, dict):
            if depth > 16:
                self.warner.warn(f"deep:{key}", f"runwatch.log: value of {key!r} nests deeper "
                                 "than 16 levels; skipped.", background=True)
                return
            for sub, sub_value in value.items():
                self._add_value(f"{key}.{sub}", sub_value, step, ts, depth + 1)
            return
        if isinstance(value, bool) or value is None or isinstance(value, str):
            self._add_json(key, value, step, ts)
            return
        if isinstance(value, Media):
            self._add_media(key, value, step, ts)
            return
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
            self._add_media(key, value, step, ts)
            return
        if isinstance(value, float):
            self._add_value(key, float(value), step, ts, depth)
            return
        if isinstance(value, int):
            if _INT64[0] <= value < _INT64[1]:
                self._add_value(key, int(value), step, ts, depth)
            else:
                self._add_json(key, value, step, ts)
            return
        item = getattr(value, "item", None)
        if callable(item):  # numpy scalars and one-element arrays, torch tensors
            size = getattr(value, "size", None)
            if callable(size):
                size = value.numel()
            if size == 1:
                try:
                    self._add_value(key, item(), step, ts, depth)
                    return
                except Exception:  # noqa: BLE001 - stored as JSON below instead
                    pass
        self._add_json(key, value, step, ts)

    def _add_value(self, key: Any, value: Any, step: int, ts: float, depth: int) -> None:
        t = type(value)
        if t is float or (t is int and _INT64[0] <= value < _INT64[1]):
            cols = self._series.get(key) or self._new_series(key)
            if cols is not None:
                cols[0].append(step)
                cols[1].append(ts)
                cols[2].append(value)
        else:
            self._add_other(key, value, step, ts, depth)

    def _add_media(self, key: Any, value: Any, step: int, ts: float) -> None:
        """A rich value (or a list of them): its blobs join the batch, its meta becomes the
        history value; a Table (or a chart's table) also becomes a ``run_table`` artifact
        version ``run-<run id>-<key>``, as in wandb."""
        name = self._check_key(key)
        if name is None:
            return
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        metas = []
        try:
            for item in items:
                encoded = item.encode()
                for sha, data in encoded.blobs.items():
                    self._blob(sha, data)
                metas.append(encoded.meta)
        except Exception as exc:  # noqa: BLE001 - one bad object must not stop the run
            self.warner.warn(f"media:{name}", f"runwatch.log: could not store {name!r} "
                             f"({type(items[0]).__name__}): {exc!r}. It is skipped.",
                             background=True)
            return
        meta = metas[0] if len(metas) == 1 and not isinstance(value, (list, tuple)) else {
            "_type": "media-list", "items": metas}
        if meta.get("_type") in ("table", "chart"):
            table = meta if meta["_type"] == "table" else meta["table"]
            artifact = run_table_name(self.run_id, name)
            meta = {**meta, "artifact": artifact}
            # The entry's content is the table's JSON description (wandb's .table.json),
            # which names the columnar file by its sha256.
            text = jsonvalue.dumps(table)
            data = text.encode()
            sha = hashlib.sha256(data).hexdigest()
            self._blob(sha, data)
            entry = ArtifactFile(path=f"{name}.table.json", sha256=sha, size=len(data),
                                 media=text)
            self.artifacts.append(ArtifactVersion(
                name=artifact, type="run_table", step=step,
                digest=manifest_digest([entry]), files=[entry]))
        self._add_json(name, meta, step, ts)

    def _blob(self, sha: str, data: bytes) -> None:
        if sha in self._sent_blobs:
            return
        if len(self._sent_blobs) > 100_000:  # bounded memory; the store skips what it has
            self._sent_blobs.clear()
        self._sent_blobs.add(sha)
        self.blobs.append(Blob(sha, data))

    def _add_json(self, key: Any, value: Any, step: int, ts: float) -> None:
        name = self._check_key(key)
        if name is None:
            return
        try:
            text = jsonvalue.dumps(value)
        except TypeError as exc:
            self.warner.warn(
                f"value:{name}",
                f"runwatch.log: the value of {name!r} ({type(value).__name__}) cannot be stored: "
                f"{exc}. It is skipped; log a number, str, bool, None, list or dict.",
                background=True)
            return
        cols = self._values.get(name)
        if cols is None:
            cols = self._values[name] = ([], [], [])
        cols[0].append(step)
        cols[1].append(ts)
        cols[2].append(text)
        self.tracker.add_value(name, value)

    # -- output --
    def fold_summary(self) -> None:
        """Bring the summary up to date with the points collected so far."""
        self._columnize()
        for key, cols in self._series.items():
            if not isinstance(key, str):
                continue
            done = self._folded.get(key, 0)
            if done < len(cols[2]):
                self.tracker.add_numeric(key, cols[2][done:])
                self._folded[key] = len(cols[2])

    def empty(self) -> bool:
        return not (self.points or self.start or self.update or self.config or self.metrics
                    or self.state or self.tracker.dirty or self.artifacts or self.uses
                    or self.alerts or self.system or self.console or self._row_data)

    def _check_nonfinite(self, now: float) -> None:
        """One WARN alert per key, the first time it holds NaN or Inf. A column's sum is
        finite exactly when its values are (or it overflowed: then the scan finds none)."""
        for key, cols in self._series.items():
            if not isinstance(key, str) or key in self._nonfinite_keys or not cols[2]:
                continue
            if math.isfinite(sum(cols[2])):
                continue
            for step, value in zip(cols[0], cols[2]):
                if not math.isfinite(value):
                    self._nonfinite_keys.add(key)
                    what = "NaN" if value != value else ("Inf" if value > 0 else "-Inf")
                    self.alerts.append(Alert(
                        title=f"{key} is {what}", level="WARN", at=now, key=key, step=step,
                        text=f"{key} was {what} at step {step}, for the first time in this run."))
                    break

    def take(self, seq: int, now: float) -> Batch:
        self.fold_summary()  # columnizes the held rows too
        self._check_nonfinite(now)
        summary, summary_delete = self.tracker.take_changes()
        batch = Batch(
            project=self.project,
            run_id=self.run_id,
            seq=seq,
            sent_at=now,
            start=self.start,
            update=RunUpdate(**self.update) if self.update else None,
            config=self._texts(self.config, "config"),
            metrics=self.metrics,
            series=[Series(k, c[0], c[1], c[2]) for k, c in self._series.items()
                    if isinstance(k, str) and c[0]],
            values=[ValueSeries(k, c[0], c[1], c[2]) for k, c in self._values.items()],
            summary=self._texts(summary, "summary"),
            summary_delete=summary_delete,
            blobs=self.blobs,
            artifacts=self.artifacts,
            uses=self.uses,
            alerts=self.alerts,
            system=[Series(k, c[0], c[1], c[2]) for k, c in self.system.items()],
            console=self.console,
            state=self.state,
        )
        self.console = []
        self.alerts = []
        self.system = {}
        self.blobs = []
        self.artifacts = []
        self.uses = []
        self._series = {}
        self._folded = {}
        self._values = {}
        self.start = None
        self.update = {}
        self.config = {}
        self.metrics = []
        self.state = None
        self.points = 0
        return batch

    def _texts(self, values: dict[str, Any], what: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in values.items():
            try:
                out[key] = jsonvalue.dumps(value)
            except TypeError as exc:
                self.warner.warn(f"{what}:{key}", f"runwatch {what} value of {key!r} "
                                 f"({type(value).__name__}) is not JSON ({exc}); stored as its "
                                 "repr() text.", background=True)
                out[key] = jsonvalue.dumps(repr(value))
        return out
