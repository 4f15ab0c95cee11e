"""Reading a run's console lines: pages from either end, search, the whole text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runwatch.store.schema import console_lines

STREAMS = {"both": 0, "stdout": 1, "stderr": 2}


def _pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(conn: Connection, run_pk: int, query: str | None, stream: int | None) -> list[Any]:
    conds: list[Any] = [console_lines.c.run_pk == run_pk]
    if query:
        text = console_lines.c.text
        if conn.dialect.name == "sqlite":
            # SQLite folds ASCII only; the store registers Python's casefold (engine.py).
            conds.append(sa.func.casefold(text).like(_pattern(query.casefold()), escape="\\"))
        else:
            conds.append(text.ilike(_pattern(query), escape="\\"))
    if stream is not None:
        conds.append(console_lines.c.stream == stream)
    return conds


def count(conn: Connection, run_pk: int, query: str | None = None,
          stream: int | None = None) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(console_lines)
                            .where(*_where(conn, run_pk, query, stream))).scalar_one())


def page(conn: Connection, run_pk: int, *, after: int | None = None, before: int | None = None,
         limit: int = 500, query: str | None = None,
         stream: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` lines in order: the first after line ``after``, the last before line
    ``before``, or (neither) the last of all; and whether more lie beyond the page's far end
    (earlier lines for ``before`` and the tail, later lines for ``after``)."""
    c = console_lines.c
    q = sa.select(c.line_no, c.at, c.stream, c.text).where(*_where(conn, run_pk, query, stream))
    if after is not None:
        q = q.where(c.line_no > after).order_by(c.line_no)
    else:
        if before is not None:
            q = q.where(c.line_no < before)
        q = q.order_by(c.line_no.desc())
    rows = conn.execute(q.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if after is None:
        rows.reverse()
    return [{"n": r.line_no, "at": r.at, "stream": r.stream, "text": r.text} for r in rows], more


def iter_texts(conn: Connection, run_pk: int, size: int = 5000) -> Iterator[list[str]]:
    """Every line's text, in order, a page at a time."""
    c = console_lines.c
    last = -1
    while True:
        rows = conn.execute(sa.select(c.line_no, c.text).where(c.run_pk == run_pk,
                                                                c.line_no > last)
                            .order_by(c.line_no).limit(size)).all()
        if not rows:
            return
        yield [r.text for r in rows]
        last = rows[-1].line_no


def iter_text(conn: Connection, run_pk: int, size: int = 5000) -> Iterator[str]:
    """Every line with its newline, a page at a time (for ``output.log``)."""
    for texts in iter_texts(conn, run_pk, size):
        yield "".join(t + "\n" for t in texts)
