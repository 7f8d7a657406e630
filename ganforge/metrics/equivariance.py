"""Equivariance metrics EQ-T, EQ-T_frac and EQ-R (Karras et al., "Alias-Free Generative Adversarial
Networks", NeurIPS 2021, §2 and Appendix E), as the official ``metrics/equivariance.py`` computes them.

For each batch of random w, the generator renders a reference image, then the same w with its input
transformed (the 3x3 inverse transform of the Fourier-feature input, ``transform=``). The reference is
transformed the same way in image space and the two are compared in PSNR (dB, images in [-1, 1]:
20 log10(2) - 10 log10(MSE)), over the pixels both define (a mask):

* ``eq-t`` (EQ-T): a random translation of up to ``translate_max`` (1/8) of the image per axis, rounded
  to whole output pixels, so the image-space shift is exact (a crop);
* ``eq-t-frac`` (EQ-T_frac): the same without rounding; the reference is shifted by a Lanczos (a = 3)
  separable sub-pixel filter;
* ``eq-r`` (EQ-R): a random rotation of up to ``rotate_max`` x pi; the reference is rotated by the
  oriented band-limited (sinc x Lanczos) filter at 4x upsampling + bilinear resampling, and the
  transformed image gets the pseudo-rotation (the same band limit without moving it), so only the
  equivariance error remains.

One translation / angle per batch (as the official code, batch 4 by default); the generator runs in
eval mode with its fixed noise (``noise_mode="const"``), no truncation.

**StyleGAN2.** The official code refuses generators without an input transform (StyleGAN2's input is a
learned 4x4 constant). For EQ-T we translate that constant as what a sampled signal is: its band-limited
(trigonometric) interpolation, evaluated at the shifted sample positions — an exact translation of the
4x4 input, the operation the Fourier input gives StyleGAN3. The per-pixel noise does not move (it is
part of what sticks to pixels). EQ-R is refused for StyleGAN2: rotating a 4x4 grid's square band aliases,
so there is no exact rotated input to compare with.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS
from ganforge.nets.filters import filter2d, upfirdn2d

KINDS = ("t", "t_frac", "r")


def sinc(x: torch.Tensor) -> torch.Tensor:
    y = (x * math.pi).abs()
    return torch.where(y < 1e-30, torch.ones_like(x), torch.sin(y) / y.clamp(min=1e-30))


def lanczos_window(x: torch.Tensor, a: float) -> torch.Tensor:
    x = x.abs() / a
    return torch.where(x < 1, sinc(x), torch.zeros_like(x))


def rotation_matrix(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def integer_translation(x: torch.Tensor, tx: float, ty: float):
    """Shift by (tx, ty) image widths, rounded to pixels; returns (image, mask of defined pixels)."""
    _, _, h, w = x.shape
    ix, iy = int(round(tx * w)), int(round(ty * h))
    z, m = torch.zeros_like(x), torch.zeros_like(x)
    if abs(ix) < w and abs(iy) < h:
        z[:, :, max(iy, 0):h + min(iy, 0), max(ix, 0):w + min(ix, 0)] = \
            x[:, :, max(-iy, 0):h + min(-iy, 0), max(-ix, 0):w + min(-ix, 0)]
        m[:, :, max(iy, 0):h + min(iy, 0), max(ix, 0):w + min(ix, 0)] = 1
    return z, m


def fractional_translation(x: torch.Tensor, tx: float, ty: float, a: int = 3):
    """Shift by (tx, ty) image widths with a separable Lanczos-a filter (sub-pixel)."""
    _, _, h, w = x.shape
    tx, ty = tx * w, ty * h
    ix, iy = math.floor(tx), math.floor(ty)
    fx, fy = tx - ix, ty - iy
    b = a - 1
    z = torch.zeros_like(x)
    zx0, zy0, zx1, zy1 = max(ix - b, 0), max(iy - b, 0), min(ix + a, 0) + w, min(iy + a, 0) + h
    if zx0 < zx1 and zy0 < zy1:
        taps = torch.arange(a * 2, device=x.device, dtype=torch.float32) - b
        fxs = sinc(taps - fx) * sinc((taps - fx) / a)
        fys = sinc(taps - fy) * sinc((taps - fy) / a)
        y = filter2d(x, (fxs / fxs.sum())[None], padding=(b, a, 0, 0))
        y = filter2d(y, (fys / fys.sum())[:, None], padding=(0, 0, b, a))
        y = y[:, :, max(b - iy, 0):h + b + a + min(-iy - a, 0), max(b - ix, 0):w + b + a + min(-ix - a, 0)]
        z[:, :, zy0:zy1, zx0:zx1] = y
    m = torch.zeros_like(x)
    mx0, my0, mx1, my1 = max(ix + a, 0), max(iy + a, 0), min(ix - b, 0) + w, min(iy - b, 0) + h
    if mx0 < mx1 and my0 < my1:
        m[:, :, my0:my1, mx0:mx1] = 1
    return z, m


def affine_bandlimit_filter(mat: torch.Tensor, a: int = 3, amax: int = 16, aflt: int = 64, up: int = 4,
                            cutoff_in: float = 1, cutoff_out: float = 1) -> torch.Tensor:
    """The windowed band-limit filter of an affine map: the convolution of the input's and the
    (oriented) output's 2D sincs, windowed by the convolution of their Lanczos windows, at ``up``x."""
    taps = ((torch.arange(aflt * up * 2 - 1, dtype=torch.float32) + 1) / up - aflt).roll(1 - aflt * up)
    yi, xi = torch.meshgrid(taps, taps, indexing="ij")
    xo, yo = (torch.stack([xi, yi], dim=2) @ mat[:2, :2].t()).unbind(2)
    fi = sinc(xi * cutoff_in) * sinc(yi * cutoff_in)
    fo = sinc(xo * cutoff_out) * sinc(yo * cutoff_out)
    f = torch.fft.ifftn(torch.fft.fftn(fi) * torch.fft.fftn(fo)).real
    wi = lanczos_window(xi, a) * lanczos_window(yi, a)
    wo = lanczos_window(xo, a) * lanczos_window(yo, a)
    f = f * torch.fft.ifftn(torch.fft.fftn(wi) * torch.fft.fftn(wo)).real
    c = (aflt - amax) * up
    f = f.roll([aflt * up - 1] * 2, dims=[0, 1])[c:-c, c:-c]
    f = F.pad(f, [0, 1, 0, 1]).reshape(amax * 2, up, amax * 2, up)
    f = f / f.sum([0, 2], keepdim=True) / (up ** 2)  # each polyphase component sums to 1 / up^2
    return f.reshape(amax * 2 * up, amax * 2 * up)[:-1, :-1]


