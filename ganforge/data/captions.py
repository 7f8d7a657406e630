"""``captions``: images with a one-line caption each (text-to-image: StackGAN, the matching model).

Layout (``root`` = ``--data-dir``): a CSV (option ``metadata``, default ``metadata.csv``) with a
``file`` column naming images in ``ROOT/<images>/`` (option ``images``, default the root) and a caption
column (option ``caption_column``, default ``caption``); its ``split`` column (train / test; val
counts as test) splits the rows, else a seeded 10% (``test_fraction``) goes to test. E.g. OpenMoji::

    --data captions --data-dir emoji/openmoji --options '{images: color, caption_column: annotation}'

Captions are lower-cased and split into words (runs of letters and digits: "kiss: woman, man" ->
kiss woman man). The vocabulary is built from the **training** rows only (so the test split and
sampling prompts see the same ids), most frequent first, words seen fewer than ``min_word_count``
times dropped; it is saved with the run (``meta["vocab"]`` in data.json). Id 0 pads, id 1 is an
unknown word; captions longer than ``max_words`` are cut.

The dataset: ``x`` the images (uint8, alpha flattened onto white), field ``caption`` (kind tokens,
int64 ``(N, max_words)``); ``ganforge.data.captions.decode`` turns ids back into words.
Errors (one line each): a missing CSV, file or caption column, a listed image that is not in the
images folder, an empty caption.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import torch

from ganforge.data.base import Dataset
from ganforge.data.folders import (
    check_fraction, check_size, decide_channels, first_size, images_by_stem, load_images, option, read_metadata,
    root_of, split_of_table,
)
from ganforge.errors import GanforgeError
from ganforge.options import Option

NAME = "captions"
PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
OPTIONS = {
    "images": Option(str, "", "folder of the images under --data-dir ('' : the root)"),
    "caption_column": Option(str, "caption", "CSV column holding each image's caption"),
    "max_words": Option(int, 16, "captions are cut to this many words"),
    "min_word_count": Option(int, 1, "words seen fewer times in the training captions map to <unk>"),
    "color": Option(str, "auto", "auto, rgb or grayscale"),
    "metadata": Option(str, "metadata.csv", "CSV under --data-dir with file and caption columns (+ split)"),
    "exclude": Option(str, "", "drop metadata rows, COLUMN=V1|V2 (e.g. group=flags)"),
    "test_fraction": Option((int, float), 0.1, "held-out fraction when the CSV has no split column"),
}
_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased runs of letters and digits."""
    return _WORD.findall(str(text).lower())


def build_vocab(captions: list[str], min_count: int = 1) -> list[str]:
    """Specials, then the words of ``captions`` seen at least ``min_count`` times, most frequent first."""
    counts = Counter(w for c in captions for w in tokenize(c))
    words = sorted((w for w, k in counts.items() if k >= min_count), key=lambda w: (-counts[w], w))
    return list(SPECIALS) + words


def encode(captions: list[str], vocab: list[str], max_words: int) -> tuple[torch.Tensor, list[list[str]]]:
    """int64 (N, max_words) token ids (0-padded) and, per caption, the words not in the vocabulary."""
    index = {w: i for i, w in enumerate(vocab)}
    out = torch.zeros(len(captions), max_words, dtype=torch.int64)
    unknown = []
    for row, caption in enumerate(captions):
        words = tokenize(caption)[:max_words]
        unknown.append([w for w in words if w not in index])
        if words:
            out[row, :len(words)] = torch.tensor([index.get(w, UNK) for w in words])
    return out, unknown


def decode(tokens: torch.Tensor, vocab: list[str]) -> list[str]:
    """Token ids (N, T) back to space-separated words (padding dropped)."""
    return [" ".join(vocab[int(i)] for i in row if int(i) != PAD) for row in tokens]


def _checked_int(cfg, name: str, low: int) -> int:
    value = option(cfg, name, OPTIONS[name].default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise GanforgeError(f"option {name!r} is {value!r}; it must be an integer >= {low}.")
    return value


def load_captions(cfg, split: str) -> Dataset:
    root = root_of(cfg, NAME)
    table = read_metadata(root, cfg, required=True)
    column = option(cfg, "caption_column", "caption")
    if column not in table.columns:
        raise GanforgeError(f"metadata has no caption column {column!r} (it has {', '.join(table.columns)}); "
                            f"pass --options '{{caption_column: NAME}}'.")
    max_words, min_count = _checked_int(cfg, "max_words", 1), _checked_int(cfg, "min_word_count", 1)
    fraction = check_fraction(option(cfg, "test_fraction", 0.1))
    captions = [str(c) for c in table[column]]
    empty = [f for f, c in zip(table["file"], captions) if not tokenize(c)]
    if empty:
        raise GanforgeError(f"{len(empty)} caption(s) in column {column!r} have no words (e.g. the row of {empty[0]}); "
                            f"write a caption or remove the row.")
    train_rows = split_of_table(table, "train", fraction)
    rows = train_rows if split == "train" else split_of_table(table, split, fraction)
    if not rows or not train_rows:
        raise GanforgeError(f"captions: the {split if not rows else 'train'} split has no rows; check the 'split' "
                            f"column of the metadata.")
    vocab = build_vocab([captions[i] for i in train_rows], min_count)
    folder = root / option(cfg, "images", "")
    files = images_by_stem(folder, "images")
    every = [str(Path(f).with_suffix("")) for f in table["file"]]
    absent = [k for k in every if k not in files]  # any split: the error must not depend on which is loaded
    if absent:
        raise GanforgeError(f"metadata lists {len(absent)} file(s) missing from {folder} (e.g. {absent[0]}); "
                            f"restore them or remove their rows.")
    paths = [files[every[i]] for i in rows]
    size = check_size(cfg.image_size or first_size(paths[0]))
    x = load_images(paths, size, decide_channels(paths, option(cfg, "color", "auto")))
    chosen = [captions[i] for i in rows]
    tokens, _ = encode(chosen, vocab, max_words)
    meta = {"root": str(root), "caption_column": column, "max_words": max_words, "vocab": vocab}
    return Dataset(NAME, x, meta=meta, kind="image", fields={"caption": tokens}, field_kinds={"caption": "tokens"})


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options=OPTIONS)(load_captions)


_register()
