"""Alias-free resampling (Karras et al., "Alias-Free Generative Adversarial Networks", NeurIPS 2021, §3
and Appendix C-D): low-pass filter design and ``upfirdn2d`` in plain PyTorch (no custom CUDA).

* ``kaiser_lowpass``: a separable windowed-sinc low-pass filter with a Kaiser window whose length and
  beta come from the transition band (Kaiser's formulas), as ``scipy.signal.firwin(numtaps, cutoff,
  width=..., fs=...)`` (which it calls), normalised to unit DC gain.
* ``jinc_lowpass``: the radially symmetric variant of config R: a jinc (the 2D ideal disc low-pass,
  J1(2 pi f_c r) / (pi r)) times the outer product of the same Kaiser window, normalised to sum 1.
* ``upfirdn2d(x, f, up, down, padding, gain)``: upsample by zero insertion, pad (negative = crop),
  convolve with ``f`` (1D = separable, 2D = full), keep every ``down``-th sample: the official
  operator's definition. Zero insertion + convolution runs as one ``conv_transpose2d`` with stride
  ``up``; filtering + decimation as one ``conv2d`` with stride ``down``.
"""
from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.special
import torch
import torch.nn.functional as F


def kaiser_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> torch.Tensor | None:
    """1D Kaiser-windowed sinc with cutoff ``cutoff`` and transition band ``width`` (Hz at rate ``fs``);
    None for a single tap (the identity)."""
    if numtaps <= 1:
        return None
    return torch.as_tensor(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32)


def jinc_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> torch.Tensor | None:
    """2D radially symmetric jinc-based low-pass (config R's downsampling filter)."""
    if numtaps <= 1:
        return None
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):  # r = 0 only for odd numtaps: the limit is cutoff
        f = np.where(r > 0, scipy.special.j1(2 * cutoff * np.pi * r) / (np.pi * r), cutoff)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


def _pad_or_crop(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    if lo < 0:
        x = x.narrow(dim, -lo, x.shape[dim] + lo)
        lo = 0
    if hi < 0:
        x = x.narrow(dim, 0, x.shape[dim] + hi)
        hi = 0
    if lo or hi:
        pad = [0, 0, 0, 0]
        pad[(3 - dim) * 2:(3 - dim) * 2 + 2] = [lo, hi]
        x = F.pad(x, pad)
    return x


def _upfirdn_1d(x: torch.Tensor, f: torch.Tensor, up: int, down: int, lo: int, hi: int, dim: int) -> torch.Tensor:
    """Along ``dim`` (2: rows, 3: columns): zero-insert by ``up``, pad (lo, hi), convolve with ``f``,
    decimate by ``down``. Without upsampling: one strided conv2d (filter + decimation). With it:
    conv_transpose with stride ``up`` is exactly zero insertion + full convolution, of which we cut the
    window the padding asks for (output i reads the transposed conv at i + K - 1 - lo)."""
    c, n, k = x.shape[1], x.shape[dim], f.numel()
    shape = (k, 1) if dim == 2 else (1, k)
    kernel = f.to(x.dtype).view(1, 1, *shape).expand(c, 1, *shape)
    if up == 1:
        stride = (down, 1) if dim == 2 else (1, down)
        return F.conv2d(_pad_or_crop(x, dim, lo, hi), kernel.flip(dim), stride=stride, groups=c)
    y = F.conv_transpose2d(x, kernel, stride=(up, 1) if dim == 2 else (1, up), groups=c)
    length = n * up + lo + hi - k + 1
    start = k - 1 - lo
    y = _pad_or_crop(y, dim, -start, start + length - y.shape[dim])
    return y.index_select(dim, torch.arange(0, length, down, device=y.device)) if down > 1 else y


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """(N, C, H, W) -> upsample by ``up``, pad ``(x0, x1, y0, y1)``, filter by ``f`` (times ``gain``),
    downsample by ``down``. ``f`` None is the identity filter."""
    x0, x1, y0, y1 = padding
    if f is None:
        f = torch.ones(1, device=x.device)
    if f.ndim == 1:
        f = f * gain ** 0.5  # the gain is split between the two separable passes
        return _upfirdn_1d(_upfirdn_1d(x, f, up, down, y0, y1, 2), f, up, down, x0, x1, 3)
    f = f * gain
    if up > 1:  # zero insertion (a 2D filter cannot be split into two transposed passes)
        n, c, h, w = x.shape
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = _pad_or_crop(_pad_or_crop(x, 2, y0, y1), 3, x0, x1)
    c = x.shape[1]
    kernel = f.flip(0, 1).to(x.dtype)[None, None].expand(c, 1, *f.shape)
    return F.conv2d(x, kernel, stride=down, groups=c)


def filter2d(x: torch.Tensor, f: torch.Tensor, padding: tuple[int, int, int, int] = (0, 0, 0, 0)) -> torch.Tensor:
    """Filter keeping the size (+ ``padding``): zero padding centred as the official ``filter2d``."""
    fh, fw = (f.numel(), f.numel()) if f.ndim == 1 else f.shape
    x0, x1, y0, y1 = padding
    return upfirdn2d(x, f, padding=(x0 + fw // 2, x1 + (fw - 1) // 2, y0 + fh // 2, y1 + (fh - 1) // 2))
