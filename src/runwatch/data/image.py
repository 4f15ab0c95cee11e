"""``wandb.Image``: pixels logged as PNG, or an image file's own bytes kept as they are.

Inputs (as wandb): numpy arrays HW, HWC or CHW with 1, 3 or 4 channels; torch tensors
(CHW, converted without importing torch); PIL images; paths to image files; another Image.
A 3-D numpy array is CHW when its first dimension is 1, 3 or 4 and its last is not; a torch
tensor is CHW whenever its first dimension is 1, 3 or 4 (torch's own layout).

Pixel values, with ``normalize=True``:

- float arrays whose finite values lie in [0, 1] are multiplied by 255; those in [-1, 1]
  with a negative value are mapped -1 -> 0 and 1 -> 255; other floats are clipped to
  [0, 255]. Floats are rounded, not truncated, so ``uint8 / 255`` round-trips exactly
  (wandb truncates). NaN becomes 0; +Inf and -Inf become 255 and 0.
- bool arrays become 0 and 255; integer arrays are clipped to [0, 255] and never scaled
  (wandb would stretch a 0/1 integer mask).

``normalize=False`` skips the scaling: values are taken as 0..255 and clipped.

The bytes are made once, at construction, so ``log()`` hands the writer thread finished
bytes. PNG output has no metadata chunks and fixed settings, so equal pixels give equal
bytes and an equal sha256, and the blob store keeps them once. Files in PNG, JPEG, GIF or
WEBP are kept byte for byte (their ``mode`` is the file's PIL mode, which may be "P");
other formats are decoded and re-encoded as PNG.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from runwatch.data.media import Encoded, Media, ReadBlob, sha256

MODES = ("L", "RGB", "RGBA")
_CHANNEL_COUNTS = (1, 3, 4)
# MPO is what Pillow calls many camera JPEGs; the bytes are plain JPEG to a browser.
_KEPT_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "GIF": "gif", "WEBP": "webp"}
_FILE_TYPES = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg"}
_ACCEPTED = ("accepted: a numpy array HW, HWC or CHW with 1, 3 or 4 channels, a torch tensor, "
             "a PIL image, a path to an image file, or another Image")


class ImageFileNotFoundError(FileNotFoundError, ValueError):
    """A missing image path. Both bases, so code catching either what ``open()`` raises or
    what every other bad input raises handles it."""


def _is_torch(x: Any) -> bool:
    # Checked by module name so that logging numpy never pays for importing torch.
    return type(x).__module__.startswith("torch")


def _torch_to_numpy(t: Any) -> np.ndarray:
    t = t.detach().cpu()
    try:
        return t.numpy()
    except TypeError:  # bfloat16 and other dtypes numpy lacks
        return t.float().numpy()


def _pil_array(im: PILImage.Image) -> np.ndarray:
    """The pixels of any PIL image as an array that the value rules below understand."""
    if im.mode in MODES:
        return np.asarray(im)
    if im.mode in ("I", "F") or im.mode.startswith("I;"):
        return np.asarray(im)  # wide values: clipped (ints) or scaled (floats) like arrays
    alpha = "A" in im.mode or "transparency" in im.info
    return np.asarray(im.convert("RGBA" if alpha else "L" if im.mode == "1" else "RGB"))


def _to_uint8(arr: np.ndarray, normalize: bool) -> np.ndarray:
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind in "iu":
        return np.clip(arr, 0, 255).astype(np.uint8)
    data = arr.astype(np.float64)
    finite = data[np.isfinite(data)]
    if normalize and finite.size:
        lo, hi = finite.min(), finite.max()
        if lo >= 0 and hi <= 1:
            data = data * 255
        elif lo >= -1 and hi <= 1:
            data = (data + 1) * 127.5
    data = np.nan_to_num(np.rint(data), nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(data, 0, 255).astype(np.uint8)


def _to_hwc(arr: np.ndarray, torch_layout: bool) -> np.ndarray:
    shape = tuple(arr.shape)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"cannot make an image from an array of dtype {arr.dtype} (shape {shape}); "
                         "pass bool, integer or float pixels")
    if arr.size == 0:
        raise ValueError(f"cannot make an image from an empty array of shape {shape}; "
                         "pass at least one pixel")
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3:
        hint = " (a batch? pass one image, e.g. x[0], or log a list of Images)" if arr.ndim == 4 else ""
        raise ValueError(f"cannot make an image from a {arr.ndim}-D array of shape {shape}{hint}; "
                         f"{_ACCEPTED}")
    first, last = shape[0], shape[-1]
    if first in _CHANNEL_COUNTS and (torch_layout or last not in _CHANNEL_COUNTS):
        arr = arr.transpose(1, 2, 0)
    elif last not in _CHANNEL_COUNTS:
        raise ValueError(f"cannot make an image from an array of shape {shape}: neither its first "
                         f"(CHW) nor its last (HWC) dimension is a channel count of 1, 3 or 4; {_ACCEPTED}")
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def _pixels(data: Any, normalize: bool) -> np.ndarray:
    """Any accepted in-memory input as a uint8 HW or HWC array."""
    torch_layout = False
    if isinstance(data, PILImage.Image):
        arr = _pil_array(data)
    elif _is_torch(data):
        arr, torch_layout = _torch_to_numpy(data), True
    elif isinstance(data, (np.ndarray, list, tuple)) or hasattr(data, "__array__"):
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as e:  # ragged nested lists
            raise ValueError(f"cannot read {type(data).__name__} as a pixel array ({e}); {_ACCEPTED}") from e
    else:
        raise ValueError(f"cannot make an image from {type(data).__name__} {data!r:.80}; {_ACCEPTED}")
    return _to_uint8(_to_hwc(arr, torch_layout), normalize)


def _encode(im: PILImage.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        im.save(buf, "PNG", optimize=False, compress_level=6)
    else:
        if im.mode == "RGBA":
            raise ValueError("JPEG has no alpha channel but the pixels are RGBA; "
                             "pass file_type='png', or mode='RGB' to drop the alpha")
        im.save(buf, "JPEG", quality=90, optimize=False)
    return buf.getvalue()


def _open_bytes(data: bytes, what: str) -> PILImage.Image:
    try:
        im = PILImage.open(io.BytesIO(data))
        im.load()  # a truncated file must fail now, not later in the dashboard
    except Exception as e:  # Pillow raises many kinds (OSError, SyntaxError, DecompressionBomb...)
        raise ValueError(f"{what} is not an image Pillow can read ({type(e).__name__}: {e}); "
                         "pass PNG, JPEG, GIF, WEBP, BMP or another format Pillow opens") from e
    return im


def _read_file(path: Path) -> tuple[bytes, PILImage.Image]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise ImageFileNotFoundError(f"no image file at {str(path)!r}; relative paths are read "
                                     f"from the current directory {os.getcwd()!r}") from e
    except OSError as e:
        raise ValueError(f"cannot read image file {str(path)!r}: {e.strerror or e}") from e
    return raw, _open_bytes(raw, f"file {str(path)!r}")


def _display_pil(im: PILImage.Image) -> PILImage.Image:
    """``im`` as L, RGB or RGBA, for resizing, arrays and notebooks."""
    return im if im.mode in MODES else PILImage.fromarray(_to_uint8(_pil_array(im), True))


def thumbnail(data: bytes, max_side: int = 256) -> bytes:
    """PNG or JPEG ``data`` shrunk so its longer side is ``max_side``, aspect kept.

    Returns ``data`` itself when it is already small enough. JPEG stays JPEG; anything
    else comes back as PNG.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    im = _open_bytes(data, "thumbnail input")
    if max(im.size) <= max_side:
        return data
    jpeg = im.format in ("JPEG", "MPO")
    small = _display_pil(im)
    if jpeg and small.mode == "RGBA":
        small = small.convert("RGB")
    small.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
    return _encode(small, "jpeg" if jpeg else "png")


