"""``/api/v1/blobs/{sha256}``: a stored file by its content hash, as it is or (images) as
a thumbnail. Only a 64-character hex digest is accepted, so no request can name a
path outside the blob store. Content never changes under a hash: responses are
cached for good."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query
from starlette.responses import FileResponse

from runwatch.errors import StoreError
from runwatch.server.errors import ApiError
from runwatch.server.state import AppState, app_state

router = APIRouter(tags=["blobs"])

_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable",
              "X-Content-Type-Options": "nosniff"}
# What a browser may show inline; anything else is sent as a download.
_INLINE = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def _sniff(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(12)
    for magic, kind in _INLINE.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def blob_path(state: AppState, sha: str) -> Path:
    """The file of blob ``sha``; 404 for anything that is not a stored sha256."""
    if state.store.blobs is None:
        raise ApiError(503, "This store has no blob folder.")
    try:
        path = state.store.blobs.path(sha)
    except StoreError:
        raise ApiError(404, f"{sha!r} is not a sha256 hex digest, so it names no blob.") from None
    if not path.is_file():
        raise ApiError(404, f"No blob {sha} in this store.")
    return path


def _thumbnail(state: AppState, source: Path, sha: str, size: int) -> tuple[Path, str]:
    from PIL import Image

    folder = Path(state.settings.dir) / "thumbs" / sha[:2]
    for ext, kind in (("png", "image/png"), ("jpg", "image/jpeg")):
        cached = folder / f"{sha}-{size}.{ext}"
        if cached.is_file():
            return cached, kind
    try:
        with Image.open(source) as im:
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


@router.get("/blobs/{sha}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}, "image/png": {}}}},
            summary="A stored file by its sha256 (images may be asked for as thumbnails)")
def get_blob(sha: str,
             thumb: int | None = Query(None, ge=16, le=2048,
                                       description="Longest side of a thumbnail, in pixels."),
             name: str | None = Query(None, max_length=255,
                                      description="Download under this file name."),
             state: AppState = Depends(app_state)) -> FileResponse:
    path = blob_path(state, sha)
    if thumb is not None:
        tpath, kind = _thumbnail(state, path, sha, thumb)
        return FileResponse(tpath, media_type=kind, headers=_IMMUTABLE)
    kind = _sniff(path)
    if name is not None or kind is None:
        filename = os.path.basename(name or "") or f"{sha[:12]}.bin"
        return FileResponse(path, media_type="application/octet-stream", filename=filename,
                            headers=_IMMUTABLE)
    return FileResponse(path, media_type=kind, headers=_IMMUTABLE)
