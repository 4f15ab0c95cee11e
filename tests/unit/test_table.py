"""wandb.Table semantics, its encode/decode round trip, and the columnar table file."""

from __future__ import annotations

import copy
import math
import random
import struct

import numpy as np
import pandas as pd
import pytest

from runwatch.data.media import Media
from runwatch.data.media import decode as decode_media
from runwatch.data.table import DEFAULT_COLUMNS, Table
from runwatch.data.tablefile import TableFile, encode_table

NAN, INF = float("nan"), float("inf")


def same(a, b) -> bool:
    """Cell equality with NaN equal to NaN and bool distinct from int."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def roundtrip(table: Table) -> tuple[Table, dict]:
    enc = table.encode()
    blobs = dict(enc.blobs)
    return Table.decode(enc.meta, blobs.__getitem__), enc.meta


# ---------------------------------------------------------------- construction


def test_columns_and_data():
    t = Table(columns=["a", "b"], data=[[1, "x"], [2.5, "y"]])
    assert t.columns == ["a", "b"]
    assert t.data == [[1, "x"], [2.5, "y"]]
    assert len(t) == 2 and len(t.data) == 2
    assert t.column_types == ["number", "str"]


def test_rows_alias_and_tuples():
    t = Table(columns=("a", "b"), rows=[(1, 2), (3, 4)])
    assert t.data == [[1, 2], [3, 4]]
    assert all(type(r) is list for r in t.data)


def test_default_columns():
    t = Table()
    assert t.columns == list(DEFAULT_COLUMNS) == ["Input", "Output", "Expected"]
    t.add_data("in", "out", "exp")
    assert t.data == [["in", "out", "exp"]]


def test_dataframe_columns_inferred():
    df = pd.DataFrame({"n": [1, 2], "f": [0.5, NAN], "s": ["a", None], "b": [True, False],
                       0: [1, 2]})
    t = Table(dataframe=df)
    assert t.columns == ["n", "f", "s", "b", "0"]
    assert t.column_types == ["number", "number", "str", "bool", "number"]
    assert same(t.data[1], [2, NAN, None, False, 2])
    assert type(t.data[0][0]) is int and type(t.data[0][3]) is bool
    assert Table(data=df) == t  # a DataFrame passed as data is taken as one


def test_dataframe_missing_markers_become_none():
    df = pd.DataFrame({"s": ["a", np.nan, None], "i": pd.array([1, None, 3], dtype="Int64")})
    t = Table(dataframe=df)
    assert t.get_column("s") == ["a", None, None]
    assert t.get_column("i") == [1, None, 3]


def test_numpy_2d_data_and_scalars_converted():
    t = Table(columns=["a", "b"], data=np.arange(4).reshape(2, 2))
    assert t.data == [[0, 1], [2, 3]] and type(t.data[0][0]) is int
    t.add_data(np.float32(1.5), np.int64(7))
    assert t.data[-1] == [1.5, 7] and type(t.data[-1][0]) is float
    t2 = Table(columns=["s", "b", "l"], data=[[np.str_("x"), np.bool_(True), np.array([1, 2])]])
    assert t2.data == [["x", True, [1, 2]]]
    assert [type(v) for v in t2.data[0]] == [str, bool, list]


def test_large_dataframe_construction_and_round_trip():
    n = 1_000_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"i": rng.integers(0, 100, n), "f": rng.random(n),
                       "b": rng.random(n) < 0.5})
    t = Table(dataframe=df)
    assert len(t) == n and t.column_types == ["number", "number", "bool"]
    assert t.data[123] == [int(df.i[123]), float(df.f[123]), bool(df.b[123])]
    back, meta = roundtrip(t)
    assert meta["nrows"] == n and back == t


# ---------------------------------------------------------------- wandb's methods


def test_add_data_add_column_get_column():
    t = Table(columns=["a"])
    t.add_data(1)
    t.add_data(2)
    t.add_column("b", ["x", "y"])
    assert t.columns == ["a", "b"] and t.data == [[1, "x"], [2, "y"]]
    assert t.get_column("b") == ["x", "y"]
    arr = t.get_column("a", convert_to="numpy")
    assert isinstance(arr, np.ndarray) and arr.tolist() == [1, 2]
    t.add_column("c", np.array([0.5, 1.5]))
    assert t.get_column("c") == [0.5, 1.5]
    assert t.column_types == ["number", "str", "number"]
    assert t.get_index() == [0, 1]
    assert list(t.iterrows()) == [(0, [1, "x", 0.5]), (1, [2, "y", 1.5])]


def test_add_column_to_empty_table_creates_rows():
    t = Table(columns=[])
    t.add_column("a", [1, 2, 3])
    assert t.data == [[1], [2], [3]]


def test_get_column_numpy_with_none_is_float_nan():
    t = Table(columns=["a"], data=[[1], [None]])
    arr = t.get_column("a", convert_to="numpy")
    assert arr.dtype == float and arr[0] == 1 and math.isnan(arr[1])


def test_get_dataframe():
    t = Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]])
    df = t.get_dataframe()
    assert list(df.columns) == ["a", "b"] and df["a"].tolist() == [1, 2]
    assert df["b"].tolist() == ["x", "y"]
    assert list(Table(columns=["a"]).get_dataframe().columns) == ["a"]


def test_equality_nan_and_types():
    a = Table(columns=["x"], data=[[NAN], [1.0]])
    assert a == Table(columns=["x"], data=[[NAN], [1.0]])
    assert a != Table(columns=["x"], data=[[NAN], [2.0]])
    assert a != Table(columns=["y"], data=[[NAN], [1.0]])
    assert Table(columns=["x"], data=[[True]]) != Table(columns=["x"], data=[[1]])


# ---------------------------------------------------------------- type checking


def test_type_mismatch_names_column_row_value_and_type():
    t = Table(columns=["a", "b"], data=[[1, "x"]])
    with pytest.raises(TypeError) as e:
        t.add_data("oops", "y")
    msg = str(e.value)
    assert "'a'" in msg and "row 1" in msg and "'oops'" in msg and "number" in msg
    assert len(t.data) == 1  # nothing appended


def test_construction_reports_earliest_offending_row():
    with pytest.raises(TypeError, match=r"column 'b' row 2: value 5 is number.*str"):
        Table(columns=["a", "b"], data=[[1, "x"], [2, "y"], [3, 5], ["late", "z"]])


def test_ints_and_floats_mix_bools_do_not():
    t = Table(columns=["n"], data=[[1], [2.5], [NAN], [INF]])
    assert t.column_types == ["number"]
    with pytest.raises(TypeError, match="True"):
        t.add_data(True)


def test_none_allowed_and_type_set_by_first_value():
    t = Table(columns=["a"], data=[[None], [None]])
    assert t.column_types == ["none"]
    t.add_data("s")
    assert t.column_types == ["str"]
    with pytest.raises(TypeError, match="row 3"):
        t.add_data(1)


def test_optional_false_rejects_none():
    with pytest.raises(TypeError, match="row 1: value None.*not optional"):
        Table(columns=["a"], data=[[1], [None]], optional=False)
    t = Table(columns=["a", "b"], data=[[1, None]], optional=[True, True])
    assert t.data == [[1, None]]


def test_allow_mixed_types():
    t = Table(columns=["a"], data=[[1], ["x"], [None], [[1, 2]]], allow_mixed_types=True)
    assert t.column_types == ["mixed"]
    t.add_data({"k": 1})
    back, _ = roundtrip(t)
    assert back == t


def test_dtype_fixes_type_and_cast():
    with pytest.raises(TypeError, match="holds str"):
        Table(columns=["a"], data=[[1]], dtype=str)
    t = Table(columns=["a", "b"], data=[[1, "x"]], dtype=[float, None])
    assert t.column_types == ["number", "str"]
    t.cast("b", str)
    with pytest.raises(TypeError, match=r"cast to number.*'x'"):
        t.cast("b", int)
    assert t.column_types == ["number", "str"]


def test_media_column_type():
    image = pytest.importorskip("runwatch.data.image")
    img = image.Image(np.zeros((2, 2), np.uint8))
    t = Table(columns=["img"], data=[[img], [None]])
    assert t.column_types == ["image"]
    with pytest.raises(TypeError, match="image"):
        t.add_data("not an image")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, pattern", [
    ({"columns": ["a", "b"], "data": [[1, 2], [3]]}, r"row 1 has 1 values \[3\].*2 columns"),
    ({"data": [[1, 2]]}, r"row 0 has 2 values.*\['Input', 'Output', 'Expected'\].*default"),
    ({"columns": ["a", "a"]}, r"'a' appears twice"),
    ({"columns": ["a", 3]}, r"column name 3 at position 1 is int"),
    ({"columns": "abc"}, r"list of str names, not 'abc'"),
    ({"columns": ["a"], "data": [[1]], "dataframe": pd.DataFrame({"a": [1]})}, r"not both"),
    ({"columns": ["a"], "data": [[1]], "rows": [[1]]}, r"data= or rows="),
    ({"columns": ["a"], "data": [5]}, r"row 0 is 5, not a list"),
    ({"columns": ["a"], "data": "rows"}, r"list of rows, not 'rows'"),
    ({"dataframe": pd.DataFrame([[1, 2]], columns=["x", "x"])}, r"'x' appears twice"),
    ({"columns": ["a"], "dtype": complex}, r"dtype <class 'complex'>"),
])
def test_bad_construction_raises_value_error(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Table(**kwargs)


@pytest.mark.parametrize("cell, pattern", [
    (object(), r"builtins.object can't be a table cell"),
    ({1: "a"}, r"key 1 is not a str"),
    (b"bytes", r"bytes can't be a table cell"),
    (np.datetime64("2024-01-01"), r"datetime64"),
])
def test_bad_cells_raise_type_error(cell, pattern):
    with pytest.raises(TypeError, match=pattern):
        Table(columns=["a"], data=[[1], [cell]], allow_mixed_types=True)


def test_add_data_and_add_column_errors():
    t = Table(columns=["a", "b"], data=[[1, 2]])
    with pytest.raises(ValueError, match=r"got 1 values \[1\].*2 columns"):
        t.add_data(1)
    with pytest.raises(ValueError, match=r"'a' already exists"):
        t.add_column("a", [1])
    with pytest.raises(ValueError, match=r"'c' has 2 values but the table has 1 rows"):
        t.add_column("c", [1, 2])
    with pytest.raises(ValueError, match=r"names must be str"):
        t.add_column(5, [1])
    with pytest.raises(ValueError, match=r"no column 'zz'.*\['a', 'b'\]"):
        t.get_column("zz")
    assert t.columns == ["a", "b"] and t.data == [[1, 2]]


def test_add_column_type_error_leaves_table_unchanged():
    t = Table(columns=["a"], data=[[1], [2]])
    with pytest.raises(TypeError, match=r"column 'b' row 1: value 'x'"):
        t.add_column("b", [1, "x"])
    assert t.columns == ["a"] and t.data == [[1], [2]]


# ---------------------------------------------------------------- encode / decode


def test_round_trip_awkward_values():
    rows = [
        [1, 0.5, "plain", True, None, [1, NAN], {"k": INF}],
        [None, NAN, "<script>alert(1)</script>", False, None, [], {}],
        [-(2**63), INF, "ünïcødé ✓ 日本 \U0001f600", None, None, None, None],
        [2**63 - 1, -INF, "", True, None, [[1], "x"], {"nested": {"a": [None]}}],
        [3, -0.0, "\x00nul\x00", False, None, [True], {"s": "<b>"}],
    ]
    t = Table(columns=["i", "f", "s", "b", "n", "l", "d"], data=rows)
    back, meta = roundtrip(t)
    assert back == t
    for got, want in zip(back.data, rows):
        assert all(same(g, w) for g, w in zip(got, want)), (got, want)
    assert meta["column_types"] == ["number", "number", "str", "bool", "none", "list", "dict"]
    assert meta["nrows"] == 5 and meta["ncols"] == 7 and meta["columns"] == t.columns
    assert meta["_type"] == "table" and isinstance(meta["size"], int)


def test_meta_shape_and_blob():
    t = Table(columns=["a"], data=[[1]])
    enc = t.encode()
    assert set(enc.meta) == {"_type", "sha256", "nrows", "ncols", "columns", "column_types",
                             "size"}
    assert list(enc.blobs) == [enc.meta["sha256"]]
    assert len(enc.blobs[enc.meta["sha256"]]) == enc.meta["size"]
    assert t.encode().meta == enc.meta  # same content, same sha


def test_encode_does_not_mutate():
    t = Table(columns=["a", "b", "c"], data=[[1, "x", [1, 2]], [None, "y", [NAN]]])
    before_data, before_cols = copy.deepcopy(t.data), list(t.columns)
    t.encode()
    assert t.columns == before_cols
    assert all(same(a, b) for a, b in zip(t.data, before_data))
    assert math.isnan(t.data[1][2][0])  # still the NaN, not a JSON tag


def test_int_and_float_number_column_comes_back_as_floats():
    back, _ = roundtrip(Table(columns=["n"], data=[[1], [2.5]]))
    assert back.data == [[1.0], [2.5]] and type(back.data[0][0]) is float


def test_big_ints_round_trip_exactly():
    back, _ = roundtrip(Table(columns=["n"], data=[[2**64], [1]]))
    assert back.data == [[2**64], [1]]


def test_media_cells_round_trip():
    image = pytest.importorskip("runwatch.data.image")
    histogram = pytest.importorskip("runwatch.data.histogram")
    img = image.Image(np.arange(12, dtype=np.uint8).reshape(3, 4))
    hist = histogram.Histogram([1, 2, 2, 3], num_bins=3)
    t = Table(columns=["img", "hist", "label"], data=[[img, hist, "a"], [None, hist, "b"],
                                                       [img, None, "c"]])
    t.add_column("added", [None, img, img])  # a column added later holds media too
    enc = t.encode()
    assert img.encode().meta["sha256"] in enc.blobs  # the PNG travels with the table
    back = decode_media(enc.meta, dict(enc.blobs).__getitem__)
    assert isinstance(back, Table) and back == t
    assert isinstance(back.data[0][0], image.Image)
    assert back.data[0][0].bytes == img.bytes
    assert isinstance(back.data[1][1], histogram.Histogram)
    assert back.data[1][1].histogram == hist.histogram


def test_media_appended_to_data_directly_still_encodes():
    image = pytest.importorskip("runwatch.data.image")
    img = image.Image(np.zeros((2, 2), np.uint8))
    t = Table(columns=["img"])
    t.data.append([img])  # bypasses add_data's checks, as some wandb code does
    enc = t.encode()
    assert img.sha256 in enc.blobs
    back = Table.decode(enc.meta, dict(enc.blobs).__getitem__)
    assert isinstance(back.data[0][0], image.Image)


def test_decode_detects_damaged_blob():
    enc = Table(columns=["a"], data=[[1]]).encode()
    with pytest.raises(ValueError, match="damaged"):
        Table.decode(enc.meta, lambda sha: b"other bytes")


def test_table_is_registered_media():
    assert Media._registry["table"] is Table


# ---------------------------------------------------------------- the table file


def _reference_order(values: list, descending: bool) -> list[int]:
    s = pd.Series(values, dtype=object if any(type(v) in (str, bool) for v in values) else None)
    return s.sort_values(ascending=not descending, kind="stable",
                         na_position="last").index.tolist()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    n = 1_000_000
    rng = np.random.default_rng(7)
    ints = rng.integers(-50, 50, n).tolist()
    floats = np.round(rng.normal(size=n), 2).tolist()
    bools = (rng.random(n) < 0.5).tolist()
    words = ["b", "a", "é", "Z", "日本", "", "<script>", "ab"]
    strs = [words[i] for i in rng.integers(0, len(words), n).tolist()]
    nulls = rng.random((4, n)) < 0.05
    for i in np.flatnonzero(nulls[0]).tolist():
        ints[i] = None
    for i in np.flatnonzero(nulls[1]).tolist():
        floats[i] = None
    for i in np.flatnonzero(nulls[2]).tolist():
        bools[i] = None
    for i in np.flatnonzero(nulls[3]).tolist():
        strs[i] = None
    for i in rng.integers(0, n, 1000).tolist():
        floats[i] = NAN
    floats[5], floats[6] = INF, -INF
    cols = {"i": ints, "f": floats, "b": bools, "s": strs,
            "j": [{"k": i} if i % 3 else None for i in range(n)]}
    path = tmp_path_factory.mktemp("tf") / "big.rwt"
    path.write_bytes(encode_table(list(cols), list(cols.values())))
    return path, cols


def test_big_file_columns_and_kinds(big_file):
    path, cols = big_file
    tf = TableFile(path)
    assert tf.nrows == 1_000_000 and tf.columns == list(cols)
    assert tf.kinds == ["int", "float", "bool", "str", "json"]
    assert tf.page(999_998, 10) == [[cols[c][i] for c in cols] for i in (999_998, 999_999)]


@pytest.mark.parametrize("col", ["i", "f", "b", "s"])
@pytest.mark.parametrize("descending", [False, True])
def test_big_file_sorted_pages_match_pandas(big_file, col, descending):
    path, cols = big_file
    tf = TableFile(path)
    ref = _reference_order(cols[col], descending)
    nnull = sum(1 for v in cols[col] if v is None or v != v)
    n = len(ref)
    for offset in (0, 1234, 499_950, n - nnull - 50, n - 100):
        page = tf.page(offset, 100, sort=col, descending=descending)
        want = [[cols[c][i] for c in cols] for i in ref[offset:offset + 100]]
        assert len(page) == 100
        assert all(same(g, w) for g, w in zip(page, want)), (col, descending, offset)
    tail = [r[list(cols).index(col)] for r in tf.page(n - 10, 10, sort=col, descending=descending)]
    assert all(v is None or v != v for v in tail)  # nulls last either way


def test_big_file_string_order_is_python_order(big_file):
    path, cols = big_file
    tf = TableFile(path)
    present = sorted(v for v in cols["s"] if v is not None)
    got = [r[3] for r in tf.page(0, 300_000, sort="s")]
    assert got == present[:300_000]


def test_small_random_tables_every_page_boundary():
    rng = random.Random(3)
    for trial in range(40):
        n = rng.randint(0, 60)
        cols = {
            "i": [rng.choice([None, 1, 2, 3]) for _ in range(n)],
            "f": [rng.choice([None, NAN, -0.0, 0.0, 1.5, -INF]) for _ in range(n)],
            "b": [rng.choice([None, True, False]) for _ in range(n)],
            "s": [rng.choice([None, "a", "b", "ä", "\ud800"]) for _ in range(n)],
        }
        tf = TableFile(encode_table(list(cols), list(cols.values())))
        for col, values in cols.items():
            for desc in (False, True):
                ref = _reference_order(values, desc)
                full = [r[list(cols).index(col)] for r in tf.page(0, n, sort=col, descending=desc)]
                assert all(same(a, values[i]) for a, i in zip(full, ref)), (trial, col, desc)
                size = rng.randint(1, 7)
                paged = [row for off in range(0, n, size)
                         for row in tf.page(off, size, sort=col, descending=desc)]
                whole = tf.page(0, n, sort=col, descending=desc)
                assert len(paged) == n and all(same(a, b) for a, b in zip(paged, whole))


def test_page_arguments():
    tf = TableFile(encode_table(["a", "j"], [[3, 1, 2], [{"x": 1}, None, [1]]]))
    assert tf.page(0, 2) == [[3, {"x": 1}], [1, None]]
    assert tf.page(5, 10) == []
    assert tf.page(0, 10, descending=True) == [[2, [1]], [1, None], [3, {"x": 1}]]
    assert tf.column("a") == [3, 1, 2] and tf.rows() == tf.page(0, 3)
    with pytest.raises(ValueError, match=r"'j' holds json cells.*sortable columns: \['a'\]"):
        tf.page(sort="j")
    with pytest.raises(ValueError, match=r"no column 'q'.*\['a', 'j'\]"):
        tf.page(sort="q")
    with pytest.raises(ValueError, match="offset -1"):
        tf.page(-1)


def test_encode_table_bad_input():
    with pytest.raises(ValueError, match="2 column names but 1"):
        encode_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="column 'b' has 1 values but the first column has 2"):
        encode_table(["a", "b"], [[1, 2], [1]])


# ---------------------------------------------------------------- corrupt files


@pytest.fixture()
def good_bytes():
    return encode_table(["n", "s"], [[1, 2, None], ["x", None, "yy"]])


def test_good_bytes_read(good_bytes):
    assert TableFile(good_bytes).rows() == [[1, "x"], [2, None], [None, "yy"]]


@pytest.mark.parametrize("cut", [0, 5, 16, 40, -1, -9])
def test_truncated(good_bytes, cut, tmp_path):
    data = good_bytes[:cut]
    with pytest.raises(ValueError, match="truncated|unreadable header"):
        TableFile(data)
    p = tmp_path / "t.rwt"
    p.write_bytes(data)
    with pytest.raises(ValueError, match=str(p) if cut else "truncated"):
        TableFile(p)


def test_bad_magic_and_version(good_bytes):
    with pytest.raises(ValueError, match=r"starts with b'PK"):
        TableFile(b"PK\x03\x04" + good_bytes[4:])
    newer = good_bytes[:8] + struct.pack("<I", 99) + good_bytes[12:]
    with pytest.raises(ValueError, match="version 99.*upgrade"):
        TableFile(newer)


def test_bad_header(good_bytes):
    hlen = struct.unpack("<I", good_bytes[12:16])[0]
    garbage = good_bytes[:16] + b"{" * hlen + good_bytes[16 + hlen:]
    with pytest.raises(ValueError, match="unreadable header"):
        TableFile(garbage)
    header = good_bytes[16:16 + hlen].replace(b'"kind":"int"', b'"kind":"wat"')
    with pytest.raises(ValueError, match="kind 'wat'"):
        TableFile(good_bytes[:16] + header + good_bytes[16 + hlen:])


def test_corrupt_sort_order_and_offsets():
    data = bytearray(encode_table(["n"], [[5, 6, 7]]))
    tf = TableFile(bytes(data))
    order_at = bytes(data).rfind(struct.pack("<iii", 0, 1, 2))
    data[order_at:order_at + 4] = struct.pack("<i", 1 << 30)
    with pytest.raises(ValueError, match="column 'n'"):
        TableFile(bytes(data)).page(sort="n")
    assert tf.page(sort="n") == [[5], [6], [7]]
    sdata = bytearray(encode_table(["s"], [["ab", "cd"]]))
    offs = bytes(sdata).find(struct.pack("<qqq", 0, 2, 4))
    sdata[offs + 8:offs + 16] = struct.pack("<q", 9)
    with pytest.raises(ValueError, match="offsets"):
        TableFile(bytes(sdata)).column("s")
