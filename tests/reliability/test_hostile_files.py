"""More of the hostile-input catalogue (issue 18): files and folders a user hands ganforge, by surface.

Same rows and guarantees as ``test_bad_inputs.py`` (runner: ``catalogue.py``): exit code 2, one
``ganforge: error:`` line naming the problem (and the fix), no traceback, nothing half-written.
Surfaces: image folders (oversized/bomb, damaged, not images, links, layouts, options), output paths,
IDX and CIFAR files, CSV tables, YAML configs, command-line values, eval sample files, runs and
checkpoints. Plus direct tests of the guards that rows cannot show (the decoder never runs for a bomb,
a gzip bomb is not inflated, an oversized CIFAR batch is not read).

Messy images that are still images (grey, RGBA, 16-bit, palette, CMYK, EXIF-rotated, mixed sizes, odd
extensions) are *accepted*, converted: ``test_messy_images_are_accepted`` below.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import shutil
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import Config
from ganforge.data import load_dataset
from tests.reliability.catalogue import OUT, TINY, TOY, check_one_clear_error

IMG = ["train", "--data", "image-folder", "--data-dir", "{setup}", *TINY, "--image-size", "8", "--batch-size", "2",
       "--out", OUT]
IDX = ["train", "--recipe", "vanilla", "--data", "fashion-mnist", "--data-dir", "{setup}", *TINY, "--out", OUT]
CIFAR = ["train", "--recipe", "vanilla", "--data", "cifar10", "--data-dir", "{setup}", *TINY, "--out", OUT]
EVAL_NPZ = ["eval", "--real", "{setup}", "--fake", "{setup}", "--metrics", "fid", "--extractor", "inception"]
TAB = ["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path", "{setup}", *TINY, "--batch-size", "10",
       "--out", OUT]


# -- builders -------------------------------------------------------------------------------------
def _png(path: Path, array=None, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8) if array is None else array).save(path, **save)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes whose header declares width x height RGB pixels (a decompression bomb's
    shape): only one row of data follows, never decoded when the guard works."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def _folder(tmp: Path, bad_name: str, content: bytes | None = None, good: int = 3) -> Path:
    """An image folder with train/ and test/ (so the hostile file is in the split that training decodes):
    ``good`` fine PNGs in each, plus one hostile file ``train/bad_name`` (bytes ``content``)."""
    folder = tmp / "images"
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True)
        for i in range(good):
            _png(folder / split / f"good-{i}.png")
    if content is not None:
        (folder / "train" / bad_name).write_bytes(content)
    return folder


def _class_folder(tmp: Path, bad_name: str, content: bytes) -> Path:
    """Labelled: cats/ and dogs/ with two fine PNGs each, plus ``bad_name`` (e.g. cats/huge.png)."""
    folder = tmp / "images"
    for cls in ("cats", "dogs"):
        for i in range(2):
            _png(folder / cls / f"{i}.png")
    (folder / bad_name).write_bytes(content)
    return folder


def _good_png_bytes(size=(8, 8), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def _flip_idat(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 8
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _eps() -> bytes:  # Pillow would run Ghostscript on this to decode it, were EPS allowed
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nnewpath 0 0 moveto 8 8 lineto stroke\nshowpage\n"


def _skip_as_root():
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("permissions do not stop root (this machine runs the tests as root)")


def _unreadable_file(tmp):
    _skip_as_root()
    folder = _folder(tmp, "locked.png", _good_png_bytes())
    os.chmod(folder / "train" / "locked.png", 0)
    return folder


def _eio_file(tmp):
    """An image whose every read fails (EIO), even for root: a link to /proc/self/mem (a disk error's shape)."""
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc")
    folder = _folder(tmp, "x", None)
    (folder / "train" / "failing.png").symlink_to("/proc/self/mem")
    return folder


def _links(tmp, *links):
    folder = tmp / "images"
    folder.mkdir()
    for name, target in links:
        (folder / name).symlink_to(target)
    return folder


def _train_test(tmp, train_classes, test_classes):
    for split, classes in (("train", train_classes), ("test", test_classes)):
        for cls in classes:
            _png(tmp / "images" / split / cls / "0.png")
    return tmp / "images"


def _loose_and_classes(tmp):
    _png(tmp / "images" / "cat" / "0.png")
    _png(tmp / "images" / "loose.png")
    return tmp / "images"


def _idx_files(tmp, images: bytes | None = None, labels: bytes | None = None, gz=True, drop=()):
    """A fashion-mnist folder of 4 IDX files (2 samples of 28x28), with ``images``/``labels`` replacing the
    train files' content when given."""
    folder = tmp / "fashion-mnist"
    folder.mkdir()
    good_images = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 28 * 28)
    good_labels = struct.pack(">II", 0x801, 2) + bytes([1, 2])
    files = {"train-images-idx3-ubyte": images if images is not None else good_images,
             "train-labels-idx1-ubyte": labels if labels is not None else good_labels,
             "t10k-images-idx3-ubyte": good_images, "t10k-labels-idx1-ubyte": good_labels}
    for name, content in files.items():
        if name not in drop:
            (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(content) if gz else content)
    return folder


