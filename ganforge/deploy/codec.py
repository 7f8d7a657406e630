"""Image bytes in and out of the server: ``png_bytes`` (a generated image or grid -> PNG) and
``decode_upload`` (an uploaded image -> a square uint8 tensor, its size checked from the header before
any pixel is decoded, so a decompression bomb is refused, never decoded).

Both run off the event loop (the encoder or inference thread); they are here, not in ``server.py``,
because they are plain functions of bytes and tensors that the routes only call.
"""
from __future__ import annotations

import io
import warnings

import torch

from ganforge.deploy.api import RequestError


def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    """One uint8 (C, H, W) image or an (H, W, C) grid array -> PNG bytes."""
    import numpy as np

    from ganforge.utils.images import to_pil

    arr = image if isinstance(image, np.ndarray) else image.permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    to_pil(arr, scale).save(buf, format="PNG")
    return buf.getvalue()


def decode_upload(data: bytes, size: int, channels: int, max_pixels: int) -> torch.Tensor:
    """An uploaded image -> uint8 (C, size, size); its pixel count is checked before decoding."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise RequestError(400, "the uploaded image is empty; send a PNG or JPEG file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w < 1 or h < 1 or w * h > max_pixels:
                    raise RequestError(413, f"the uploaded image is {w}x{h} pixels; the limit is {max_pixels} pixels "
                                            "(--max-image-pixels).")
                if getattr(im, "n_frames", 1) > 1:
                    im.seek(0)
                im.load()
                im = im.convert("L" if channels == 1 else "RGB")
    except RequestError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RequestError(400, "the upload is not an image ganforge can read (or is a decompression bomb); send a PNG "
                                "or JPEG.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise RequestError(400, f"the uploaded image is corrupt or truncated ({type(e).__name__}); send a valid PNG or "
                                "JPEG.") from None
    s = min(im.size)
    left, top = (im.width - s) // 2, (im.height - s) // 2
    im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.BILINEAR)
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())
