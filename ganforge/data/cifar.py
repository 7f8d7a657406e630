"""CIFAR-10 from the official "python version" batches (``cifar-10-python.tar.gz`` from
https://www.cs.toronto.edu/~kriz/cifar.html): ``data_batch_1`` .. ``data_batch_5`` (train, 50,000) and
``test_batch`` (test, 10,000), in ``cifar-10-batches-py/`` under the data directory, in the
directory itself, or still inside the unextracted ``cifar-10-python.tar.gz``.

Why a restricted unpickler: the official batches *are* pickles (a dict of ``data``: uint8 array
(N, 3072), ``labels``: list of ints), and plain ``pickle.load`` on a downloaded file runs whatever
code the file names. ``SafeUnpickler`` resolves only the handful of globals that rebuilding a numpy
array needs (``_reconstruct``, ``ndarray``, ``dtype``, ``_frombuffer`` and latin-1 ``_codecs.encode``
for Python-3-written bytes), none of which can execute code; any other global is refused, so
a tampered file fails with a clear error instead of running anything. The result is then
checked field by field (type, dtype, shape, label range).
"""
from __future__ import annotations

import codecs
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
META_FILE = "batches.meta"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_FOLDER = "cifar-10-batches-py"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
IMAGE_BYTES = 3 * 32 * 32  # each row: 1024 red, 1024 green, 1024 blue values, row-major 32x32


def _latin1_encode(text, encoding="latin1"):
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(str, "latin1"); allow exactly that.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedGlobal("it calls codecs.encode with something other than a latin-1 string")
    return codecs.encode(text, "latin1")


def _numpy_globals() -> dict[tuple[str, str], object]:
    try:  # numpy 2 moved numpy.core to numpy._core (the old name warns); pickles may name either
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1
        from numpy.core import multiarray, numeric

    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list (it would run code a CIFAR batch never needs)."""


class SafeUnpickler(pickle.Unpickler):
    """Resolves only the globals a numpy-array-in-a-dict pickle needs; refuses everything else."""

    _allowed: dict | None = None

    def find_class(self, module: str, name: str):
        if SafeUnpickler._allowed is None:
            SafeUnpickler._allowed = _numpy_globals()
        try:
            return SafeUnpickler._allowed[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"it names the Python global {module}.{name}") from None


def safe_unpickle(data: bytes, source: str):
    try:
        # encoding="bytes": Python 2 str (keys, raw array bytes) stay bytes, as numpy expects.
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except RefusedGlobal as e:
        raise GanforgeError(
            f"{source} is not an official CIFAR-10 python batch ({e}); it was refused without running it. "
            f"Replace it with the files from {ARCHIVE}."
        ) from None
    except Exception as e:  # truncated or garbled pickle streams raise many types (EOFError, ValueError, ...)
        raise GanforgeError(
            f"{source} is truncated or corrupt ({type(e).__name__}: {e}); extract it again from {ARCHIVE}."
        ) from None


def _field(batch: dict, key: str):
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    return None


def parse_batch(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3, 32, 32) uint8, labels (N,) int64) from one batch file's bytes, validated."""
    batch = safe_unpickle(data, source)
    fix = f"replace it with the file from {ARCHIVE}"
    if not isinstance(batch, dict):
        raise GanforgeError(f"{source} holds a {type(batch).__name__}, not a CIFAR-10 batch dict; {fix}.")
    images, labels = _field(batch, "data"), _field(batch, "labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 \
            or images.shape[1] != IMAGE_BYTES:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise GanforgeError(f"{source}: 'data' must be a uint8 array (N, {IMAGE_BYTES}), got {got}; {fix}.")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        labels = None
    if labels is None or labels.shape != (len(images),):
        raise GanforgeError(f"{source}: 'labels' must hold one integer per image ({len(images)}); {fix}.")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise GanforgeError(f"{source}: labels outside 0..{len(CLASS_NAMES) - 1}; {fix}.")
    return images.reshape(-1, 3, 32, 32), labels


def _class_names(meta_bytes: bytes | None, source: str) -> list[str]:
    if meta_bytes is None:
        return list(CLASS_NAMES)
    meta = safe_unpickle(meta_bytes, source)
    names = _field(meta, "label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        return list(CLASS_NAMES)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


MAX_BATCH_BYTES = 2**30  # an official batch is ~31 MB; a file (or tar member) declaring more is refused unread


def _check_size(size: int, source: str) -> None:
    if size > MAX_BATCH_BYTES:
        raise GanforgeError(f"{source} is {size:,} bytes, far more than a CIFAR-10 batch (~31 MB); it is not an "
                            f"official batch: replace it with the file from {ARCHIVE}.")


def _read_file(path: Path) -> bytes:
    try:
        _check_size(path.stat().st_size, str(path))
        return path.read_bytes()
    except OSError as e:
        raise GanforgeError(f"cannot read {path} ({e.strerror or e}); check its permissions.") from None


def read_batch_files(root: Path, names: tuple[str, ...]) -> tuple[dict[str, bytes | None], str | None]:
    """The named files' bytes (None when absent) from the first place holding batches, and that place."""
    for folder in (root / ARCHIVE_FOLDER, root, root / "cifar10" / ARCHIVE_FOLDER, root / "cifar10"):
        if any((folder / name).is_file() for name in TRAIN_BATCHES + TEST_BATCHES):
            return {n: _read_file(folder / n) if (folder / n).is_file() else None for n in names}, str(folder)
    for archive in (root / ARCHIVE, root / "cifar10" / ARCHIVE):
        if archive.is_file():
            try:
                with tarfile.open(archive, "r:gz") as tar:
                    members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                    for n in names:
                        if n in members:
                            _check_size(members[n].size, f"{archive}:{members[n].name}")
                    return {n: tar.extractfile(members[n]).read() if n in members else None for n in names}, \
                        str(archive)
            except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
                raise GanforgeError(f"{archive} is truncated or corrupt ({e}); download it again.") from None
    return {}, None


def load_cifar10(cfg, split: str) -> Dataset:
    from ganforge.data import data_dir

    root = Path(data_dir(cfg, "cifar10")).expanduser()
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    contents, where = read_batch_files(root, names + (META_FILE,))
    if where is None:
        raise GanforgeError(
            f"dataset 'cifar10': no CIFAR-10 python batches in {root}. Download {ARCHIVE} from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html and put it (or its extracted {ARCHIVE_FOLDER}/ folder "
            f"with {', '.join(TRAIN_BATCHES + TEST_BATCHES)}) in that directory, or pass --data-dir."
        )
    missing = [name for name in names if contents[name] is None]
    if missing:
        raise GanforgeError(
            f"dataset 'cifar10': {', '.join(missing)} missing from {where}; extract all batches of {ARCHIVE} there."
        )
    parts = [parse_batch(contents[name], f"{where}/{name}") for name in names]
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return Dataset("cifar10", x, y, len(CLASS_NAMES), _class_names(contents[META_FILE], f"{where}/{META_FILE}"),
                   {"source": where}, kind="image")


def _register():
    from ganforge.data import DATASETS

    DATASETS.register("cifar10")(load_cifar10)


_register()
