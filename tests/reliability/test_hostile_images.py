"""The hostile-input catalogue (issue 18), part 1 of 3: image folders a user hands ganforge to train on
or to evaluate against.

Same rows and guarantees as ``test_bad_inputs.py`` (runner: ``catalogue.py``): exit code 2, one
``ganforge: error:`` line naming the problem (and the fix), no traceback, nothing half-written.
Surfaces: oversized images and decompression bombs (and the limit's variable), damaged files and files
that are not images, links, layouts, options. Plus a direct test of the guard that rows cannot show:
the decoder never runs for a bomb.

Messy images that are still images (grey, RGBA, 16-bit, palette, CMYK, EXIF-rotated, mixed sizes, odd
extensions) are *accepted*, converted: ``test_messy_images_are_accepted`` below. Other files:
``test_hostile_files.py``; command-line values, sample files and runs: ``test_hostile_commands.py``.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import Config
from ganforge.data import load_dataset
from tests.reliability.catalogue import (OUT, TINY, check_one_clear_error, image_folder, png_bytes, write_file,
                                         write_png)

IMG = ["train", "--data", "image-folder", "--data-dir", "{setup}", *TINY, "--image-size", "8", "--batch-size", "2",
       "--out", OUT]
BOMB = 20000  # declared side of the bomb PNG: 4e8 pixels, 1.2 GB decoded, ~200 bytes on disk


# -- builders -------------------------------------------------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes whose header declares width x height RGB pixels (a decompression bomb's
    shape): only one row of data follows, never decoded when the guard works."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def _class_folder(tmp: Path, bad_name: str, content: bytes) -> Path:
    """Labelled: cats/ and dogs/ with two fine PNGs each, plus ``bad_name`` (e.g. cats/huge.png)."""
    folder = tmp / "images"
    for cls in ("cats", "dogs"):
        for i in range(2):
            write_png(folder / cls / f"{i}.png")
    (folder / bad_name).write_bytes(content)
    return folder


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
    folder = image_folder(tmp, "locked.png", png_bytes())
    os.chmod(folder / "train" / "locked.png", 0)
    return folder


def _eio_file(tmp):
    """An image whose every read fails (EIO), even for root: a link to /proc/self/mem (a disk error's shape)."""
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc")
    folder = image_folder(tmp, "x", None)
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
            write_png(tmp / "images" / split / cls / "0.png")
    return tmp / "images"


def _loose_and_classes(tmp):
    write_png(tmp / "images" / "cat" / "0.png")
    write_png(tmp / "images" / "loose.png")
    return tmp / "images"


GROUPS = {
    # --- image folders: size guard (issue 18, crash 1) ---------------------------------------------
    "image folders: oversized images": [
        ("image-bomb-20000x20000", IMG, lambda t, r: image_folder(t, "huge.png", _png_declaring(BOMB, BOMB)),
         "over the limit of 100,000,000 pixels"),
        ("image-bomb-in-a-class-folder", IMG, lambda t, r: _class_folder(t, "cats/huge.png", _png_declaring(BOMB, BOMB)),
         "cats/huge.png declares 400,000,000 pixels"),
        ("image-over-limit-one-row", IMG, lambda t, r: image_folder(t, "strip.png", _png_declaring(150_000_000, 1)),
         "150000000x1"),
        ("image-over-a-lowered-limit", IMG, lambda t, r: image_folder(t, "x.png", png_bytes((40, 40))),
         "over the limit of 1,000 pixels", {"GANFORGE_MAX_IMAGE_PIXELS": "1000"}),
        ("image-limit-env-not-a-number", IMG, lambda t, r: image_folder(t, "x", None),
         "GANFORGE_MAX_IMAGE_PIXELS='lots' is not a positive whole number", {"GANFORGE_MAX_IMAGE_PIXELS": "lots"}),
        ("image-limit-env-negative", IMG, lambda t, r: image_folder(t, "x", None),
         "is not a positive whole number", {"GANFORGE_MAX_IMAGE_PIXELS": "-5"}),
        ("image-bomb-in-grayscale-mode", IMG + ["--options", "{color: grayscale}"],
         lambda t, r: image_folder(t, "huge.png", _png_declaring(BOMB, BOMB)), "over the limit"),
        ("eval-real-folder-bomb", ["eval", "--real", "{setup}", "--fake", "{setup}", "--metrics", "fid"],
         lambda t, r: image_folder(t, "huge.png", _png_declaring(BOMB, BOMB)) / "train", "over the limit"),
    ],
    # --- image folders: damaged files and files that are not images ---------------------------------
    "image folders: damaged or not images": [
        ("image-zero-bytes", IMG, lambda t, r: image_folder(t, "empty.png", b""), "empty.png (an empty file)"),
        ("image-text-named-png", IMG, lambda t, r: image_folder(t, "notes.png", b"just some notes\n"),
         "notes.png (not a PNG/JPEG"),
        ("image-html-named-jpg", IMG, lambda t, r: image_folder(t, "page.jpg", b"<!doctype html><html>404</html>"),
         "page.jpg (not a"),
        ("image-eps-named-png-not-run", IMG, lambda t, r: image_folder(t, "vector.png", _eps()), "vector.png (not a"),
        ("image-png-header-only", IMG, lambda t, r: image_folder(t, "cut.png", png_bytes()[:40]),
         "cut.png (a truncated or damaged PNG file)"),
        ("image-png-signature-only", IMG, lambda t, r: image_folder(t, "sig.png", b"\x89PNG\r\n\x1a\n"),
         "damaged PNG"),
        ("image-png-corrupt-data", IMG, lambda t, r: image_folder(t, "flip.png", _flip_idat(png_bytes((32, 32)))),
         "cannot decode image"),
        ("image-jpeg-truncated", IMG,
         lambda t, r: image_folder(t, "cut.jpg", png_bytes((64, 64), "JPEG")[:200]), "cut.jpg"),
        ("image-png-zero-width", IMG, lambda t, r: image_folder(t, "flat.png", _png_declaring(0, 8)), "flat.png"),
        ("image-unreadable-file", IMG, lambda t, r: _unreadable_file(t), "permission denied"),
        ("image-read-error-eio", IMG, lambda t, r: _eio_file(t), "failing.png"),
        ("image-name-with-escape-codes", IMG, lambda t, r: image_folder(t, "\x1b[2Jevil.png", b"junk"),
         "\\x1b[2Jevil.png"),
        ("eval-real-folder-corrupt-image", ["eval", "--real", "{setup}", "--fake", "{setup}", "--metrics", "fid"],
         lambda t, r: image_folder(t, "notes.png", b"not an image") / "train", "notes.png"),
    ],
    # --- image folders: layout, links, options -------------------------------------------------------
    "image folders: layout and options": [
        ("image-folder-only-non-images", IMG,
         lambda t, r: image_folder(t, "notes.txt", b"x", good=0), "no PNG/JPG/JPEG images for the train split"),
        ("image-folder-only-hidden-images", IMG, lambda t, r: image_folder(t, ".hidden.png", png_bytes(), good=0),
         "no PNG/JPG/JPEG images"),
        ("image-folder-symlink-loop", IMG, lambda t, r: _links(t, ("a.png", "a.png"), ("loop", ".")),
         "no PNG/JPG/JPEG images"),
        ("image-folder-dangling-links", IMG, lambda t, r: _links(t, ("gone.png", "/nonexistent/gone.png")),
         "no PNG/JPG/JPEG images"),
        ("image-folder-is-a-file", ["train", "--data", "image-folder", "--data-dir", "{setup}", "--out", OUT],
         lambda t, r: write_file(t, "x", "file.png"), "is a file, not a folder"),
        ("image-folder-missing", ["train", "--data", "image-folder", "--data-dir", "{tmp}/nowhere", "--out", OUT],
         None, "does not exist"),
        ("image-folder-loose-and-classes", IMG, lambda t, r: _loose_and_classes(t),
         "holds both class sub-folders and images"),
        ("image-folder-test-classes-differ", IMG, lambda t, r: _train_test(t, ["cat", "dog"], ["cat", "fish"]),
         "give test/ the same class sub-folders"),
        ("image-folder-empty-train-split", IMG, lambda t, r: image_folder(t, "x", None, good=0)
         and write_png(t / "images" / "test" / "0.png").parents[1], "no PNG/JPG/JPEG images for the train split"),
        ("image-option-bad-color", IMG + ["--options", "{color: sepia}"], lambda t, r: image_folder(t, "x", None),
         "option 'color' is 'sepia'"),
        ("image-option-bad-test-fraction", IMG + ["--options", "{test_fraction: 2}"],
         lambda t, r: image_folder(t, "x", None), "option 'test_fraction' is 2"),
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
    small = write_png(tmp_path / "ok.png", np.full((30, 40, 3), 7, np.uint8))
    monkeypatch.setenv("GANFORGE_MAX_IMAGE_PIXELS", "1200")  # 30 x 40
    assert read_image(small).shape == (30, 40, 3)
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    monkeypatch.setenv("GANFORGE_MAX_IMAGE_PIXELS", "1199")
    with pytest.raises(GanforgeError, match="40x30 \\(1,200 pixels\\), over the limit of 1,199"):
        read_image(small)
    assert Image.MAX_IMAGE_PIXELS == before


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
    "grey-L": lambda p: write_png(p, np.full((8, 8), 60, np.uint8)),
    "grey-alpha-LA": lambda p: Image.fromarray(np.full((8, 8, 2), 60, np.uint8), "LA").save(p),
    "one-bit": lambda p: Image.fromarray(np.full((8, 8), 255, np.uint8)).convert("1").save(p),
    "rgba": lambda p: write_png(p, np.full((8, 8, 4), 60, np.uint8)),
    "palette": lambda p: Image.fromarray(np.full((8, 8, 3), 60, np.uint8)).convert("P").save(p),
    "palette-transparency": lambda p: Image.fromarray(np.full((8, 8, 3), 60, np.uint8)).convert("P").save(
        p, transparency=0),
    "grey-16-bit": _grey16,
    "cmyk-jpeg": lambda p: Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(p.with_suffix(".jpg"), format="JPEG"),
    "progressive-jpeg": lambda p: Image.fromarray(np.full((16, 16, 3), 60, np.uint8)).save(
        p.with_suffix(".jpg"), format="JPEG", progressive=True),
    "exif-rotated-jpeg": lambda p: _exif_rotated(p.with_suffix(".jpg")),
    "interlaced-png": lambda p: write_png(p, np.full((16, 16, 3), 60, np.uint8), optimize=False, interlace=1),
    "jpeg-named-png": lambda p: p.write_bytes(png_bytes((8, 8), "JPEG")),
    "uppercase-extension": lambda p: write_png(p.with_suffix(".PNG")),
    "tall-strip": lambda p: write_png(p, np.full((300, 3, 3), 60, np.uint8)),
    "one-pixel": lambda p: write_png(p, np.full((1, 1, 3), 60, np.uint8)),
    "gif-named-png": lambda p: Image.fromarray(np.full((8, 8, 3), 60, np.uint8)).save(p, format="GIF"),
}


@pytest.mark.parametrize("name", sorted(MESSY))
def test_messy_images_are_accepted(tmp_path, name):
    folder = tmp_path / "images"
    folder.mkdir()
    MESSY[name](folder / "messy.png")
    write_png(folder / "plain.png", np.full((8, 8, 3), 60, np.uint8))
    for color, channels in (("auto", 3), ("grayscale", 1)):  # the plain RGB image makes auto = RGB
        cfg = Config(data="image-folder", data_dir=str(folder), image_size=8, options={"color": color})
        x = torch.cat([load_dataset(cfg, "train").x, load_dataset(cfg, "test").x])
        assert x.shape == (2, channels, 8, 8) and x.dtype == torch.uint8


def test_messy_values_are_converted_as_a_user_expects(tmp_path):
    folder = tmp_path / "images"
    _grey16(write_png(folder / "a.png").parent / "white16.png")
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
