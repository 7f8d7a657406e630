"""MNIST and Fashion-MNIST from IDX files (gzip or raw), with a verified download when missing.

Two layouts are read from the dataset's directory (``data_dir(cfg, name)``, or its ``<name>/``
sub-folder):
- the official four files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``; the
  ``train-images.idx3-ubyte`` spelling of some unpackers is accepted too): the official splits;
- one pair ``images-idx3-ubyte`` + ``labels-idx1-ubyte`` (a subset such as ``mnist-10k/``, no split):
  a fixed seeded permutation, the last 1/6 of it is the test split (see ``PAIR_TEST_FRACTION``).

Files are parsed with ``np.frombuffer`` (60,000 images in well under a second) and validated:
magic number, dimensions, byte length, label range and the image/label counts, so a truncated or
corrupt file is reported by name with the fix instead of surfacing as a reshape error.

When the files of the requested split are missing, they are downloaded from the official mirrors
into the directory, verified by sha256 and renamed into place only once verified (never a
half-written file). ``GANFORGE_OFFLINE=1`` forbids the attempt; with no network the error says
which files to put where.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError

IDX_UBYTE = 0x08
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, H, W)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)
NUM_CLASSES = 10
PAIR_TEST_FRACTION = 1 / 6  # the single-pair layout: last 1/6 of a seeded permutation is the test split
PAIR_SPLIT_SEED = 1234
DOWNLOAD_TIMEOUT_S = 60

SPLIT_PREFIX = {"train": "train", "test": "t10k"}

# Checksums: MNIST's are those of the official .gz archives; Fashion-MNIST's are of the *decompressed*
# content (as published for our offline copy, whose archives were recompressed), which holds whatever
# gzip settings a mirror used. Either kind identifies the exact bytes a loader reads.
SOURCES = {
    "mnist": {
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        "archive_sha256": {
            "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        "content_sha256": {},
        "class_names": [str(d) for d in range(10)],
    },
    "fashion-mnist": {
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ],
        "archive_sha256": {},
        "content_sha256": {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        "class_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    },
}


# -- parsing ---------------------------------------------------------------------------------------
MAX_IDX_BYTES = 4 * 2**30  # an IDX file's declared content: 90x MNIST's; refused above (a gzip bomb's header)


def _declared_size(head: bytes) -> int | None:
    """Header + values that an IDX header declares (from its first bytes), or None if not IDX-shaped."""
    if len(head) < 4 or head[:2] != b"\x00\x00":
        return None
    ndim = head[3]
    if not 1 <= ndim <= 4 or len(head) < 4 + 4 * ndim:
        return None
    return 4 + 4 * ndim + math.prod(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))


def _too_big(path: Path, size: int) -> GanforgeError:
    return GanforgeError(f"{path} declares {size:,} bytes of data, more than the {MAX_IDX_BYTES >> 30} GiB an IDX "
                         f"file may hold here (a corrupt header or a gzip bomb); replace it with an intact copy, "
                         f"or store large image sets as an image folder.")


def _gunzip(raw: bytes, path: Path) -> bytes:
    """Decompress, stopping one byte past what the IDX header declares (so a gzip bomb cannot inflate
    beyond it: a longer stream is reported by ``parse_idx``), and never past ``MAX_IDX_BYTES``."""
    out, limit = bytearray(), MAX_IDX_BYTES + 64
    while raw:  # one gzip member after another (gzip.decompress's behaviour)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not d.eof and len(out) < limit:
            out += d.decompress(raw, min(limit - len(out), 1 << 24))
            raw = d.unconsumed_tail
            declared = _declared_size(bytes(out[:20]))
            if declared is not None and len(out) >= 20:
                if declared > MAX_IDX_BYTES:
                    raise _too_big(path, declared)
                limit = declared + 1
            if not raw and not d.eof:
                out += d.flush()
                if not d.eof:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        if len(out) >= limit:
            break
        raw = d.unused_data
        if raw and raw[:2] != b"\x1f\x8b":
            break  # trailing garbage after the last member (gzip ignores zero padding): stop, as gzip does
    return bytes(out[:limit])


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it is a gzip file (detected by its magic, not its name).

    Bounded: a raw file or a gzip stream larger than its IDX header declares (or than ``MAX_IDX_BYTES``)
    is read only one byte past it, so a hostile file cannot exhaust memory."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(20)
            if head[:2] != b"\x1f\x8b":
                declared = _declared_size(head)
                if (declared or size) > MAX_IDX_BYTES:
                    raise _too_big(path, declared or size)
                return head + f.read(max(0, min(size, (declared or size) + 1) - len(head)))
            raw = head + f.read()
    except OSError as e:
        raise GanforgeError(f"cannot read {path}: {e.strerror or e}; check the path and its permissions.") from None
    try:
        return _gunzip(raw, path)
    except (EOFError, OSError, zlib.error) as e:
        raise GanforgeError(
            f"{path} is a truncated or corrupt gzip file ({e}); delete it and download it again."
        ) from None


def parse_idx(content: bytes, path: Path, magic: int) -> np.ndarray:
    """An IDX ubyte array, validated against the expected magic number and its declared size."""
    kind = "images (idx3)" if magic == IMAGES_MAGIC else "labels (idx1)"
    fix = "replace it with an intact copy (delete it to download it again)"
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(content) < header:
        raise GanforgeError(f"{path} is too short ({len(content)} bytes) to be an IDX file of {kind}; {fix}.")
    found = int.from_bytes(content[:4], "big")
    if found != magic:
        raise GanforgeError(
            f"{path} is not an IDX file of {kind}: magic number 0x{found:08x}, expected 0x{magic:08x}; "
            f"check that images and labels files are not swapped, or {fix}."
        )
    dims = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = math.prod(dims)  # exact: int64 overflowed for hostile headers (2**31 x 2**16 x 2**16)
    if len(content) - header != expected:
        what = "truncated" if len(content) - header < expected else "longer than its header says"
        held = len(content) - header
        held = "more" if held == expected + 1 else held  # (read_bytes stops one byte past the declared size)
        raise GanforgeError(
            f"{path} is {what}: its header declares {'x'.join(map(str, dims))} = {expected} values but it holds "
            f"{held}; {fix}."
        )
    if expected == 0:
        raise GanforgeError(f"{path} holds no samples (dimensions {dims}); {fix}.")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = parse_idx(read_bytes(images_path), images_path, IMAGES_MAGIC)
    labels = parse_idx(read_bytes(labels_path), labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise GanforgeError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            f"the two files do not belong together."
        )
    if labels.max() >= NUM_CLASSES:
        raise GanforgeError(
            f"{labels_path} has label {int(labels.max())}, outside 0..{NUM_CLASSES - 1}; {labels_path.name} is "
            f"corrupt or not an MNIST-style labels file."
        )
    # frombuffer views are read-only; one copy gives torch a writable, owned tensor.
    x = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, H, W) uint8
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# -- locating files --------------------------------------------------------------------------------
def _find(directory: Path, stem: str) -> Path | None:
    """``stem`` or its variants (``.gz``; ``train-images.idx3-ubyte``) inside ``directory``."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        if (directory / name).is_file():
            return directory / name
    return None


