"""``POST /api/v1/batches``: training nodes send their runs' batches here.

The body is exactly what the local sink hands the store: one msgpack-encoded
:class:`~runwatch.records.Batch` (optionally gzip- or deflate-compressed), and it
is applied by the same ``write_batch``. Each batch carries ``(run_id, seq)``:
a batch sent again after a lost answer is acknowledged without being applied
twice, and one that arrives ahead of a missing one is refused with 409 and the
``seq`` to resend from.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from runwatch import records
from runwatch.errors import SeqGapError, StoreError, UsageError
from runwatch.server.encoding import FastJSON
from runwatch.server.errors import ApiError
from runwatch.server.state import AppState, app_state

router = APIRouter(tags=["ingest"])

# A batch holds at most 50,000 points plus the media logged with them; a body past
# these limits is a mistake or an attack, not a batch.
MAX_BODY = 256 << 20
MAX_INFLATED = 512 << 20
MSGPACK = "application/vnd.msgpack"


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The body is {int(declared):,} bytes; at most {limit:,} are "
                       "accepted in one request.", "too_large")
    parts: list[bytes] = []
    size = 0
    try:
        async for piece in request.stream():
            size += len(piece)
            if size > limit:
                raise ApiError(413, f"The body passed {limit:,} bytes; at most that many are "
                               "accepted in one request.", "too_large")
            parts.append(piece)
    except ClientDisconnect:
        # Nobody is left to answer; what arrived is dropped (an upload resumes later).
        raise ApiError(400, "The client went away before its body arrived.",
                       "client_disconnected") from None
    return b"".join(parts)


def inflate(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(415, f"Content-Encoding {encoding!r} is not supported; send gzip, "
                       "deflate or none.", "unsupported_encoding")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    try:
        data = inflater.decompress(body, MAX_INFLATED)
    except zlib.error as exc:
        raise ApiError(400, f"The body is not valid {encoding} data ({exc}).",
                       "bad_encoding") from None
    if inflater.unconsumed_tail:
        raise ApiError(413, f"The body inflates past {MAX_INFLATED:,} bytes.", "too_large")
    if not inflater.eof:
        raise ApiError(400, f"The {encoding} body ends before its stream does (cut short?).",
                       "bad_encoding")
    return data


def decode_batch(data: bytes) -> records.Batch:
    try:
        batch = records.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ApiError(400, f"The body is not a runwatch batch ({exc}). Send one msgpack-"
                       f"encoded Batch as {MSGPACK}.", "bad_batch") from None
    try:
        records.check_batch(batch)
    except UsageError as exc:
        raise ApiError(422, f"Batch {batch.seq} of run {batch.project!r}/{batch.run_id!r} "
                       f"was refused: {exc}", "invalid_batch") from None
    return batch


def _apply(state: AppState, batch: records.Batch) -> dict[str, Any]:
    problems: list[str] = []
    try:
        applied = state.store.write(batch, problems)
    except SeqGapError as exc:
        raise ApiError(409, str(exc), "seq_gap") from None
    except StoreError as exc:
        raise ApiError(422, str(exc), "refused") from None
    return {"run_id": batch.run_id, "seq": batch.seq, "applied": applied, "problems": problems}


@router.post("/batches", response_class=FastJSON, status_code=200,
             summary="Apply one batch of a run (msgpack, as the SDK's writer sends it)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 MSGPACK: {"schema": {"type": "string", "format": "binary"}}}}})
async def post_batch(request: Request, state: AppState = Depends(app_state)) -> FastJSON:
    t0 = time.perf_counter()
    body = await read_body(request)
    t1 = time.perf_counter()
    async with _writers(state):
        t2 = time.perf_counter()
        batch = await run_in_threadpool(_decode, body, request.headers.get("content-encoding", ""))
        t3 = time.perf_counter()
        answer = await run_in_threadpool(_apply, state, batch)
        t4 = time.perf_counter()
    # Where a batch's time went (read the body, wait for a writer, decode, write), in ms.
    timing = ", ".join(f"{name};dur={1000 * d:.1f}" for name, d in
                       (("read", t1 - t0), ("wait", t2 - t1), ("decode", t3 - t2),
                        ("write", t4 - t3)))
    return FastJSON(answer, headers={"Server-Timing": timing})


def _decode(body: bytes, encoding: str) -> records.Batch:
    return decode_batch(inflate(body, encoding))


# Batches one server process decodes and writes at once (measured best of 1-4 with 2-4
# workers on 2 cores: benchmarks/README.md).
WRITE_SLOTS = 2


def _writers(state: AppState) -> Any:
    """Python threads share one core: a few batches at a time finish each in turn (first
    come, first served) instead of all of them late, while one waits for the database
    another computes."""
    import asyncio

    if state.ingest_slots is None:
        state.ingest_slots = asyncio.Semaphore(WRITE_SLOTS)
    return state.ingest_slots
