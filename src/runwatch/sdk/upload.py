"""Uploading a blob to a server in resumable pieces (``/api/v1/uploads/{sha256}``).

The server says how much it holds; pieces go from there. A dropped connection
costs at most the piece in flight: the next try asks again and continues.
"""

from __future__ import annotations

from typing import Any

PIECE = 16 << 20


def upload_blob(http: Any, local: Any, sha: str, size: int, url: str,
                on_progress: Any = None) -> None:
    """Make the server hold blob ``sha`` (``size`` bytes) from the local blob store."""
    import httpx

    from runwatch.sdk.remote import ServerError, raise_for

    def status() -> dict[str, Any]:
        try:
            response = http.get(f"/uploads/{sha}")
        except httpx.HTTPError as exc:
            raise ServerError(f"no answer ({exc.__class__.__name__}: {exc})") from None
        raise_for(response, url)
        return response.json()

    state = status()
    if state["complete"]:
        return
    offset = int(state["offset"])
    path = local.path(sha)
    if not path.exists():
        # Neither here nor there: the server refuses the version that names it (a warning
        # says so) and applies the rest of the batch, so the run's stream never stalls.
        return
    with open(path, "rb") as fh:
        while True:
            fh.seek(offset)
            piece = fh.read(PIECE)
            try:
                response = http.put(f"/uploads/{sha}", params={"offset": offset, "size": size},
                                    content=piece,
                                    headers={"Content-Type": "application/octet-stream"})
            except httpx.HTTPError as exc:
                raise ServerError(f"no answer while uploading {sha[:12]} "
                                  f"({exc.__class__.__name__}: {exc})") from None
            if response.status_code == 409:  # another try got further: continue from there
                state = status()
                if state["complete"]:
                    return
                offset = int(state["offset"])
                continue
            raise_for(response, url)
            state = response.json()
            if on_progress is not None:
                on_progress(len(piece))
            if state["complete"]:
                return
            offset = int(state["offset"])