def _cifar(tmp, train_payload: bytes | None = None, drop=(), archive: bytes | None = None):
    folder = tmp / "cifar"
    folder.mkdir()
    if archive is not None:
        (folder / "cifar-10-python.tar.gz").write_bytes(archive)
        return folder
    batches = folder / "cifar-10-batches-py"
    batches.mkdir()
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        if name not in drop:
            (batches / name).write_bytes(train_payload if train_payload is not None and name == "data_batch_1"
                                         else good)
    return folder


def _cifar_batch(data, labels) -> bytes:
    return pickle.dumps({b"data": data, b"labels": labels}, protocol=2)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _csv(tmp, content: str | bytes, name="table.csv"):
    path = tmp / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _yaml(tmp, content: str | bytes):
    path = tmp / "config.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _npz(tmp, x=None, cut=None, raw=None, zip_text=None, npy=None):
    path = tmp / "samples.npz"
    if raw is not None:
        path.write_bytes(raw)
    elif zip_text is not None:
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", zip_text)
    elif npy is not None:
        with open(path, "wb") as f:
            np.save(f, npy)
    else:
        np.savez(path, x=x)
        if cut:
            _trunc(path, int(path.stat().st_size * cut))
    return path


def _copy_run(trained, tmp, name="vanilla"):
    run = tmp / "copy"
    shutil.copytree(trained[name], run)
    return run


def _edit_run(trained, tmp, edit):
    run = _copy_run(trained, tmp)
    edit(run)
    return run