def split_stems(split: str) -> tuple[str, str]:
    prefix = SPLIT_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def candidate_dirs(root: Path, name: str) -> list[Path]:
    return [root, root / name] if (root / name).is_dir() else [root]


def locate(root: Path, name: str, split: str) -> tuple[Path, Path, bool] | None:
    """(images, labels, is_pair_layout) for the split, or None when neither layout is there."""
    for directory in candidate_dirs(root, name):
        images, labels = (_find(directory, stem) for stem in split_stems(split))
        if images and labels:
            return images, labels, False
    for directory in candidate_dirs(root, name):
        images, labels = _find(directory, "images-idx3-ubyte"), _find(directory, "labels-idx1-ubyte")
        if images and labels:
            return images, labels, True
    return None


# -- download --------------------------------------------------------------------------------------
def fetch_url(url: str) -> bytes:
    """The network: one function, replaced in tests (which never touch the network)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


def _verified(name: str, stem: str, data: bytes) -> bool:
    source = SOURCES[name]
    if stem in source["archive_sha256"]:
        return hashlib.sha256(data).hexdigest() == source["archive_sha256"][stem]
    try:
        content = gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        return False
    return hashlib.sha256(content).hexdigest() == source["content_sha256"][stem]


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def download(name: str, directory: Path, stems: tuple[str, ...], fetch=None) -> None:
    """Fetch each ``<stem>.gz`` from the first mirror that gives verified bytes; atomic per file."""
    fetch = fetch or fetch_url
    for stem in stems:
        failures = []
        for mirror in SOURCES[name]["mirrors"]:
            url = mirror + stem + ".gz"
            print(f"ganforge: downloading {url} -> {directory}", file=sys.stderr)
            try:
                data = fetch(url)
            except (OSError, http.client.HTTPException, ValueError) as e:  # URLError, timeouts, DNS, cut-offs
                failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
                continue
            if not _verified(name, stem, data):
                failures.append(f"{url}: sha256 mismatch (corrupt or altered download, discarded)")
                continue
            try:  # the directory is created only once verified data arrived: a failure leaves nothing behind
                directory.mkdir(parents=True, exist_ok=True)
                _write_atomically(directory / (stem + ".gz"), data)
            except OSError as e:
                raise GanforgeError(f"cannot write into {directory} ({e.strerror or e}); pick a writable "
                                    f"--data-dir.") from None
            break
        else:
            raise _missing_error(name, directory, stems, "; ".join(failures))


def _missing_error(name: str, directory: Path, stems, why: str = "", offline: bool = False) -> GanforgeError:
    files = ", ".join(s + ".gz" for s in stems)
    mirror = SOURCES[name]["mirrors"][0]
    reason = " No download was tried (GANFORGE_OFFLINE is set)." if offline else f" The download failed ({why})."
    where = directory if directory.is_dir() else f"{directory} (that directory does not exist)"
    return GanforgeError(
        f"dataset {name!r}: {files} not found in {where}.{reason} Put these IDX files (gzip or raw) there "
        f"(from {mirror}), or point --data-dir / GANFORGE_DATA at the folder that holds them; a subset may "
        f"instead hold images-idx3-ubyte.gz + labels-idx1-ubyte.gz."
    )


# -- the loader ------------------------------------------------------------------------------------
def load_idx_dataset(cfg, split: str, name: str, fetch=None) -> Dataset:
    from ganforge.data import data_dir

    root = Path(data_dir(cfg, name)).expanduser()
    found = locate(root, name, split)
    if found is None:
        stems = split_stems(split)
        if os.environ.get("GANFORGE_OFFLINE", "").lower() in ("1", "true", "yes"):
            raise _missing_error(name, root, stems, offline=True)
        target = root
        if not cfg.data_dir and Path(os.environ.get("GANFORGE_DATA", "")).expanduser() == root:
            # $GANFORGE_DATA holds several datasets, and MNIST and Fashion-MNIST share file names.
            target = root / name
        download(name, target, stems, fetch)
        found = locate(root, name, split)
        assert found is not None, "downloaded files must be found"  # the download wrote exactly these names
    images_path, labels_path, pair = found
    x, y = read_idx_pair(images_path, labels_path)
    meta = {"source": str(images_path.parent)}
    if pair:
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(PAIR_SPLIT_SEED))
        n_test = int(round(len(x) * PAIR_TEST_FRACTION))
        idx = perm[len(x) - n_test:] if split == "test" else perm[:len(x) - n_test]
        x, y = x[idx], y[idx]
        meta["split"] = f"seeded permutation (seed {PAIR_SPLIT_SEED}), last {PAIR_TEST_FRACTION:.4f} is test"
    return Dataset(name, x, y, NUM_CLASSES, list(SOURCES[name]["class_names"]), meta, kind="image")


def _register():
    from ganforge.data import DATASETS

    for dataset_name in SOURCES:
        DATASETS.register(dataset_name)(lambda cfg, split, _name=dataset_name: load_idx_dataset(cfg, split, _name))


_register()
