"""The columnar file a Table is stored as, and a reader that pages it without loading it.

A dashboard shows 100 rows of a 1,000,000-row table sorted by any column. So the file
keeps each column as flat arrays and, for every sortable column, the permutation that
sorts it, computed once at encode time. A page is then a slice of that permutation and
a gather of 100 cells per column; with ``numpy.memmap`` only those pages are read.

Layout (little-endian; every segment starts on an 8-byte boundary)::

    magic       8 bytes   b"RWTABLE\\0"
    version     uint32    1
    header_len  uint32
    header      JSON: {"nrows": N, "columns": [{"name", "kind", "nnull",
                                                 "segments": {name: [offset, nbytes]}}]}
    padding, then the segments; offsets count from the first 8-byte boundary after the header

Column kinds and their segments:

- ``int`` (int64), ``float`` (float64), ``bool`` (uint8): ``values``; ``mask`` (uint8,
  1 = None) only when some cell is None. A float NaN is a value, not a mask entry.
- ``str``: ``offsets`` (int64, N+1) into ``data`` (UTF-8; lone surrogates kept with
  ``surrogatepass``), plus ``mask``.
- ``json``: the same, each cell JSON text (non-finite floats tagged as in
  :mod:`runwatch.jsonvalue`). Media cells are their meta dicts. Not sortable.
- every kind but ``json``: ``order``, int32 (int64 past 2**31 rows), the stable
  ascending permutation with nulls (None and NaN) last in row order; ``nnull`` in the
  header counts them.

Descending pages list ties in row order (as ``sorted(..., reverse=True)`` and pandas'
stable sort do) rather than reversing the permutation, which would reverse ties; nulls
stay last. Tie runs are found by binary search over the sorted order, so nothing extra
is stored.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from runwatch.jsonvalue import from_jsonable, to_jsonable

MAGIC = b"RWTABLE\x00"
VERSION = 1
KINDS = ("int", "float", "bool", "str", "json")
SORTABLE = ("int", "float", "bool", "str")
_PREFIX = struct.Struct("<8sII")
_VALUE_DTYPES = {"int": "<i8", "float": "<f8", "bool": "u1"}
_NoneType = type(None)
# Beyond this many bytes for a numpy unicode array, strings sort with Python instead.
_NUMPY_SORT_BYTES = 256 << 20
_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def _order_dtype(nrows: int) -> str:
    return "<i4" if nrows < 2**31 else "<i8"


def _align(n: int) -> int:
    return (n + 7) & ~7


# ---------------------------------------------------------------- writing


def _mask_of(values: Sequence[Any], n: int) -> np.ndarray:
    return np.fromiter((v is None for v in values), np.bool_, n)


def _stable_nulls_last(order: np.ndarray, nulls: np.ndarray | None) -> np.ndarray:
    if nulls is None or not nulls.any():
        return order
    is_null = nulls[order]
    return np.concatenate([order[~is_null], order[is_null]])


def _sort_strings(strs: list[str]) -> np.ndarray:
    n = len(strs)
    longest = max(map(len, strs), default=0)
    # numpy's unicode arrays drop trailing NULs, which would misorder such strings.
    if n and longest * 4 * n <= _NUMPY_SORT_BYTES and "\x00" not in "".join(strs):
        return np.argsort(np.array(strs, dtype=f"<U{max(longest, 1)}"), kind="stable")
    return np.array(sorted(range(n), key=strs.__getitem__), dtype=np.int64)


def _var_segments(encoded: list[bytes]) -> dict[str, Any]:
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    return {"offsets": offsets, "data": b"".join(encoded)}


def _build_column(values: Sequence[Any]) -> tuple[str, dict[str, Any], int]:
    """(kind, segments, nnull) for one column of Python values."""
    n = len(values)
    types = set(map(type, values))
    has_null = _NoneType in types
    types.discard(_NoneType)
    mask = _mask_of(values, n) if has_null else None
    kind = "json"
    segs: dict[str, Any] = {}
    nulls = mask
    if types == {bool}:
        kind = "bool"
        vals = np.fromiter((v is True for v in values), np.bool_, n).view(np.uint8)
    elif types <= {int, float}:
        kind = "int" if types == {int} else "float"
        src = (0 if v is None else v for v in values) if has_null else values
        try:
            vals = np.fromiter(src, np.int64 if kind == "int" else np.float64, n)
        except OverflowError:  # ints past int64 / float range keep their exact value as JSON
            kind = "json"
        else:
            if kind == "float":
                if mask is not None:
                    vals[mask] = np.nan
                nulls = np.isnan(vals)
    if kind in ("int", "float", "bool"):
        segs["values"] = vals
        order = _stable_nulls_last(np.argsort(vals, kind="stable"), nulls)
    elif types == {str}:
        kind = "str"
        segs.update(_var_segments([b"" if v is None else v.encode("utf-8", "surrogatepass")
                                   for v in values]))
        if mask is None:
            order = _sort_strings(list(values))
        else:
            present = np.flatnonzero(~mask)
            strs = [values[i] for i in present.tolist()]
            order = np.concatenate([present[_sort_strings(strs)], np.flatnonzero(mask)])
    else:
        try:
            segs.update(_var_segments([b"" if v is None else _json_encode(to_jsonable(v))
                                       for v in values]))
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"a cell has no JSON form: {exc}") from None
        order = None
    if mask is not None:
        segs["mask"] = mask.view(np.uint8)
    if order is not None:
        segs["order"] = order.astype(_order_dtype(n))
    nnull = int(nulls.sum()) if nulls is not None else 0
    return kind, segs, nnull


def encode_table(columns: Sequence[str], column_data: Sequence[Sequence[Any]]) -> bytes:
    """The file for ``column_data`` (one sequence of Python values per column).

    A column's kind follows its values: only ints -> int, ints and floats -> float, only
    bools -> bool, only str -> str, anything else (dicts, lists, mixed) -> json. None is
    allowed in every kind.
    """
    if len(columns) != len(column_data):
        raise ValueError(f"{len(columns)} column names but {len(column_data)} columns of "
                         "data; pass one sequence of values per name")
    nrows = len(column_data[0]) if column_data else 0
    header_cols: list[dict[str, Any]] = []
    parts: list[Any] = []
    pos = 0
    for name, values in zip(columns, column_data):
        if len(values) != nrows:
            raise ValueError(f"column {name!r} has {len(values)} values but the first column "
                             f"has {nrows}; every column needs the same number of rows")
        kind, segs, nnull = _build_column(values)
        placed: dict[str, list[int]] = {}
        for seg_name, seg in segs.items():
            buf = memoryview(np.ascontiguousarray(seg)).cast("B") \
                if isinstance(seg, np.ndarray) else memoryview(seg)
            placed[seg_name] = [pos, buf.nbytes]
            parts.append(buf)
            pad = _align(buf.nbytes) - buf.nbytes
            if pad:
                parts.append(b"\x00" * pad)
            pos += buf.nbytes + pad
        header_cols.append({"name": name, "kind": kind, "nnull": nnull, "segments": placed})
    if parts and isinstance(parts[-1], bytes):  # no padding after the last segment, so
        parts.pop()                              # any truncation cuts into real data
    header = json.dumps({"nrows": nrows, "columns": header_cols},
                        ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    head = _PREFIX.pack(MAGIC, VERSION, len(header)) + header
    head += b"\x00" * (_align(len(head)) - len(head))
    return b"".join([head, *parts])


# ---------------------------------------------------------------- reading


class _Column:
    __slots__ = ("name", "kind", "nnull", "values", "mask", "offsets", "data", "order")

    def __init__(self, name: str, kind: str, nnull: int) -> None:
        self.name, self.kind, self.nnull = name, kind, nnull
        self.values: Any = None
        self.mask: Any = None
        self.offsets: Any = None
        self.data: Any = None
        self.order: Any = None


class TableFile:
    """Read access to a table file: from a path (memory-mapped) or from its bytes."""

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._where = "table data"
            buf = np.frombuffer(source, dtype=np.uint8)
        else:
            self._where = f"table file {os.fspath(source)}"
            size = os.path.getsize(source)
            if size < _PREFIX.size:
                raise ValueError(f"{self._where} is truncated: {size} bytes, fewer than the "
                                 f"{_PREFIX.size}-byte prefix")
            buf = np.memmap(source, dtype=np.uint8, mode="r")
        self._buf = buf
        self._cols: list[_Column] = []
        self._by_name: dict[str, _Column] = {}
        self.nrows = 0
        self._parse()

    def _fail(self, what: str) -> ValueError:
        return ValueError(f"{self._where} is not a valid runwatch table file: {what}")

    def _parse(self) -> None:
        buf, size = self._buf, len(self._buf)
        if size < _PREFIX.size:
            raise self._fail(f"truncated: {size} bytes, fewer than the {_PREFIX.size}-byte prefix")
        magic, version, hlen = _PREFIX.unpack(buf[:_PREFIX.size].tobytes())
        if magic != MAGIC:
            raise self._fail(f"it starts with {magic!r}, not {MAGIC!r}")
        if version != VERSION:
            raise self._fail(f"format version {version}; this runwatch reads version {VERSION} "
                             "(upgrade runwatch to read newer files)")
        if _PREFIX.size + hlen > size:
            raise self._fail(f"truncated: the {hlen}-byte header runs past the end of "
                             f"the {size}-byte file")
        try:
            header = json.loads(buf[_PREFIX.size:_PREFIX.size + hlen].tobytes()
                                .decode("utf-8", "surrogatepass"))
            nrows = header["nrows"]
            specs = header["columns"]
            if type(nrows) is not int or nrows < 0 or not isinstance(specs, list):
                raise ValueError(f"nrows {nrows!r} / columns {type(specs).__name__}")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._fail(f"unreadable header ({exc})") from None
        self.nrows = nrows
        base = _align(_PREFIX.size + hlen)
        for i, spec in enumerate(specs):
            col = self._parse_column(i, spec, base, size)
            if col.name in self._by_name:
                raise self._fail(f"column name {col.name!r} appears twice")
            self._cols.append(col)
            self._by_name[col.name] = col

    def _parse_column(self, i: int, spec: Any, base: int, size: int) -> _Column:
        try:
            name, kind, nnull, segs = spec["name"], spec["kind"], spec["nnull"], spec["segments"]
        except (KeyError, TypeError):
            raise self._fail(f"column {i} entry {spec!r:.200} lacks name/kind/nnull/segments") \
                from None
        if not isinstance(name, str) or kind not in KINDS or type(nnull) is not int \
                or not 0 <= nnull <= self.nrows or not isinstance(segs, dict):
            raise self._fail(f"column {i} entry has name {name!r:.80}, kind {kind!r}, "
                             f"nnull {nnull!r}; kinds are {', '.join(KINDS)}")
        n = self.nrows
        col = _Column(name, kind, nnull)
        expected: dict[str, tuple[str, int | None]] = {"mask": ("u1", n)}
        if kind in _VALUE_DTYPES:
            expected["values"] = (_VALUE_DTYPES[kind], n)
        else:
            expected["offsets"] = ("<i8", n + 1)
            expected["data"] = ("u1", None)
        if kind in SORTABLE:
            expected["order"] = (_order_dtype(n), n)
        required = set(expected) - {"mask"}
        if set(segs) - set(expected) or required - set(segs):
            raise self._fail(f"column {name!r} ({kind}) has segments {sorted(segs)}; "
                             f"expected {sorted(required)} and optionally 'mask'")
        for seg, (dtype, count) in expected.items():
            if seg not in segs:
                continue
            where = segs[seg]
            if not (isinstance(where, list) and len(where) == 2
                    and all(type(v) is int and v >= 0 for v in where)):
                raise self._fail(f"column {name!r} segment {seg!r} is placed at {where!r}")
            start, nbytes = base + where[0], where[1]
            itemsize = np.dtype(dtype).itemsize
            if count is not None and nbytes != count * itemsize:
                raise self._fail(f"column {name!r} segment {seg!r} has {nbytes} bytes; "
                                 f"{n} rows need {count * itemsize}")
            if start % 8 or start + nbytes > size:
                raise self._fail(f"truncated or misplaced: column {name!r} segment {seg!r} "
                                 f"spans bytes {start}..{start + nbytes} of a {size}-byte file")
            setattr(col, seg, self._buf[start:start + nbytes].view(dtype))
        if col.offsets is not None:
            first, last = int(col.offsets[0]), int(col.offsets[-1])
            if first != 0 or last != len(col.data):
                raise self._fail(f"column {name!r} offsets run {first}..{last} but its data "
                                 f"has {len(col.data)} bytes")
        return col

    # ------------------------------------------------------------ public reads

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self._cols]

    @property
    def kinds(self) -> list[str]:
        return [c.kind for c in self._cols]

    @property
    def sortable(self) -> list[str]:
        return [c.name for c in self._cols if c.kind in SORTABLE]

    def _column(self, name: str) -> _Column:
        col = self._by_name.get(name)
        if col is None:
            raise ValueError(f"no column {name!r} in this table; its columns are {self.columns}")
        return col

    def column(self, name: str) -> list[Any]:
        """Every value of one column, in row order."""
        col = self._column(name)
        return self._guard(col, lambda: self._values(col, None))

    def rows(self) -> list[list[Any]]:
        """Every row, as lists of Python values in column order."""
        return self.page(0, self.nrows)

    def page(self, offset: int = 0, limit: int = 100, sort: str | None = None,
             descending: bool = False) -> list[list[Any]]:
        """Rows ``offset`` .. ``offset+limit`` in the order asked for.

        ``sort`` names a column (int, float, bool or str kind); nulls come last either way.
        With no ``sort``, ``descending`` lists the rows from the last one.
        """
        if type(offset) is not int or type(limit) is not int or offset < 0 or limit < 0:
            raise ValueError(f"offset {offset!r} and limit {limit!r} must be ints >= 0")
        stop = min(self.nrows, offset + limit)
        if offset >= stop:
            return []
        if sort is None:
            idx = np.arange(offset, stop) if not descending \
                else np.arange(self.nrows - 1 - offset, self.nrows - 1 - stop, -1)
        else:
            key = self._column(sort)
            if key.kind not in SORTABLE:
                raise ValueError(f"column {sort!r} holds {key.kind} cells, which have no order; "
                                 f"sortable columns: {self.sortable}")
            idx = self._guard(key, lambda: self._positions(key, offset, stop, descending))
            if len(idx) and (idx.min() < 0 or idx.max() >= self.nrows):
                raise self._fail(f"column {sort!r} sort order points past row {self.nrows}")
        if not self._cols:
            return [[] for _ in range(len(idx))]
        cols = [self._guard(c, lambda c=c: self._values(c, idx)) for c in self._cols]
        return [list(r) for r in zip(*cols)]

    def order(self, sort: str | None = None, descending: bool = False) -> np.ndarray:
        """Every row index, in the order :meth:`page` lists them."""
        if sort is None:
            idx = np.arange(self.nrows, dtype=np.int64)
            return idx[::-1] if descending else idx
        key = self._column(sort)
        if key.kind not in SORTABLE:
            raise ValueError(f"column {sort!r} holds {key.kind} cells, which have no order; "
                             f"sortable columns: {self.sortable}")
        if self.nrows == 0:
            return np.empty(0, np.int64)
        return self._guard(key, lambda: self._positions(key, 0, self.nrows, descending))

    def take(self, idx: np.ndarray) -> list[list[Any]]:
        """The rows at ``idx`` (row indices), as lists in column order."""
        if len(idx) and (int(np.min(idx)) < 0 or int(np.max(idx)) >= self.nrows):
            raise ValueError(f"row indices must lie in [0, {self.nrows})")
        if not self._cols:
            return [[] for _ in range(len(idx))]
        cols = [self._guard(c, lambda c=c: self._values(c, idx)) for c in self._cols]
        return [list(r) for r in zip(*cols)]

    def close(self) -> None:
        """Drop the mapping; later reads fail."""
        self._cols, self._by_name = [], {}
        self._buf = np.empty(0, np.uint8)

    # ------------------------------------------------------------ internals

    def _guard(self, col: _Column, read: Any) -> Any:
        try:
            return read()
        except (IndexError, UnicodeDecodeError, msgspec.DecodeError, KeyError) as exc:
            raise self._fail(f"column {col.name!r} ({col.kind}): {exc}") from None

    def _values(self, col: _Column, idx: np.ndarray | None) -> list[Any]:
        sel = slice(None) if idx is None else idx
        if col.values is not None:
            out = col.values[sel]
            out = (out != 0).tolist() if col.kind == "bool" else out.tolist()
        else:
            starts, ends = col.offsets[:-1][sel], col.offsets[1:][sel]
            if len(starts) and ((ends < starts).any() or ends.max() > len(col.data)):
                raise self._fail(f"column {col.name!r} has offsets out of order")
            s_list, e_list = starts.tolist(), ends.tolist()
            if idx is None:
                raw = col.data.tobytes()
                cells = [raw[s:e] for s, e in zip(s_list, e_list)]
            else:
                data = col.data
                cells = [data[s:e].tobytes() for s, e in zip(s_list, e_list)]
            if col.kind == "str":
                out = [c.decode("utf-8", "surrogatepass") for c in cells]
            else:
                out = [from_jsonable(_json_decode(c)) if c else None for c in cells]
        if col.mask is not None:
            nulls = col.mask[sel]
            if nulls.any():
                for i in np.flatnonzero(nulls).tolist():
                    out[i] = None
        return out

    def _key(self, col: _Column, pos: int) -> Any:
        row = int(col.order[pos])
        if col.values is not None:
            return col.values[row]
        return col.data[int(col.offsets[row]):int(col.offsets[row + 1])].tobytes()

    def _keys(self, col: _Column, rows: np.ndarray) -> list[Any]:
        if col.values is not None:
            return col.values[rows].tolist()
        return [col.data[s:e].tobytes()
                for s, e in zip(col.offsets[rows].tolist(), col.offsets[rows + 1].tolist())]

    def _positions(self, col: _Column, start: int, stop: int, descending: bool) -> np.ndarray:
        """Row indices at sorted positions ``start`` .. ``stop``."""
        order = col.order
        if not descending:
            return np.asarray(order[start:stop], dtype=np.int64)
        present = self.nrows - col.nnull
        parts = []
        if start < min(stop, present):
            parts.append(self._descending(col, start, min(stop, present), present))
        if stop > present:
            parts.append(np.asarray(order[max(start, present):stop], dtype=np.int64))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _descending(self, col: _Column, p0: int, p1: int, present: int) -> np.ndarray:
        # Descending position p is ascending position present-1-p, except that a run of
        # equal keys keeps its ascending (row) order; so gather the runs that cover the
        # page, find where the outer two really start and end, and emit runs last-first.
        order = col.order
        a, b = present - p1, present - p0
        keys = self._keys(col, np.asarray(order[a:b], dtype=np.int64))
        cuts = [a + i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
        starts, ends = [a, *cuts], [*cuts, b]
        starts[0] = self._run_start(col, a)
        ends[-1] = self._run_end(col, b - 1, present)
        out = []
        for lo, hi in zip(reversed(starts), reversed(ends)):
            first = present - hi  # descending position of the run's first element
            k0, k1 = max(p0, first) - first, min(p1, present - lo) - first
            out.append(np.asarray(order[lo + k0:lo + k1], dtype=np.int64))
        return np.concatenate(out)

    def _run_start(self, col: _Column, q: int) -> int:
        v, lo, hi = self._key(col, q), 0, q
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(col, mid) < v:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _run_end(self, col: _Column, q: int, present: int) -> int:
        v, lo, hi = self._key(col, q), q + 1, present
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(col, mid) > v:
                hi = mid
            else:
                lo = mid + 1
        return lo
