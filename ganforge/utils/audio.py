"""WAV files and spectrogram pictures of waveforms (scipy + matplotlib's colour maps; no audio library)."""
from __future__ import annotations

import math
import os

import numpy as np
import torch

from ganforge.utils.files import atomic_write
from ganforge.utils.images import make_grid, to_pil


def pcm16(clip) -> np.ndarray:
    """A waveform (float in [-1, 1] or int16 PCM, any shape) as int16 (S,) mono samples."""
    arr = np.asarray(clip.detach().cpu() if isinstance(clip, torch.Tensor) else clip)
    if arr.dtype != np.int16:
        arr = np.round(np.clip(arr.astype(np.float64), -1.0, 1.0) * 32767.0).astype(np.int16)
    return arr.reshape(-1)


def save_wav(clip, path: str | os.PathLike, rate: int) -> None:
    """One clip as a 16-bit PCM mono WAV file, written atomically."""
    from scipy.io import wavfile

    data = pcm16(clip)
    atomic_write(path, lambda tmp: wavfile.write(tmp, int(rate), data))


def concatenate(clips, rate: int, gap_seconds: float = 0.25) -> np.ndarray:
    """Clips one after another with ``gap_seconds`` of silence between them (int16)."""
    gap = np.zeros(int(rate * gap_seconds), dtype=np.int16)
    parts = []
    for i, clip in enumerate(clips):
        parts += ([gap] if i else []) + [pcm16(clip)]
    return np.concatenate(parts)


def spectrogram(clip, rate: int, height: int = 64, db_range: float = 80.0) -> np.ndarray:
    """uint8 (height, frames, 3) log-magnitude spectrogram (low frequencies at the bottom, magma colours):
    a 32 ms Hann window with 75% overlap, levels from the loudest bin down ``db_range`` dB."""
    from matplotlib import colormaps

    x = torch.as_tensor(pcm16(clip), dtype=torch.float32) / 32768.0
    n_fft = 2 ** max(4, round(math.log2(rate * 0.032)))
    spec = torch.stft(x, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True).abs()
    db = 20 * torch.log10(spec + 1e-5)
    db = ((db - (db.max() - db_range)) / db_range).clamp(0, 1)
    img = torch.nn.functional.interpolate(db[None, None], size=(height, db.shape[1]), mode="bilinear",
                                          align_corners=False)[0, 0].flip(0).numpy()
    return (colormaps["magma"](img)[..., :3] * 255).round().astype(np.uint8)


def save_spectrogram_grid(clips, path: str | os.PathLike, rate: int, nrow: int | None = None) -> None:
    """A PNG grid of the clips' spectrograms (one tile per clip, row-major like the image grids)."""
    tiles = np.stack([spectrogram(c, rate) for c in clips])
    grid = make_grid(torch.from_numpy(tiles).permute(0, 3, 1, 2), nrow or int(math.ceil(math.sqrt(len(tiles)))))
    # a palette PNG: the colour map has 256 colours, so this loses nothing and is far smaller than RGB
    atomic_write(path, lambda tmp: to_pil(grid).quantize(256).save(tmp, format="PNG", optimize=True))
