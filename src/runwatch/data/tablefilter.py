"""Filtering a stored table's rows: ``score>0.5 label=cat`` (every term must hold).

Terms are ``column<op>value`` with ``=  !=  >  <  >=  <=`` or ``:`` (contains, for text);
numbers compare as numbers, text case-insensitively; a bare word keeps rows where any
text column contains it. Values with spaces go in quotes: ``label:"big cat"``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from runwatch.data.tablefile import TableFile

_TERM = re.compile(r'\s*((?:[^\s"]+|"[^"]*")+)')
_OPS = (">=", "<=", "!=", ">", "<", "=", ":")


def parse(expr: str, columns: list[str]) -> list[tuple[str | None, str, str]]:
    """(column or None for a bare word, op, value) terms; raises ValueError naming an
    unknown column."""
    terms: list[tuple[str | None, str, str]] = []
    for m in _TERM.finditer(expr or ""):
        token = m.group(1).replace('"', "")
        best: tuple[int, str] | None = None
        for op in _OPS:
            i = token.find(op)
            if i > 0 and (best is None or i < best[0] or (i == best[0] and len(op) > len(best[1]))):
                best = (i, op)
        if best is None:
            terms.append((None, ":", token))
            continue
        col, op, value = token[:best[0]], best[1], token[best[0] + len(best[1]):]
        if col not in columns:
            raise ValueError(f"no column {col!r} to filter on (in {token!r}); the columns "
                             f"are {columns}")
        terms.append((col, op, value))
    return terms


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _compare(cells: list[Any], op: str, value: str) -> np.ndarray:
    wanted = _number(value)
    if wanted is not None and op != ":":
        nums = np.array([c if isinstance(c, (int, float)) and not isinstance(c, bool) else np.nan
                         for c in cells], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            out = {"=": nums == wanted, "!=": nums != wanted, ">": nums > wanted,
                   "<": nums < wanted, ">=": nums >= wanted, "<=": nums <= wanted}[op]
        if op == "!=":
            out |= np.isnan(nums)
        return out
    if op in (">", "<", ">=", "<="):
        return np.zeros(len(cells), dtype=bool)  # an order against text never holds
    low = value.lower()

    def text(c: Any) -> str:
        return c.lower() if isinstance(c, str) else str(c).lower()

    if op == ":":
        return np.fromiter((c is not None and low in text(c) for c in cells), bool, len(cells))
    same = np.fromiter((c is not None and text(c) == low for c in cells), bool, len(cells))
    return ~same if op == "!=" else same


def mask(tf: TableFile, expr: str) -> np.ndarray:
    """A boolean per row: does it pass every term of ``expr``?"""
    keep = np.ones(tf.nrows, dtype=bool)
    columns = list(tf.columns)
    kinds = dict(zip(columns, tf.kinds))
    for col, op, value in parse(expr, columns):
        if col is None:
            hit = np.zeros(tf.nrows, dtype=bool)
            for name in columns:
                if kinds[name] == "str":
                    hit |= _compare(tf.column(name), ":", value)
            keep &= hit
        else:
            keep &= _compare(tf.column(col), op, value)
    return keep
