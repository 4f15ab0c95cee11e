"""``define_metric`` and the summary it shapes.

The summary of a key is its last logged value unless ``define_metric`` names
other ops, in which case it is wandb's dict (``{"min": 0.1, "max": 2.3}``).
A value the user assigns to ``run.summary`` directly wins over both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from runwatch.errors import UsageError
from runwatch.records import MetricDef

SUMMARY_OPS = ("min", "max", "mean", "first", "last", "best", "copy", "none")
GOALS = ("minimize", "maximize")
_MISSING = object()
_RAISE = object()


@dataclass
class MetricSpec:
    name: str
    step_metric: str | None = None
    step_sync: bool | None = None
    hidden: bool | None = None
    summary: tuple[str, ...] | None = None
    goal: str | None = None

    def record(self) -> MetricDef:
        return MetricDef(name=self.name, step_metric=self.step_metric,
                         summary=list(self.summary) if self.summary is not None else None,
                         hidden=self.hidden, goal=self.goal)


def parse_summary(summary: str | None, goal: str | None) -> tuple[str, ...] | None:
    if summary is None:
        return None
    if not isinstance(summary, str):
        raise UsageError(f"define_metric summary must be a comma list such as 'min,max', "
                         f"got {summary!r}.")
    ops = tuple(dict.fromkeys(o.strip().lower() for o in summary.split(",") if o.strip()))
    bad = [o for o in ops if o not in SUMMARY_OPS]
    if bad:
        raise UsageError(f"Unknown summary op(s) {', '.join(map(repr, bad))} in {summary!r}; "
                         f"use {', '.join(SUMMARY_OPS)}.")
    if "best" in ops and goal not in GOALS:
        raise UsageError("summary='best' needs goal='minimize' or goal='maximize'.")
    return ops


class MetricRegistry:
    """Definitions by exact name and by trailing-``*`` glob; exact names win,
    then the longest glob prefix."""

    def __init__(self) -> None:
        self.exact: dict[str, MetricSpec] = {}
        self.globs: dict[str, MetricSpec] = {}
        self._cache: dict[str, MetricSpec | None] = {}
        self.has_step_metrics = False
        self.step_metric_names: set[str] = set()

    def define(self, name: str, step_metric: str | None = None, step_sync: bool | None = None,
               hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
               overwrite: bool | None = None) -> MetricSpec:
        if not isinstance(name, str) or not name:
            raise UsageError(f"define_metric needs a metric name, got {name!r}.")
        if "*" in name[:-1]:
            raise UsageError(f"define_metric name {name!r}: '*' is only allowed at the end "
                             "(for example 'train/*').")
        if goal is not None and goal not in GOALS:
            raise UsageError(f"goal must be 'minimize' or 'maximize', got {goal!r}.")
        ops = parse_summary(summary, goal)
        if step_metric is not None and step_sync is None:
            step_sync = True
        table = self.globs if name.endswith("*") else self.exact
        key = name[:-1] if name.endswith("*") else name
        new = MetricSpec(name, step_metric, step_sync, hidden, ops, goal)
        old = table.get(key)
        if old is not None and not overwrite:
            new = MetricSpec(
                name,
                step_metric if step_metric is not None else old.step_metric,
                step_sync if step_sync is not None else old.step_sync,
                hidden if hidden is not None else old.hidden,
                ops if ops is not None else old.summary,
                goal if goal is not None else old.goal,
            )
        table[key] = new
        self._cache.clear()
        specs = (*self.exact.values(), *self.globs.values())
        self.step_metric_names = {s.step_metric for s in specs if s.step_metric}
        self.has_step_metrics = bool(self.step_metric_names)
        return new

    def lookup(self, key: str) -> MetricSpec | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        spec = self.exact.get(key)
        if spec is None:
            best = -1
            for prefix, s in self.globs.items():
                if key.startswith(prefix) and len(prefix) > best and key != s.step_metric:
                    spec, best = s, len(prefix)
        self._cache[key] = spec
        return spec


@dataclass
class _Stats:
    first: Any = None
    last: Any = None
    min: float = math.inf
    max: float = -math.inf
    total: float = 0.0
    count: int = 0
    seen_numeric: bool = False
    ops: tuple[str, ...] | None = field(default=None)


class SummaryTracker:
    """Running summary of logged values (writer side); tracks which keys changed."""

    def __init__(self, registry: MetricRegistry) -> None:
        self.registry = registry
        self.stats: dict[str, _Stats] = {}
        self.explicit: dict[str, Any] = {}
        self.deleted: set[str] = set()
        self.dirty: set[str] = set()

    def _stats(self, key: str) -> _Stats:
        st = self.stats.get(key)
        if st is None:
            st = self.stats[key] = _Stats()
            st.first = None
        return st

    def add_numeric(self, key: str, values: list[float | int]) -> None:
        st = self._stats(key)
        spec = self.registry.lookup(key)
        ops = spec.summary if spec is not None else None
        if st.count == 0 and not st.seen_numeric and st.first is None:
            st.first = values[0]
        st.last = values[-1]
        if ops:
            real = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
            if real:
                st.min = min(st.min, min(real))
                st.max = max(st.max, max(real))
            st.total += sum(values)
            st.count += len(values)
        st.seen_numeric = True
        self.dirty.add(key)

    def add_value(self, key: str, value: Any) -> None:
        st = self._stats(key)
        if st.first is None:
            st.first = value
        st.last = value
        self.dirty.add(key)

    def seed(self, summary: dict[str, Any]) -> None:
        """Continue a resumed run's summary: its stored values count as logged."""
        for key, value in summary.items():
            st = self._stats(key)
            if isinstance(value, dict):
                st.min = value.get("min", st.min)
                st.max = value.get("max", st.max)
                st.first = value.get("first", st.first)
                st.last = value.get("last", value.get("copy", st.last))
                if "mean" in value:
                    st.total, st.count = value["mean"], 1
            else:
                st.last = st.first = value

    def set_explicit(self, key: str, value: Any) -> None:
        self.explicit[key] = value
        self.deleted.discard(key)
        self.dirty.add(key)

    def delete(self, key: str) -> None:
        self.explicit.pop(key, None)
        self.stats.pop(key, None)
        self.deleted.add(key)
        self.dirty.add(key)

    def value(self, key: str, default: Any = _RAISE) -> Any:
        found = self._lookup(key)
        if found is _MISSING:
            if default is _RAISE:
                raise KeyError(key)
            return default
        return found

    def _lookup(self, key: str) -> Any:
        if key in self.explicit:
            return self.explicit[key]
        st = self.stats.get(key)
        if st is None or key in self.deleted:
            return _MISSING
        spec = self.registry.lookup(key)
        ops = spec.summary if spec is not None else None
        if ops is None:
            return st.last
        if "none" in ops:
            return _MISSING
        if ops == ("copy",):
            return st.last
        out: dict[str, Any] = {}
        for op in ops:
            if op == "min" and st.min != math.inf:
                out["min"] = st.min
            elif op == "max" and st.max != -math.inf:
                out["max"] = st.max
            elif op == "mean" and st.count:
                out["mean"] = st.total / st.count
            elif op == "first":
                out["first"] = st.first
            elif op in ("last", "copy"):
                out[op] = st.last
            elif op == "best":
                best = st.min if spec is not None and spec.goal == "minimize" else st.max
                if math.isfinite(best):
                    out["best"] = best
        return out

    def keys(self) -> list[str]:
        keys = list(dict.fromkeys([*self.stats, *self.explicit]))
        return [k for k in keys if self._lookup(k) is not _MISSING]

    def take_changes(self) -> tuple[dict[str, Any], list[str]]:
        changes: dict[str, Any] = {}
        deletes: list[str] = []
        for key in self.dirty:
            value = self._lookup(key)
            if value is _MISSING:
                deletes.append(key)
            else:
                changes[key] = value
        self.dirty.clear()
        return changes, deletes