def _latest_json(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step-*.json"))[-1]


def _remove_checkpoints(run):
    for p in (run / "checkpoints").iterdir():
        p.unlink()


def _trunc(path: Path, keep: int):
    path.write_bytes(path.read_bytes()[:keep])


BOMB = 20000  # declared side of the bomb PNG: 4e8 pixels, 1.2 GB decoded, ~200 bytes on disk

GROUPS = {
    # --- image folders: size guard (issue 18, crash 1) ---------------------------------------------
    "image folders: oversized images": [
        ("image-bomb-20000x20000", IMG, lambda t, r: _folder(t, "huge.png", _png_declaring(BOMB, BOMB)),
         "over the limit of 100,000,000 pixels"),
        ("image-bomb-in-a-class-folder", IMG, lambda t, r: _class_folder(t, "cats/huge.png", _png_declaring(BOMB, BOMB)),
         "cats/huge.png declares 400,000,000 pixels"),
        ("image-over-limit-one-row", IMG, lambda t, r: _folder(t, "strip.png", _png_declaring(150_000_000, 1)),
         "150000000x1"),
        ("image-over-a-lowered-limit", IMG, lambda t, r: _folder(t, "x.png", _good_png_bytes((40, 40))),
         "over the limit of 1,000 pixels", {"GANFORGE_MAX_IMAGE_PIXELS": "1000"}),
        ("image-limit-env-not-a-number", IMG, lambda t, r: _folder(t, "x", None),
         "GANFORGE_MAX_IMAGE_PIXELS='lots' is not a positive whole number", {"GANFORGE_MAX_IMAGE_PIXELS": "lots"}),
        ("image-limit-env-negative", IMG, lambda t, r: _folder(t, "x", None),
         "is not a positive whole number", {"GANFORGE_MAX_IMAGE_PIXELS": "-5"}),
        ("image-bomb-in-grayscale-mode", IMG + ["--options", "{color: grayscale}"],
         lambda t, r: _folder(t, "huge.png", _png_declaring(BOMB, BOMB)), "over the limit"),
        ("eval-real-folder-bomb", ["eval", "--real", "{setup}", "--fake", "{setup}", "--metrics", "fid"],
         lambda t, r: _folder(t, "huge.png", _png_declaring(BOMB, BOMB)) / "train", "over the limit"),
    ],
    # --- image folders: damaged files and files that are not images ---------------------------------
    "image folders: damaged or not images": [
        ("image-zero-bytes", IMG, lambda t, r: _folder(t, "empty.png", b""), "empty.png (an empty file)"),
        ("image-text-named-png", IMG, lambda t, r: _folder(t, "notes.png", b"just some notes\n"),
         "notes.png (not a PNG/JPEG"),
        ("image-html-named-jpg", IMG, lambda t, r: _folder(t, "page.jpg", b"<!doctype html><html>404</html>"),
         "page.jpg (not a"),
        ("image-eps-named-png-not-run", IMG, lambda t, r: _folder(t, "vector.png", _eps()), "vector.png (not a"),
        ("image-png-header-only", IMG, lambda t, r: _folder(t, "cut.png", _good_png_bytes()[:40]),
         "cut.png (a truncated or damaged PNG file)"),
        ("image-png-signature-only", IMG, lambda t, r: _folder(t, "sig.png", b"\x89PNG\r\n\x1a\n"),
         "damaged PNG"),
        ("image-png-corrupt-data", IMG, lambda t, r: _folder(t, "flip.png", _flip_idat(_good_png_bytes((32, 32)))),
         "cannot decode image"),
        ("image-jpeg-truncated", IMG,
         lambda t, r: _folder(t, "cut.jpg", _good_png_bytes((64, 64), "JPEG")[:200]), "cut.jpg"),
        ("image-png-zero-width", IMG, lambda t, r: _folder(t, "flat.png", _png_declaring(0, 8)), "flat.png"),
        ("image-unreadable-file", IMG, lambda t, r: _unreadable_file(t), "permission denied"),
        ("image-read-error-eio", IMG, lambda t, r: _eio_file(t), "failing.png"),
        ("image-name-with-escape-codes", IMG, lambda t, r: _folder(t, "\x1b[2Jevil.png", b"junk"), "\\x1b[2Jevil.png"),
        ("eval-real-folder-corrupt-image", ["eval", "--real", "{setup}", "--fake", "{setup}", "--metrics", "fid"],
         lambda t, r: _folder(t, "notes.png", b"not an image") / "train", "notes.png"),
    ],
    # --- image folders: layout, links, options -------------------------------------------------------
    "image folders: layout and options": [
        ("image-folder-only-non-images", IMG,
         lambda t, r: _folder(t, "notes.txt", b"x", good=0), "no PNG/JPG/JPEG images for the train split"),
        ("image-folder-only-hidden-images", IMG, lambda t, r: _folder(t, ".hidden.png", _good_png_bytes(), good=0),
         "no PNG/JPG/JPEG images"),
        ("image-folder-symlink-loop", IMG, lambda t, r: _links(t, ("a.png", "a.png"), ("loop", ".")),
         "no PNG/JPG/JPEG images"),
        ("image-folder-dangling-links", IMG, lambda t, r: _links(t, ("gone.png", "/nonexistent/gone.png")),
         "no PNG/JPG/JPEG images"),
        ("image-folder-is-a-file", ["train", "--data", "image-folder", "--data-dir", "{setup}", "--out", OUT],
         lambda t, r: _csv(t, "x", "file.png"), "is a file, not a folder"),
        ("image-folder-missing", ["train", "--data", "image-folder", "--data-dir", "{tmp}/nowhere", "--out", OUT],
         None, "does not exist"),
        ("image-folder-loose-and-classes", IMG, lambda t, r: _loose_and_classes(t),
         "holds both class sub-folders and images"),
        ("image-folder-test-classes-differ", IMG, lambda t, r: _train_test(t, ["cat", "dog"], ["cat", "fish"]),
         "give test/ the same class sub-folders"),
        ("image-folder-empty-train-split", IMG, lambda t, r: _folder(t, "x", None, good=0)
         and _png(t / "images" / "test" / "0.png").parents[1], "no PNG/JPG/JPEG images for the train split"),
        ("image-option-bad-color", IMG + ["--options", "{color: sepia}"], lambda t, r: _folder(t, "x", None),
         "option 'color' is 'sepia'"),
        ("image-option-bad-test-fraction", IMG + ["--options", "{test_fraction: 2}"],
         lambda t, r: _folder(t, "x", None), "option 'test_fraction' is 2"),
    ],
    # --- output paths (issue 18, crash 2) -------------------------------------------------------------
    "output paths": [
        ("train-out-uncreatable", ["train", *TOY, "--out", "/proc/forbidden"], None,
         "cannot create the run folder /proc/forbidden"),
        ("train-out-under-a-file", ["train", *TOY, "--out", "{setup}/run"], lambda t, r: _csv(t, "x", "afile"),
         "cannot create the run folder"),
        ("train-out-is-a-file", ["train", *TOY, "--out", "{setup}"], lambda t, r: _csv(t, "x", "afile"),
         "is an existing file, not a folder"),
        ("train-out-name-too-long", ["train", *TOY, "--out", "{tmp}/" + "r" * 300], None, "File name too long"),
        ("train-default-out-uncreatable", ["train", *TOY, "--config", "{setup}"],
         lambda t, r: _yaml(t, "out: /proc/forbidden/run\n"), "/proc/forbidden/run"),
        ("sample-out-uncreatable", ["sample", "{run}", "--out", "/proc/x/grid.npz"], None,
         "cannot create the folder of the --out file /proc/x"),
        ("sample-out-folder-uncreatable", ["sample", "{cgan}", "--out", "/proc/x/pngs"], None,
         "cannot create the --out folder /proc/x/pngs"),
        ("sample-out-is-a-folder", ["sample", "{run}", "--out", "{setup}"], lambda t, r: (t / "d.npz").mkdir()
         or t / "d.npz", "is an existing folder"),
        ("sample-out-name-too-long", ["sample", "{run}", "--out", "{tmp}/" + "s" * 300 + ".npz"], None,
         "File name too long"),
        ("sample-out-in-a-file", ["sample", "{run}", "--out", "{setup}/s.npz"], lambda t, r: _csv(t, "x", "afile"),
         "afile is an existing file, not a folder"),
        ("eval-results-file-is-a-folder", ["eval", "{setup}", "--metrics", "fid", "--samples", "8"],
         lambda t, r: _edit_run(r, t, lambda run: (run / "metrics.json").mkdir()), "is an existing folder"),
    ],
    # --- IDX files (mnist / fashion-mnist) ----------------------------------------------------------
    "IDX files": [
        ("idx-labels-and-images-swapped", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">II", 0x801, 2) + bytes(2)), "to be an IDX file of images"),
        ("idx-truncated-payload", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(100)), "is truncated"),
        ("idx-longer-than-header", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 784 + 9)),
         "longer than its header says"),
        ("idx-huge-declared-dims", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2**31, 2**16, 2**16) + bytes(64)),
         "declares 9,223,372,036,854,775,824 bytes"),
        ("idx-zero-samples", IDX, lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 0, 28, 28),
                                                          labels=struct.pack(">II", 0x801, 0)), "holds no samples"),
        ("idx-count-mismatch", IDX, lambda t, r: _idx_files(t, labels=struct.pack(">II", 0x801, 3) + bytes(3)),
         "do not belong together"),
        ("idx-label-out-of-range", IDX, lambda t, r: _idx_files(t, labels=struct.pack(">II", 0x801, 2) + bytes([1, 42])),
         "label 42, outside 0..9"),
        ("idx-truncated-gzip", IDX, lambda t, r: _idx_files(t) and (t / "fashion-mnist/train-images-idx3-ubyte.gz")
         .write_bytes(gzip.compress(os.urandom(3000))[:1500]) and t / "fashion-mnist", "truncated or corrupt gzip"),
        ("idx-gzip-bomb", IDX, lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2, 28, 28)
                                                       + bytes(8 << 20)), "longer than its header says"),
        ("idx-header-declares-64-gib", IDX, lambda t, r: _idx_files(
            t, images=struct.pack(">IIII", 0x803, 2**20, 256, 256) + bytes(64)), "more than the 4 GiB"),
        ("idx-raw-header-declares-64-gib", IDX, lambda t, r: _idx_files(
            t, images=struct.pack(">IIII", 0x803, 2**20, 256, 256) + bytes(64), gz=False), "more than the 4 GiB"),
        ("idx-missing-labels-file", IDX, lambda t, r: _idx_files(t, drop=("train-labels-idx1-ubyte",)),
         "train-labels-idx1-ubyte"),
        ("idx-empty-file", IDX, lambda t, r: _idx_files(t, images=b"", gz=False), "too short (0 bytes)"),
    ],
    # --- CIFAR-10 python batches ----------------------------------------------------------------------
    "CIFAR batches": [
        ("cifar-malicious-pickle", CIFAR, lambda t, r: _cifar(t, pickle.dumps(_Exploit())), "refused"),
        ("cifar-not-a-pickle", CIFAR, lambda t, r: _cifar(t, b"hello, not a pickle"), "data_batch_1"),
        ("cifar-truncated-pickle", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.uint8),
                                                                              [0, 1])[:50]), "data_batch_1"),
        ("cifar-batch-is-a-list", CIFAR, lambda t, r: _cifar(t, pickle.dumps([1, 2, 3])), "not a CIFAR-10 batch dict"),
        ("cifar-wrong-image-shape", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 100), np.uint8), [0, 1])),
         "'data' must be a uint8 array"),
        ("cifar-float-images", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.float32), [0, 1])),
         "'data' must be a uint8 array"),
        ("cifar-label-count-mismatch", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.uint8), [0])),
         "one integer per image"),
        ("cifar-label-out-of-range", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.uint8), [0, 10])),
         "labels outside 0..9"),
        ("cifar-missing-batch", CIFAR, lambda t, r: _cifar(t, drop=("data_batch_3",)), "data_batch_3 missing"),
        ("cifar-corrupt-archive", CIFAR, lambda t, r: _cifar(t, archive=gzip.compress(b"x" * 5000)[:100]),
         "truncated or corrupt"),
    ],
    # --- CSV tables ----------------------------------------------------------------------------------
    "CSV tables": [
        ("csv-only-a-header", TAB, lambda t, r: _csv(t, "age,job\n"), "table.csv"),
        ("csv-only-whitespace", TAB, lambda t, r: _csv(t, "\n\n   \n"), "is empty"),
        ("csv-non-utf8", TAB, lambda t, r: _csv(t, "name,city\nJos\xe9,M\xe1laga\nAna,Le\xf3n\n".encode("latin-1")),
         "UTF-8"),
        ("csv-binary-file", TAB, lambda t, r: _csv(t, bytes(range(256)) * 4), "table.csv"),
        ("csv-is-a-directory", TAB, lambda t, r: (t / "dir.csv").mkdir() or t / "dir.csv", "is a directory"),
        ("csv-target-not-a-column", TAB + ["--target", "label"], lambda t, r: _csv(t, "a,b\n1,2\n3,4\n5,6\n"),
         "target column 'label' is not in"),
        ("csv-ragged-rows", TAB, lambda t, r: _csv(t, "a,b\n1,2\n3,4,5,6\n7,8\n"), "not a readable CSV"),
        ("csv-unclosed-quote", TAB, lambda t, r: _csv(t, 'a,b\n1,"2\n3,4\n'), "table.csv"),
        ("csv-one-row", TAB, lambda t, r: _csv(t, "a,b\n1,2\n"), "table.csv"),
        ("csv-all-empty-column", TAB, lambda t, r: _csv(t, "a,b\n1,\n2,\n3,\n4,\n"), "'b'"),
        ("csv-infinite-values", TAB, lambda t, r: _csv(t, "a,b\n1,inf\n2,3\n4,-inf\n5,6\n"),
         "infinite values in column(s) ['b']"),
        ("csv-target-one-class", TAB + ["--target", "y"], lambda t, r: _csv(t, "a,y\n1,k\n2,k\n3,k\n4,k\n"), "'y'"),
        ("csv-missing-data-path", ["train", "--recipe", "tabular-gan", "--data", "tabular", "--out", OUT], None,
         "--data-path"),
    ],
    # --- YAML configs --------------------------------------------------------------------------------
    "YAML configs": [
        ("yaml-billion-laughs", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: _yaml(t, "a: &a [x, x]\n"
         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n"), "unknown config key"),
        ("yaml-laughs-in-a-key", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: _yaml(t, "steps: &a [x, x]\n"
         "g_width: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nd_width: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
         "z_dim: [*c, *c, *c, *c, *c, *c, *c, *c]\n"), "'steps' must be of type int"),
        ("yaml-binary", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: _yaml(t, bytes(range(256))),
         "config.yaml"),
        ("yaml-non-utf8", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: _yaml(t, "recipe: caf\xe9\n".encode("latin-1")), "config.yaml"),
        ("yaml-tabs-indent", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: _yaml(t, "options:\n\tn_samples: 5\n"), "not valid YAML"),
        ("yaml-duplicate-documents", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: _yaml(t, "steps: 5\n---\nsteps: 6\n"), "config.yaml"),
        ("yaml-scalar-document", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: _yaml(t, "dcgan\n"),
         "mapping"),
        ("yaml-null-key", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: _yaml(t, "~: 3\n"),
         "config key"),
        ("yaml-nested-options-tag", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: _yaml(t, "options: {a: !!python/name:os.system }\n"), "not valid YAML"),
        ("yaml-is-a-directory", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: (t / "conf.yaml").mkdir() or t / "conf.yaml", "conf.yaml"),
    ],
    # --- command-line values --------------------------------------------------------------------------
    "command-line values": [
        ("cli-seed-huge", ["train", *TOY, "--seed", str(2**80), "--out", OUT], None, "'seed'"),
        ("cli-seed-negative", ["train", "--recipe", "tabular-gan", "--data", "moons", "--seed", "-1", "--out", OUT],
         None, "'seed'"),
        ("cli-lr-text", ["train", *TOY, "--lr-g", "fast", "--out", OUT], None, "'lr_g'"),
        ("cli-recipe-5000-chars", ["train", "--recipe", "r" * 5000, "--out", OUT], None, "unknown recipe 'rrr"),
        ("cli-recipe-is-a-path", ["train", "--recipe", "{setup}", "--out", OUT],
         lambda t, r: _yaml(t, "steps: [1,\n").with_suffix(""), "unknown recipe"),
        ("cli-dataset-5000-chars", ["train", "--data", "d" * 5000, "--out", OUT], None, "unknown dataset 'ddd"),
        ("cli-z-dim-zero", ["train", *TOY, "--z-dim", "0", "--out", OUT], None, "'z_dim'"),
        ("cli-options-python-tag", ["train", *TOY, "--options", "!!python/object/apply:os.system [ls]", "--out", OUT],
         None, "'options'"),
        ("cli-options-list", ["train", *TOY, "--options", "[1, 2]", "--out", OUT], None, "'options'"),
        ("cli-nul-in-out", ["train", *TOY, "--out", "{tmp}/a\x00b"], None, "NUL"),
        ("cli-100k-value", ["train", *TOY, "--lr-g", "x" * 100_000, "--out", OUT], None, "characters ...]"),
        ("cli-100k-options", ["train", *TOY, "--options", "{n_modes: " + "9" * 100_000 + "}", "--out", OUT], None,
         "'options'"),
        ("cli-escape-codes-in-value", ["train", *TOY, "--device", "\x1b[2J\x1b[31mcpu", "--out", OUT], None,
         "\\x1b[2J"),
        ("cli-resume-a-file", ["train", "--resume", "{setup}"], lambda t, r: _csv(t, "x", "afile"),
         "not a ganforge run folder"),
        ("cli-config-missing-and-resume", ["train", "--resume", "{run}", "--config", "{tmp}/none.yaml"], None,
         "does not exist"),
        ("sample-negative-n", ["sample", "{run}", "-n", "-3", "--out", "{tmp}/s.npz"], None, "-n must be between"),
        ("sample-seed-huge", ["sample", "{run}", "--seed", str(2**80), "--out", "{tmp}/s.npz"], None,
         "--seed must be between 0 and"),
        ("sample-seed-negative", ["sample", "{run}", "--seed", "-1", "--out", "{tmp}/s.npz"], None, "--seed must be"),
        ("sample-nrow-negative", ["sample", "{cgan}", "--nrow", "-3", "--out", "{tmp}/s.png"], None,
         "--nrow must be at least 1"),
        ("sample-device-unsupported", ["sample", "{run}", "--device", "xla", "--out", "{tmp}/s.npz"], None,
         "device 'xla' is not supported"),
        ("sample-device-not-here", ["sample", "{run}", "--device", "cuda:99", "--out", "{tmp}/s.npz"], None,
         "cuda:99"),
        ("train-device-not-here", ["train", *TOY, "--device", "mps:0", "--out", OUT], None, "'mps:0'"),
        ("eval-seed-huge", ["eval", "{run}", "--seed", str(2**64)], None, "--seed must be between"),
        ("eval-device-not-here", ["eval", "{run}", "--device", "cuda:99"], None, "cuda:99"),
        ("eval-samples-one", ["eval", "{run}", "--samples", "1"], None, "--samples must be between"),
        ("eval-unknown-metric", ["eval", "{run}", "--metrics", "fidd"], None, "fidd"),
        ("eval-run-and-files", ["eval", "{run}", "--real", "{tmp}", "--fake", "{tmp}"], None, "not both"),
        ("eval-only-real", ["eval", "--real", "{tmp}"], None, "give both --real and --fake"),
    ],
    # --- eval --real/--fake sample files (.npz) ----------------------------------------------------------
    "eval sample files": [
        ("npz-truncated", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((4, 3), np.float32), cut=0.5), "File is not a zip"),
        ("npz-empty-file", EVAL_NPZ, lambda t, r: _npz(t, raw=b""), "cannot read"),
        ("npz-no-arrays", EVAL_NPZ, lambda t, r: _npz(t, zip_text="hello"), "holds no arrays"),
        ("npz-object-array", EVAL_NPZ, lambda t, r: _npz(t, x=np.array([{"a": 1}, None], dtype=object)),
         "allow_pickle=False"),
        ("npz-strings", EVAL_NPZ, lambda t, r: _npz(t, x=np.array(["a", "b"])), "must be uint8"),
        ("npz-complex-vectors", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((4, 3), np.complex64)), "real numbers"),
        ("npz-nan-vectors", EVAL_NPZ, lambda t, r: _npz(t, x=np.full((4, 3), np.nan, np.float32)), "NaN or infinite"),
        ("npz-overflowing-vectors", EVAL_NPZ, lambda t, r: _npz(t, x=np.full((4, 3), 1e300)), "too large for float32"),
        ("npz-a-scalar", EVAL_NPZ, lambda t, r: _npz(t, x=np.array(5.0)), "a single value"),
        ("npz-is-npy", EVAL_NPZ, lambda t, r: _npz(t, npy=np.zeros((4, 3), np.float32)), "not an .npz archive"),
        ("npz-one-sample", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((1, 3), np.float32)), "at least 2"),
        ("npz-five-channel-images", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((4, 5, 8, 8), np.uint8)),
         "1 or 3 channels"),
        ("eval-real-is-a-text-file", EVAL_NPZ, lambda t, r: _csv(t, "x", "real.txt"),
         "neither a folder of images nor an .npz"),
        ("eval-folder-mixed-sizes", EVAL_NPZ, lambda t, r: _png(_png(t / "ev" / "a.png").parent / "b.png",
                                                                np.zeros((9, 8, 3), np.uint8)).parent,
         "mixes image sizes"),
        ("eval-folder-one-image", EVAL_NPZ, lambda t, r: _png(t / "ev" / "a.png").parent, "at least 2"),
        ("eval-folder-no-images", EVAL_NPZ, lambda t, r: _csv(t, "x", "notes.txt").parent, "holds no images"),
        ("eval-inception-weights-junk", EVAL_NPZ + ["--inception-weights", "{tmp}/junk.pt"],
         lambda t, r: _csv(t, b"junk" * 100, "junk.pt") and _npz(t, x=np.zeros((4, 3, 8, 8), np.uint8)),
         "cannot read Inception weights"),
        ("eval-inception-weights-missing", EVAL_NPZ + ["--inception-weights", "{tmp}/none.pt"],
         lambda t, r: _npz(t, x=np.zeros((4, 3, 8, 8), np.uint8)), "none.pt' does not exist"),
        ("eval-unknown-extractor", ["eval", "--real", "{setup}", "--fake", "{setup}", "--extractor", "vgg"],
         lambda t, r: _npz(t, x=np.zeros((4, 3, 8, 8), np.uint8)), "unknown feature extractor 'vgg'"),
    ],
    # --- runs and checkpoints -------------------------------------------------------------------------
    "runs and checkpoints": [
        ("resume-corrupt-config-yaml", ["train", "--resume", "{setup}", "--steps", "4"],
         lambda t, r: _edit_run(r, t, lambda run: (run / "config.yaml").write_text("steps: [1,\n")), "not valid YAML"),
        ("resume-config-unknown-key", ["train", "--resume", "{setup}", "--steps", "4"],
         lambda t, r: _edit_run(r, t, lambda run: (run / "config.yaml").write_text("stepz: 3\n")), "'stepz'"),
        ("resume-truncated-checkpoint-json", ["train", "--resume", "{setup}", "--steps", "4"],
         lambda t, r: _edit_run(r, t, lambda run: _trunc(_latest_json(run), 20)), "checkpoint"),
        ("sample-no-checkpoints", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _edit_run(r, t, _remove_checkpoints), "no complete checkpoint"),
        ("sample-truncated-checkpoint-json", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _latest_json(_edit_run(r, t, lambda run: _trunc(_latest_json(run), 20))), "step-"),
        ("sample-checkpoint-json-not-object", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _latest_json(_edit_run(r, t, lambda run: _latest_json(run).write_text("[1, 2]"))), "step-"),
        ("sample-empty-tensor-file", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _latest_json(_edit_run(r, t, lambda run: _trunc(_latest_json(run).with_suffix(".safetensors"), 0))),
         "tampered"),
        ("sample-a-text-file", ["sample", "{setup}", "--out", "{tmp}/s.npz"], lambda t, r: _csv(t, "hello", "notes.txt"),
         "notes.txt"),
        ("sample-random-safetensors", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _csv(t, os.urandom(256), "model.safetensors"), "model.json does not exist"),
        ("eval-missing-run", ["eval", "{tmp}/nothing", "--metrics", "fid"], None, "does not exist"),
    ],
}
CASES = [case for cases in GROUPS.values() for case in cases]
SURFACES = dict((name, [c[0] for c in cases]) for name, cases in GROUPS.items())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_clear_error(tmp_path, trained, capsys, monkeypatch, case):
    check_one_clear_error(case, tmp_path, trained, capsys, monkeypatch)


