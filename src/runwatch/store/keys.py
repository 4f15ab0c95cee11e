"""API keys of a team server: created once, stored as sha256 hashes, revocable.

A key is ``rw_`` plus 40 random letters and digits (238 bits; no ``-`` or ``_``, so
a double-click selects all of it). Because it is random rather than chosen by a
person, a plain sha256 is enough to keep the stored form useless to a thief, and
checking one costs microseconds, so every request can be checked without a slow
password hash.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runwatch.errors import UsageError
from runwatch.store.schema import api_keys

PREFIX = "rw_"
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class KeyInfo:
    name: str
    prefix: str
    read_only: bool
    created_at: float
    revoked_at: float | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 128 \
            or any(ord(c) < 32 for c in name):
        raise UsageError(f"Key name {name!r} is not allowed: 1-128 printable characters.")
    return name


def create(conn: Connection, name: str, read_only: bool = False) -> str:
    """A new key named ``name``; the key itself is returned once and never stored."""
    _check_name(name)
    taken = conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.name == name)).first()
    if taken is not None:
        state = "a revoked key" if taken.revoked_at is not None else "a key"
        raise UsageError(f"There is already {state} named {name!r}; choose another name.")
    key = PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))
    conn.execute(api_keys.insert().values(
        name=name, key_hash=hash_key(key), prefix=key[:10], read_only=int(read_only),
        created_at=time.time()))
    return key


def listing(conn: Connection) -> list[KeyInfo]:
    rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id))
    return [KeyInfo(r.name, r.prefix, bool(r.read_only), r.created_at, r.revoked_at)
            for r in rows]


def revoke(conn: Connection, name: str) -> None:
    done = conn.execute(api_keys.update()
                        .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                        .values(revoked_at=time.time()))
    if done.rowcount == 0:
        names = [k.name for k in listing(conn) if k.revoked_at is None]
        raise UsageError(f"No active key named {name!r}. Active keys: "
                         f"{', '.join(map(repr, names)) or 'none'}.")


def check(conn: Connection, key: str) -> KeyInfo | None:
    """The active key ``key`` is, or None."""
    if not key.startswith(PREFIX) or len(key) > 128:
        return None
    row = conn.execute(sa.select(api_keys).where(api_keys.c.key_hash == hash_key(key),
                                                 api_keys.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    return KeyInfo(row.name, row.prefix, bool(row.read_only), row.created_at, row.revoked_at)


def any_active(conn: Connection) -> bool:
    return conn.execute(sa.select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None))
                        .limit(1)).first() is not None
