"""Audio datasets: folders of WAV / FLAC / OGG / AIFF clips (``audio-folder``, ``spoken-digits``, ``drums``).

Every clip is decoded once (``soundfile``, the ``audio`` extra), mixed down to mono, resampled to
``sample_rate`` with a polyphase filter (``scipy.signal.resample_poly``, any input rate), then cropped
to its first ``length`` samples or zero-padded at the end, as WaveGAN's loader does for SC09
(Donahue et al., 2019: 16,384 samples at 16 kHz, about one second). The dataset is one int16 tensor
``(N, 1, length)`` (16-bit PCM, like the files; half the memory of float), converted per batch to
float in [-1, 1] by the ``audio`` kind.

Layout (``root`` = ``--data-dir`` / ``$GANFORGE_DATA``):
- labels (option ``labels``): ``auto`` (default) takes sub-folders as classes when every clip lies in
  one and there are at least two (``spoken-digits/0..9``), else none; ``folders`` insists on classes;
  ``none`` ignores folders (``drums``).
- splits: a ``metadata.csv`` with ``file`` and ``split`` columns (paths relative to ``root``) when
  present, else a seeded permutation of the sorted files, ``test_fraction`` (0.1) going to test.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")
DEFAULT_RATE, DEFAULT_LENGTH = 16_000, 16_384
SPLIT_SEED = 1234
LABEL_CHOICES = ("auto", "folders", "none")
MAX_BYTES = 8 * 2**30
_CACHE: dict = {}


def _soundfile():
    try:
        import soundfile
    except ImportError:
        raise GanforgeError("reading audio needs the soundfile package: pip install 'ganforge[audio]'.") from None
    return soundfile


def read_clip(path: str | Path, sample_rate: int = DEFAULT_RATE, length: int = DEFAULT_LENGTH) -> np.ndarray:
    """One clip as float32 (length,) in [-1, 1]: mono, resampled to ``sample_rate``, cropped / zero-padded."""
    sf = _soundfile()
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError, ValueError) as e:
        raise GanforgeError(f"cannot read audio file {path}: {e}; convert it to WAV or FLAC, or remove it.") from None
    if data.size == 0:
        raise GanforgeError(f"audio file {path} holds no samples; remove it.")
    mono = data.mean(axis=1)
    if rate != sample_rate:
        from scipy.signal import resample_poly

        ratio = Fraction(sample_rate, int(rate))
        mono = resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    out = np.zeros(length, dtype=np.float32)
    n = min(length, len(mono))
    out[:n] = mono[:n]
    return np.clip(out, -1.0, 1.0)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def list_clips(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _labels(root: Path, files: list[Path], mode: str) -> tuple[list[str], list[int] | None]:
    if mode == "none":
        return [], None
    folders = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None for p in files]
    classes = sorted({f for f in folders if f is not None})
    if mode == "auto" and (None in folders or len(classes) < 2):
        return [], None
    if None in folders or not classes:
        loose = next(p for p, f in zip(files, folders) if f is None) if None in folders else root
        raise GanforgeError(f"labels='folders' needs every clip in a class sub-folder of {root}, but {loose} is not; "
                            "move it into one, or use labels: none.")
    return classes, [classes.index(f) for f in folders]


def _split(root: Path, files: list[Path], split: str, test_fraction: float) -> tuple[list[int], str]:
    meta = root / "metadata.csv"
    if meta.is_file():
        import pandas as pd

        table = pd.read_csv(meta)
        if {"file", "split"} <= set(table.columns):
            wanted = {str(f) for f, s in zip(table["file"], table["split"])
                      if (s == "train") == (split == "train")}
            chosen = [i for i, p in enumerate(files) if p.relative_to(root).as_posix() in wanted]
            return chosen, "metadata.csv split column"
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(files))
    n_test = min(len(files) - 1, max(1, round(len(files) * test_fraction))) if len(files) > 1 else 0
    chosen = np.sort(perm[:n_test] if split == "test" else perm[n_test:])
    return [int(i) for i in chosen], f"seeded split (seed {SPLIT_SEED}), test fraction {test_fraction}"


def _option(cfg, name, default):
    return (cfg.options or {}).get(name, default)


def load_audio(cfg, split: str, name: str = "audio-folder", labels: str = "auto") -> Dataset:
    from ganforge.data import data_dir

    root = Path(data_dir(cfg, name)).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise GanforgeError(f"audio folder {root} {what}; pass --data-dir pointing at a folder of WAV/FLAC clips.")
    rate, length = _option(cfg, "sample_rate", DEFAULT_RATE), _option(cfg, "length", DEFAULT_LENGTH)
    for key, value in (("sample_rate", rate), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 16:
            raise GanforgeError(f"option {key!r} is {value!r}; it must be an integer of at least 16.")
    mode = _option(cfg, "labels", labels)
    if mode not in LABEL_CHOICES:
        raise GanforgeError(f"option 'labels' is {mode!r}; choose one of {', '.join(LABEL_CHOICES)}.")
    test_fraction = _option(cfg, "test_fraction", 0.1)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not math.isfinite(test_fraction) or not 0 < test_fraction < 1:
        raise GanforgeError(f"option 'test_fraction' is {test_fraction!r}; it must be a number in (0, 1).")
    key = (str(root.resolve()), split, rate, length, mode, float(test_fraction))
    if key not in _CACHE:
        _CACHE[key] = _read_folder(root, split, rate, length, mode, float(test_fraction))
    x, y, classes, how = _CACHE[key]
    meta = {"source": str(root), "split": how, "sample_rate": rate, "length": length}
    return Dataset(name, x, y, len(classes), classes, meta, kind="audio")


def _read_folder(root: Path, split: str, rate: int, length: int, mode: str, test_fraction: float):
    files = list_clips(root)
    if not files:
        raise GanforgeError(f"audio folder {root} holds no {'/'.join(e[1:].upper() for e in AUDIO_EXTENSIONS)} "
                            "clips; put the clips there (sub-folders = classes).")
    classes, labels = _labels(root, files, mode)
    chosen, how = _split(root, files, split, test_fraction)
    if not chosen:
        raise GanforgeError(f"audio folder {root} has no clips in the {split} split ({how}); check metadata.csv.")
    if len(chosen) * length * 2 > MAX_BYTES:
        raise GanforgeError(f"{len(chosen)} clips of {length} samples need more than {MAX_BYTES >> 30} GiB; "
                            "lower the 'length' option or use fewer clips.")
    x = torch.empty((len(chosen), 1, length), dtype=torch.int16)
    for row, i in enumerate(chosen):
        x[row, 0] = torch.from_numpy(to_pcm16(read_clip(files[i], rate, length)))
    y = None if labels is None else torch.tensor([labels[i] for i in chosen], dtype=torch.int64)
    return x, y, classes, how


def _register():
    from ganforge.data import DATASETS
    from ganforge.options import Option

    def options(labels: str):
        return {
            "sample_rate": Option(int, DEFAULT_RATE, "clips are resampled to this rate (Hz)"),
            "length": Option(int, DEFAULT_LENGTH, "samples per clip: longer clips are cropped, shorter ones zero-padded"),
            "labels": Option(str, labels, "auto (sub-folders as classes when every clip is in one), folders, none"),
            "test_fraction": Option((int, float), 0.1, "held-out fraction when there is no metadata.csv split"),
        }

    DATASETS.register("audio-folder", options=options("auto"))(load_audio)
    # The two shared sets (SC09-like spoken digits, drum one-shots): the same reader with their label rule.
    DATASETS.register("spoken-digits", options=options("folders"))(
        lambda cfg, split: load_audio(cfg, split, "spoken-digits", "folders"))
    DATASETS.register("drums", options=options("none"))(lambda cfg, split: load_audio(cfg, split, "drums", "none"))


_register()