def test_the_bomb_is_refused_without_decoding(tmp_path, monkeypatch):
    """The guard reads the header only: ``load`` (the decoder) never runs for the oversized image."""
    from PIL import ImageFile

    from ganforge.data.images import read_image
    from ganforge.errors import GanforgeError

    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(BOMB, BOMB))
    loads = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(1))
    with pytest.raises(GanforgeError, match="over the limit"):
        read_image(path)
    # Just over a raised limit (between it and Pillow's own 2x bomb check): our check, with the size.
    monkeypatch.setenv("GANFORGE_MAX_IMAGE_PIXELS", str(BOMB * BOMB - 1))
    with pytest.raises(GanforgeError, match=f"{BOMB}x{BOMB}"):
        read_image(path)
    assert loads == []
    monkeypatch.undo()  # the real decoder again
    # At the limit exactly: read. Pillow's own global limit is left as it was.
    small = _png(tmp_path / "ok.png", np.full((30, 40, 3), 7, np.uint8))
    monkeypatch.setenv("GANFORGE_MAX_IMAGE_PIXELS", "1200")  # 30 x 40
    assert read_image(small).shape == (30, 40, 3)
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    monkeypatch.setenv("GANFORGE_MAX_IMAGE_PIXELS", "1199")
    with pytest.raises(GanforgeError, match="40x30 \\(1,200 pixels\\), over the limit of 1,199"):
        read_image(small)
    assert Image.MAX_IMAGE_PIXELS == before


