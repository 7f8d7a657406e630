"""Networks of Projected GAN (Sauer et al., "Projected GANs Converge Faster", NeurIPS 2021).

* ``FastGANGenerator``: the light generator of FastGAN (Liu et al., ICLR 2021) that Projected GAN
  trains ("fastgan_lite" in the official code): z normalised to the unit second moment, a 4x4
  transposed-conv input layer, nearest-neighbour upsampling blocks conv3x3 + BN + GLU, and a
  skip-layer excitation (SE) from the 4x4 features onto the last feature map; spectral norm on every
  convolution, as the official ``conv2d``.
* ``RandomProjector``: the fixed random projections of the features of a frozen pretrained network:
  **CCM** (cross-channel mixing: a random 1x1 convolution per scale, channels cout*(1, 2, 4, 8)) and
  **CSM** (cross-scale mixing: from the deepest scale to the shallowest, the deeper output upsampled
  (bilinear x2) and added, then a random 3x3 convolution, as the paper's U-Net-like CSM; the official
  code uses 1x1 here). Never trained: its weights are drawn from a seed and saved with the run.
* ``MultiScaleDiscriminator``: one small discriminator per scale (the paper's ``SingleDisc``: spectral
  norm conv4x4/2 + BN + LeakyReLU(0.2) down to 8x8, then a 4x4 conv to a map of logits); the logits of
  all scales are concatenated.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from ganforge.errors import GanforgeError


def sn_conv(*args, **kwargs) -> nn.Module:
    return spectral_norm(nn.Conv2d(*args, **kwargs))


class GLU(nn.Module):
    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


def up_block(cin: int, cout: int) -> nn.Sequential:
    """FastGAN's ``UpBlockSmall``: nearest x2, conv3x3 to 2*cout, BN, GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), sn_conv(cin, 2 * cout, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(2 * cout), GLU())


class SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation: a channel gate computed from a small (early) feature map."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.main = nn.Sequential(nn.AdaptiveAvgPool2d(4), sn_conv(cin, cout, 4, 1, 0, bias=False), nn.SiLU(),
                                  sn_conv(cout, cout, 1, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, small, big):
        return big * self.main(small)


# FastGAN's channel multipliers per resolution (x ngf).
FASTGAN_MULTIPLIERS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}


class FastGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, ngf: int):
        super().__init__()
        if size not in FASTGAN_MULTIPLIERS or size < 16:
            raise GanforgeError(f"the FastGAN generator makes square images of 16, 32, ..., 1024 pixels, not {size}; "
                                "resize with --image-size 32 (or 64).")
        nfc = {r: max(8, int(m * ngf)) for r, m in FASTGAN_MULTIPLIERS.items()}
        self.z_dim, self.size = z_dim, size
        self.init = nn.Sequential(spectral_norm(nn.ConvTranspose2d(z_dim, 2 * nfc[4], 4, 1, 0, bias=False)),
                                  nn.BatchNorm2d(2 * nfc[4]), GLU())
        self.ups = nn.ModuleList()
        r = 4
        while r < size:
            self.ups.append(up_block(nfc[r], nfc[2 * r]))
            r *= 2
        self.excite = SkipExcitation(nfc[4], nfc[size])
        self.to_image = sn_conv(nfc[size], channels, 3, 1, 1, bias=True)

    def forward(self, z, y=None):
        z = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()  # onto the sphere, as the official code
        feat_4 = self.init(z.view(len(z), -1, 1, 1))
        h = feat_4
        for up in self.ups:
            h = up(h)
        # tanh: ganforge's model space is [-1, 1] (the official code leaves the output unbounded).
        return torch.tanh(self.to_image(self.excite(feat_4, h)))


class CrossScaleFusion(nn.Module):
    """One CSM level: (deeper output upsampled +) this level's CCM features, then a random 3x3 conv;
    the output is upsampled x2 (the official ``FeatureFusionBlock`` order: add, upsample, conv)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=True)

    def forward(self, x, deeper=None):
        if deeper is not None:
            x = x + deeper
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return self.conv(x)


class RandomProjector(nn.Module):
    """CCM (+ CSM) over 4 feature maps; ``proj_type`` 1 = CCM only, 2 = CCM + CSM (the paper's best)."""

    def __init__(self, in_channels: list[int], cout: int = 64, proj_type: int = 2, seed: int = 0):
        super().__init__()
        if len(in_channels) != 4:
            raise GanforgeError(f"the projected discriminator needs 4 feature scales, got {len(in_channels)}.")
        if proj_type not in (1, 2):
            raise GanforgeError(f"projection must be 1 (CCM) or 2 (CCM + CSM), got {proj_type}.")
        self.proj_type = proj_type
        ccm = [cout, 2 * cout, 4 * cout, 8 * cout]
        # Seeded draw in a forked RNG: the projections depend only on the seed, and the caller's RNG
        # stream (which the run's resume restores) is not consumed.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.ccm = nn.ModuleList(nn.Conv2d(c, o, 1, 1, 0, bias=True) for c, o in zip(in_channels, ccm))
            # Level i's output is added to level i-1's CCM features, so it has their channels; the
            # shallowest level does not expand (the official CSM): outputs cout * (1, 1, 2, 4).
            self.csm = nn.ModuleList(CrossScaleFusion(ccm[i], ccm[max(i - 1, 0)]) for i in range(4)
                                     if proj_type == 2)
        out = [ccm[0]] + ccm[:3]
        self.channels = out if proj_type == 2 else ccm
        self.requires_grad_(False)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [conv(f) for conv, f in zip(self.ccm, feats)]
        if self.proj_type == 1:
            return mixed
        out = [None] * 4
        deeper = None
        for i in (3, 2, 1, 0):
            if deeper is not None and deeper.shape[-2:] != mixed[i].shape[-2:]:  # odd sizes (Inception's 5 -> 2)
                deeper = F.interpolate(deeper, size=mixed[i].shape[-2:], mode="bilinear", align_corners=True)
            out[i] = deeper = self.csm[i](mixed[i], deeper)
        return out

    def output_sizes(self, sizes: list[int]) -> list[int]:
        return [2 * s for s in sizes] if self.proj_type == 2 else list(sizes)


# The official SingleDisc's channels per resolution (at ndf 64); scaled by d_width / 64.
DISC_CHANNELS = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 64, 256: 32, 512: 16, 1024: 8}


class ScaleDiscriminator(nn.Module):
    """The paper's per-scale discriminator: down blocks from the feature size to 8, then a 4x4 conv."""

    def __init__(self, cin: int, size: int, width: int):
        super().__init__()
        nfc = {r: max(8, c * width // 64) for r, c in DISC_CHANNELS.items()}
        layers, c, s = [], cin, size
        while s > 8:
            nxt = max(r for r in nfc if r <= max(4, s // 2))  # the channel count of the next (halved) size
            layers += [sn_conv(c, nfc[nxt], 4, 2, 1), nn.BatchNorm2d(nfc[nxt]), nn.LeakyReLU(0.2)]
            c, s = nfc[nxt], s // 2
        layers.append(sn_conv(c, 1, min(4, s), 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).flatten(1)


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, channels: list[int], sizes: list[int], width: int):
        super().__init__()
        self.heads = nn.ModuleList(ScaleDiscriminator(c, s, width) for c, s in zip(channels, sizes))

    def forward(self, feats: list[torch.Tensor], y=None) -> torch.Tensor:
        return torch.cat([head(f) for head, f in zip(self.heads, feats)], dim=1)
