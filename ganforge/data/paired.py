"""``paired-folder``: input -> target image pairs (pix2pix-style tasks), in the two layouts users have.

Layouts (``options.layout``, default ``auto``: ``folders`` when the source and target folders exist):

* ``folders``: ``ROOT/<source>/`` and ``ROOT/<target>/`` hold images with identical names (the
  extension may differ: ``A/1.jpg`` pairs with ``B/1.png``); each may have ``train/`` and ``test/``
  sub-folders (pix2pix's ``combine_A_and_B`` layout). ``source`` defaults to ``A``, ``target`` to
  ``--target`` or ``B``. E.g. OpenMoji: ``--data-dir emoji/openmoji --options '{source: line}'
  --target color``.
* ``ab``: pix2pix's side-by-side images, ``ROOT/train/*.jpg`` and ``ROOT/test/*.jpg`` (``val/`` is
  used as test when there is no ``test/``), or ``ROOT/*.jpg`` split by seed; the left half is the
  input (``direction: BtoA`` swaps them).

Splits and the metadata CSV (``file`` and ``split`` columns, ``exclude: "group=flags"``), see
``ganforge.data.folders``. Every image is center-cropped to a square and resized to
``--image-size`` (default: the first input's size); alpha is flattened onto white; ``color``
(auto / rgb / grayscale) is decided per side, so grayscale line art may pair with colour targets.
``label_column`` makes a metadata column the class labels ``y`` (e.g. ``group``, for the domain
classifier of ``--extractor classifier`` FID).

Errors (one line each): an input without a target of the same name (or the reverse), a metadata row
whose file is missing, an AB image of odd width, an unreadable file, two files with one name.

The dataset: ``x`` = inputs (uint8 images), field ``target`` (kind image).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ganforge.data.base import Dataset
from ganforge.data.folders import (
    check_choice, check_fraction, check_size, decide_channels, first_size, images_by_stem, load_images, option,
    read_metadata, root_of, seeded_split, split_of_table,
)
from ganforge.errors import GanforgeError
from ganforge.options import Option

NAME = "paired-folder"
OPTIONS = {
    "source": Option(str, "A", "input folder under --data-dir (layout folders)"),
    "target": Option((str, type(None)), None, "target folder under --data-dir (default: --target, else B)"),
    "layout": Option(str, "auto", "auto, folders (two folders, same names) or ab (side-by-side images)"),
    "direction": Option(str, "AtoB", "layout ab: AtoB (left half = input) or BtoA"),
    "color": Option(str, "auto", "auto, rgb or grayscale (decided per side)"),
    "metadata": Option(str, "metadata.csv", "CSV under --data-dir with a file column (+ split) ('' : none)"),
    "exclude": Option(str, "", "drop metadata rows, COLUMN=V1|V2 (e.g. group=flags)"),
    "label_column": Option(str, "", "metadata column used as class labels y ('' : none)"),
    "test_fraction": Option((int, float), 0.1, "held-out fraction when nothing else splits the data"),
}


def names_for(cfg):
    source = option(cfg, "source", "A")
    target = option(cfg, "target", None) or getattr(cfg, "target", None) or "B"
    return str(source), str(target)


def _split_dirs(folder: Path, split: str) -> Path | None:
    """folder/train or folder/test (val as test) when the folder is split into sub-folders."""
    if (folder / "train").is_dir():
        if split == "train":
            return folder / "train"
        for name in ("test", "val"):
            if (folder / name).is_dir():
                return folder / name
        raise GanforgeError(f"{folder} has train/ but no test/ (or val/) folder; add the held-out images there.")
    return None


def _labels(table, rows, cfg):
    column = option(cfg, "label_column", "")
    if not column:
        return None, []
    if table is None or column not in table.columns:
        raise GanforgeError(f"option 'label_column' is {column!r} but the metadata has no such column"
                            + (f" (it has {', '.join(table.columns)})." if table is not None else "; add a metadata CSV."))
    classes = sorted(set(table[column]))
    return torch.tensor([classes.index(v) for v in table[column].iloc[rows]], dtype=torch.int64), classes


def pair_files(cfg, split: str):
    """(input files, target files, labels, class names, meta) of a split, for either layout."""
    root = root_of(cfg, NAME)
    source, target = names_for(cfg)
    layout = check_choice("layout", option(cfg, "layout", "auto"), ("auto", "folders", "ab"))
    if layout == "auto":
        layout = "folders" if (root / source).is_dir() or (root / target).is_dir() else "ab"
    fraction = check_fraction(option(cfg, "test_fraction", 0.1))
    table = read_metadata(root, cfg)
    labels, classes = None, []
    if layout == "ab":
        direction = check_choice("direction", option(cfg, "direction", "AtoB"), ("AtoB", "BtoA"))
        folder = _split_dirs(root, split)
        files = images_by_stem(folder or root, "AB image")
        keys = sorted(files)
        if folder is None:
            keys = [keys[i] for i in seeded_split(len(keys), split, fraction)]
        paths = [files[k] for k in keys]
        halves = ("left", "right") if direction == "AtoB" else ("right", "left")
        return paths, paths, halves, None, [], {"layout": "ab", "direction": direction}
    a_dir, b_dir = root / source, root / target
    for folder, what in ((a_dir, "source"), (b_dir, "target")):
        if not folder.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            raise GanforgeError(f"{what} folder {folder} does not exist (folders under {root}: {', '.join(found) or 'none'}); "
                                f"set --options '{{source: NAME}}' and --target NAME.")
    a_split, b_split = _split_dirs(a_dir, split), _split_dirs(b_dir, split)
    if (a_split is None) != (b_split is None):
        raise GanforgeError(f"{a_dir} and {b_dir} must both have train/ and test/ sub-folders, or neither.")
    a_files = images_by_stem(a_split or a_dir, "source")
    b_files = images_by_stem(b_split or b_dir, "target")
    how = "train/ and test/ folders" if a_split is not None else None
    if table is not None and a_split is None:
        keys = [str(Path(f).with_suffix("")) for f in table["file"]]
        missing = [k for k in keys if k not in a_files or k not in b_files]
        if missing:
            where = a_dir if missing[0] not in a_files else b_dir
            raise GanforgeError(f"metadata lists {len(missing)} file(s) missing from {where} (e.g. {missing[0]}); "
                                f"restore them or remove their rows.")
        rows = split_of_table(table, split, fraction)
        keys = [keys[i] for i in rows]
        labels, classes = _labels(table, rows, cfg)
        how = "metadata split" if "split" in table.columns else f"seeded split of the metadata rows"
    else:
        only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
        if only_a or only_b:
            side, other, odd = (a_split or a_dir, b_split or b_dir, only_a) if only_a else (b_split or b_dir, a_split or a_dir, only_b)
            raise GanforgeError(f"{len(odd)} image(s) in {side} have no counterpart of the same name in {other} "
                                f"(e.g. {odd[0]}); every input needs a target with the same name.")
        keys = sorted(a_files)
        if a_split is None:
            keys = [keys[i] for i in seeded_split(len(keys), split, fraction)]
            how = f"seeded split, test fraction {fraction}"
    if not keys:
        raise GanforgeError(f"{NAME}: no pairs for the {split} split under {root}; check the split column or folders.")
    meta = {"layout": "folders", "source": source, "target": target, "split": how}
    return [a_files[k] for k in keys], [b_files[k] for k in keys], None, labels, classes, meta


def load_paired_folder(cfg, split: str) -> Dataset:
    inputs, targets, halves, labels, classes, meta = pair_files(cfg, split)
    size = check_size(cfg.image_size or first_size(inputs[0], half=halves is not None))
    color = option(cfg, "color", "auto")
    if halves is None:
        ca, cb = decide_channels(inputs, color), decide_channels(targets, color)
        x = load_images(inputs, size, ca)
        t = load_images(targets, size, cb)
    else:
        c = decide_channels(inputs, color)
        x = load_images(inputs, size, c, halves[0])
        t = load_images(targets, size, c, halves[1])
    meta = {**meta, "root": str(root_of(cfg, NAME)), "files": len(inputs)}
    return Dataset(NAME, x, labels, len(classes), classes, meta, kind="image", fields={"target": t},
                   field_kinds={"target": "image"})


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options=OPTIONS)(load_paired_folder)


_register()
