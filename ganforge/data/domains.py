"""``domains``: images in several domains (StarGAN): a folder per domain, or a CSV of attributes.

Layouts:

* folder per domain: ``ROOT/<domain>/*.png`` (optionally under ``ROOT/train/`` and ``ROOT/test/``);
  domains are the sorted folder names;
* CSV (``domain_column`` set): the metadata CSV's ``file`` column names images in ``ROOT/<images>/``
  and ``domain_column`` their domain; an empty value is the domain ``missing_domain`` (e.g. OpenMoji's
  default yellow, which has no skin tone); ``domains: "V1|V2|..."`` keeps only those values (in that
  order; default: every value, sorted); ``group_column`` names what identifies one subject across
  domains (OpenMoji's ``base_hexcode``), and ``complete: true`` keeps only subjects present in every
  domain. E.g. the OpenMoji skin tones::

      --data domains --data-dir emoji/openmoji --options '{images: color, domain_column: skintone,
        domains: "|1|2|3|4|5", missing_domain: default, group_column: base_hexcode, complete: true}'

The dataset: ``x`` images, ``y`` the domain index (``class_names`` the domain names), and with a
group column the field ``group`` (kind label): the subject id, so a translation to domain j of a
subject that exists in domain j can be scored against the real image.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ganforge.data.base import Dataset
from ganforge.data.folders import (
    check_fraction, check_size, decide_channels, first_size, images_by_stem, load_images, option, read_metadata,
    root_of, seeded_split, split_of_table,
)
from ganforge.data.image_folder import scan
from ganforge.errors import GanforgeError
from ganforge.options import Option

NAME = "domains"
OPTIONS = {
    "images": Option(str, "", "CSV layout: folder of the images under --data-dir ('' : the root)"),
    "domain_column": Option(str, "", "CSV column of each image's domain ('' : a folder per domain)"),
    "domains": Option(str, "", "domain values to keep, V1|V2|... in this order ('' : all, sorted)"),
    "missing_domain": Option(str, "none", "name of the domain of empty values in domain_column"),
    "group_column": Option(str, "", "CSV column identifying one subject across domains ('' : none)"),
    "complete": Option(bool, False, "keep only subjects (group_column) present in every domain"),
    "color": Option(str, "auto", "auto, rgb or grayscale"),
    "metadata": Option(str, "metadata.csv", "CSV under --data-dir with a file column (+ split)"),
    "exclude": Option(str, "", "drop metadata rows, COLUMN=V1|V2"),
    "test_fraction": Option((int, float), 0.1, "held-out fraction when nothing else splits the data"),
}


def _from_csv(cfg, root: Path, split: str):
    table = read_metadata(root, cfg, required=True)
    column = option(cfg, "domain_column", "")
    if column not in table.columns:
        raise GanforgeError(f"option 'domain_column' is {column!r} but the metadata has columns "
                            f"{', '.join(table.columns)}.")
    missing = str(option(cfg, "missing_domain", "none"))
    values = table[column].astype(str).str.strip().replace("", missing)
    wanted = option(cfg, "domains", "")
    names = [missing if v == "" else v for v in str(wanted).split("|")] if wanted else sorted(set(values))
    if len(names) < 2:
        raise GanforgeError(f"domains: {len(names)} domain(s) ({', '.join(names)}); StarGAN needs at least two.")
    keep = values.isin(names)
    table, values = table[keep], values[keep]
    group_col = option(cfg, "group_column", "")
    if group_col and group_col not in table.columns:
        raise GanforgeError(f"option 'group_column' is {group_col!r} but the metadata has no such column.")
    if option(cfg, "complete", False):
        if not group_col:
            raise GanforgeError("option 'complete' needs 'group_column' (what identifies one subject across domains).")
        per_group = values.groupby(table[group_col]).nunique()
        full = set(per_group[per_group == len(names)].index)
        keep = table[group_col].isin(full)
        table, values = table[keep], values[keep]
    if table.empty:
        raise GanforgeError("domains: no metadata rows left after the domain filters; check the options.")
    rows = split_of_table(table, split, check_fraction(option(cfg, "test_fraction", 0.1)))
    folder = root / option(cfg, "images", "")
    files = images_by_stem(folder, "images")
    keys = [str(Path(f).with_suffix("")) for f in table["file"].iloc[rows]]
    absent = [k for k in keys if k not in files]
    if absent:
        raise GanforgeError(f"metadata lists {len(absent)} file(s) missing from {folder} (e.g. {absent[0]}); "
                            f"restore them or remove their rows.")
    labels = [names.index(v) for v in values.iloc[rows]]
    groups = None
    if group_col:
        all_groups = sorted(set(table[group_col]))
        groups = [all_groups.index(g) for g in table[group_col].iloc[rows]]
    return [files[k] for k in keys], labels, names, groups, {"layout": "csv", "domain_column": column}


def _from_folders(cfg, root: Path, split: str):
    if (root / "train").is_dir() and (root / "test").is_dir():
        files, names, labels = scan(root / split)
        train_names = scan(root / "train")[1]
        if labels is not None and names != train_names:
            labels = [train_names.index(names[i]) for i in labels]
            names = train_names
        how = "train/ and test/ folders"
    else:
        files, names, labels = scan(root)
        chosen = seeded_split(len(files), split, check_fraction(option(cfg, "test_fraction", 0.1)))
        files = [files[i] for i in chosen]
        labels = None if labels is None else [labels[i] for i in chosen]
        how = "seeded split"
    if labels is None or len(names) < 2:
        raise GanforgeError(f"domains: {root} needs one sub-folder of images per domain (at least two), or a metadata "
                            f"CSV with --options '{{domain_column: COLUMN}}'.")
    return files, labels, names, None, {"layout": "folders", "split": how}


def load_domains(cfg, split: str) -> Dataset:
    root = root_of(cfg, NAME)
    files, labels, names, groups, meta = (_from_csv if option(cfg, "domain_column", "") else _from_folders)(cfg, root, split)
    if not files:
        raise GanforgeError(f"domains: no images for the {split} split under {root}.")
    size = check_size(cfg.image_size or first_size(files[0]))
    x = load_images(files, size, decide_channels(files, option(cfg, "color", "auto")))
    fields, kinds = {}, {}
    if groups is not None:
        fields["group"], kinds["group"] = torch.tensor(groups, dtype=torch.int64), "label"
    meta = {**meta, "root": str(root), "files": len(files)}
    return Dataset(NAME, x, torch.tensor(labels, dtype=torch.int64), len(names), names, meta, kind="image",
                   fields=fields, field_kinds=kinds)


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options=OPTIONS)(load_domains)


_register()