def fractional_rotation(x: torch.Tensor, angle: float, a: int = 3, up: int = 4):
    """Rotate by ``angle`` (radians): band-limited upsampling by ``up``, bilinear resampling."""
    _, _, h, w = x.shape
    mat = rotation_matrix(angle)
    f = affine_bandlimit_filter(mat, a=a, amax=a * 2, up=up).to(x.device)
    p = f.shape[0] // 2
    theta = mat.inverse()
    theta[:2, 2] *= 2
    theta[0, 2] += 1 / up / w
    theta[1, 2] += 1 / up / h
    theta[0, :] *= w / (w + p / up * 2)
    theta[1, :] *= h / (h + p / up * 2)
    grid = F.affine_grid(theta[:2, :3][None].repeat(x.shape[0], 1, 1).to(x.device), list(x.shape), align_corners=False)
    fw = f.shape[0]
    y = upfirdn2d(x, f, up=up, padding=(p + (fw + up - 1) // 2, p + (fw - up) // 2,
                                        p + (fw + up - 1) // 2, p + (fw - up) // 2), gain=up * up)
    z = F.grid_sample(y, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    m = torch.zeros_like(y)
    c = p * 2 + 1
    m[:, :, c:-c, c:-c] = 1
    m = F.grid_sample(m, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return z, m


def pseudo_rotation(x: torch.Tensor, angle: float, a: int = 3):
    """The frequency content of a rotation by ``angle`` without moving anything (R*_alpha)."""
    f = affine_bandlimit_filter(rotation_matrix(-angle), a=a, amax=a * 2, up=1).to(x.device)
    y = filter2d(x, f)
    m = torch.zeros_like(y)
    c = f.shape[0] // 2
    m[:, :, c:-c, c:-c] = 1
    return y, m


def translate_constant(const: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(C, N, N) samples at pixel centres of the unit canvas -> the same band-limited signal shifted by
    ``t`` = (tx, ty) canvas widths, resampled at the pixel centres (trigonometric interpolation; the
    Nyquist term split evenly between +-N/2 so integer positions reproduce the samples exactly)."""
    n = const.shape[-1]
    spectrum = torch.fft.fft2(const.double())
    k = torch.arange(-(n // 2), n // 2 + 1)
    weight = torch.where(k.abs() * 2 == n, 0.5, 1.0).double()
    spectrum = spectrum[:, k % n][:, :, k % n] * weight[:, None] * weight[None, :]
    pos = torch.arange(n, dtype=torch.float64)
    px, py = pos - float(t[0]) * n, pos - float(t[1]) * n  # sample positions of the shifted signal
    ex = torch.exp(2j * math.pi * k[:, None].double() * px[None] / n)  # (k, x)
    ey = torch.exp(2j * math.pi * k[:, None].double() * py[None] / n)
    out = torch.einsum("cab,ay,bx->cyx", spectrum, ey, ex).real / (n * n)
    return out.to(const.dtype)


def synthesize(module, ws: torch.Tensor, transform: torch.Tensor | None) -> torch.Tensor:
    """Images of ``ws`` with the input moved by ``transform`` (inverse, 3x3) or as is (None)."""
    if hasattr(module.synthesis, "input"):  # StyleGAN3: the Fourier input takes the transform
        return module(None, ws=ws, transform=transform)
    if transform is None:
        return module(None, ws=ws, noise_mode="const")
    const = module.synthesis.const
    saved = const.data.clone()
    try:
        const.data.copy_(translate_constant(saved, -transform[:2, 2]))
        return module(None, ws=ws, noise_mode="const")
    finally:
        const.data.copy_(saved)


def check_generator(module, kinds) -> None:
    synthesis = getattr(module, "synthesis", None)
    if synthesis is None or not hasattr(module, "styles"):
        raise GanforgeError("equivariance metrics need a style-based generator (a stylegan3 or stylegan2 run).")
    if not hasattr(synthesis, "input"):
        if not hasattr(synthesis, "const"):
            raise GanforgeError("this generator has no transformable input; equivariance needs stylegan3 (or "
                                "stylegan2 for eq-t).")
        if "r" in kinds:
            raise GanforgeError("eq-r needs a rotatable input (stylegan3); a stylegan2 generator's 4x4 constant "
                                "cannot be rotated without aliasing: use eq-t (or eq-t-frac) for stylegan2.")


@torch.no_grad()
def equivariance(module, kinds=("t",), num_samples: int = 1000, batch_size: int = 4, seed: int = 0,
                 translate_max: float = 0.125, rotate_max: float = 1.0, num_classes: int = 0) -> dict[str, float]:
    """PSNR (dB) per kind in ``KINDS`` over ``num_samples`` random w. ``module``: a StyleGAN3Generator
    (or a StyleGAN2Generator for the translations)."""
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise GanforgeError(f"equivariance kinds must be among {', '.join(KINDS)}, got {kinds!r}.")
    check_generator(module, kinds)
    device = next(module.parameters()).device
    g = torch.Generator().manual_seed(seed)
    sums = {k: torch.zeros(2, dtype=torch.float64) for k in kinds}
    was_training = module.training
    module.eval()
    try:
        for start in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - start)
            z = torch.randn(n, module.z_dim, generator=g).to(device)
            y = torch.randint(0, num_classes, (n,), generator=g).to(device) if num_classes else None
            ws = module.styles(z, y)
            orig = synthesize(module, ws, None).float()
            res = orig.shape[-1]
            for kind in kinds:
                mat = torch.eye(3)
                if kind in ("t", "t_frac"):
                    t = (torch.rand(2, generator=g) * 2 - 1) * translate_max
                    if kind == "t":
                        t = (t * res).round() / res
                    mat[:2, 2] = -t
                    img = synthesize(module, ws, mat.to(device)).float()
                    shift = integer_translation if kind == "t" else fractional_translation
                    ref, mask = shift(orig, float(t[0]), float(t[1]))
                else:
                    angle = float((torch.rand((), generator=g) * 2 - 1) * rotate_max * math.pi)
                    img = synthesize(module, ws, rotation_matrix(-angle).to(device)).float()
                    ref, ref_mask = fractional_rotation(orig, angle)
                    img, img_mask = pseudo_rotation(img, angle)
                    mask = ref_mask * img_mask
                sums[kind] += torch.stack([((ref - img).square() * mask).double().sum().cpu(), mask.double().sum().cpu()])
    finally:
        module.train(was_training)
    for kind, s in sums.items():
        if s[1] == 0:  # the resampling filters' borders cover the whole image
            raise GanforgeError(f"eq-{kind.replace('_', '-')} is undefined on {res}x{res} images: no pixel is left "
                                "after the resampling filters' borders (eq-r needs about 16x16 or more).")
    return {k: float(20 * math.log10(2) - 10 * torch.log10(s[0] / s[1])) for k, s in sums.items()}


def _metric(kind: str):
    def metric(ctx) -> dict[str, float]:
        gen = ctx.generator
        module = getattr(gen, "module", gen)
        if module is None:
            raise GanforgeError(f"eq-{kind.replace('_', '-')} needs a trained generator (a stylegan3 run) to evaluate.")
        opts = ctx.options
        value = equivariance(module, (kind,), num_samples=int(opts.get("eq_samples", len(ctx.fake))),
                             seed=int(opts.get("seed", 0)), num_classes=getattr(gen, "num_classes", 0))
        return {f"eq_{kind}": value[kind]}
    metric.__doc__ = f"``ganforge eval RUN --metrics eq-{kind.replace('_', '-')}``: PSNR in dB over --samples w."
    return metric


for _kind in KINDS:
    METRICS.register(f"eq-{_kind.replace('_', '-')}")(_metric(_kind))
