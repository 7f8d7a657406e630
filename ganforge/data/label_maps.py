"""``label-maps``: images and their per-pixel class maps (SPADE / Pix2PixHD, Cityscapes-style).

Layout under ``--data-dir``: ``<images>/`` (default ``images``) and ``<labels>/`` (default ``labels``)
with identical file names; label maps are PNGs of class ids (mode L or P: the pixel value is the id),
read exactly (center-cropped and resized with nearest neighbour, never blended). ``classes`` declares
the number of classes (0: the largest id seen + 1); an id >= ``classes`` is an error naming the file.

Without label maps (``labels: ""``) the maps are **derived from the images** by a fixed palette: each
pixel of the image (resized to the training size, alpha flattened on white) gets the index of the
nearest palette colour (Euclidean in RGB). The built-in ``openmoji`` palette has 12 classes, from
OpenMoji's colour guide: white, black, light blue #92D3F5, dark blue #1E50A0, red #D22F27, green
#5C9E31, yellow #FCEA2B, orange #F4AA41, purple #8967AA, brown #A57939, light grey #D0CFCE, dark
grey #3F3F3F. A map keeps the regions and their flat colour class but loses shading, gradients, fine
outlines and exact hues: what the generator must synthesise. ``palette`` may also be a list of colours
``"R,G,B;R,G,B;..."``.

Instance maps (optional, Pix2PixHD): ``instances: FOLDER`` names a folder of instance-id PNGs with the
same names as the label maps (Cityscapes' ``*_instanceIds.png``, renamed like its label maps; mode L,
P, I or I;16), each the same size as its label map (or image, for derived maps), read exactly like
the label maps. They become the field ``instance_map`` (int64 (N, H, W)); ``instance_boundaries``
turns ids into the paper's boundary map (1 where a 4-neighbour has another id, as the official
``get_edges``).

Splits: the metadata CSV (``file`` + ``split``, ``exclude``), else ``train/`` + ``test/`` sub-folders of
both folders, else a seeded split (``ganforge.data.folders``). The dataset: ``x`` = images (uint8),
field ``label_map`` (int64 (N, H, W)); ``meta["label_classes"]`` = the number of classes; with instance
maps also ``instance_map`` and ``meta["instances"] = "files"``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.data.folders import (
    check_fraction, check_size, decide_channels, first_size, images_by_stem, load_images, option, read_metadata,
    root_of, seeded_split, split_of_table,
)
from ganforge.data.images import open_image
from ganforge.errors import GanforgeError
from ganforge.options import Option

NAME = "label-maps"
PALETTES = {"openmoji": ((255, 255, 255), (0, 0, 0), (0x92, 0xD3, 0xF5), (0x1E, 0x50, 0xA0), (0xD2, 0x2F, 0x27),
                         (0x5C, 0x9E, 0x31), (0xFC, 0xEA, 0x2B), (0xF4, 0xAA, 0x41), (0x89, 0x67, 0xAA),
                         (0xA5, 0x79, 0x39), (0xD0, 0xCF, 0xCE), (0x3F, 0x3F, 0x3F))}
OPTIONS = {
    "images": Option(str, "images", "folder of images under --data-dir"),
    "labels": Option(str, "labels", "folder of class-id PNGs, same names ('' : derive from the images by palette)"),
    "instances": Option(str, "", "folder of instance-id PNGs, same names as the label maps ('' : none)"),
    "palette": Option(str, "openmoji", "palette for derived maps: openmoji or 'R,G,B;R,G,B;...'"),
    "classes": Option(int, 0, "number of classes (0: largest id + 1; derived maps: the palette size)"),
    "metadata": Option(str, "metadata.csv", "CSV under --data-dir with a file column (+ split) ('' : none)"),
    "exclude": Option(str, "", "drop metadata rows, COLUMN=V1|V2"),
    "test_fraction": Option((int, float), 0.1, "held-out fraction when nothing else splits the data"),
}


def parse_palette(text: str) -> np.ndarray:
    if text in PALETTES:
        return np.array(PALETTES[text], np.float32)
    try:
        colours = [tuple(int(v) for v in c.split(",")) for c in text.split(";") if c.strip()]
        if len(colours) < 2 or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
            raise ValueError
    except ValueError:
        raise GanforgeError(f"palette {text!r} is not {' or '.join(PALETTES)} or a list 'R,G,B;R,G,B;...' of at "
                            f"least two colours (0..255).") from None
    return np.array(colours, np.float32)


def derive_maps(images: torch.Tensor, palette: np.ndarray) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> int64 (N, H, W): the index of the nearest palette colour per pixel."""
    if images.shape[1] != 3:
        raise GanforgeError("deriving label maps by palette needs colour images (RGB).")
    pal = torch.from_numpy(palette)
    out = torch.empty(images.shape[0], *images.shape[2:], dtype=torch.int64)
    for i in range(0, len(images), 256):
        px = images[i:i + 256].permute(0, 2, 3, 1).float()
        out[i:i + 256] = ((px[..., None, :] - pal) ** 2).sum(-1).argmin(-1)
    return out


