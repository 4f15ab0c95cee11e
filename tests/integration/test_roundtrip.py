"""Property: whatever is logged comes back from scan_history exactly, step by step."""

from __future__ import annotations

import math
import string
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import runwatch
from tests.integration._helpers import user_items

# No "." (nested keys are flattened with dots) and no "_" (reserved keys): keys never collide.
# A small pool mixed in so that keys recur across steps (series grow, types mix per key).
KEYS = st.one_of(st.sampled_from(["a", "b", "c", "loss"]),
                 st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1,
                         max_size=5))
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOAT_EXACT_INT = st.integers(min_value=-(2**53), max_value=2**53)


def _scalars(ints: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
        ints,
        st.booleans(),
        st.none(),
        st.text(max_size=12),
    )


def _payloads(ints: st.SearchStrategy[int]) -> st.SearchStrategy[list[dict[str, Any]]]:
    scalar = _scalars(ints)
    value = st.one_of(scalar, st.dictionaries(KEYS, scalar, min_size=1, max_size=3))
    payload = st.dictionaries(KEYS, value, min_size=1, max_size=5)
    return st.lists(payload, min_size=1, max_size=8)


def _flatten(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                out[f"{key}.{sub}"] = sub_value
        else:
            out[key] = value
    return out


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return type(got) is type(want) and got == want
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return got == want


def _round_trip(payloads: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        run = runwatch.init(project="prop", id="r", dir=store)
        for payload in payloads:
            run.log(payload)
        run.finish()
        with runwatch.Api(dir=store) as api:
            stored = api.run("prop/r")
            rows = list(stored.scan_history())
            assert stored.state == "finished"
            assert stored.last_step == len(payloads) - 1
    assert [r["_step"] for r in rows] == list(range(len(payloads)))
    for row, payload in zip(rows, payloads):
        got, want = user_items(row), _flatten(payload)
        assert set(got) == set(want), (row["_step"], got, want)
        bad = {k: (got[k], want[k]) for k in want if not _same(got[k], want[k])}
        assert not bad, f"step {row['_step']}: stored != logged: {bad}"


PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@PROPERTY
@given(payloads=_payloads(INT64))
@example(payloads=[{"a": 2**62 + 1}, {"a": 0.5}])  # see test_large_int_mixed_with_float_in_one_key
def test_logged_payloads_round_trip(payloads: list[dict[str, Any]]) -> None:
    """The full value space asked for: floats (nan/inf), any int64, bools, None, text,
    one level of nested dicts, types mixed freely per key."""
    _round_trip(payloads)


@PROPERTY
@given(payloads=_payloads(FLOAT_EXACT_INT))
def test_logged_payloads_round_trip_float_exact_ints(payloads: list[dict[str, Any]]) -> None:
    """Same, with ints a float64 holds exactly, so that a failure of the test above that
    is only about large ints does not hide everything else."""
    _round_trip(payloads)


def test_large_int_mixed_with_float_in_one_key(store_dir: Path) -> None:
    """int64 values beyond 2**53 must survive a float logged under the same key."""
    big = 2**62 + 1
    run = runwatch.init(project="prop", id="big")
    run.log({"v": big, "w": big})
    run.log({"v": 0.5, "w": big - 2})
    run.finish()
    with runwatch.Api(dir=store_dir) as api:
        rows = list(api.run("prop/big").scan_history())
    assert rows[0]["w"] == big and rows[1]["w"] == big - 2  # an int-only key is exact
    assert rows[1]["v"] == 0.5
    assert rows[0]["v"] == big, f"stored {rows[0]['v']!r}, logged {big}"
