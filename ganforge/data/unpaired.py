"""``unpaired-folder``: two image domains A and B without pairs (CycleGAN, DiscoGAN).

Layouts:

* CycleGAN's ``ROOT/trainA/ trainB/ testA/ testB/`` (used when ``trainA/`` exists);
* two domain folders ``ROOT/<source>/`` and ``ROOT/<target>/`` (``--options '{source: twemoji}'
  --target noto``), split by a metadata CSV, their own ``train/``/``test/`` sub-folders, or a seeded
  split (see ``ganforge.data.folders``). When the two folders share file names the seeded split is
  made on the names, so an image and its counterpart land in the same split.

The dataset has two sources, ``A`` and ``B`` (each sampled independently: nothing is paired in
training). Known counterparts: on the test split, the images of A whose name also exists in B are
``x`` with the B image as field ``target`` (so a translation can be scored against the truth, e.g.
Twemoji -> Noto); otherwise ``x`` is all of A. Sizes: center-crop + resize to ``--image-size``
(default: the first A image's size); ``color`` per domain (auto / rgb / grayscale); alpha flattened
onto white.
"""
from __future__ import annotations

from pathlib import Path

from ganforge.data.base import Dataset
from ganforge.data.folders import (
    check_fraction, check_size, decide_channels, first_size, images_by_stem, load_images, option, read_metadata,
    root_of, seeded_split, split_of_table,
)
from ganforge.data.paired import _split_dirs
from ganforge.errors import GanforgeError
from ganforge.options import Option

NAME = "unpaired-folder"
OPTIONS = {
    "source": Option(str, "A", "domain A folder under --data-dir (when there is no trainA/)"),
    "target": Option((str, type(None)), None, "domain B folder (default: --target, else B)"),
    "color": Option(str, "auto", "auto, rgb or grayscale (decided per domain)"),
    "metadata": Option(str, "metadata.csv", "CSV under --data-dir with a file column (+ split) ('' : none)"),
    "exclude": Option(str, "", "drop metadata rows, COLUMN=V1|V2"),
    "test_fraction": Option((int, float), 0.1, "held-out fraction when nothing else splits the data"),
}


def domain_files(cfg, split: str):
    root = root_of(cfg, NAME)
    if (root / "trainA").is_dir():
        s = "train" if split == "train" else "test"
        for d in ("A", "B"):
            if not (root / f"{s}{d}").is_dir():
                raise GanforgeError(f"{root} has trainA/ but no {s}{d}/; CycleGAN's layout needs trainA, trainB, "
                                    f"testA and testB.")
        a, b = images_by_stem(root / f"{s}A", "domain A"), images_by_stem(root / f"{s}B", "domain B")
        return a, b, sorted(a), sorted(b), {"layout": "cyclegan", "split": "trainA/testA folders"}
    source = str(option(cfg, "source", "A"))
    target = str(option(cfg, "target", None) or getattr(cfg, "target", None) or "B")
    a_dir, b_dir = root / source, root / target
    for folder, what in ((a_dir, "domain A"), (b_dir, "domain B")):
        if not folder.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            raise GanforgeError(f"{what} folder {folder} does not exist (folders under {root}: {', '.join(found) or 'none'}); "
                                f"use trainA/trainB/testA/testB, or set --options '{{source: NAME}}' and --target NAME.")
    a_split, b_split = _split_dirs(a_dir, split), _split_dirs(b_dir, split)
    a = images_by_stem(a_split or a_dir, "domain A")
    b = images_by_stem(b_split or b_dir, "domain B")
    fraction = check_fraction(option(cfg, "test_fraction", 0.1))
    meta = {"layout": "folders", "source": source, "target": target}
    if a_split is not None:
        return a, b, sorted(a), sorted(b), {**meta, "split": "train/ and test/ folders"}
    table = read_metadata(root, cfg)
    if table is not None:
        keys = [str(Path(f).with_suffix("")) for f in table["file"]]
        rows = split_of_table(table, split, fraction)
        chosen = [keys[i] for i in rows]
        missing = [k for k in chosen if k not in a and k not in b]
        if missing:
            raise GanforgeError(f"metadata lists {len(missing)} file(s) in neither {a_dir} nor {b_dir} "
                                f"(e.g. {missing[0]}); restore them or remove their rows.")
        return a, b, [k for k in chosen if k in a], [k for k in chosen if k in b], {**meta, "split": "metadata split"}
    names = sorted(set(a) | set(b))
    chosen = set(names[i] for i in seeded_split(len(names), split, fraction))
    return a, b, sorted(k for k in a if k in chosen), sorted(k for k in b if k in chosen), \
        {**meta, "split": f"seeded split of the names, test fraction {fraction}"}


def load_unpaired_folder(cfg, split: str) -> Dataset:
    a, b, a_keys, b_keys, meta = domain_files(cfg, split)
    if not a_keys or not b_keys:
        raise GanforgeError(f"{NAME}: the {split} split has {len(a_keys)} images of A and {len(b_keys)} of B; both "
                            f"domains need images.")
    a_files, b_files = [a[k] for k in a_keys], [b[k] for k in b_keys]
    size = check_size(cfg.image_size or first_size(a_files[0]))
    color = option(cfg, "color", "auto")
    ca, cb = decide_channels(list(a.values()), color), decide_channels(list(b.values()), color)
    xa, xb = load_images(a_files, size, ca), load_images(b_files, size, cb)
    sources = {"A": Dataset("A", xa, kind="image"), "B": Dataset("B", xb, kind="image")}
    common = [i for i, k in enumerate(a_keys) if k in set(b_keys)] if split == "test" else []
    meta = {**meta, "root": str(root_of(cfg, NAME)), "files_a": len(a_files), "files_b": len(b_files),
            "counterparts": len(common)}
    if common:
        b_index = {k: i for i, k in enumerate(b_keys)}
        return Dataset(NAME, xa[common], meta=meta, kind="image",
                       fields={"target": xb[[b_index[a_keys[i]] for i in common]]}, field_kinds={"target": "image"},
                       sources=sources)
    return Dataset(NAME, xa, meta=meta, kind="image", sources=sources)


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options=OPTIONS)(load_unpaired_folder)


_register()
