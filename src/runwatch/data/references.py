"""Artifact references: entries whose content stays where it is.

``file://`` paths are hashed (sha256) but not copied; ``s3://bucket/key`` (or a
prefix) records each object's size, ETag and version id through boto3 (imported
only here; any S3-compatible endpoint via ``AWS_ENDPOINT_URL``). Downloading a
reference fetches it and checks it against what was recorded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from runwatch.errors import UsageError
from runwatch.records import ArtifactFile
from runwatch.store.blobs import hash_file

_PIECE = 1 << 20



def resolve(uri: str, name: str | None, checksum: bool,
            max_objects: int | None) -> list[ArtifactFile]:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return _file_entries(Path(unquote(parsed.path)), name, checksum, max_objects)
    if parsed.scheme == "s3":
        return _s3_entries(parsed.netloc, parsed.path.lstrip("/"), name, checksum, max_objects)
    raise UsageError(f"add_reference: {uri!r} is not a file:// or s3:// URI; those are the "
                     "schemes runwatch can reference.")


def _file_entries(root: Path, name: str | None, checksum: bool,
                  max_objects: int | None) -> list[ArtifactFile]:
    if root.is_file():
        files = [(root, name or root.name)]
    elif root.is_dir():
        prefix = name or ""
        files = [(p, f"{prefix}/{p.relative_to(root).as_posix()}" if prefix
                  else p.relative_to(root).as_posix())
                 for p in sorted(root.rglob("*")) if p.is_file()]
    else:
        raise UsageError(f"add_reference: {root.as_uri()} does not exist.")
    if max_objects is not None and len(files) > max_objects:
        raise UsageError(f"add_reference: {root.as_uri()} holds {len(files)} files, more than "
                         f"max_objects={max_objects}.")
    out = []
    for path, entry_name in files:
        sha, size = hash_file(path) if checksum else ("", path.stat().st_size)
        out.append(ArtifactFile(path=entry_name, sha256="", size=size, ref=path.as_uri(),
                                checksum=f"sha256:{sha}" if checksum else None))
    return out


def _s3_client() -> Any:
    try:
        import boto3
    except ImportError:
        raise UsageError("s3:// references need boto3: pip install boto3.") from None
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def _s3_entries(bucket: str, key: str, name: str | None, checksum: bool,
                max_objects: int | None) -> list[ArtifactFile]:
    client = _s3_client()
    objects: list[dict[str, Any]] = []
    try:
        head = client.head_object(Bucket=bucket, Key=key) if key else None
    except client.exceptions.ClientError:
        head = None
    if head is not None:
        objects.append({"Key": key, "Size": head["ContentLength"], "ETag": head["ETag"],
                        "VersionId": head.get("VersionId")})
        base = PurePosixPath(key).parent.as_posix()
    else:
        prefix = key.rstrip("/") + "/" if key else ""
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                     Prefix=prefix):
            objects.extend(page.get("Contents", []))
        if not objects:
            raise UsageError(f"add_reference: nothing at s3://{bucket}/{key}.")
        base = key.rstrip("/")
    if max_objects is not None and len(objects) > max_objects:
        raise UsageError(f"add_reference: s3://{bucket}/{key} holds {len(objects)} objects, "
                         f"more than max_objects={max_objects}.")
    out = []
    for obj in objects:
        rel = PurePosixPath(obj["Key"]).relative_to(base).as_posix() if base not in ("", ".") \
            else obj["Key"]
        entry_name = (name if len(objects) == 1 and head is not None and name else
                      f"{name}/{rel}" if name else rel)
        ref = f"s3://{bucket}/{obj['Key']}"
        if obj.get("VersionId") and obj["VersionId"] != "null":
            ref += f"?versionId={obj['VersionId']}"
        out.append(ArtifactFile(path=entry_name, sha256="", size=int(obj["Size"]), ref=ref,
                                checksum=f"etag:{obj['ETag'].strip(chr(34))}" if checksum
                                else None))
    return out


def fetch(entry: ArtifactFile, target: Path) -> None:
    """Copy a referenced entry to ``target``, checked against its recorded checksum."""
    assert entry.ref is not None
    parsed = urlparse(entry.ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    if parsed.scheme == "file":
        source = Path(unquote(parsed.path))
        if not source.is_file():
            raise UsageError(f"Referenced file {entry.ref} (entry {entry.path!r}) is gone.")
        # Into a temporary name first: a failed check never replaces a good earlier copy.
        part = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, part)
        if entry.checksum and entry.checksum.startswith("sha256:"):
            sha, _size = hash_file(part)
            if f"sha256:{sha}" != entry.checksum:
                part.unlink()
                raise UsageError(f"Referenced file {entry.ref} (entry {entry.path!r}) changed "
                                 f"since it was logged: sha256 {sha}, recorded "
                                 f"{entry.checksum[7:]}.")
        os.replace(part, target)
        return
    client = _s3_client()
    key = parsed.path.lstrip("/")
    extra = {}
    version = parse_qs(parsed.query).get("versionId")
    if version:
        extra["VersionId"] = version[0]
    head = client.head_object(Bucket=parsed.netloc, Key=key, **extra)
    etag = head["ETag"].strip('"')
    if entry.checksum and entry.checksum != f"etag:{etag}":
        raise UsageError(f"Referenced object {entry.ref} (entry {entry.path!r}) changed since "
                         f"it was logged: ETag {etag}, recorded {entry.checksum[5:]}.")
    part = target.with_name(f".{target.name}.part")
    client.download_file(parsed.netloc, key, str(part), ExtraArgs=extra or None)
    os.replace(part, target)