def _check_caption(caption: Any) -> str | None:
    if caption is None or isinstance(caption, str):
        return caption
    if isinstance(caption, (int, float, np.number)):
        return str(caption)  # a class label or score is a common caption
    raise ValueError(f"caption must be a str or None, got {type(caption).__name__} {caption!r:.80}; "
                     "pass str(...) of it")


class Image(Media):
    """An image to log: ``run.log({"sample": Image(array, caption="epoch 3")})``.

    See the module docstring for the accepted inputs and how pixel values are scaled.
    Bad input raises ``ValueError`` here, naming the shape, dtype or path.
    """

    TYPE = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: Any = None,
                 file_type: str | None = None, normalize: bool = True) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} or None, got {mode!r}")
        fmt = None if file_type is None else _FILE_TYPES.get(str(file_type).lower().lstrip("."))
        if file_type is not None and fmt is None:
            raise ValueError(f"file_type must be 'png', 'jpg' or 'jpeg', got {file_type!r}")
        self._caption = _check_caption(caption)
        source = data_or_path
        if isinstance(source, Image):
            if caption is None:
                self._caption = source.caption
            if mode in (None, source.mode) and fmt in (None, source.format):
                self._set(source.bytes, source.format, source.width, source.height, source.mode)
                return
            source = source.image
        elif isinstance(source, (str, os.PathLike)):
            raw, im = _read_file(Path(source))
            kept = _KEPT_FORMATS.get(im.format or "")
            if kept and fmt in (None, kept) and mode in (None, im.mode):
                self._set(raw, kept, im.width, im.height, im.mode)
                return
            source = im
        elif isinstance(source, (bytes, bytearray)):
            raise ValueError("cannot make an image from bytes; for encoded image bytes pass "
                             "PIL.Image.open(io.BytesIO(data)), for raw pixels a numpy array")
        pil = PILImage.fromarray(np.ascontiguousarray(_pixels(source, normalize)))
        if mode is not None and pil.mode != mode:
            pil = pil.convert(mode)
        fmt = fmt or "png"
        self._set(_encode(pil, fmt), fmt, pil.width, pil.height, pil.mode)

    def _set(self, data: bytes, fmt: str, width: int, height: int, mode: str) -> None:
        self._bytes, self._format, self._sha = data, fmt, sha256(data)
        self._width, self._height, self._mode = int(width), int(height), mode
        self._pil: PILImage.Image | None = None

    caption = property(lambda self: self._caption, doc="The caption, or None.")
    width = property(lambda self: self._width, doc="Width in pixels.")
    height = property(lambda self: self._height, doc="Height in pixels.")
    mode = property(lambda self: self._mode, doc="PIL mode of the stored bytes.")
    sha256 = property(lambda self: self._sha, doc="sha256 hex digest of ``bytes``.")
    format = property(lambda self: self._format, doc='"png", "jpeg", "gif" or "webp".')
    bytes = property(lambda self: self._bytes, doc="The encoded image file, as stored.")

    @property
    def image(self) -> PILImage.Image:
        """The stored bytes decoded as a PIL image (decoded on first use)."""
        if self._pil is None:
            self._pil = _open_bytes(self._bytes, f"image {self._sha}")
        return self._pil

    def to_numpy(self) -> np.ndarray:
        """Pixels as a writable uint8 array, HW (L) or HWC (RGB, RGBA)."""
        return np.array(_display_pil(self.image))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the stored bytes (format ``self.format``) to ``path``."""
        Path(path).write_bytes(self._bytes)

    def _repr_png_(self) -> bytes:
        if self._format == "png":
            return self._bytes
        return _encode(_display_pil(self.image), "png")

    def __repr__(self) -> str:
        caption = "" if self._caption is None else f", caption={self._caption!r}"
        return f"Image({self._width}x{self._height} {self._mode} {self._format}{caption})"

    def encode(self) -> Encoded:
        meta: dict[str, Any] = {"_type": self.TYPE, "sha256": self._sha, "format": self._format,
                                "width": self._width, "height": self._height, "mode": self._mode}
        if self._caption is not None:
            meta["caption"] = self._caption
        meta["size"] = len(self._bytes)
        return Encoded(meta, {self._sha: self._bytes})

    @classmethod
    def decode(cls, meta: dict[str, Any], read_blob: ReadBlob) -> Image:
        missing = [k for k in ("sha256", "format", "width", "height", "mode") if k not in meta]
        if missing:
            raise ValueError(f"image meta lacks {', '.join(missing)}: {meta!r:.200}")
        sha = meta["sha256"]
        data = read_blob(sha)
        if sha256(data) != sha:
            raise ValueError(f"blob for image sha256 {sha} hashes to {sha256(data)}; "
                             "the blob store returned the wrong or corrupted bytes")
        obj = cls.__new__(cls)
        obj._caption = meta.get("caption")
        obj._set(data, meta["format"], meta["width"], meta["height"], meta["mode"])
        return obj
