"""Adaptive discriminator augmentation (Karras, Aittala, Hellsten, Laine, Lehtinen & Aila, "Training
Generative Adversarial Networks with Limited Data", NeurIPS 2020).

Every image the discriminator sees (real and fake, in the D, R1 and G phases) goes through a
differentiable augmentation pipeline whose every op is applied with probability ``p`` (times the op's
multiplier). ``p`` is not fixed: every ``interval`` discriminator steps the overfitting heuristic
r_t = E[sign(D(x_real))] over those steps is compared with a target (0.6): above it (D too confident
on reals: overfitting) p rises, below it p falls, by ``batch * interval / (ada_kimg * 1000)`` per
adjustment, so p can move from 0 to 1 in ``ada_kimg`` thousand real images (the paper's 500k).

Pipelines (the paper's names): ``bgc`` = blit (xflip, rotate90, xint) + geometric (scale, rotate,
aniso, xfrac) + colour (brightness, contrast, lumaflip, hue, saturation), with the paper's strengths
(scale/aniso std 0.2 in log2, xfrac std 0.125, xint max 0.125, brightness std 0.2, contrast std 0.5
in log2, hue max 1 (x pi), saturation std 1 in log2; rotations with probability 1 - sqrt(1 - p)
before and after the anisotropic scaling, so that one of them happens with probability p).
``bg``, ``b``, ``g``, ``c`` are subsets. The geometric ops are composed into one inverse 2-D
homogeneous matrix per image and applied by one bilinear ``grid_sample`` with reflection padding
(the official code resamples at 2x with a wavelet filter; at 32-64 px we skip that refinement); the
colour ops into one 4x4 colour matrix. Images are in [-1, 1] (the model's space), NCHW.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError

BLIT = {"xflip": 1.0, "rotate90": 1.0, "xint": 1.0}
GEOM = {"scale": 1.0, "rotate": 1.0, "aniso": 1.0, "xfrac": 1.0}
COLOR = {"brightness": 1.0, "contrast": 1.0, "lumaflip": 1.0, "hue": 1.0, "saturation": 1.0}
PIPELINES = {"b": BLIT, "g": GEOM, "c": COLOR, "bg": {**BLIT, **GEOM}, "bgc": {**BLIT, **GEOM, **COLOR}}
STRENGTH = dict(xint_max=0.125, scale_std=0.2, rotate_max=1.0, aniso_std=0.2, xfrac_std=0.125,
                brightness_std=0.2, contrast_std=0.5, hue_max=1.0, saturation_std=1.0)


def _mat(rows, like: torch.Tensor) -> torch.Tensor:
    """A batch of matrices from rows of scalars or (N,) tensors."""
    n = like.shape[0]
    cols = [[torch.as_tensor(v, dtype=like.dtype, device=like.device).expand(n) for v in row] for row in rows]
    return torch.stack([torch.stack(row, dim=-1) for row in cols], dim=-2)


def translate2d(tx, ty, like):
    return _mat([[1, 0, tx], [0, 1, ty], [0, 0, 1]], like)


def scale2d(sx, sy, like):
    return _mat([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], like)


def rotate2d(theta, like):
    return _mat([[torch.cos(theta), -torch.sin(theta), 0], [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1]], like)


def translate3d(t, like):
    return _mat([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], like)


def scale3d(s, like):
    return _mat([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], like)


def rotate3d(axis: torch.Tensor, theta: torch.Tensor, like) -> torch.Tensor:
    """Rotation by theta about a unit axis (Rodrigues), as a 4x4 homogeneous matrix."""
    vx, vy, vz = axis[0], axis[1], axis[2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _mat([[vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
                 [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
                 [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
                 [0, 0, 0, 1]], like)


def check_pipeline(name: str) -> dict[str, float]:
    if name not in PIPELINES:
        raise GanforgeError(f"unknown ADA pipeline {name!r}; choose one of {', '.join(PIPELINES)} (e.g. ada: bgc).")
    return PIPELINES[name]


def augment(x: torch.Tensor, p: float, ops: dict[str, float]) -> torch.Tensor:
    """Apply each op of ``ops`` with probability p * multiplier, independently per image."""
    if p <= 0 or not ops:
        return x
    n, c, h, w = x.shape
    dev, s = x.device, STRENGTH
    ones = torch.ones(n, device=dev)

    def chance(op: str, shape=(n,)) -> torch.Tensor:
        return torch.rand(shape, device=dev) < ops.get(op, 0.0) * p

    # -- geometric: the inverse transform (output pixel -> input pixel) in normalised coordinates ------
    g = torch.eye(3, device=dev).expand(n, 3, 3)
    geometric = False
    if ops.get("xflip"):
        i = torch.where(chance("xflip"), torch.floor(torch.rand(n, device=dev) * 2), 0 * ones)
        g, geometric = g @ scale2d(1 - 2 * i, ones, ones), True
    if ops.get("rotate90"):
        i = torch.where(chance("rotate90"), torch.floor(torch.rand(n, device=dev) * 4), 0 * ones)
        g, geometric = g @ rotate2d(-math.pi / 2 * i, ones), True
    if ops.get("xint"):
        t = (torch.rand(n, 2, device=dev) * 2 - 1) * s["xint_max"]
        t = torch.where(chance("xint", (n, 1)), t, torch.zeros_like(t))
        # whole pixels: round(t * size) pixels = 2 round(t * size) / size in [-1, 1] coordinates
        g, geometric = g @ translate2d(-2 * torch.round(t[:, 0] * w) / w, -2 * torch.round(t[:, 1] * h) / h, ones), True
    if ops.get("scale"):
        sc = torch.where(chance("scale"), torch.exp2(torch.randn(n, device=dev) * s["scale_std"]), ones)
        g, geometric = g @ scale2d(1 / sc, 1 / sc, ones), True
    p_rot = 1 - math.sqrt(max(0.0, 1 - ops.get("rotate", 0.0) * p))  # one of the two rotations with prob. p
    for where in ("pre", "post"):
        if where == "post" and ops.get("aniso"):
            a = torch.where(chance("aniso"), torch.exp2(torch.randn(n, device=dev) * s["aniso_std"]), ones)
            g, geometric = g @ scale2d(1 / a, a, ones), True
        if ops.get("rotate"):
            theta = (torch.rand(n, device=dev) * 2 - 1) * math.pi * s["rotate_max"]
            theta = torch.where(torch.rand(n, device=dev) < p_rot, theta, 0 * ones)
            g, geometric = g @ rotate2d(theta, ones), True
    if ops.get("xfrac"):
        t = torch.randn(n, 2, device=dev) * s["xfrac_std"]
        t = torch.where(chance("xfrac", (n, 1)), t, torch.zeros_like(t))
        g, geometric = g @ translate2d(-2 * t[:, 0], -2 * t[:, 1], ones), True
    if geometric:
        grid = F.affine_grid(g[:, :2, :].to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    # -- colour: one 4x4 matrix per image on (r, g, b, 1) -----------------------------------------------
    m = torch.eye(4, device=dev).expand(n, 4, 4)
    coloured = False
    luma = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)
    if ops.get("brightness"):
        b = torch.where(chance("brightness"), torch.randn(n, device=dev) * s["brightness_std"], 0 * ones)
        m, coloured = translate3d(b, ones) @ m, True
    if ops.get("contrast"):
        k = torch.where(chance("contrast"), torch.exp2(torch.randn(n, device=dev) * s["contrast_std"]), ones)
        m, coloured = scale3d(k, ones) @ m, True
    if ops.get("lumaflip"):
        i = torch.where(chance("lumaflip"), torch.floor(torch.rand(n, device=dev) * 2), 0 * ones)
        m, coloured = (torch.eye(4, device=dev) - 2 * torch.outer(luma, luma) * i[:, None, None]) @ m, True
    if ops.get("hue") and c == 3:
        theta = torch.where(chance("hue"), (torch.rand(n, device=dev) * 2 - 1) * math.pi * s["hue_max"], 0 * ones)
        m, coloured = rotate3d(luma, theta, ones) @ m, True
    if ops.get("saturation") and c == 3:
        k = torch.where(chance("saturation"), torch.exp2(torch.randn(n, device=dev) * s["saturation_std"]), ones)
        vv = torch.outer(luma, luma)
        m, coloured = (vv + (torch.eye(4, device=dev) - vv) * k[:, None, None]) @ m, True
    if coloured:
        m = m.to(x.dtype)
        if c == 3:
            x = (m[:, :3, :3] @ x.reshape(n, 3, h * w) + m[:, :3, 3:]).reshape(n, c, h, w)
        elif c == 1:  # grey images: the mean of the rgb rows, applied to the grey value (as the official code)
            mg = m[:, :3, :].mean(dim=1, keepdim=True)
            x = x * mg[:, :, :3].sum(dim=2, keepdim=True)[..., None] + mg[:, :, 3:][..., None]
    return x


class AdaptiveAugment:
    """The pipeline + its adaptive p (recipe state: ``state_dict`` / ``load_state_dict``).

    Call it on every discriminator input; ``observe(E[sign(D(real))])`` after each D step updates
    r_t and, every ``interval`` observations, p. One host sync per ``interval`` D steps."""

    def __init__(self, pipeline: str, target: float = 0.6, ada_kimg: float = 500, interval: int = 4,
                 batch_size: int = 64, world_size: int = 1, p: float = 0.0):
        self.ops = check_pipeline(pipeline)
        if not 0 < target < 1:
            raise GanforgeError(f"ada_target must be in (0, 1), got {target}; the paper uses 0.6.")
        if ada_kimg <= 0:
            raise GanforgeError(f"ada_kimg must be positive, got {ada_kimg}; the paper uses 500.")
        self.target, self.interval, self.p = target, interval, float(p)
        self.speed = batch_size * world_size * interval / (ada_kimg * 1000)
        self.sign_sum, self.count = torch.zeros(()), 0
        self.last_rt = float("nan")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return augment(x, self.p, self.ops)

    @torch.no_grad()
    def observe(self, real_sign: torch.Tensor) -> None:
        """``real_sign``: E[sign(D(x_real))] of one D step (a scalar tensor; no host sync until an update)."""
        self.sign_sum = self.sign_sum.to(real_sign.device) + real_sign.detach().float()
        self.count += 1
        if self.count >= self.interval:
            total = self.sign_sum.clone()
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.all_reduce(total)  # every rank gets the same r_t, hence the same p
                total /= torch.distributed.get_world_size()
            self.last_rt = float(total) / self.count
            direction = (self.last_rt > self.target) - (self.last_rt < self.target)  # np.sign, as the official code
            self.p = max(0.0, min(1.0, self.p + direction * self.speed))
            self.sign_sum, self.count = torch.zeros((), device=real_sign.device), 0

    def state_dict(self) -> dict:
        return {"ada.p": self.p, "ada.count": self.count, "ada.sign_sum": self.sign_sum.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.p, self.count = float(state["ada.p"]), int(state["ada.count"])
        self.sign_sum = torch.as_tensor(state["ada.sign_sum"]).float()
