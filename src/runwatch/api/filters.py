"""wandb's MongoDB-style run filters and sort orders, evaluated on run records.

Fields: ``config.<key>`` (also ``config.<key>.value``), ``summary_metrics.<key>``,
``state``, ``tags``, ``group``, ``jobType``, ``createdAt``, ``displayName``,
``name`` (the run id), ``host``. Operators: ``$and $or $nor $eq $ne $gt $gte
$lt $lte $in $nin $exists $regex``.
"""

from __future__ import annotations

import re
from typing import Any

from runwatch.errors import UsageError
from runwatch.store.read import RunRecord, iso

_MISSING = object()


def _dig(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def field_value(run: RunRecord, field: str) -> Any:
    head, _, rest = field.partition(".")
    if head == "config":
        parts = rest.split(".") if rest else []
        if parts and parts[-1] == "value":  # wandb's config.<key>.value form
            found = _dig(run.config, parts[:-1])
            if found is not _MISSING:
                return found
        return _dig(run.config, parts) if parts else run.config
    if head in ("summary_metrics", "summary"):
        if rest in run.summary:
            return run.summary[rest]
        return _dig(run.summary, rest.split(".")) if rest else run.summary
    simple = {
        "state": run.state, "tags": run.tags, "group": run.group, "jobType": run.job_type,
        "job_type": run.job_type, "createdAt": iso(run.created_at),
        "created_at": run.created_at, "displayName": run.name, "display_name": run.name,
        "name": run.id, "id": run.id, "host": run.host, "notes": run.notes,
    }
    if field in simple:
        return simple[field]
    raise UsageError(f"Cannot filter or sort on {field!r}: use config.<key>, "
                     f"summary_metrics.<key> or one of {', '.join(sorted(simple))}.")


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op == "$exists":
        return (value is not _MISSING and value is not None) == bool(arg)
    if value is _MISSING:
        return op in ("$ne", "$nin")
    if op == "$eq":
        return arg in value if isinstance(value, list) and not isinstance(arg, list) else value == arg
    if op == "$ne":
        return not _compare(value, "$eq", arg)
    if op == "$in":
        if isinstance(value, list):
            return any(v in arg for v in value)
        return value in arg
    if op == "$nin":
        return not _compare(value, "$in", arg)
    if op == "$regex":
        return isinstance(value, str) and re.search(arg, value) is not None
    try:
        if op == "$gt":
            return value > arg
        if op == "$gte":
            return value >= arg
        if op == "$lt":
            return value < arg
        if op == "$lte":
            return value <= arg
    except TypeError:
        return False
    raise UsageError(f"Unknown filter operator {op!r}.")


def matches(run: RunRecord, flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(run, sub) for sub in cond):
                return False
        elif key == "$or":
            if not any(matches(run, sub) for sub in cond):
                return False
        elif key == "$nor":
            if any(matches(run, sub) for sub in cond):
                return False
        elif key.startswith("$"):
            raise UsageError(f"Unknown filter operator {key!r} at the top level.")
        else:
            value = field_value(run, key)
            if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
                if not all(_compare(value, op, arg) for op, arg in cond.items()):
                    return False
            elif not _compare(value, "$eq", cond):
                return False
    return True


def sort_key(order: str) -> tuple[str, bool]:
    """(field, descending) for wandb's ``"+created_at"`` / ``"-summary_metrics.loss"``."""
    if not order:
        return "created_at", False
    desc = order.startswith("-")
    field = order.lstrip("+-")
    return {"created_at": "created_at", "createdAt": "created_at"}.get(field, field), desc


def sort_runs(runs: list[RunRecord], order: str) -> list[RunRecord]:
    field, desc = sort_key(order)

    def key(run: RunRecord) -> tuple[int, Any]:
        value = field_value(run, field)
        if value is _MISSING or value is None or isinstance(value, (dict, list)):
            return (1, 0)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, value)
        return (0, str(value))

    present = [r for r in runs if key(r)[0] == 0]
    absent = [r for r in runs if key(r)[0] == 1]
    try:
        present.sort(key=key, reverse=desc)
    except TypeError:  # numbers and strings mixed: compare as text
        present.sort(key=lambda r: str(key(r)[1]), reverse=desc)
    return present + absent
