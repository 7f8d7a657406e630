"""Shared helpers of the translation datasets (paired, unpaired, domains, label maps): file lists,
metadata CSVs, splits, and decoding many images at one size.

Decoding goes through ``ganforge.data.image_folder.decode`` and ``ganforge.data.images`` (``open_image``
/ ``read_image``: the pixel limit against decompression bombs, safe formats, one-line errors); two
cases need more than ``decode`` and are done here on what those return: an alpha channel (RGBA / LA /
palette transparency) is composited onto a white background instead of dropped, and side-by-side
``AB`` images are split into halves before the square crop.

Splits, first rule that applies:
1. a metadata CSV (option ``metadata``, default ``metadata.csv`` under the data root, when present)
   with a ``file`` column: its rows (optionally filtered by ``exclude: "COLUMN=V1|V2"``) are the
   files, and its ``split`` column (``train`` / ``test``; ``val`` counts as test) splits them;
2. ``train/`` and ``test/`` sub-folders;
3. a seeded permutation of the sorted names (seed 1234), ``test_fraction`` going to test.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ganforge.data.image_folder import IMAGE_EXTENSIONS, SPLIT_SEED, decode, list_images, square_resize
from ganforge.data.images import is_grayscale, open_image, read_image, to_8bit
from ganforge.errors import GanforgeError

ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
MAX_BYTES = 16 * 2**30
_CACHE: dict = {}


def option(cfg, name, default):
    return (cfg.options or {}).get(name, default)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise GanforgeError(f"option {name!r} is {value!r}; choose one of {', '.join(choices)}.")
    return value


def check_fraction(value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or not 0 < value < 1:
        raise GanforgeError(f"option 'test_fraction' is {value!r}; it must be a number in (0, 1).")
    return float(value)


def root_of(cfg, dataset: str) -> Path:
    from ganforge.data import data_dir

    root = Path(data_dir(cfg, dataset)).expanduser()
    if not root.is_dir():
        raise GanforgeError(f"{dataset}: data folder {root} does not exist; pass --data-dir pointing at it.")
    return root


def images_by_stem(folder: Path, what: str) -> dict[str, Path]:
    """{file stem: path} of the images directly in / under ``folder``; a stem twice is an error."""
    if not folder.is_dir():
        raise GanforgeError(f"{what} folder {folder} does not exist; check --data-dir and the folder option.")
    out: dict[str, Path] = {}
    for path in list_images(folder):
        key = str(path.relative_to(folder).with_suffix(""))
        if key in out:
            raise GanforgeError(f"{what} folder {folder} holds {out[key].name} and {path.name}: two images with the "
                                f"same name; keep one.")
        out[key] = path
    if not out:
        raise GanforgeError(f"{what} folder {folder} holds no PNG/JPEG images; put the images there.")
    return out


def read_metadata(root: Path, cfg, required: bool = False):
    """The metadata table (pandas) filtered by ``exclude``, or None when there is none."""
    name = option(cfg, "metadata", "metadata.csv")
    path = root / name if name else None
    if path is None or not path.is_file():
        if required or (name and name != "metadata.csv"):
            raise GanforgeError(f"metadata file {path} does not exist; pass --options '{{metadata: FILE.csv}}' "
                                f"(a CSV under --data-dir with a 'file' column).")
        return None
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise GanforgeError(f"cannot read metadata {path} ({e}); fix or remove that file.") from None
    if "file" not in table.columns:
        raise GanforgeError(f"metadata {path} has no 'file' column (it has {', '.join(table.columns)}); "
                            f"name the column of image file names 'file'.")
    exclude = option(cfg, "exclude", "")
    if exclude:
        column, sep, values = str(exclude).partition("=")
        if not sep or column not in table.columns:
            raise GanforgeError(f"option 'exclude' is {exclude!r}; write COLUMN=VALUE1|VALUE2 with a column of "
                                f"{path.name} ({', '.join(table.columns)}).")
        table = table[~table[column].isin(values.split("|"))]
    return table


def split_of_table(table, split: str, test_fraction: float) -> list[int]:
    """Row positions of ``split``: the ``split`` column when present, else a seeded split."""
    if "split" in table.columns:
        values = table["split"].str.strip().str.lower()
        bad = sorted(set(values) - {"train", "test", "val"})
        if bad:
            raise GanforgeError(f"metadata column 'split' holds {bad[0]!r}; use train, test (or val).")
        keep = values == "train" if split == "train" else values != "train"
        return [i for i, k in enumerate(keep.tolist()) if k]
    return seeded_split(len(table), split, test_fraction)


def seeded_split(n: int, split: str, test_fraction: float) -> list[int]:
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = min(n - 1, max(1, round(n * test_fraction))) if n > 1 else 0
    chosen = perm[:n_test] if split == "test" else perm[n_test:]
    return sorted(int(i) for i in chosen)


def has_alpha(image) -> bool:
    return image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def decide_channels(files: list[Path], color: str) -> int:
    """1 when every file is grayscale (``auto``), else 3; ``rgb`` / ``grayscale`` force it."""
    check_choice("color", color, ("auto", "rgb", "grayscale"))
    if color != "auto":
        return 3 if color == "rgb" else 1
    return 1 if all(is_grayscale(path) for path in files) else 3


def _square(array: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W[, 3]) -> center-cropped square, resized to size (LANCZOS, as ``decode``)."""
    return square_resize(array, size)


