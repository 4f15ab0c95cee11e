"""Store records as the JSON the API returns. One place, so every endpoint agrees."""

from __future__ import annotations

from typing import Any

import msgspec

from runwatch.store.read import ProjectKey, ProjectRecord, RunRecord


def project(p: ProjectRecord) -> dict[str, Any]:
    return {"name": p.name, "entity": p.entity, "created_at": p.created_at,
            "run_count": p.run_count, "running_count": p.running_count,
            "last_activity": p.last_activity}


def run(r: RunRecord) -> dict[str, Any]:
    """A run as the runs table needs it (no metadata, no traceback). The stored JSON goes
    out as it is: it already tags NaN and ±Inf the way the API promises."""
    return {
        "id": r.id, "name": r.name, "project": r.project, "entity": r.entity,
        "state": r.state, "notes": r.notes, "group": r.group, "job_type": r.job_type,
        "tags": msgspec.Raw(r.tags_json), "config": msgspec.Raw(r.config_json),
        "summary": msgspec.Raw(r.summary_json),
        "created_at": r.created_at, "updated_at": r.updated_at,
        "heartbeat_at": r.heartbeat_at, "finished_at": r.finished_at,
        "exit_code": r.exit_code, "last_step": r.last_step, "host": r.host,
        "seq": r.last_seq,
    }


def run_detail(r: RunRecord, keys: list[ProjectKey]) -> dict[str, Any]:
    out = run(r)
    out["metadata"] = msgspec.Raw(r.metadata_json)
    out["traceback"] = r.traceback
    out["metrics"] = msgspec.Raw(r.metrics_json)
    out["keys"] = [key(k) for k in keys]
    return out


def key(k: ProjectKey) -> dict[str, Any]:
    return {"key": k.key, "runs": k.runs, "points": k.points, "values": k.values,
            "numeric": k.points > 0, "hidden": k.hidden, "step_metric": k.step_metric}
