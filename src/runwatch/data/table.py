"""``wandb.Table``: rows of typed cells, stored as one columnar file (see :mod:`.tablefile`).

Cells are None, bool, int, float (NaN and Inf included), str, lists and dicts of those
(JSON-like; dict keys must be str), and media (Image, Histogram, Table, ...). numpy
scalars and arrays become the Python values above when they enter the table.

Column types, as wandb checks them: a column's type is set by its ``dtype`` or else by
its first non-None value, and every later value must match: ``number`` (int and float
mix freely; bool is not a number), ``bool``, ``str``, ``list``, ``dict``, or a media
TYPE (``image``, ``histogram``, ...). A column with no value yet is ``none``. None fits
every column while ``optional`` is true. ``allow_mixed_types=True`` turns the check off;
a column holding several types is then ``mixed``.

Reading back, a number column mixing ints and floats comes back as floats (one float64
array on disk); and a dict cell in a media or mixed column whose ``_type`` names a media
type comes back as that media.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from runwatch.data.media import Encoded, Media, ReadBlob, sha256

DEFAULT_COLUMNS = ("Input", "Output", "Expected")
_NoneType = type(None)
_PLAIN = {int: "number", float: "number", str: "str", bool: "bool", _NoneType: "none",
          list: "list", dict: "dict"}
_SCALARS = {int, float, str, bool, _NoneType}
_DTYPE_NAMES = {int: "number", float: "number", str: "str", bool: "bool", list: "list",
                dict: "dict"}
_CELLS = "cells are None, bool, int, float, str, lists/dicts of those, or media (Image, ...)"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_name(tp: type) -> str | None:
    name = _PLAIN.get(tp)
    if name is None and issubclass(tp, Media):
        return tp.TYPE
    return name


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as a cell: numpy converted, tuples as lists; TypeError if it can't be one."""
    tp = type(value)
    if tp in _SCALARS:
        return value
    if isinstance(value, Media):
        if depth:
            raise TypeError("media inside a list or dict can't be stored; give it its own column")
        return value
    if depth > 64:
        raise TypeError("it nests deeper than 64 levels (a cycle?)")
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        if isinstance(value, (np.bool_, np.integer, np.floating, np.str_)):
            return value.item()
    elif np is not None and isinstance(value, np.ndarray):
        return _plain(value.tolist(), depth + 1)
    elif isinstance(value, str):  # subclasses (StrEnum, IntEnum) become the plain value
        return str(value)
    elif isinstance(value, int):
        return int(value)
    elif isinstance(value, float):
        return float(value)
    elif isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    elif isinstance(value, dict):
        bad = next((k for k in value if not isinstance(k, str)), None)
        if bad is not None:
            raise TypeError(f"its key {_show(bad)} is not a str (convert dict keys to str)")
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"{tp.__module__}.{tp.__qualname__} can't be a table cell; {_CELLS}")


def _dtype_name(spec: Any) -> str | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec
    if isinstance(spec, type):
        if spec in _DTYPE_NAMES:
            return _DTYPE_NAMES[spec]
        if issubclass(spec, Media) and spec.TYPE:
            return spec.TYPE
    raise ValueError(f"dtype {_show(spec)} is not a column type; use int, float, str, bool, "
                     "list, dict, a media class such as Image, or a type name like 'number'")


def _per_column(value: Any, ncols: int, what: str, convert: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != ncols:
            raise ValueError(f"{what} has {len(value)} entries for {ncols} columns; "
                             "give one per column or a single value for all")
        return [convert(v) for v in value]
    return [convert(value)] * ncols


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is float and type(b) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if (type(a) is bool) != (type(b) is bool):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, Media) and isinstance(b, Media):
        # Media need not define ==; two are equal when they store the same thing.
        return type(a) is type(b) and (a == b or _equal(a.encode().meta, b.encode().meta))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _check_names(columns: Any) -> list[str]:
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise ValueError(f"columns must be a list of str names, not {_show(columns)}")
    names = list(columns)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise ValueError(f"column name {_show(name)} at position {i} is "
                             f"{type(name).__name__}; column names must be str")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"column name {name!r} appears twice in {names}; names must be unique")
        seen.add(name)
    return names


def _series_values(series: Any) -> list[Any]:
    values = series.tolist()
    # Only non-numpy dtypes (object, nullable, category) hold pandas' other missing markers;
    # a NaN in a float64 column stays NaN.
    if not (isinstance(series.dtype, sys.modules["numpy"].dtype) and series.dtype.kind in "iufb"):
        missing = series.isna().to_numpy()
        if missing.any():
            for i in missing.nonzero()[0].tolist():
                values[i] = None
    return values


