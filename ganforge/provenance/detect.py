"""A detector of generated images: a small two-branch CNN on pixels and on the log-magnitude spectrum.

Why the spectrum: a generator's upsampling layers (transposed convolutions, nearest/bilinear
upsampling) leave periodic traces that show as peaks and a distorted high-frequency fall-off in the
Fourier spectrum, easy to see there and hard to see in pixels (Frank et al., "Leveraging Frequency
Analysis for Deep Fake Image Recognition", ICML 2020; Durall et al., CVPR 2020). A plain CNN on
pixels, trained on one generator, catches much of the rest and generalises further than expected
with augmentation (Wang et al., "CNN-generated images are surprisingly easy to spot... for now",
CVPR 2020): we train with horizontal flips and, as Wang et al., blur/JPEG-like degradation (a
random Gaussian blur on half of the batch), so that the detector does not lean on one fragile trace.

Inputs: uint8 images (n, c, h, w), resized to the detector's size and converted to its channels.
Features: pixels in [-1, 1]; ``log(|FFT2(x - mean)| + 1e-3)`` per channel, centred (fftshift) and
standardised per frequency with the training set's statistics. Each branch: three stride-2 3x3
conv + BatchNorm + LeakyReLU layers and global average pooling; the two codes are concatenated
and a linear layer gives the logit of "generated". Saved as ``detector.safetensors`` (weights and
spectrum statistics) + ``detector.json`` (sizes, training record, validation accuracy/AUC).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError

FORMAT, VERSION = "ganforge-detector", 1


@dataclass
class DetectorSpec:
    size: int                 # images are resized to size x size
    channels: int             # 1 (grey) or 3 (RGB)
    width: int = 16           # channels of the first conv layer of each branch


def _branch(c_in: int, width: int) -> nn.Sequential:
    layers, c = [], c_in
    for out in (width, 2 * width, 4 * width):
        layers += [nn.Conv2d(c, out, 3, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
        c = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def log_spectrum(x: torch.Tensor) -> torch.Tensor:
    """Centred log-magnitude spectrum per channel of images in model space."""
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    return torch.fft.fftshift(torch.log(torch.fft.fft2(x).abs() + 1e-3), dim=(-2, -1))


class Detector(nn.Module):
    def __init__(self, spec: DetectorSpec):
        super().__init__()
        self.spec = spec
        self.pixels = _branch(spec.channels, spec.width)
        self.spectrum = _branch(spec.channels, spec.width)
        self.head = nn.Linear(8 * spec.width, 1)
        shape = (spec.channels, spec.size, spec.size)
        self.register_buffer("spectrum_mean", torch.zeros(shape))
        self.register_buffer("spectrum_std", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of "generated" for model-space images (n, channels, size, size)."""
        s = (log_spectrum(x) - self.spectrum_mean) / self.spectrum_std
        return self.head(torch.cat([self.pixels(x), self.spectrum(s)], 1)).squeeze(1)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images of any size and 1 or 3 channels -> model space at the detector's size and channels."""
        return prepare(images, self.spec)


def prepare(images, spec: DetectorSpec) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images)).float()
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise GanforgeError(f"the detector takes images (n, 1 or 3, h, w), got {tuple(x.shape)}.")
    if x.shape[1] != spec.channels:
        x = x.mean(1, keepdim=True) if spec.channels == 1 else x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (spec.size, spec.size):
        x = F.interpolate(x, size=(spec.size, spec.size), mode="bilinear", antialias=True, align_corners=False)
    return x / 127.5 - 1.0


