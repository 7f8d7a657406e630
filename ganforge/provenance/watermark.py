"""Invisible keyed watermarks for generated images: spread-transform dither modulation (STDM) in the DCT domain.

Method (Chen & Wornell, "Quantization index modulation", IEEE Trans. Inf. Theory 2001, §V.B spread-
transform dither modulation; the keyed spread-spectrum carriers of Cox et al. 1997):

* The key (any string) seeds everything: ``B`` carrier vectors over the low/mid-frequency band of the
  image's orthonormal 2-D DCT (coefficients with ``1 <= u + v <= 0.6 size``: the band JPEG and resizing
  keep), orthonormalised so that bits do not interfere, one dither per bit, and the payload.
* Each bit is embedded in the projection ``p = <carrier, DCT(luminance)>``: ``p`` is moved to the nearest
  point of the lattice ``step * Z + dither + bit * step / 2``. Unlike additive spread spectrum, the
  decoder is not disturbed by the image itself (no host interference), which is what makes a 32-bit
  payload recoverable from 784 pixels at a PSNR above 40 dB.
* The same change is added to every colour channel (so the luminance moves by exactly that much);
  after rounding and clipping to uint8, the projections are re-measured and corrected a few times
  (black Fashion-MNIST backgrounds clip half of a first, naive embedding).
* The step follows the pixel count and the PSNR target: each bit costs ``step**2 / 12`` of squared
  error on average, so ``step = sqrt(12 * MSE * pixels / B)`` with ``MSE`` from ``psnr`` (41.5 dB).

Payload: ``B`` bits (``payload_bits(size)``: 16 at 16x16 and below, 32 up to 32x32, 64 above) that are
the first bits of HMAC-SHA256(key, "ganforge-watermark/v1"): a keyed signature, so verifying needs the
key and nothing else, and a wrong key reads coin flips. An image counts as marked when at least
``threshold(B)`` bits match, the smallest count whose chance for an unmarked image (a binomial tail
at 1/2) is at most 1e-5 (the false-positive rate).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from math import comb

import numpy as np

from ganforge.errors import GanforgeError

PSNR_DB = 41.5                  # target; rounding and clipping land it up to ~1 dB lower
FALSE_POSITIVE_RATE = 1e-5
ITERATIONS = 8                  # re-embedding rounds after rounding / clipping to uint8
BAND = 0.6                      # carriers live where u + v <= BAND * size (JPEG and resizing keep it)
LUMA = np.array([0.299, 0.587, 0.114])


def payload_bits(size: int) -> int:
    """Bits carried by a size x size image (measured in docs/PROVENANCE.md)."""
    if size < 8:
        raise GanforgeError(f"images of {size}x{size} pixels are too small to carry a watermark; use 8x8 or larger.")
    return 16 if size <= 16 else 32 if size <= 32 else 64


def threshold(bits: int) -> int:
    """Matching bits needed to call an image marked: P(>= t matches | unmarked) <= FALSE_POSITIVE_RATE."""
    for t in range(bits + 1):
        if sum(comb(bits, k) for k in range(t, bits + 1)) / 2 ** bits <= FALSE_POSITIVE_RATE:
            return t
    return bits


def _dct_matrix(n: int) -> np.ndarray:
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


@dataclass
class Watermark:
    """The keyed carriers for one image size (height x width)."""
    key: str
    height: int
    width: int
    psnr: float = PSNR_DB

    def __post_init__(self):
        if not isinstance(self.key, str) or not self.key:
            raise GanforgeError("a watermark key must be a non-empty string.")
        size = min(self.height, self.width)
        self.bits = payload_bits(size)
        self.dh, self.dw = _dct_matrix(self.height), _dct_matrix(self.width)
        u, v = np.meshgrid(np.arange(self.height), np.arange(self.width), indexing="ij")
        scale = (u / self.height + v / self.width) * size  # u + v for square images
        self.band = np.flatnonzero(((scale >= 1) & (scale <= size * BAND)).ravel())
        digest = hmac.new(self.key.encode(), f"ganforge-watermark/v1/{self.height}x{self.width}".encode(),
                          hashlib.sha256).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        q, _ = np.linalg.qr(rng.standard_normal((len(self.band), self.bits)))
        self.carriers = q.T                                           # (bits, band): orthonormal rows
        mse = 255.0 ** 2 / 10 ** (self.psnr / 10)
        self.step = float(np.sqrt(12 * mse * self.height * self.width / self.bits))
        self.dither = rng.uniform(0, self.step, self.bits)
        signature = hmac.new(self.key.encode(), b"ganforge-watermark/v1", hashlib.sha256).digest()
        self.payload = np.unpackbits(np.frombuffer(signature, np.uint8))[:self.bits].astype(np.int64)

    # -- transforms -------------------------------------------------------------------------------
    def _projections(self, luma: np.ndarray) -> np.ndarray:
        coeffs = (self.dh @ luma @ self.dw.T).reshape(len(luma), -1)
        return coeffs[:, self.band] @ self.carriers.T                   # (n, bits)

    def _pixels(self, change: np.ndarray) -> np.ndarray:
        """Luminance change (n, h, w) that moves the projections by ``change`` (n, bits)."""
        coeffs = np.zeros((len(change), self.height * self.width))
        coeffs[:, self.band] = change @ self.carriers
        return self.dh.T @ coeffs.reshape(-1, self.height, self.width) @ self.dw

    def _targets(self, p: np.ndarray) -> np.ndarray:
        """The nearest lattice point of each bit's coset (the payload's bit)."""
        offset = self.dither + self.payload * self.step / 2
        return np.round((p - offset) / self.step) * self.step + offset

    # -- API ------------------------------------------------------------------------------------
    def embed(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (n, c, h, w), c = 1 or 3 -> marked uint8 images of the same shape."""
        x = self._check(images).astype(np.float64)
        targets = self._targets(self._projections(luminance(x)))
        marked = x
        for _ in range(ITERATIONS):
            change = targets - self._projections(luminance(marked))
            marked = np.clip(np.round(marked + self._pixels(change)[:, None]), 0, 255)
        return marked.astype(np.uint8)

    def read(self, images: np.ndarray) -> np.ndarray:
        """The decoded bits (n, bits): for each projection, the coset whose lattice is nearer."""
        p = self._projections(luminance(self._check(images).astype(np.float64)))
        residual = np.mod(p - self.dither, self.step)                    # 0 or step: bit 0; step/2: bit 1
        return (np.abs(residual - self.step / 2) < self.step / 4).astype(np.int64)

    def verify(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Per image: the fraction of payload bits recovered and whether that marks it (FPR 1e-5)."""
        matches = (self.read(images) == self.payload).sum(1)
        return {"bit_accuracy": matches / self.bits, "detected": matches >= threshold(self.bits)}

    def _check(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[2:] != (self.height, self.width):
            raise GanforgeError(f"watermarking takes images of shape (n, 1 or 3, {self.height}, {self.width}), "
                                f"got {tuple(images.shape)}.")
        return images


def luminance(x: np.ndarray) -> np.ndarray:
    return x[:, 0] if x.shape[1] == 1 else np.einsum("c,nchw->nhw", LUMA, x)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def embed(images: np.ndarray, key: str) -> np.ndarray:
    """Mark uint8 images (n, c, h, w) with ``key``."""
    images = np.asarray(images)
    return Watermark(key, images.shape[-2], images.shape[-1]).embed(images)


def verify(images: np.ndarray, key: str) -> dict[str, np.ndarray]:
    images = np.asarray(images)
    return Watermark(key, images.shape[-2], images.shape[-1]).verify(images)
