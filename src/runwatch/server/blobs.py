"""``/api/v1/blobs/{sha256}``: a stored file by its content hash, as it is or (images) as
a thumbnail. Only a 64-character hex digest is accepted, so no request can name a
path outside the blob store. Content never changes under a hash: responses are
cached for good, and the hash is the ETag.

A blob in a local folder is sent as a file (sendfile, Range requests); one in object
storage (``--blobs s3://...``) is streamed from it, with single-range requests served
by seeking.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from runwatch.errors import StoreError
from runwatch.server.encoding import attachment
from runwatch.server.errors import ApiError
from runwatch.server.state import AppState, app_state
from runwatch.store.blobs import BlobStore, LocalBlobStore, MissingBlobError, check_sha

router = APIRouter(tags=["blobs"])

_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable",
              "X-Content-Type-Options": "nosniff"}
# What a browser may show inline; anything else is sent as a download.
_INLINE = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
_PIECE = 1 << 20


def _sniff(head: bytes) -> str | None:
    for magic, kind in _INLINE.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _blob_store(state: AppState, sha: str) -> BlobStore:
    """The blob store; 404 for a name that is not a sha256, 503 without a blob store."""
    blobs = state.store.blobs
    if blobs is None:
        raise ApiError(503, "This store has no blob store.")
    try:
        check_sha(sha)
    except StoreError:
        raise ApiError(404, f"{sha!r} is not a sha256 hex digest, so it names no blob.") from None
    return blobs


def _no_blob(sha: str) -> ApiError:
    return ApiError(404, f"No blob {sha} in this store.")


def stored_blob(state: AppState, sha: str) -> BlobStore:
    """The blob store, once it is known to hold ``sha``; 404 for anything that is not a
    stored sha256, 503 when the server has no blob store."""
    blobs = _blob_store(state, sha)
    if not blobs.has(sha):
        raise _no_blob(sha)
    return blobs


def blob_file(state: AppState, sha: str) -> Path:
    """A file on this machine with blob ``sha``'s content (404 as :func:`stored_blob`):
    the blob itself in a folder store; from object storage, a hash-checked copy kept in
    ``<dir>/blobcache`` (blobs never change), so a large table is fetched once and then
    paged from disk like a local one."""
    blobs = stored_blob(state, sha)
    path = blobs.local_path(sha)
    if path is not None:
        return path
    cache = LocalBlobStore(Path(state.settings.dir) / "blobcache")
    if not cache.has(sha):
        blobs.link_into(sha, cache)
    return cache.path(sha)


def _thumbnail(state: AppState, blobs: BlobStore, sha: str, size: int) -> tuple[Path, str]:
    from PIL import Image

    folder = Path(state.settings.dir) / "thumbs" / sha[:2]
    for ext, kind in (("png", "image/png"), ("jpg", "image/jpeg")):
        cached = folder / f"{sha}-{size}.{ext}"
        if cached.is_file():
            return cached, kind
    source = blobs.open(sha)  # MissingBlobError: the caller's 404
    try:
        with source, Image.open(source) as im:
            im.thumbnail((size, size))
            keep_alpha = im.mode in ("RGBA", "LA", "P", "1", "L", "I", "I;16", "F")
            out = io.BytesIO()
            if keep_alpha:
                if im.mode not in ("RGBA", "LA", "L", "1", "P"):
                    im = im.convert("L")
                im.save(out, "PNG", optimize=False)
                ext, kind = "png", "image/png"
            else:
                im.convert("RGB").save(out, "JPEG", quality=85)
                ext, kind = "jpg", "image/jpeg"
    except Exception as exc:  # noqa: BLE001 - any undecodable file is the same answer
        raise ApiError(422, f"Blob {sha} is not an image Pillow can read ({exc}).",
                       "not_an_image") from None
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(out.getvalue())
    target = folder / f"{sha}-{size}.{ext}"
    os.replace(tmp, target)
    return target, kind


def _single_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, end exclusive) of a one-range ``Range`` header; None to send everything
    (no header, several ranges or one we do not parse: HTTP lets a server ignore it);
    "unsatisfiable" for a range past the end."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not (first or last) or not (first + last).isdigit():
        return None
    if not first:  # the last N bytes
        n = int(last)
        return (max(size - n, 0), size) if n else "unsatisfiable"
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size:
        return "unsatisfiable"
    return (start, end) if start < end else None


def _pieces(fh: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            piece = fh.read(min(_PIECE, length))
            if not piece:
                break
            length -= len(piece)
            yield piece
    finally:
        fh.close()


def _stream(fh: IO[bytes], media_type: str, headers: dict[str, str],
            request: Request) -> Response:
    size = fh.seek(0, os.SEEK_END)  # an fsspec file knows its size: no request
    headers = {**headers, "Accept-Ranges": "bytes"}
    if_range = request.headers.get("if-range")
    wanted = _single_range(request.headers.get("range"), size) \
        if if_range is None or if_range == headers["ETag"] else None
    if wanted == "unsatisfiable":
        fh.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status, start, end = 200, 0, size
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    fh.seek(start)
    return StreamingResponse(_pieces(fh, end - start), status_code=status,
                             media_type=media_type, headers=headers)


@router.get("/blobs/{sha}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}, "image/png": {}}}},
            summary="A stored file by its sha256 (images may be asked for as thumbnails)")
def get_blob(request: Request, sha: str,
             thumb: int | None = Query(None, ge=16, le=2048,
                                       description="Longest side of a thumbnail, in pixels."),
             name: str | None = Query(None, max_length=255,
                                      description="Download under this file name."),
             state: AppState = Depends(app_state)) -> Response:
    blobs = _blob_store(state, sha)
    if thumb is not None:
        try:
            tpath, kind = _thumbnail(state, blobs, sha, thumb)
        except MissingBlobError:
            raise _no_blob(sha) from None
        return FileResponse(tpath, media_type=kind, headers=_IMMUTABLE)
    headers = {**_IMMUTABLE, "ETag": f'"{sha}"'}
    # The content under a sha256 never changes: a client holding that ETag is up to date.
    if request.headers.get("if-none-match") in (headers["ETag"], f"W/{headers['ETag']}"):
        return Response(status_code=304, headers=headers)
    try:
        fh = blobs.open(sha)
    except MissingBlobError:
        raise _no_blob(sha) from None
    try:
        kind = _sniff(fh.read(12))
    except BaseException:
        fh.close()
        raise
    filename = None
    if name is not None or kind is None:
        filename = os.path.basename(name or "") or f"{sha[:12]}.bin"
        kind = "application/octet-stream"
    path = blobs.local_path(sha)
    if path is not None:
        fh.close()
        return FileResponse(path, media_type=kind, filename=filename, headers=headers)
    if filename is not None:
        headers["Content-Disposition"] = attachment(filename)
    return _stream(fh, kind, headers, request)