def read_label_map(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    with open_image(path) as image:
        if image.mode not in ("L", "P", "I", "I;16"):
            raise GanforgeError(f"label map {path} is a {image.mode} image; save class ids as a single-channel "
                                f"(L or P mode) PNG, one id per pixel.")
        w, h = image.size
        s = min(w, h)
        image = image.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        return np.asarray(image.resize((size, size), Image.NEAREST), dtype=np.int64)


def instance_boundaries(ids: torch.Tensor) -> torch.Tensor:
    """Instance ids (N, H, W) -> float boundary map (N, 1, H, W): 1 where any 4-neighbour has a different
    id (both pixels of a differing pair are marked), else 0 (Pix2PixHD's instance boundary map)."""
    ids = ids.unsqueeze(1)
    edge = torch.zeros_like(ids, dtype=torch.bool)
    dx = ids[..., :, 1:] != ids[..., :, :-1]
    dy = ids[..., 1:, :] != ids[..., :-1, :]
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge.float()


def image_size_of(path: Path) -> tuple[int, int]:
    with open_image(path) as image:
        return image.size


def read_instance_maps(folder: str | Path, names: list[str], size: int) -> torch.Tensor:
    """Instance-id PNGs ``folder/<name>.png`` for each input name -> int64 (N, size, size), read like label
    maps (``ganforge sample --instances DIR``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GanforgeError(f"--instances {folder} is not a folder; pass a folder of instance-id PNGs named like the "
                            f"label maps.")
    out = []
    for name in names:
        path = next((p for p in (folder / f"{name}.png", folder / name) if p.is_file()), None)
        if path is None:
            raise GanforgeError(f"no instance map for label map {name!r} in {folder}; add {name}.png (instance ids).")
        out.append(read_label_map(path, size))
    return torch.from_numpy(np.stack(out))


def _instance_files(root: Path, name: str, keys: list[str], partners: list[Path]) -> list[Path]:
    """The instance map of each key, checked to exist and to have its label map's (or image's) size."""
    found = images_by_stem(root / name, "instance map")
    out = []
    for k, partner in zip(keys, partners):
        if k not in found:
            raise GanforgeError(f"label map {k!r} has no instance map of the same name in {root / name}; add it "
                                f"(or drop the instances option).")
        a, b = image_size_of(found[k]), image_size_of(partner)
        if a != b:
            raise GanforgeError(f"instance map {found[k]} is {a[0]}x{a[1]} but {partner} is {b[0]}x{b[1]}; the "
                                f"instance map must align pixel by pixel with it.")
        out.append(found[k])
    return out


def _files(cfg, split):
    root = root_of(cfg, NAME)
    image_dir = root / str(option(cfg, "images", "images"))
    label_name = str(option(cfg, "labels", "labels"))
    for folder in (image_dir, root / label_name) if label_name else (image_dir,):
        if not folder.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            raise GanforgeError(f"folder {folder} does not exist (folders under {root}: {', '.join(found) or 'none'}); "
                                f"set --options '{{images: NAME, labels: NAME}}' (labels '' derives maps by palette).")
    images = images_by_stem(image_dir, "image")
    labels = images_by_stem(root / label_name, "label map") if label_name else None
    fraction = check_fraction(option(cfg, "test_fraction", 0.1))
    table = read_metadata(root, cfg)
    if table is not None:
        keys = [str(Path(f).with_suffix("")) for f in table["file"]]
        keys = [keys[i] for i in split_of_table(table, split, fraction)]
    else:
        keys = sorted(images)
        keys = [keys[i] for i in seeded_split(len(keys), split, fraction)]
    for k in keys:
        if k not in images:
            raise GanforgeError(f"image {k!r} listed in the metadata is missing from {image_dir}; restore it or drop its row.")
        if labels is not None and k not in labels:
            raise GanforgeError(f"image {k!r} has no label map of the same name in {root / label_name}; add it.")
    if not keys:
        raise GanforgeError(f"{NAME}: no images for the {split} split under {root}.")
    image_files = [images[k] for k in keys]
    label_files = None if labels is None else [labels[k] for k in keys]
    instance_name = str(option(cfg, "instances", ""))
    instances = _instance_files(root, instance_name, keys, label_files or image_files) if instance_name else None
    return root, image_files, label_files, instances


def load_label_maps(cfg, split: str) -> Dataset:
    root, image_files, label_files, instance_files = _files(cfg, split)
    size = check_size(cfg.image_size or first_size(image_files[0]))
    declared = int(option(cfg, "classes", 0))
    if label_files is None:
        palette = parse_palette(str(option(cfg, "palette", "openmoji")))
        x = load_images(image_files, size, 3)
        maps = derive_maps(x, palette)
        classes = declared or len(palette)
    else:
        x = load_images(image_files, size, decide_channels(image_files, "auto"))
        maps = torch.from_numpy(np.stack([read_label_map(f, size) for f in label_files]))
        classes = declared or int(maps.max()) + 1
        if int(maps.max()) >= classes:
            bad = next(f for f, m in zip(label_files, maps) if int(m.max()) >= classes)
            raise GanforgeError(f"label map {bad} holds class id {int(maps.max())} but classes is {classes}; "
                                f"raise --options '{{classes: N}}' or fix the map.")
    meta = {"root": str(root), "files": len(x), "label_classes": classes,
            "labels": "derived by palette" if label_files is None else "files"}
    fields, kinds = {"label_map": maps}, {"label_map": "label_map"}
    if instance_files is not None:
        fields["instance_map"] = torch.from_numpy(np.stack([read_label_map(f, size) for f in instance_files]))
        kinds["instance_map"], meta["instances"] = "label_map", "files"
    return Dataset(NAME, x, None, 0, [], meta, kind="image", fields=fields, field_kinds=kinds)


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options=OPTIONS)(load_label_maps)


_register()


def palette_consistency(images: torch.Tensor, maps: torch.Tensor, palette: str = "openmoji") -> float:
    """The fraction of pixels of uint8 images (N, 3, H, W) whose nearest palette colour is the class their
    label map asks for: for maps derived by palette, how faithfully an image follows its map (the
    analogue of the segmentation-accuracy protocol of SPADE, which needs a pretrained segmenter)."""
    return float((derive_maps(images, parse_palette(palette)) == maps).float().mean())
