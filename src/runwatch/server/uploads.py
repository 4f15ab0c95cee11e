"""``/api/v1/uploads/{sha256}``: large files (artifacts, checkpoints) reach the blob store
through the server, in pieces, resumable. Clients need no object-store credentials.

``GET`` says how much of the file the server holds (``complete`` when the blob is
stored); ``PUT ?offset=N&size=TOTAL`` appends one piece at ``offset``. A piece
at any other offset is refused with 409 and the offset to continue from, so a
client that lost its connection asks, then resumes where the server stopped.
When the last byte arrives the file is hashed; only content whose sha256 is the
name in the URL enters the blob store.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from runwatch.errors import StoreError
from runwatch.server.encoding import FastJSON
from runwatch.server.errors import ApiError
from runwatch.server.ingest import read_body
from runwatch.server.state import AppState, app_state
from runwatch.store.blobs import BlobMismatchError, check_sha

router = APIRouter(tags=["uploads"])

MAX_PIECE = 64 << 20
MAX_FILE = 1 << 40


def _check_sha(sha: str) -> str:
    try:
        return check_sha(sha)
    except StoreError:
        raise ApiError(422, f"{sha!r:.100} is not a sha256 hex digest (64 lowercase hex "
                       "characters); uploads are named by their content's hash.",
                       "invalid_parameter") from None


def _blobs(state: AppState) -> Any:
    if state.store.blobs is None:
        raise ApiError(503, "This server has no blob store; start it with --blobs.")
    return state.store.blobs


def _part(state: AppState, sha: str) -> Path:
    folder = Path(state.settings.dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{sha}.part"


def _status(state: AppState, sha: str) -> dict[str, Any]:
    if _blobs(state).has(sha):
        return {"sha256": sha, "complete": True, "offset": None}
    part = _part(state, sha)
    return {"sha256": sha, "complete": False,
            "offset": part.stat().st_size if part.exists() else 0}


@router.get("/uploads/{sha}", response_class=FastJSON,
            summary="How much of a file the server holds (resume an upload from offset)")
def upload_status(sha: str, state: AppState = Depends(app_state)) -> FastJSON:
    return FastJSON(_status(state, _check_sha(sha)))


def _append(state: AppState, sha: str, offset: int, size: int, piece: bytes) -> dict[str, Any]:
    blobs = _blobs(state)
    if blobs.has(sha):
        return {"sha256": sha, "complete": True, "offset": None}
    part = _part(state, sha)
    with open(part, "ab") as fh:
        # Two clients (or one retrying) may send the same file: one appends at a time.
        fcntl.flock(fh, fcntl.LOCK_EX)
        held = os.fstat(fh.fileno()).st_size
        if offset != held:
            raise ApiError(409, f"This piece starts at byte {offset:,} but the server holds "
                           f"{held:,} bytes of {sha}; send from offset {held}.",
                           "wrong_offset")
        if offset + len(piece) > size:
            raise ApiError(422, f"The piece ends at byte {offset + len(piece):,}, past the "
                           f"declared size {size:,}.", "invalid_parameter")
        fh.write(piece)
        fh.flush()
        if offset + len(piece) < size:
            return {"sha256": sha, "complete": False, "offset": offset + len(piece)}
        os.fsync(fh.fileno())
        # One pass: the store hashes the file as it takes it in, and keeps it only if it
        # is what the name says.
        try:
            with open(part, "rb") as whole:
                blobs.put_stream(sha, whole, size)
        except BlobMismatchError as exc:
            part.unlink(missing_ok=True)
            raise ApiError(422, f"The uploaded file hashes to {exc.actual}, not {sha}; it was "
                           "discarded. Upload it again.", "hash_mismatch") from None
        except StoreError as exc:
            raise ApiError(503, f"The blob store did not take {sha}: {exc}") from None
        part.unlink(missing_ok=True)
    return {"sha256": sha, "complete": True, "offset": None}


@router.put("/uploads/{sha}", response_class=FastJSON,
            summary="Append one piece of a file at offset; the last piece stores the blob",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload_piece(request: Request, sha: str,
                       offset: int = Query(..., ge=0, le=MAX_FILE,
                                           description="Byte where this piece starts."),
                       size: int = Query(..., ge=0, le=MAX_FILE,
                                         description="Size of the whole file in bytes."),
                       state: AppState = Depends(app_state)) -> FastJSON:
    _check_sha(sha)
    piece = await read_body(request, MAX_PIECE)
    return FastJSON(await run_in_threadpool(_append, state, sha, offset, size, piece))
