"""runwatch.data.histogram: bins as numpy makes them, limits, non-finite values, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from runwatch.data.histogram import Histogram

RNG = np.random.default_rng(0)


def round_trip(h: Histogram) -> Histogram:
    enc = h.encode()
    assert enc.blobs == {}
    back = Histogram.decode(enc.meta, {}.__getitem__)
    assert isinstance(back, Histogram)
    return back


@pytest.mark.parametrize("num_bins", [1, 7, 64, 512])
def test_matches_numpy(num_bins):
    data = RNG.normal(size=1000)
    counts, edges = np.histogram(data, bins=num_bins)
    h = Histogram(data, num_bins=num_bins)
    assert h.histogram == counts.tolist()
    assert h.bins == edges.tolist()
    assert len(h.bins) == len(h.histogram) + 1 == num_bins + 1
    assert h.dropped == 0


def test_default_is_64_bins_of_a_list():
    h = Histogram([1, 2, 2, 3, 3, 3])
    assert len(h.histogram) == 64 and sum(h.histogram) == 6
    assert h.bins[0] == 1.0 and h.bins[-1] == 3.0
    assert all(isinstance(b, float) for b in h.bins)
    assert all(isinstance(c, int) for c in h.histogram)


def test_encode_meta_and_round_trip():
    h = Histogram([0.0, 1.0, math.nan, 1.0], num_bins=2)
    enc = h.encode()
    assert enc.meta == {"_type": "histogram", "bins": [0.0, 0.5, 1.0], "values": [1, 2], "dropped": 1}
    back = round_trip(h)
    assert (back.bins, back.histogram, back.dropped) == (h.bins, h.histogram, 1)


def test_decodes_wandb_meta_without_dropped():
    meta = {"_type": "histogram", "bins": [0, 1, 2], "values": [3, 4]}
    back = Histogram.decode(meta, {}.__getitem__)
    assert (back.bins, back.histogram, back.dropped) == ([0.0, 1.0, 2.0], [3, 4], 0)


def test_torch_tensor():
    t = torch.randn(200, requires_grad=True)
    counts, edges = np.histogram(t.detach().numpy().astype(np.float64), bins=10)
    h = Histogram(t, num_bins=10)
    assert h.histogram == counts.tolist() and h.bins == edges.tolist()
    assert sum(Histogram(torch.ones(3, 4, dtype=torch.bfloat16)).histogram) == 12


def test_multidimensional_array_flattened():
    assert sum(Histogram(np.ones((4, 5), dtype=np.int32)).histogram) == 20


def test_generator_and_bool():
    assert sum(Histogram(x * 0.5 for x in range(9)).histogram) == 9
    assert Histogram(np.array([True, False, True]), num_bins=2).histogram == [1, 2]


def test_non_finite_dropped_and_counted():
    h = Histogram([1.0, math.nan, math.inf, -math.inf, 2.0, None], num_bins=2)
    assert h.dropped == 4
    assert h.histogram == [1, 1] and h.bins == [1.0, 1.5, 2.0]
    assert round_trip(h).dropped == 4


@pytest.mark.parametrize("seq", [[], [math.nan, math.inf], np.array([], dtype=np.float32)])
def test_empty_histogram(seq):
    h = Histogram(seq)
    assert h.bins == [] and h.histogram == []
    assert h.dropped == (2 if len(seq) else 0)
    back = round_trip(h)
    assert back.bins == [] and back.histogram == []


def test_constant_values_including_large():
    h = Histogram([5.0, 5.0])
    assert h.bins == np.histogram([5.0, 5.0], bins=64)[1].tolist()
    big = Histogram([1e20] * 3)
    assert sum(big.histogram) == 3 and big.bins[0] < 1e20 < big.bins[-1]


def test_range_too_narrow_for_bins_falls_back_to_one_bin():
    h = Histogram([1.0, 1.0 + 2.2e-16])
    assert h.histogram == [2] and h.bins == [1.0, 1.0 + 2.2e-16]


def test_range_wider_than_float_max():
    h = Histogram([-1e308, 1e308], num_bins=4)
    assert h.bins[0] == -1e308 and h.bins[-1] == 1e308 and sum(h.histogram) == 2


@pytest.mark.parametrize("num_bins", [0, 513, 1000, 2.5, "64"])
def test_num_bins_limit(num_bins):
    with pytest.raises(ValueError, match=f"num_bins.*512.*{num_bins!r}"):
        Histogram([1, 2, 3], num_bins=num_bins)


def test_np_histogram():
    counts, edges = np.histogram(RNG.normal(size=100), bins=20)
    h = Histogram(np_histogram=(counts, edges))
    assert h.histogram == counts.tolist() and h.bins == edges.tolist()
    dens = Histogram(np_histogram=np.histogram([1, 2, 3], bins=3, density=True))
    assert all(isinstance(v, float) for v in dens.histogram)
    # np_histogram wins over sequence, as in wandb
    assert Histogram([9, 9, 9], np_histogram=([1], [0, 1])).histogram == [1]


@pytest.mark.parametrize(("np_hist", "match"), [
    (([1, 2], [0, 1]), "2 counts and 2 bin edges"),
    (([1, 2], [0, 1, 2, 3]), "2 counts and 4 bin edges"),
    (([], [0]), "0 counts"),
    ((np.ones(513), np.arange(514)), "513 bins.*512"),
    (([1, 2, 3],), "pair"),
    ("ab", "dtype <U1"),
    (([1, 2], [0, 2, 1]), "must not decrease"),
    (([1, math.nan], [0, 1, 2]), "finite"),
])
def test_np_histogram_validation(np_hist, match):
    with pytest.raises(ValueError, match=match):
        Histogram(np_histogram=np_hist)


@pytest.mark.parametrize(("seq", "match"), [
    (np.array([1 + 2j]), r"complex128.*abs\(\)"),
    (["a", "b"], "dtype <U1"),
    ([1, "x"], "dtype <U21"),
    ([[1, 2], [3]], "list"),
    ([1, object()], "non-number"),
])
def test_bad_sequence(seq, match):
    with pytest.raises(ValueError, match=match):
        Histogram(seq)


def test_needs_some_input():
    with pytest.raises(ValueError, match="sequence=.*np_histogram="):
        Histogram()
