"""Packed image datasets: images resized once into a zip or a sharded folder with a JSON index (as
StyleGAN's ``dataset_tool.py`` makes), read from disk while training, never all in memory.

Layout (``ganforge data pack SRC OUT --size S``; ``OUT`` ending in ``.zip`` is a zip, else a folder):

    dataset.json                 the index (below)
    00000/img00000000.png        one PNG per image, S x S, 1000 per shard folder
    00000/img00000001.png ...

The index is StyleGAN's ``dataset.json`` (``"labels": [[name, class or null], ...]``) plus what a
trainer needs before reading any image: ``format``, ``version``, ``size``, ``channels``, ``count``,
``class_names``, ``split`` (per image ``train`` / ``test``, or absent) and ``content_sha256`` (of
every PNG in order: the dataset's fingerprint).

Sources (``SRC``): an image folder as the ``image-folder`` dataset reads it (class sub-folders are
classes; every image is center-cropped and resized by the same code, so a pack holds exactly the
pixels ``image-folder`` would load), or with ``--labels CSV`` a metadata table whose ``file`` column
(``--file-column``) names images under SRC and whose ``--label-column`` gives their class (its
``split`` column, when present, the split). Packing decodes one image at a time and writes to a
temporary name renamed at the end: a failed pack leaves nothing half-written.

The ``packed`` dataset (``--data packed --data-dir OUT``) streams it: see ``ganforge.data.streaming``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import GanforgeError

FORMAT, VERSION, INDEX = "ganforge-packed", 1, "dataset.json"
SHARD = 1000


def entry_name(i: int) -> str:
    return f"{i // SHARD:05d}/img{i:08d}.png"


# -- packing -----------------------------------------------------------------------------------------------
def _from_csv(src: Path, table: Path, file_column: str, label_column: str | None):
    if not table.is_file():
        raise GanforgeError(f"labels table {table} does not exist; pass the CSV with a file column to --labels.")
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise GanforgeError(f"labels table {table} has no rows; it needs a header and one row per image.")
    for column in (file_column, label_column):
        if column and column not in rows[0]:
            raise GanforgeError(f"labels table {table} has no column {column!r}; its columns are "
                                f"{', '.join(rows[0])}. Pass --file-column / --label-column.")
    files = [src / row[file_column] for row in rows]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise GanforgeError(f"labels table {table} names {len(missing)} file(s) missing under {src} "
                            f"(e.g. {missing[0]}); restore them or remove their rows.")
    labels, names = None, []
    if label_column:
        values = [row[label_column].strip() for row in rows]
        empty = [rows[i][file_column] for i, v in enumerate(values) if not v]
        if empty:
            raise GanforgeError(f"labels table {table}: {len(empty)} row(s) have no {label_column!r} "
                                f"(e.g. {empty[0]}); fill them or remove those rows.")
        names = sorted(set(values))
        labels = [names.index(v) for v in values]
    split = None
    if "split" in rows[0]:
        split = ["test" if row["split"].strip() in ("test", "val") else "train" for row in rows]
    return files, names, labels, split


def _from_folder(src: Path):
    from ganforge.data.image_folder import scan

    if (src / "train").is_dir() and (src / "test").is_dir():
        raise GanforgeError(f"{src} holds train/ and test/ folders; pack each one on its own "
                            f"(`ganforge data pack {src / 'train'} OUT`).")
    files, names, labels = scan(src)
    return files, names, labels, None


def pack(src: str | os.PathLike, out: str | os.PathLike, size: int, labels: str | os.PathLike | None = None,
         file_column: str = "file", label_column: str | None = None, color: str = "auto") -> dict:
    """Pack the images of ``src`` at ``size`` into ``out`` (a .zip or a folder); returns the index."""
    from ganforge.data.image_folder import COLOR_CHOICES, decide_channels, decode

    src, out = Path(src).expanduser(), Path(out).expanduser()
    if not src.is_dir():
        raise GanforgeError(f"source {src} is not a folder; pass a folder of PNG/JPEG images.")
    if not 4 <= size <= 4096:
        raise GanforgeError(f"--size {size} is out of range; use 4..4096 (e.g. 256).")
    if color not in COLOR_CHOICES:
        raise GanforgeError(f"--color {color!r}; choose one of {', '.join(COLOR_CHOICES)}.")
    if out.exists():
        raise GanforgeError(f"{out} already exists; remove it or choose another output.")
    if label_column and not labels:
        raise GanforgeError("--label-column needs --labels CSV (the table holding that column).")
    files, names, classes, split = (_from_csv(src, Path(labels).expanduser(), file_column, label_column) if labels
                                    else _from_folder(src))
    if not files:
        raise GanforgeError(f"no PNG/JPEG images under {src}; put images there (sub-folders = classes).")
    channels = decide_channels(files, color)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        writer = _ZipWriter(tmp) if out.suffix.lower() == ".zip" else _FolderWriter(tmp)
        with writer:
            for i, path in enumerate(files):
                data = _png_bytes(decode(path, size, channels))
                digest.update(data)
                writer.write(entry_name(i), data)
            index = {"format": FORMAT, "version": VERSION, "size": size, "channels": channels, "count": len(files),
                     "class_names": names, "labels": [[entry_name(i), None if classes is None else classes[i]]
                                                      for i in range(len(files))],
                     "content_sha256": digest.hexdigest(), "source": str(src)}
            if split is not None:
                index["split"] = split
            writer.write(INDEX, json.dumps(index).encode())  # last: a pack without its index is incomplete
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    return index


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    image = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


class _ZipWriter:
    def __init__(self, path: Path):
        # PNGs are compressed already: stored entries read back without a second inflate.
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED)

    def write(self, name: str, data: bytes) -> None:
        self.zip.writestr(name, data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()


class _FolderWriter:
    def __init__(self, path: Path):
        self.root = path
        path.mkdir()

    def write(self, name: str, data: bytes) -> None:
        target = self.root / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


# -- reading -----------------------------------------------------------------------------------------------
class PackedReader:
    """Reads a pack's index and its images by entry name. The zip handle is opened per process (so that
    DataLoader workers, forked from the trainer, each get their own) and never shared."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self._zip, self._pid = None, None
        if not self.path.exists():
            raise GanforgeError(f"packed dataset {self.path} does not exist; make it with `ganforge data pack SRC OUT`.")
        self.is_zip = self.path.is_file()
        raw = self.read_bytes(INDEX, missing=f"packed dataset {self.path} has no {INDEX} index (an interrupted or "
                                             f"foreign pack); repack it with `ganforge data pack`.")
        try:
            self.index = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GanforgeError(f"the {INDEX} of {self.path} is not valid JSON; repack it.") from None
        self._check_index()

    def _check_index(self) -> None:
        index = self.index
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise GanforgeError(f"{self.path} is not a ganforge pack (its {INDEX} lacks format {FORMAT!r}); "
                                f"repack it with `ganforge data pack`.")
        if index.get("version") != VERSION:
            raise GanforgeError(f"{self.path} is pack format version {index.get('version')}; this ganforge reads "
                                f"version {VERSION}. Repack it.")
        labels = index.get("labels")
        if not isinstance(labels, list) or len(labels) != index.get("count") or not index.get("count"):
            raise GanforgeError(f"the {INDEX} of {self.path} lists {len(labels or [])} images but says count "
                                f"{index.get('count')}; repack it.")
        split = index.get("split")
        if split is not None and len(split) != len(labels):
            raise GanforgeError(f"the {INDEX} of {self.path} has {len(split)} split entries for {len(labels)} "
                                f"images; repack it.")

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None or self._pid != os.getpid():
            try:
                self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
            except (zipfile.BadZipFile, OSError) as e:
                raise GanforgeError(f"packed dataset {self.path} is not a readable zip ({e}): it is corrupt or "
                                    f"truncated; repack it.") from None
        return self._zip

    def read_bytes(self, name: str, missing: str | None = None) -> bytes:
        try:
            if self.is_zip:
                return self._archive().read(name)
            return (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError):
            raise GanforgeError(missing or f"packed dataset {self.path} lacks {name}, which its index lists; "
                                           f"it is incomplete: repack it.") from None
        except (zipfile.BadZipFile, OSError, EOFError) as e:  # a damaged entry (CRC error, truncated file)
            raise GanforgeError(f"packed dataset {self.path}: {name} cannot be read ({e}); repack it.") from None

    def image(self, name: str) -> torch.Tensor:
        """One image, uint8 (C, S, S), checked against the index's size and channels."""
        from PIL import Image

        size, channels = self.index["size"], self.index["channels"]
        try:
            with Image.open(io.BytesIO(self.read_bytes(name))) as image:
                mode = "L" if channels == 1 else "RGB"
                array = np.asarray(image if image.mode == mode else image.convert(mode))
        except (OSError, ValueError, SyntaxError) as e:
            raise GanforgeError(f"packed dataset {self.path}: {name} is not a valid PNG ({e}); repack it.") from None
        if array.shape[:2] != (size, size):
            raise GanforgeError(f"packed dataset {self.path}: {name} is {array.shape[1]}x{array.shape[0]}, not the "
                                f"{size}x{size} of its index; repack it.")
        array = array[None] if channels == 1 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.array(array, order="C"))  # a writable copy

    def __getstate__(self):  # DataLoader workers get the path and index, never an open handle
        return {**self.__dict__, "_zip": None, "_pid": None}