def _degrade(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flips for all, a random 3x3 Gaussian blur (sigma 0.3..1.2) for half of the batch (Wang et al. 2020)."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    sigma = 0.3 + 0.9 * torch.rand(len(x), generator=generator)
    k = torch.exp(-torch.tensor([1.0, 0.0, 1.0])[None] / (2 * sigma[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)                                         # (n, 3) separable kernels
    kernel = (k[:, :, None] * k[:, None, :])[:, None]                      # (n, 1, 3, 3)
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate").reshape(1, n * c, h + 2, w + 2)
    blurred = F.conv2d(padded, kernel.repeat_interleave(c, 0), groups=n * c).reshape(x.shape)
    blur = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(blur[:, None, None, None], blurred, x)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else float("nan")


def train_detector(real: np.ndarray, fake, size: int | None = None, steps: int = 600, batch_size: int = 64,
                   lr: float = 1e-3, width: int = 16, holdout: float = 0.2, seed: int = 0,
                   log=None) -> tuple[Detector, dict]:
    """Train on uint8 real images and generated ones (an array, or a list of arrays of any sizes: one per
    generator); returns the detector and its record (accuracy / AUC on a held-out 20%)."""
    real = np.asarray(real)
    fakes = [np.asarray(f) for f in (fake if isinstance(fake, (list, tuple)) else [fake])]
    n_fake = sum(len(f) for f in fakes)
    if len(real) < 10 or n_fake < 10:
        raise GanforgeError(f"the detector needs at least 10 real and 10 generated images (got {len(real)} and "
                            f"{n_fake}).")
    channels = 3 if 3 in [real.shape[1]] + [f.shape[1] for f in fakes] else 1
    spec = DetectorSpec(size or real.shape[-1], channels, width)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([prepare(real, spec)] + [prepare(f, spec) for f in fakes])
    y = torch.cat([torch.zeros(len(real)), torch.ones(n_fake)])
    order = torch.randperm(len(x), generator=g)
    n_val = max(2, int(holdout * len(x)))
    val, train = order[:n_val], order[n_val:]
    det = Detector(spec)
    spectra = log_spectrum(x[train])
    det.spectrum_mean.copy_(spectra.mean(0))
    det.spectrum_std.copy_(spectra.std(0).clamp_min(1e-3))
    opt = torch.optim.Adam(det.parameters(), lr=lr)
    det.train()
    for step in range(steps):
        idx = train[torch.randint(len(train), (batch_size,), generator=g)]
        loss = F.binary_cross_entropy_with_logits(det(_degrade(x[idx], g)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step + 1) % 100 == 0:
            log(f"step {step + 1}/{steps}  loss {loss.item():.4f}")
    det.eval()
    scores = predict(det, x[val])
    labels = y[val].numpy()
    record = {"train_images": {"real": int((y[train] == 0).sum()), "generated": int((y[train] == 1).sum())},
              "validation": {"images": n_val, "accuracy": float(((scores > 0.5) == labels).mean()),
                             "auc": auc(labels, scores)},
              "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    return det, record


@torch.no_grad()
def predict(det: Detector, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """P(generated) for model-space images at the detector's size."""
    det.eval()
    return torch.cat([torch.sigmoid(det(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]).numpy()


def score_images(det: Detector, images: np.ndarray) -> np.ndarray:
    """P(generated) for uint8 images (n, c, h, w) of any size."""
    return predict(det, det.prepare(images))


def save_detector(det: Detector, folder: str | Path, record: dict) -> Path:
    from safetensors.torch import save_file

    from ganforge.utils.files import atomic_write, atomic_write_text, sha256_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "detector.safetensors"
    atomic_write(weights, lambda tmp: save_file({k: v.contiguous() for k, v in det.state_dict().items()}, str(tmp)))
    meta = {"format": FORMAT, "version": VERSION, "spec": asdict(det.spec), "sha256": sha256_file(weights), **record}
    atomic_write_text(folder / "detector.json", json.dumps(meta, indent=1) + "\n")  # written last: the commit marker
    return folder


def load_detector(folder: str | Path) -> tuple[Detector, dict]:
    from safetensors.torch import load_file

    from ganforge.utils.files import sha256_file

    folder = Path(folder)
    meta_path, weights = folder / "detector.json", folder / "detector.safetensors"
    if not meta_path.is_file() or not weights.is_file():
        raise GanforgeError(f"{folder} is not a detector folder (detector.json + detector.safetensors); train one "
                            f"with `ganforge detect train`.")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError("format")
        spec = DetectorSpec(**meta["spec"])
    except (ValueError, KeyError, TypeError):
        raise GanforgeError(f"{meta_path} is not a ganforge detector record (format {FORMAT} v{VERSION}).") from None
    if sha256_file(weights) != meta.get("sha256"):
        raise GanforgeError(f"{weights} does not match the hash in {meta_path} (damaged or replaced); train it again.")
    det = Detector(spec)
    det.load_state_dict(load_file(str(weights)), strict=True)
    return det.eval(), meta
