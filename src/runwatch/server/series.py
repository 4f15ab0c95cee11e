"""``/api/v1/projects/{project}/series``: one key of many runs, ready for uPlot.

Each run comes back as columns (``x``, ``y``, and ``min``/``max`` when sampled),
already reduced to the chart's pixel width, so no page ever downloads points it
cannot draw. ``after`` returns only the points past a step: how live charts grow.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from runwatch.server import models
from runwatch.server.encoding import FastJSON
from runwatch.server.errors import ApiError, not_found
from runwatch.server.runs import split_ids
from runwatch.server.state import AppState, app_state
from runwatch.store import read, series

router = APIRouter(tags=["series"])

MAX_RUNS = 1000
MAX_WIDTH = 10_000
# Steps are int64 in the store; bounds past this are clamped, not sent to the database.
STEP_LIMIT = 2**62


@router.get("/projects/{project}/series", response_class=FastJSON,
            responses={200: {"model": models.SeriesResponse}, 404: {"model": models.Error},
                       422: {"model": models.Error}},
            summary="One metric of several runs, downsampled to a pixel width")
def get_series(
    project: str,
    key: str = Query(..., min_length=1, max_length=512, description="The metric key."),
    runs: str = Query(..., min_length=1, description="Comma-separated run ids."),
    x: str = Query(series.STEP, min_length=1, max_length=512,
                   description="x-axis: _step, _timestamp (wall time), _runtime (seconds since "
                               "the run started) or any logged metric key."),
    width: int = Query(1500, ge=1, le=MAX_WIDTH,
                       description="Buckets: the chart's width in pixels."),
    xmin: float | None = Query(None, description="Left edge of the x range (zoom)."),
    xmax: float | None = Query(None, description="Right edge of the x range (zoom)."),
    after: int | None = Query(None, ge=-1, le=STEP_LIMIT,
                              description="Only points with a step above this."),
    state: AppState = Depends(app_state),
) -> FastJSON:
    started = time.perf_counter()
    ids = split_ids(runs) or []
    if len(ids) > MAX_RUNS:
        raise ApiError(422, f"{len(ids)} runs asked for; at most {MAX_RUNS} per request. "
                            "Split the request.", "invalid_parameter")
    for name, v in (("xmin", xmin), ("xmax", xmax)):
        if v is not None and not math.isfinite(v):
            raise ApiError(422, f"{name} must be a finite number, got {v!r}.",
                           "invalid_parameter")
    if xmin is not None and xmax is not None and xmin > xmax:
        raise ApiError(422, f"xmin ({xmin}) is above xmax ({xmax}).", "invalid_parameter")
    metric_axis = x not in series.BUILTIN_AXES
    wanted = [key, x] if metric_axis else [key]
    loaded: list[tuple[str, series.XY | None]] = []
    with state.store.read() as conn:
        if not read.project_exists(conn, project):
            raise not_found("project", project, "GET /api/v1/projects lists the projects.")
        found = read.key_ids(conn, project, ids, wanted)
        for run_id in ids:
            rk = found.get(run_id)
            if rk is not None:
                loaded.append((run_id, _load(conn, state, rk, key, x, xmin, xmax, after)))
    # One set of buckets for every run, so their x values line up in the chart.
    spans = [(float(xy.x[0]), float(xy.x[-1])) for _, xy in loaded if xy is not None and len(xy.x)]
    lo = xmin if xmin is not None else min((a for a, _ in spans), default=None)
    hi = xmax if xmax is not None else max((b for _, b in spans), default=None)
    out = [_answer(run_id, xy, width, lo, hi) for run_id, xy in loaded]
    missing = [i for i in ids if i not in found]
    ms = (time.perf_counter() - started) * 1e3
    return FastJSON({"key": key, "x": x, "width": width, "runs": out, "missing": missing},
                    headers={"Server-Timing": f"series;dur={ms:.1f}"})


def _load(conn: Any, state: AppState, rk: read.RunKeys, key: str, axis: str,
          xmin: float | None, xmax: float | None, after: int | None) -> series.XY | None:
    key_id = rk.key_ids.get(key)
    axis_id = rk.key_ids.get(axis)
    metric_axis = axis not in series.BUILTIN_AXES
    if key_id is None or (metric_axis and axis_id is None):
        return None
    min_step = None if after is None else after + 1
    max_step = None
    if axis == series.STEP:
        # Zoomed on steps: read only the chunks in view.
        if xmin is not None:
            min_step = max(min_step if min_step is not None else -STEP_LIMIT,
                           min(STEP_LIMIT, math.floor(max(xmin, -STEP_LIMIT))))
        if xmax is not None:
            max_step = max(-STEP_LIMIT, min(STEP_LIMIT, math.ceil(min(xmax, STEP_LIMIT))))
    times = series.needs_times(axis)
    cols = series.load(conn, key_id, state.cache, min_step, max_step, with_times=times)
    axis_cols = (series.load(conn, axis_id, state.cache, min_step, max_step, with_times=False)
                 if metric_axis and axis_id is not None else None)
    return series.clip(series.on_axis(cols, axis, rk.created_at, axis_cols), xmin, xmax)


# Seven significant digits draw any chart exactly and keep the JSON short; x keeps more,
# because wall-clock seconds need ten digits before the point.
Y_DIGITS, X_DIGITS = 7, 13


def _answer(run_id: str, xy: series.XY | None, width: int, lo: float | None,
            hi: float | None) -> dict[str, Any]:
    if xy is None or len(xy.x) == 0:
        return {"id": run_id, "x": [], "y": [], "min": None, "max": None, "points": 0,
                "sampled": False, "nonfinite": 0, "last_step": None}
    ds = series.downsample(xy, width, lo, hi)
    x = ds.x if ds.x.dtype == np.int64 or ds.ymin is None else series.round_significant(ds.x, X_DIGITS)

    sampled = ds.ymin is not None

    def ys(a: np.ndarray | None) -> list[float] | None:
        # Raw points go out exact; bucket means and extremes are drawn, not read.
        if a is None:
            return None
        return (series.round_significant(a, Y_DIGITS) if sampled else a).tolist()

    return {
        "id": run_id, "x": x.tolist(), "y": ys(ds.y), "min": ys(ds.ymin), "max": ys(ds.ymax),
        "points": ds.points, "sampled": sampled, "nonfinite": ds.nonfinite,
        "last_step": int(xy.steps.max()),
    }
