"""Samples from disk for ``ganforge eval --real A --fake B``: a folder of images or an ``.npz``.

- folder: every .png/.jpg/.jpeg/.bmp/.webp below it (sorted), all of one size; grayscale stays
  1 channel, anything else becomes RGB;
- .npz: array ``x`` (else the first array): uint8 images (N, H, W), (N, C, H, W) or (N, H, W, C)
  (the form ``ganforge sample --out x.npz`` writes), or float (N, D) vectors.
Returned in model space: images (N, C, H, W) float in [-1, 1]; vectors unchanged.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.errors import GanforgeError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def _images_to_model(arr: np.ndarray, source: str) -> torch.Tensor:
    if arr.dtype != np.uint8:
        raise GanforgeError(f"{source}: images must be uint8 (0..255), got {arr.dtype}; vectors must be 2-D.")
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[1] not in (1, 3) and arr.shape[-1] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise GanforgeError(f"{source}: cannot read images of shape {arr.shape}; use (N, H, W), (N, C, H, W) "
                            "or (N, H, W, C) with 1 or 3 channels.")
    return torch.from_numpy(np.ascontiguousarray(arr)).float().div_(127.5).sub_(1.0)


def _load_folder(folder: Path, limit: int | None) -> torch.Tensor:
    from ganforge.data.images import is_grayscale, read_image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GanforgeError(f"folder {str(folder)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    files = files[:limit] if limit else files
    # Headers first (pixel limit, damage: errors name the file), then decode; see ganforge.data.images.
    gray = all(is_grayscale(p) for p in files)
    arrays = [read_image(p, 1 if gray else 3) for p in files]
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        raise GanforgeError(f"folder {str(folder)!r} mixes image sizes {sorted(sizes)[:3]}; resize them to one size.")
    return _images_to_model(np.stack(arrays), str(folder))


def _load_npz(path: Path, limit: int | None) -> torch.Tensor:
    import zipfile

    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise GanforgeError(f"{str(path)!r} is a single .npy array, not an .npz archive; save it with "
                                f"np.savez(NAME.npz, x=array).")
        with data:
            arrays = [name for name in data.files if name.endswith(".npy") or f"{name}.npy" in data.zip.namelist()]
            if not arrays:
                raise GanforgeError(f"{str(path)!r} holds no arrays; save the samples with np.savez(NAME.npz, x=array).")
            arr = data["x"] if "x" in arrays else data[arrays[0]]
    except GanforgeError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else ("an empty file" if isinstance(e, EOFError)
                                                                          else type(e).__name__)
        raise GanforgeError(f"cannot read {str(path)!r} as .npz ({reason}); write it again with "
                            f"np.savez(NAME.npz, x=array).") from None
    if arr.ndim == 0:
        raise GanforgeError(f"{str(path)!r}: the array is a single value; give samples (N, ...), one per row.")
    arr = arr[:limit] if limit else arr
    if arr.ndim == 2 and arr.dtype != np.uint8:
        if arr.dtype.kind not in "fiu":
            raise GanforgeError(f"{str(path)!r}: vectors must be real numbers, got {arr.dtype}.")
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported just below
            vectors = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise GanforgeError(f"{str(path)!r} holds NaN or infinite values (or values too large for float32); "
                                f"metrics need finite samples.")
        return torch.from_numpy(vectors)
    return _images_to_model(arr, str(path))


def load_samples(path: str, limit: int | None = None) -> torch.Tensor:
    p = Path(path)
    if p.is_dir():
        x = _load_folder(p, limit)
    elif p.is_file() and p.suffix.lower() == ".npz":
        x = _load_npz(p, limit)
    else:
        raise GanforgeError(f"{path!r} is neither a folder of images nor an .npz file.")
    if len(x) < 2:
        raise GanforgeError(f"{path!r} holds {len(x)} sample(s); metrics need at least 2.")
    return x
