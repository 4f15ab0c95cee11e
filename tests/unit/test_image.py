"""runwatch.data.image: accepted inputs, pixel scaling, deterministic bytes, round trips."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from runwatch.data.image import Image, ImageFileNotFoundError, thumbnail
from runwatch.data.media import sha256
from tests.conftest import run_python

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)


def round_trip(img: Image) -> Image:
    enc = img.encode()
    store = dict(enc.blobs)
    back = Image.decode(enc.meta, store.__getitem__)
    assert isinstance(back, Image)
    return back


def png_file(path, array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(array).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


# --- encode / decode -------------------------------------------------------------------------


def test_encode_meta_and_blob():
    img = Image(RGB, caption="cat")
    enc = img.encode()
    assert enc.meta == {"_type": "image", "sha256": img.sha256, "format": "png", "width": 5,
                        "height": 6, "mode": "RGB", "caption": "cat", "size": len(img.bytes)}
    assert enc.blobs == {img.sha256: img.bytes}
    assert sha256(img.bytes) == img.sha256
    assert img.bytes.startswith(b"\x89PNG\r\n\x1a\n")


def test_caption_omitted_when_none():
    assert "caption" not in Image(RGB).encode().meta


def test_round_trip_keeps_pixels_and_caption():
    back = round_trip(Image(RGB, caption="c"))
    assert back.caption == "c"
    assert (back.width, back.height, back.mode, back.format) == (5, 6, "RGB", "png")
    np.testing.assert_array_equal(back.to_numpy(), RGB)
    assert back.image.size == (5, 6)


def test_decode_rejects_wrong_blob():
    enc = Image(RGB).encode()
    sha = enc.meta["sha256"]
    with pytest.raises(ValueError, match=sha):
        Image.decode(enc.meta, lambda _: b"not the image")


def test_decode_rejects_incomplete_meta():
    with pytest.raises(ValueError, match="width"):
        Image.decode({"_type": "image", "sha256": "x", "format": "png", "height": 1, "mode": "L"},
                     lambda _: b"")


# --- dedup and determinism ------------------------------------------------------------------


def test_same_pixels_same_bytes_and_sha():
    a, b = Image(RGB.copy()), Image(RGB.copy())
    assert a.bytes == b.bytes and a.sha256 == b.sha256
    # the same pixels arriving as PIL, HWC float and CHW store once too
    assert Image(PILImage.fromarray(RGB)).sha256 == a.sha256
    assert Image(RGB / 255.0).sha256 == a.sha256
    assert Image(RGB.transpose(2, 0, 1)).sha256 == a.sha256


def test_different_pixels_different_sha():
    other = RGB.copy()
    other[0, 0, 0] ^= 1
    assert Image(other).sha256 != Image(RGB).sha256


def test_caption_does_not_change_sha():
    assert Image(RGB, caption="a").sha256 == Image(RGB, caption="b").sha256


def test_png_has_no_metadata_chunks():
    data = Image(PILImage.fromarray(RGB)).bytes
    for chunk in (b"tIME", b"tEXt", b"iTXt", b"zTXt", b"pHYs", b"iCCP"):
        assert chunk not in data


# --- accepted inputs and pixel values -------------------------------------------------------


def test_hw_uint8_is_L():
    arr = RNG.integers(0, 256, size=(3, 7), dtype=np.uint8)
    img = Image(arr)
    assert (img.mode, img.width, img.height) == ("L", 7, 3)
    np.testing.assert_array_equal(img.to_numpy(), arr)


def test_float_zero_one_scaled_by_255_and_rounded():
    img = Image(np.array([[0.0, 0.5, 1.0]]))
    assert img.to_numpy().tolist() == [[0, 128, 255]]
    # uint8 / 255 in float32 comes back exactly (truncation would lose a level)
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(Image(levels.astype(np.float32) / 255).to_numpy(), levels)


def test_float_minus_one_one_rescaled():
    img = Image(np.array([[-1.0, 0.0, 1.0]], dtype=np.float32))
    assert img.to_numpy().tolist() == [[0, 128, 255]]


def test_float_outside_ranges_clipped():
    assert Image(np.array([[-5.0, 2.0, 300.0]])).to_numpy().tolist() == [[0, 2, 255]]


def test_normalize_false_takes_values_as_0_255():
    assert Image(np.array([[0.0, 1.0, 200.4]]), normalize=False).to_numpy().tolist() == [[0, 1, 200]]


def test_nan_becomes_zero_and_inf_clips():
    img = Image(np.array([[np.nan, 0.5, np.inf, -np.inf]]))
    assert img.to_numpy().tolist() == [[0, 128, 255, 0]]


def test_ints_clipped_not_scaled():
    assert Image(np.array([[-3, 0, 1, 300]])).to_numpy().tolist() == [[0, 0, 1, 255]]


def test_bool_is_0_255():
    assert Image(np.array([[True, False]])).to_numpy().tolist() == [[255, 0]]


def test_hwc_float():
    arr = RNG.random((4, 6, 3))
    img = Image(arr)
    assert (img.mode, img.width, img.height) == ("RGB", 6, 4)
    np.testing.assert_array_equal(img.to_numpy(), np.rint(arr * 255).astype(np.uint8))


def test_chw_float_minus_one_one():
    arr = np.zeros((3, 4, 6))
    arr[0] = -1.0
    arr[1] = 1.0
    img = Image(arr)
    assert (img.mode, img.width, img.height) == ("RGB", 6, 4)
    assert img.to_numpy()[0, 0].tolist() == [0, 255, 128]


def test_four_channels_is_rgba():
    arr = RNG.integers(0, 256, size=(4, 5, 4), dtype=np.uint8)
    img = Image(arr)
    assert img.mode == "RGBA"
    np.testing.assert_array_equal(round_trip(img).to_numpy(), arr)
    assert Image(arr.transpose(2, 0, 1)).sha256 == img.sha256


def test_single_channel_hwc_and_chw_are_L():
    arr = RNG.integers(0, 256, size=(4, 5), dtype=np.uint8)
    assert Image(arr[:, :, None]).sha256 == Image(arr).sha256 == Image(arr[None]).sha256
    assert Image(arr[None]).mode == "L"


def test_ambiguous_3d_shapes():
    # first dim 1/3/4 and last not: CHW; last dim 1/3/4: HWC (numpy); torch is always CHW
    assert (Image(np.zeros((4, 4, 5))).width, Image(np.zeros((4, 4, 5))).mode) == (5, "RGBA")
    assert (Image(np.zeros((3, 8, 4))).width, Image(np.zeros((3, 8, 4))).mode) == (8, "RGBA")
    assert (Image(torch.zeros(3, 8, 4)).width, Image(torch.zeros(3, 8, 4)).mode) == (4, "RGB")


def test_pil_input_modes():
    assert Image(PILImage.fromarray(RGB)).mode == "RGB"
    pal = PILImage.fromarray(RGB).convert("P")
    img = Image(pal)
    assert img.mode == "RGB"
    np.testing.assert_array_equal(img.to_numpy(), np.asarray(pal.convert("RGB")))
    assert Image(PILImage.new("1", (3, 2), 1)).to_numpy().tolist() == [[255] * 3] * 2


def test_torch_tensor_chw():
    t = torch.rand(3, 4, 6, requires_grad=True)
    img = Image(t)
    assert (img.mode, img.width, img.height) == ("RGB", 6, 4)
    expected = np.rint(t.detach().numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(img.to_numpy(), expected)


def test_torch_bfloat16_and_2d():
    img = Image(torch.ones(2, 3, dtype=torch.bfloat16))
    assert img.mode == "L" and img.to_numpy().tolist() == [[255] * 3] * 2


def test_png_path_kept_byte_identical(tmp_path):
    raw = png_file(tmp_path / "a.png", RGB)
    img = Image(tmp_path / "a.png")
    assert img.bytes == raw and img.sha256 == sha256(raw) and img.format == "png"
    assert (img.width, img.height, img.mode) == (5, 6, "RGB")
    assert Image(str(tmp_path / "a.png")).sha256 == sha256(raw)


def test_jpeg_path_kept_as_jpeg(tmp_path):
    path = tmp_path / "a.jpg"
    PILImage.fromarray(RGB).save(path, "JPEG", quality=80)
    img = Image(path)
    assert img.format == "jpeg" and img.bytes == path.read_bytes()
    assert round_trip(img).format == "jpeg"
    assert round_trip(img).encode().meta["format"] == "jpeg"
    assert img._repr_png_().startswith(b"\x89PNG")


def test_bmp_path_reencoded_as_png(tmp_path):
    path = tmp_path / "a.bmp"
    PILImage.fromarray(RGB).save(path, "BMP")
    img = Image(path)
    assert img.format == "png" and img.bytes.startswith(b"\x89PNG")
    assert img.sha256 == Image(RGB).sha256


def test_file_type_jpeg_encodes_jpeg():
    img = Image(RGB, file_type="jpg")
    assert img.format == "jpeg" and img.bytes.startswith(b"\xff\xd8")
    assert Image(RGB, file_type="jpeg").bytes == img.bytes


def test_mode_converts():
    img = Image(RGB, mode="L")
    assert img.mode == "L" and img.to_numpy().shape == (6, 5)


def test_from_other_image():
    a = Image(RGB, caption="a")
    b = Image(a)
    assert b.sha256 == a.sha256 and b.caption == "a"
    assert Image(a, caption="b").caption == "b"
    assert Image(a, mode="RGBA").mode == "RGBA"


def test_numeric_caption_becomes_str():
    assert Image(RGB, caption=3).caption == "3"


def test_save_and_repr_png(tmp_path):
    img = Image(RGB)
    img.save(tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes() == img.bytes == img._repr_png_()


def test_thumbnail():
    big = Image(RNG.integers(0, 256, size=(600, 300, 3), dtype=np.uint8))
    small = thumbnail(big.bytes, max_side=100)
    assert PILImage.open(io.BytesIO(small)).size == (50, 100)
    assert small.startswith(b"\x89PNG")
    assert thumbnail(Image(RGB).bytes) == Image(RGB).bytes
    jpeg = Image(RNG.integers(0, 256, size=(400, 400, 3), dtype=np.uint8), file_type="jpeg")
    assert thumbnail(jpeg.bytes, 64).startswith(b"\xff\xd8")


def test_thumbnail_rejects_non_image():
    with pytest.raises(ValueError, match="thumbnail input"):
        thumbnail(b"hello")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "match"), [
    (np.zeros((8, 8, 5)), r"shape \(8, 8, 5\).*1, 3 or 4"),
    (np.zeros((5, 8, 8)), r"shape \(5, 8, 8\).*1, 3 or 4"),
    (np.zeros((8, 8, 2)), r"shape \(8, 8, 2\).*1, 3 or 4"),
    (np.zeros((1, 3, 4, 4)), r"4-D array of shape \(1, 3, 4, 4\).*x\[0\]"),
    (np.zeros(5), r"1-D array of shape \(5,\)"),
    (np.zeros((4, 4), dtype=complex), "dtype complex128"),
    (np.array([[None, 1]], dtype=object), "dtype object"),
    (np.array([["a", "b"]]), "dtype <U1"),
    (np.zeros((0, 4)), r"empty array of shape \(0, 4\)"),
    ([[1, 2], [3]], "list"),
    (5, "int 5"),
    (b"\x89PNG", "bytes"),
])
def test_bad_input_names_value(data, match):
    with pytest.raises(ValueError, match=match) as info:
        Image(data)
    assert "accepted" in str(info.value) or "pass" in str(info.value)


def test_bad_torch_4d():
    with pytest.raises(ValueError, match=r"4-D array of shape \(2, 3, 4, 4\)"):
        Image(torch.zeros(2, 3, 4, 4))


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageFileNotFoundError, match="nope.png"):
        Image(path)
    with pytest.raises(ValueError):
        Image(str(path))
    with pytest.raises(FileNotFoundError):
        Image(str(path))


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        Image(path)


def test_truncated_png_rejected(tmp_path):
    raw = png_file(tmp_path / "full.png", RNG.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))
    (tmp_path / "cut.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        Image(tmp_path / "cut.png")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"mode": "CMYK"}, "'CMYK'"),
    ({"file_type": "tiff"}, "'tiff'"),
    ({"caption": ["x"]}, r"list \['x'\]"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Image(RGB, **kwargs)


def test_rgba_as_jpeg_rejected():
    with pytest.raises(ValueError, match="RGBA"):
        Image(np.zeros((2, 2, 4), dtype=np.uint8), file_type="jpeg")


# --- import cost ----------------------------------------------------------------------------


def test_numpy_input_does_not_import_torch():
    run_python("""
        import sys
        import numpy as np
        from runwatch.data.image import Image
        from runwatch.data.histogram import Histogram
        Image(np.zeros((2, 2)))
        Histogram(np.arange(10))
        assert "torch" not in sys.modules, "torch was imported"
    """)
