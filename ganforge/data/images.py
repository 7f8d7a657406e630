"""Reading image files from users safely: every Pillow read of user data goes through here.

- **Pixel limit.** ``Image.open`` only reads the header; the declared size is checked against the
  limit *before* any pixel is decoded, so a 20000x20000 PNG (or a decompression bomb: a few KB
  declaring gigapixels) is refused with a one-line ``GanforgeError`` naming the file, its size and the
  limit. The limit is ``DEFAULT_MAX_IMAGE_PIXELS`` (100 megapixels: larger than any camera photo a
  GAN dataset needs, ~300 MB decoded as RGB), raised or lowered with the environment variable
  ``GANFORGE_MAX_IMAGE_PIXELS`` (a positive integer, e.g. ``4e8`` or ``400000000``).
- **Formats.** Only raster formats with pure-Python/libjpeg/libpng decoders are tried
  (``SAFE_FORMATS``), whatever the extension says: Pillow would otherwise also try e.g. EPS, which
  runs Ghostscript on the file.
- **Damage.** A missing, unreadable, empty, truncated or non-image file is a ``GanforgeError``
  naming the file (never a Pillow traceback).
- **Messy but valid images are accepted:** grey, grey+alpha, RGBA (alpha dropped), palette (with or
  without transparency), CMYK, 16-bit and float grey (scaled to 8 bit), EXIF-rotated photos (turned
  upright).
"""
from __future__ import annotations

import contextlib
import os
import re
import warnings

import numpy as np

from ganforge.errors import GanforgeError

MAX_PIXELS_ENV = "GANFORGE_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
SAFE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def max_image_pixels() -> int:
    """The pixel limit: $GANFORGE_MAX_IMAGE_PIXELS if set, else ``DEFAULT_MAX_IMAGE_PIXELS``."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value == value and 1 <= value <= 2**62 and value == int(value)):
        raise GanforgeError(f"{MAX_PIXELS_ENV}={text!r} is not a positive whole number of pixels; set it to e.g. "
                            f"400000000 (or unset it for the default {DEFAULT_MAX_IMAGE_PIXELS}).")
    return int(value)


def _too_large(path, width: int, height: int, limit: int) -> GanforgeError:
    return GanforgeError(
        f"image {path} is {width}x{height} ({width * height:,} pixels), over the limit of {limit:,} pixels "
        f"(a guard against decompression bombs); shrink that image, remove it, or raise the limit with "
        f"{MAX_PIXELS_ENV}={max(width * height, limit + 1)}.")


@contextlib.contextmanager
def open_image(path: str | os.PathLike, max_pixels: int | None = None):
    """``with open_image(path) as image``: a lazily opened PIL image whose *declared* size was checked.

    Nothing is decoded yet (``image.mode`` and ``image.size`` are available); errors are GanforgeErrors.
    """
    from PIL import Image

    limit = max_image_pixels() if max_pixels is None else max_pixels
    saved = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow's own bomb check (at open: a warning above its limit, an error above twice it) is set to
        # ours, so that a user who raised the limit is not stopped by Pillow's smaller default. (A global,
        # restored below: ganforge reads images from one thread.)
        Image.MAX_IMAGE_PIXELS = limit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=SAFE_FORMATS)
    except Image.DecompressionBombError as e:  # over twice the limit: Pillow refuses at open (nothing decoded)
        found = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(found.group(1)) if found else None
        declared = f"declares {pixels:,} pixels" if pixels else f"declares over {2 * limit:,} pixels"
        raise GanforgeError(
            f"image {path} {declared}, over the limit of {limit:,} pixels (a guard against decompression bombs); "
            f"shrink that image, remove it, or raise the limit with {MAX_PIXELS_ENV}={pixels or 2 * limit + 1}."
        ) from None
    except FileNotFoundError:
        raise GanforgeError(f"image {path} does not exist (a broken link?); remove it or point at the file.") from None
    except PermissionError:
        raise GanforgeError(f"image {path} cannot be read (permission denied); fix its permissions "
                            f"(chmod a+r) or remove it.") from None
    except Image.UnidentifiedImageError:
        size = _size_or_none(path)
        kind = _signature(path)
        what = ("an empty file" if size == 0 else f"a truncated or damaged {kind} file" if kind
                else f"not a {'/'.join(SAFE_FORMATS)} image")
        raise GanforgeError(f"cannot read image {path} ({what}); delete or replace that file.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise GanforgeError(f"cannot read image {path} ({_reason(e)}); delete or replace that file.") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    try:
        width, height = image.size
        if width * height > limit:
            raise _too_large(path, width, height, limit)
        if width < 1 or height < 1:
            raise GanforgeError(f"image {path} is {width}x{height}: it has no pixels; delete or replace that file.")
        yield image
    finally:
        image.close()


SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"BM": "BMP",
              b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def _signature(path) -> str | None:
    """The format a file's first bytes claim (to tell a damaged PNG from a file that is no image at all)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head[:4] == b"RIFF":
        return "WEBP"
    return next((kind for magic, kind in SIGNATURES.items() if head.startswith(magic)), None)


def _size_or_none(path) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def to_8bit(image):
    """Any PIL image -> mode ``L`` (grey) or ``RGB``, upright per EXIF; 16-bit/float grey scaled to 0..255."""
    from PIL import Image, ImageOps

    with contextlib.suppress(Exception):  # a damaged EXIF block must not lose an otherwise good image
        image = ImageOps.exif_transpose(image)
    if image.mode in HIGH_DEPTH_MODES:  # 16-bit / 32-bit / float grey -> 8 bit
        array = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        top = 65535.0 if image.mode.startswith("I") and array.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(array * (255.0 / top), 0, 255).astype(np.uint8))
    if image.mode == "P":  # palette: through RGBA when the palette has transparency (Pillow warns otherwise)
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("1", "L", "LA", "La"):
        return image.convert("L")
    if image.mode != "RGB":
        return image.convert("RGB")  # RGBA/RGBa (alpha dropped), CMYK, YCbCr, LAB, HSV, ...
    return image


def read_image(path: str | os.PathLike, channels: int | None = None, max_pixels: int | None = None) -> np.ndarray:
    """Decode one image file to uint8 (H, W) grey or (H, W, 3) RGB (``channels`` 1 or 3 forces one).

    Checked against the pixel limit before decoding; any damage is a GanforgeError naming the file.
    """
    with open_image(path, max_pixels) as image:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "truncated EXIF", palette notes: not the user's concern
                image.load()
                image = to_8bit(image)
                if channels is not None:
                    image = image.convert("L" if channels == 1 else "RGB")
                return np.array(image, dtype=np.uint8)
        except GanforgeError:
            raise
        except MemoryError:
            raise GanforgeError(f"image {path} does not fit in memory when decoded; shrink it or remove it.") \
                from None
        except Exception as e:  # noqa: BLE001 - a corrupt file makes Pillow raise many kinds of errors
            raise GanforgeError(f"cannot decode image {path} ({_reason(e)}); delete or replace that file.") from None


def is_grayscale(path: str | os.PathLike) -> bool:
    """From the header only: would ``read_image`` return one channel?"""
    with open_image(path) as image:
        if image.mode == "P":
            return False  # a palette may be grey, but telling needs the palette; RGB is the safe choice
        return image.mode in ("1", "L", "LA", "La", *HIGH_DEPTH_MODES)


__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "MAX_PIXELS_ENV", "SAFE_FORMATS", "is_grayscale", "max_image_pixels",
           "open_image", "read_image", "to_8bit"]