def _read_on_white(path: Path, channels: int) -> np.ndarray:
    """Like ``read_image`` (same checks and errors) but alpha composited onto white instead of dropped."""
    from PIL import Image

    with open_image(path) as image:
        try:
            image.load()
            rgba = (image.convert("RGBA") if image.mode != "RGBA" else image)
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            flat.alpha_composite(rgba)
            return np.array(to_8bit(flat).convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        except GanforgeError:
            raise
        except Exception as e:  # noqa: BLE001 - a corrupt file makes Pillow raise many kinds of errors
            raise GanforgeError(f"cannot decode image {path} ({e}); delete or replace that file.") from None


def _load_one(path: Path, size: int, channels: int, half: str | None = None) -> np.ndarray:
    """uint8 (C, size, size). Plain images: ``image_folder.decode``; alpha or an AB half: read by
    ``ganforge.data.images`` (same limits), flattened on white / cut in half, then the same crop and resize."""
    with open_image(path) as image:
        alpha = has_alpha(image)
        w, h = image.size
    if half is None and not alpha:
        return decode(path, size, channels)
    if half is not None and w % 2:
        raise GanforgeError(f"image {path} is {w}x{h}: a side-by-side AB image needs an even width (two "
                            f"halves); use layout 'folders' for separate input and target images.")
    array = _read_on_white(path, channels) if alpha else read_image(path, channels)
    if half is not None:
        array = array[:, : w // 2] if half == "left" else array[:, w // 2:]
    array = _square(array, size)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def load_images(files: list[Path], size: int, channels: int, half: str | None = None) -> torch.Tensor:
    """uint8 (N, C, size, size), decoded once per process (cached by paths, size, channels, mtimes)."""
    if len(files) * channels * size * size > MAX_BYTES:
        raise GanforgeError(f"{len(files)} images at {size}x{size} need more than {MAX_BYTES >> 30} GiB in memory; "
                            f"lower --image-size or use fewer images.")
    key = (tuple(str(f) for f in files), size, channels, half,
           tuple(f.stat().st_mtime_ns for f in files) if len(files) < 100_000 else None)
    if key in _CACHE:
        return _CACHE[key]
    x = torch.empty((len(files), channels, size, size), dtype=torch.uint8)
    for i, path in enumerate(files):
        x[i] = torch.from_numpy(_load_one(path, size, channels, half))
    if len(_CACHE) > 16:
        _CACHE.clear()
    _CACHE[key] = x
    return x


def first_size(path: Path, half: bool = False) -> int:
    with open_image(path) as image:
        w, h = image.size
    return min(w // 2 if half else w, h)


def check_size(size: int) -> int:
    if not 4 <= size <= 1024:
        raise GanforgeError(f"image size {size} is outside 4..1024; pass --image-size.")
    return size


def image_files(folder: Path) -> list[Path]:
    return [p for p in list_images(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]