def test_an_idx_gzip_bomb_is_never_inflated_past_its_header(tmp_path):
    """64 MiB of zeros (65 KB gzipped) behind a header declaring 2 images of 28x28: reading stops one byte
    past the declared 1568 values, whatever the stream would inflate to."""
    from ganforge.data import idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(64 << 20), compresslevel=1))
    assert path.stat().st_size < 1 << 20
    assert len(idx.read_bytes(path)) == 16 + 2 * 28 * 28 + 1


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar-archive"])
def test_an_oversized_cifar_batch_is_refused_unread(tmp_path, monkeypatch, packed):
    """A batch file (or tar member) larger than any official batch is refused from its size alone (the
    limit lowered here, so that the test needs no gigabyte file)."""
    from ganforge.data import cifar
    from ganforge.errors import GanforgeError

    monkeypatch.setattr(cifar, "MAX_BATCH_BYTES", 1000)
    folder = _cifar(tmp_path)
    if packed:
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(folder / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        shutil.rmtree(folder)
        folder = tmp_path
    reads = []
    monkeypatch.setattr(cifar, "safe_unpickle", lambda *a: reads.append(a))
    with pytest.raises(GanforgeError, match="far more than a CIFAR-10 batch"):
        load_dataset(Config(data="cifar10", data_dir=str(folder)), "train")
    assert reads == []


# -- messy images that are still images: accepted and converted -----------------------------------
def _exif_rotated(path):
    """A 4x8 (wide) JPEG whose EXIF says 'rotate 90': upright it is 8x4 (tall)."""
    image = Image.fromarray(np.full((4, 8, 3), 200, np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(path, format="JPEG", exif=exif.tobytes())


def _grey16(path):
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(path)  # 16-bit white


MESSY = {  # name -> writer(path); every one must load, converted to the folder's channel count
    "grey-L": lambda p: _png(p, np.full((8, 8), 60, np.uint8)),
    "grey-alpha-LA": lambda p: Image.fromarray(np.full((8, 8, 2), 60, np.uint8), "LA").save(p),
    "one-bit": lambda p: Image.fromarray(np.full((8, 8), 255, np.uint8)).convert("1").save(p),
    "rgba": lambda p: _png(p, np.full((8, 8, 4), 60, np.uint8)),
    "palette": lambda p: Image.fromarray(np.full((8, 8, 3), 60, np.uint8)).convert("P").save(p),
    "palette-transparency": lambda p: Image.fromarray(np.full((8, 8, 3), 60, np.uint8)).convert("P").save(
        p, transparency=0),
    "grey-16-bit": _grey16,
    "cmyk-jpeg": lambda p: Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(p.with_suffix(".jpg"), format="JPEG"),
    "progressive-jpeg": lambda p: Image.fromarray(np.full((16, 16, 3), 60, np.uint8)).save(
        p.with_suffix(".jpg"), format="JPEG", progressive=True),
    "exif-rotated-jpeg": lambda p: _exif_rotated(p.with_suffix(".jpg")),
    "interlaced-png": lambda p: _png(p, np.full((16, 16, 3), 60, np.uint8), optimize=False, interlace=1),
    "jpeg-named-png": lambda p: p.write_bytes(_good_png_bytes((8, 8), "JPEG")),
    "uppercase-extension": lambda p: _png(p.with_suffix(".PNG")),
    "tall-strip": lambda p: _png(p, np.full((300, 3, 3), 60, np.uint8)),
    "one-pixel": lambda p: _png(p, np.full((1, 1, 3), 60, np.uint8)),
    "gif-named-png": lambda p: Image.fromarray(np.full((8, 8, 3), 60, np.uint8)).save(p, format="GIF"),
}


@pytest.mark.parametrize("name", sorted(MESSY))
def test_messy_images_are_accepted(tmp_path, name):
    folder = tmp_path / "images"
    folder.mkdir()
    MESSY[name](folder / "messy.png")
    _png(folder / "plain.png", np.full((8, 8, 3), 60, np.uint8))
    for color, channels in (("auto", 3), ("grayscale", 1)):  # the plain RGB image makes auto = RGB
        cfg = Config(data="image-folder", data_dir=str(folder), image_size=8, options={"color": color})
        x = torch.cat([load_dataset(cfg, "train").x, load_dataset(cfg, "test").x])
        assert x.shape == (2, channels, 8, 8) and x.dtype == torch.uint8


def test_messy_values_are_converted_as_a_user_expects(tmp_path):
    folder = tmp_path / "images"
    _grey16(_png(folder / "a.png").parent / "white16.png")
    _exif_rotated(folder / "rotated.jpg")
    from ganforge.data.images import read_image

    assert read_image(folder / "white16.png").min() == 255  # 16-bit white stays white (scaled, not clipped)
    assert read_image(folder / "rotated.jpg").shape[:2] == (8, 4)  # turned upright per EXIF
    with Image.open(folder / "rotated.jpg") as raw:
        assert raw.size == (8, 4)  # (stored wide: the rotation really came from the EXIF tag)


def test_a_folder_of_every_messy_image_trains(tmp_path, capsys):
    """End to end: one folder holding all the messy images (and a symlink loop, a dangling link and a
    hidden file, all ignored) trains through the command line."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name, write in MESSY.items():
        write(folder / f"{name}.png")
    (folder / "loop.png").symlink_to("loop.png")
    (folder / "gone.png").symlink_to("/nonexistent.png")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    assert main(["train", "--data", "image-folder", "--data-dir", str(folder), *TINY, "--image-size", "8",
                 "--batch-size", "4", "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    info = json.loads((tmp_path / "run" / "data.json").read_text())
    assert info["shape"] == [3, 8, 8]


def test_catalogue_ids_are_unique_and_surfaces_cover_them():
    from tests.reliability.catalogue import all_cases

    ids = [c[0] for c in all_cases()]
    assert len(ids) == len(set(ids))
    assert sum(len(v) for v in SURFACES.values()) == len(CASES)