def _frame_columns(df: Any, columns: Any) -> tuple[list[str], list[list[Any]]]:
    # pandas labels are often ints (a frame built from an array); names become their str.
    names = [str(c) for c in df.columns] if columns is None else _check_names(columns)
    if len(names) != df.shape[1]:
        raise ValueError(f"columns has {len(names)} names for a dataframe with "
                         f"{df.shape[1]} columns {list(df.columns)}")
    _check_names(names)
    return names, [_series_values(df.iloc[:, j]) for j in range(df.shape[1])]


class Table(Media):
    """A wandb Table. ``.columns`` is the list of names, ``.data`` the list of row lists."""

    TYPE = "table"

    def __init__(self, columns: Sequence[str] | None = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, dtype: Any = None, optional: bool | Sequence[bool] = True,
                 allow_mixed_types: bool = False) -> None:
        if data is not None and rows is not None:
            raise ValueError("pass the rows as data= or rows=, not both")
        if data is None:
            data = rows
        if data is not None and dataframe is not None:
            raise ValueError("pass data= (or rows=) or dataframe=, not both: "
                             f"got data {_show(data)} and a dataframe")
        if dataframe is None and type(data).__name__ == "DataFrame" and hasattr(data, "iloc"):
            dataframe, data = data, None
        self._allow_mixed = bool(allow_mixed_types)
        rows_in: list[Any] | None = None
        if dataframe is not None:
            if not (hasattr(dataframe, "iloc") and hasattr(dataframe, "columns")):
                raise ValueError(f"dataframe must be a pandas DataFrame, not {_show(dataframe)}")
            self.columns, cols = _frame_columns(dataframe, columns)
        else:
            defaulted = columns is None
            self.columns = list(DEFAULT_COLUMNS) if defaulted else _check_names(columns)
            rows_in, cols = self._split_rows(data, defaulted)
        ncols = len(self.columns)
        self._optional: list[bool] = _per_column(optional, ncols, "optional", bool)
        self._types: list[str | None] = _per_column(dtype, ncols, "dtype", _dtype_name)
        nrows = len(cols[0]) if cols else len(rows_in or ())
        cols, changed = self._admit(cols, 0, self._types)
        if rows_in is not None and not changed:
            self.data: list[list[Any]] = [list(r) for r in rows_in]
        elif cols:
            self.data = list(map(list, zip(*cols)))
        else:
            self.data = [[] for _ in range(nrows)]

    def _split_rows(self, data: Any, defaulted: bool) -> tuple[list[Any], list[list[Any]]]:
        """The rows as given (checked for shape) and the same values column by column."""
        if data is None:
            return [], [[] for _ in self.columns]
        np = sys.modules.get("numpy")
        if np is not None and isinstance(data, np.ndarray):
            if data.ndim != 2:
                raise ValueError(f"data as a numpy array must be 2-D (rows x columns), not "
                                 f"shape {data.shape}")
            data = data.tolist()
        if isinstance(data, (str, bytes, dict)) or not isinstance(data, Sequence):
            raise ValueError(f"data must be a list of rows, not {_show(data)}")
        rows = list(data)
        if not set(map(type, rows)) <= {list, tuple}:
            for i, row in enumerate(rows):
                if np is not None and isinstance(row, np.ndarray) and row.ndim == 1:
                    rows[i] = row.tolist()
                elif not isinstance(row, (list, tuple)):
                    raise ValueError(f"row {i} is {_show(row)}, not a list of cells; data must be "
                                     "a list of rows (lists)")
        ncols = len(self.columns)
        if rows and set(map(len, rows)) != {ncols}:
            i = next(i for i, r in enumerate(rows) if len(r) != ncols)
            hint = (" (the default columns, used when no columns= is given)" if defaulted
                    else "")
            raise ValueError(f"row {i} has {len(rows[i])} values {_show(rows[i])} but the table "
                             f"has {ncols} columns {self.columns}{hint}; every row needs one "
                             "value per column")
        cols = [list(c) for c in zip(*rows)] if rows and ncols else [[] for _ in self.columns]
        return rows, cols

    # ------------------------------------------------------------ type checking

    def _admit(self, cols: list[list[Any]], first_row: int, types: list[str | None],
               first_col: int = 0) -> tuple[list[list[Any]], bool]:
        """Normalize and type-check new cells column by column; commit the column types.

        Raises on the earliest offending row across all columns, as a row-by-row check
        would, and changes nothing when it raises.
        """
        new_types = list(types)
        changed = False
        errors: list[tuple[int, int, str]] = []
        for j, col in enumerate(cols):
            try:
                col_types = set(map(type, col))
                if not all(t in _SCALARS or issubclass(t, Media) for t in col_types):
                    col, col_types = self._normalized(first_col + j, col, first_row)
                    cols[j], changed = col, True
                new_types[j] = self._check(first_col + j, col, col_types, new_types[j],
                                           first_row)
            except _CellError as exc:
                errors.append((exc.row, j, str(exc)))
        if errors:
            raise TypeError(min(errors)[2])
        types[:] = new_types
        return cols, changed

    def _normalized(self, j: int, col: list[Any], first_row: int) -> tuple[list[Any], set[type]]:
        out = []
        for i, v in enumerate(col):
            try:
                out.append(_plain(v))
            except TypeError as exc:
                raise _CellError(first_row + i, f"column {self.columns[j]!r} row {first_row + i}: "
                                 f"value {_show(v)}: {exc}") from None
        return out, set(map(type, out))

    def _check(self, j: int, col: list[Any], col_types: set[type], current: str | None,
               first_row: int) -> str | None:
        names = {_type_name(t) for t in col_types}
        where = f"column {self.columns[j]!r} row"
        problems: list[tuple[int, str]] = []
        if "none" in names and not self._optional[j]:
            i = col.index(None)
            problems.append((i, f"{where} {first_row + i}: value None in a column that is not "
                                "optional; pass optional=True or give a value"))
        names.discard("none")
        if names and self._allow_mixed:
            if current is None or current == "none":
                current = next(iter(names)) if len(names) == 1 else "mixed"
            elif names != {current}:
                current = "mixed"
        elif names:
            if current is None or current == "none":
                current = _type_name(type(next(v for v in col if v is not None)))
            if names != {current}:
                i, v = next((i, v) for i, v in enumerate(col)
                            if v is not None and _type_name(type(v)) != current)
                problems.append((i, f"{where} {first_row + i}: value {_show(v)} is "
                                    f"{_type_name(type(v))}, but the column holds {current} "
                                    "values; convert the value, or pass allow_mixed_types=True "
                                    "to mix types"))
        if problems:
            i, message = min(problems)
            raise _CellError(first_row + i, message)
        return current

    # ------------------------------------------------------------ wandb's API

    @property
    def column_types(self) -> list[str]:
        return [t or "none" for t in self._types]

    def add_data(self, *data: Any) -> None:
        """Append one row: one value per column."""
        if len(data) != len(self.columns):
            raise ValueError(f"add_data got {len(data)} values {_show(list(data))} but the table "
                             f"has {len(self.columns)} columns {self.columns}")
        cols, _ = self._admit([[v] for v in data], len(self.data), self._types)
        self.data.append([c[0] for c in cols])

    def add_column(self, name: str, data: Any, optional: bool | None = None) -> None:
        """Append a column: one value per existing row."""
        if not isinstance(name, str):
            raise ValueError(f"column name {_show(name)} is {type(name).__name__}; names must be str")
        if name in self.columns:
            raise ValueError(f"column {name!r} already exists in {self.columns}; pick a new name")
        if hasattr(data, "iloc"):
            values = _series_values(data)
        elif hasattr(data, "tolist") and hasattr(data, "ndim"):
            values = data.tolist()
        elif isinstance(data, (str, bytes, dict)) or not isinstance(data, Sequence):
            raise ValueError(f"add_column data must be a list of values, not {_show(data)}")
        else:
            values = list(data)
        if (self.columns or self.data) and len(values) != len(self.data):
            raise ValueError(f"column {name!r} has {len(values)} values but the table has "
                             f"{len(self.data)} rows; give one value per row")
        self.columns.append(name)
        self._optional.append(all(self._optional) if optional is None else bool(optional))
        self._types.append(None)
        try:
            new_type = [None]
            cols, _ = self._admit([values], 0, new_type, len(self.columns) - 1)
        except TypeError:
            self.columns.pop()
            self._optional.pop()
            self._types.pop()
            raise
        self._types[-1] = new_type[0]
        if len(self.columns) == 1 and not self.data:
            self.data = [[] for _ in values]
        for row, v in zip(self.data, cols[0]):
            row.append(v)

    def _index(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise ValueError(f"no column {name!r} in this table; its columns are {self.columns}") \
                from None

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of one column (a list; ``convert_to="numpy"`` gives an array)."""
        j = self._index(name)
        values = [row[j] for row in self.data]
        if convert_to is None:
            return values
        if convert_to != "numpy":
            raise ValueError(f"convert_to={convert_to!r} is not supported; use None or 'numpy'")
        import numpy as np

        if self._types[j] == "number" and None in values:
            return np.array([math.nan if v is None else v for v in values], dtype=float)
        return np.array(values)

    def get_index(self) -> list[int]:
        return list(range(len(self.data)))

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """Yield ``(index, row)`` for each row."""
        yield from enumerate(self.data)

    def get_dataframe(self) -> Any:
        import pandas as pd

        if not self.data:
            return pd.DataFrame(columns=self.columns)
        cols = list(zip(*self.data)) if self.columns else []
        return pd.DataFrame({name: list(c) for name, c in zip(self.columns, cols)},
                            columns=self.columns)

    def cast(self, col_name: str, dtype: Any, optional: bool = False) -> None:
        """Fix a column's type; TypeError (and no change) if a value doesn't fit it."""
        j = self._index(col_name)
        name = _dtype_name(dtype)
        saved = self._optional[j], self._allow_mixed
        self._optional[j], self._allow_mixed = bool(optional), False
        try:
            col = [row[j] for row in self.data]
            self._check(j, col, set(map(type, col)), name, 0)
        except _CellError as exc:
            self._optional[j] = saved[0]
            raise TypeError(f"cast to {name}: {exc}") from None
        finally:
            self._allow_mixed = saved[1]
        self._types[j] = name

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self.columns == other.columns and len(self.data) == len(other.data) and all(
            len(a) == len(b) and all(map(_equal, a, b)) for a, b in zip(self.data, other.data))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Table {len(self.data)} rows x {len(self.columns)} columns {self.columns!r:.200}>"

    # ------------------------------------------------------------ storage

    def encode(self) -> Encoded:
        from runwatch.data.tablefile import encode_table

        # Copies only: this runs on the writer thread while the user may keep adding rows.
        rows = self.data[:]
        columns = list(self.columns)
        types = self.column_types[:len(columns)]
        cols: list[Any] = list(zip(*rows))[:len(columns)] if rows and columns \
            else [[] for _ in columns]
        blobs: dict[str, bytes] = {}
        done: dict[int, dict[str, Any]] = {}
        for j, col in enumerate(cols):
            # By the cells, not the column type: rows appended to .data directly skip checks.
            if any(issubclass(tp, Media) for tp in set(map(type, col))):
                cols[j] = [self._media_meta(v, blobs, done) if isinstance(v, Media) else v
                           for v in col]
        data = encode_table(columns, cols)
        sha = sha256(data)
        blobs[sha] = data
        meta = {"_type": self.TYPE, "sha256": sha, "nrows": len(rows), "ncols": len(columns),
                "columns": columns, "column_types": types, "size": len(data)}
        return Encoded(meta, blobs)

    @staticmethod
    def _media_meta(value: Media, blobs: dict[str, bytes],
                    done: dict[int, dict[str, Any]]) -> dict[str, Any]:
        # The same object in many cells (one image per class, say) is encoded once.
        meta = done.get(id(value))
        if meta is None:
            enc = value.encode()
            blobs.update(enc.blobs)
            meta = done[id(value)] = enc.meta
        return meta

    @classmethod
    def decode(cls, meta: dict[str, Any], read_blob: ReadBlob) -> Table:
        from runwatch.data.media import decode as decode_media
        from runwatch.data.media import is_media_meta
        from runwatch.data.tablefile import TableFile

        sha = meta.get("sha256")
        if not isinstance(sha, str):
            raise ValueError(f"table meta {_show(meta)} has no sha256 naming its file")
        data = read_blob(sha)
        if sha256(data) != sha:
            raise ValueError(f"table blob {sha} is damaged: its content hashes to "
                             f"{sha256(data)}")
        tf = TableFile(data)
        columns = list(meta.get("columns", tf.columns))
        if tf.columns != columns or tf.nrows != meta.get("nrows", tf.nrows):
            raise ValueError(f"table blob {sha} holds columns {tf.columns} x {tf.nrows} rows "
                             f"but its meta says {columns} x {meta.get('nrows')}")
        types = list(meta.get("column_types", ["mixed"] * len(columns)))
        cols = []
        for name, kind, t in zip(columns, tf.kinds, types):
            values = tf.column(name)
            if kind == "json" and t not in ("list", "dict"):
                values = [decode_media(v, read_blob) if is_media_meta(v) else v for v in values]
            cols.append(values)
        table = cls.__new__(cls)
        table.columns = columns
        table.data = list(map(list, zip(*cols))) if columns else [[] for _ in range(tf.nrows)]
        table._types = [None if t == "none" else t for t in types]
        table._optional = [True] * len(columns)
        table._allow_mixed = "mixed" in types
        return table


class _CellError(Exception):
    """One offending cell; carries its row so the earliest across columns is reported."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row
