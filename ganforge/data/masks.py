"""Hole masks for inpainting: DeepFill v2's free-form brush strokes, DeepFill v1's boxes, and mask files.

A mask is float (1, H, W) with 1 = hole (pixels to fill), 0 = known. Random masks are drawn from a
``numpy.random.Generator`` so a seed reproduces them exactly (training state, evaluation masks).

- ``brush_stroke_mask``: Yu et al. 2019 (DeepFill v2), the official ``brush_stroke_mask``: 1-3 strokes,
  each a random walk of 4-12 vertices with angles around 2*pi/5 (+- 2*pi/15, alternating direction),
  segment lengths ~ N(r, r/2) clipped to [0, 2r] with r = diagonal / 8, width 12-40 px at 256x256
  (scaled to the image side here), round joints; then random horizontal / vertical flips.
- ``box_mask``: Yu et al. 2018 (DeepFill v1) ``random_bbox``: a box of half the image side at a random
  position (the paper: 128x128 in 256x256 images, no margin).
- ``read_masks``: PNG masks from a folder (any size: resized with nearest neighbour; > 127 = hole).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganforge.errors import GanforgeError

KINDS = ("free_form", "box", "both")


def brush_stroke_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    scale = size / 256
    min_width, max_width = max(1.0, 12 * scale), max(2.0, 40 * scale)
    mean_angle, angle_range = 2 * math.pi / 5, 2 * math.pi / 15
    radius = math.sqrt(2 * size * size) / 8
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 4)):
        vertices = rng.integers(4, 13)
        angles = []
        for i in range(vertices):
            a = rng.uniform(mean_angle - angle_range, mean_angle + angle_range)
            angles.append(2 * math.pi - a if i % 2 == 0 else a)
        points = [(float(rng.integers(0, size)), float(rng.integers(0, size)))]
        for a in angles:
            length = float(np.clip(rng.normal(radius, radius / 2), 0, 2 * radius))
            x, y = points[-1]
            points.append((float(np.clip(x + length * math.cos(a), 0, size - 1)),
                           float(np.clip(y + length * math.sin(a), 0, size - 1))))
        width = int(rng.uniform(min_width, max_width))
        draw.line(points, fill=255, width=max(1, width))
        for x, y in points:
            r = width / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    mask = np.asarray(image, dtype=np.float32) / 255.0
    if rng.random() > 0.5:
        mask = mask[:, ::-1]
    if rng.random() > 0.5:
        mask = mask[::-1, :]
    return (mask > 0.5).astype(np.float32)


def box_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    side = size // 2
    top, left = rng.integers(0, size - side + 1), rng.integers(0, size - side + 1)
    mask = np.zeros((size, size), np.float32)
    mask[top:top + side, left:left + side] = 1
    return mask


def random_masks(n: int, size: int, kind: str, seed: int) -> torch.Tensor:
    """(n, 1, size, size) masks of ``kind`` (free_form, box, or both = their union, DeepFill v2's training)."""
    if kind not in KINDS:
        raise GanforgeError(f"unknown mask kind {kind!r}; use {', '.join(KINDS)}.")
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 1, size, size), np.float32)
    for i in range(n):
        if kind in ("free_form", "both"):
            out[i, 0] = brush_stroke_mask(size, rng)
        if kind in ("box", "both"):
            out[i, 0] = np.maximum(out[i, 0], box_mask(size, rng))
    return torch.from_numpy(out)


def read_masks(folder: str | Path, names: list[str], size: int) -> torch.Tensor:
    """Masks ``folder/<name>.png`` for each image name (white = hole), resized to ``size``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GanforgeError(f"--mask {folder} is not a folder; pass a folder of mask PNGs named like the inputs.")
    out = []
    for name in names:
        path = next((p for p in (folder / f"{name}.png", folder / name) if p.is_file()), None)
        if path is None:
            raise GanforgeError(f"no mask for input {name!r} in {folder}; add {name}.png (white = hole).")
        try:
            with Image.open(path) as im:
                mask = im.convert("L").resize((size, size), Image.NEAREST)
        except (OSError, ValueError) as e:
            raise GanforgeError(f"mask {path} could not be read: {e}") from None
        out.append(torch.from_numpy((np.asarray(mask) > 127).astype(np.float32))[None])
    return torch.stack(out)
