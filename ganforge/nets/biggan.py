"""BigGAN networks (Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", ICLR 2019), after the authors' BigGAN-PyTorch code.

Generator ``G(z, y)``:
- **hierarchical latent**: z is split into one chunk per block plus one; the first chunk feeds the
  linear layer that makes the ``base x base`` input, every other chunk joins the class into its block;
- **shared class embedding**: one ``nn.Embedding(classes, shared_dim)`` (not spectrally normalised),
  concatenated with the block's z chunk; linear projections of that vector give the **conditional
  batch norm** gains (``1 + W_g c``) and biases (``W_b c``) of every BN in the block;
- residual up-sampling blocks (BN-ReLU-up-conv3-BN-ReLU-conv3, 1x1 shortcut after up-sampling), widths
  halving per block (``g_width`` x 16, 8, 4, 2, 1 from the top, as the paper's 128/256 px nets);
- one **self-attention** block (SAGAN, Zhang et al. 2019) at one resolution (the paper: 64 at 128 px, so
  by default half the output size); BN-ReLU-conv3-tanh out;
- orthogonal initialisation and **spectral norm on every layer** but the shared embedding.

Discriminator ``D(x, y)``: pre-activation residual down-sampling blocks (SNGAN's, reused from
``ganforge.nets.resnet``), self-attention at the same resolution as G's, one block at the lowest
resolution, ReLU, global sum pooling, linear output plus the **projection** ``<embed(y), h>``;
orthogonal init, spectral norm on everything (the embedding included).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.errors import GanforgeError
from ganforge.nets.conditional import DiscriminatorHead
from ganforge.nets.dcgan import spatial_plan
from ganforge.nets.resnet import DiscriminatorBlock

SPECTRAL_LAYERS = (nn.Conv2d, nn.Linear, nn.Embedding)


def orthogonal_init_(module: nn.Module) -> None:
    """BigGAN's initialisation: orthogonal weights for every conv, linear and embedding layer (before
    spectral norm is attached, so the parametrisation starts from them)."""
    for layer in module.modules():
        if isinstance(layer, SPECTRAL_LAYERS):
            nn.init.orthogonal_(layer.weight)


def spectral_norm_(module: nn.Module, skip: tuple[nn.Module, ...] = ()) -> nn.Module:
    for layer in list(module.modules()):
        if isinstance(layer, SPECTRAL_LAYERS) and not any(layer is s for s in skip):
            spectral_norm(layer)
    return module


class SelfAttention(nn.Module):
    """SAGAN self-attention as BigGAN uses it: query/key at C/8, value at C/2, keys and values max-pooled
    2x2 (a quarter of the positions), a 1x1 output conv, and a learned gate ``gamma`` starting at 0
    (the block starts as the identity)."""

    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise GanforgeError(f"self-attention needs at least 8 channels, got {channels}; raise --g-width/--d-width.")
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        query = self.theta(x).flatten(2)                       # (N, C/8, HW)
        key = F.max_pool2d(self.phi(x), 2).flatten(2)          # (N, C/8, HW/4)
        value = F.max_pool2d(self.g(x), 2).flatten(2)          # (N, C/2, HW/4)
        attention = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # (N, HW, HW/4)
        out = (value @ attention.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.o(out)


class HierarchicalBatchNorm(nn.Module):
    """Conditional BN whose gain and bias are linear in the block's conditioning vector (shared class
    embedding ++ z chunk): ``BN(x) * (1 + W_g c) + W_b c`` (BigGAN's ``ccbn``)."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gain = (1 + self.gain(cond)).to(x.dtype)[:, :, None, None]
        return self.bn(x) * gain + self.bias(cond).to(x.dtype)[:, :, None, None]


class GeneratorBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, cond_dim: int):
        super().__init__()
        self.bn1 = HierarchicalBatchNorm(in_ch, cond_dim)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.bn2 = HierarchicalBatchNorm(out_ch, cond_dim)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


def attention_resolution(size: int, attention: int) -> int:
    """The resolution of the attention block: -1 = half the image size (the paper's 64 at 128 px), 0 = off."""
    resolution = size // 2 if attention == -1 else attention
    if resolution < 0:
        raise GanforgeError(f"option 'attention' is {attention}; use -1 (half the image size), 0 (off) or a resolution.")
    return resolution


def _check_attention(resolution: int, resolutions: list[int]) -> None:
    if resolution and resolution not in resolutions:
        raise GanforgeError(f"option 'attention' asks for self-attention at {resolution}x{resolution} but the blocks "
                            f"work at {', '.join(map(str, resolutions))}; pick one of those, -1 (half the size) or 0.")


class BigGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, num_classes: int, width: int = 64,
                 shared_dim: int = 128, attention: int = -1):
        super().__init__()
        self.base, n_up = spatial_plan(size)
        self.slots = n_up + 1
        if z_dim % self.slots:
            raise GanforgeError(f"BigGAN splits z into {self.slots} equal chunks at {size}x{size} ({n_up} blocks + 1); "
                                f"z_dim {z_dim} does not divide: use a multiple of {self.slots} (e.g. 120).")
        self.z_dim, self.num_classes, self.chunk = z_dim, num_classes, z_dim // self.slots
        chans = [width * min(2 ** (n_up - i), 16) for i in range(n_up + 1)]  # e.g. 16w, 8w, 4w, 2w, w at 64 px
        cond_dim = shared_dim + self.chunk
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = nn.Linear(self.chunk, chans[0] * self.base ** 2)
        resolution = attention_resolution(size, attention)
        _check_attention(resolution, [self.base * 2 ** (i + 1) for i in range(n_up)])
        self.blocks = nn.ModuleList(GeneratorBlock(a, b, cond_dim) for a, b in zip(chans[:-1], chans[1:]))
        self.attention_after = next((i for i in range(n_up) if self.base * 2 ** (i + 1) == resolution), None)
        self.attention = SelfAttention(chans[self.attention_after + 1]) if self.attention_after is not None else None
        self.out_bn = nn.BatchNorm2d(chans[-1])
        self.out_conv = nn.Conv2d(chans[-1], channels, 3, 1, 1)
        self._ch0 = chans[0]
        orthogonal_init_(self)
        spectral_norm_(self, skip=(self.shared,))

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """z -> (chunk of the input layer, chunk of block 1, ..., chunk of the last block)."""
        return torch.split(z, self.chunk, dim=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise GanforgeError("BigGAN is class-conditional: pass labels y (e.g. `ganforge sample --class 3`).")
        chunks = self.split(z)
        embedding = self.shared(y).to(z.dtype)
        h = self.linear(chunks[0]).view(-1, self._ch0, self.base, self.base)
        for i, (block, chunk) in enumerate(zip(self.blocks, chunks[1:])):
            h = block(h, torch.cat([embedding, chunk], dim=1))
            if i == self.attention_after:
                h = self.attention(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))

    def regularized_weights(self) -> list[torch.Tensor]:
        """What orthogonal regularisation acts on: every weight matrix / kernel but the shared embedding
        (BigGAN-PyTorch's blacklist); with spectral norm, the raw weights it normalises."""
        shared = {id(p) for p in self.shared.parameters()}
        return [p for p in self.parameters() if p.dim() >= 2 and id(p) not in shared]


class BigGANDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, num_classes: int, width: int = 64, attention: int = -1):
        super().__init__()
        _, n_down = spatial_plan(size)
        chans = [width * min(2 ** i, 16) for i in range(n_down)]  # e.g. w, 2w, 4w, 8w at 64 px
        resolution = attention_resolution(size, attention)
        _check_attention(resolution, [size >> (i + 1) for i in range(n_down)])
        blocks: list[nn.Module] = []
        for i, (a, b) in enumerate(zip([channels] + chans[:-1], chans)):
            blocks.append(DiscriminatorBlock(a, b, downsample=True, first=i == 0))
            if size >> (i + 1) == resolution:
                blocks.append(SelfAttention(b))
        blocks.append(DiscriminatorBlock(chans[-1], chans[-1], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(chans[-1], num_classes, "projection")
        orthogonal_init_(self)
        spectral_norm_(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        return self.head(h, y)


def orthogonal_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """BigGAN's orthogonal regularisation without the weight: sum over W of ||W W^T ⊙ (1 - I)||_F^2, with W
    each weight reshaped to (outputs, inputs). Unlike the classic ||W W^T - I||^2 it leaves the filters'
    norms free and only pushes distinct filters towards orthogonality."""
    total = weights[0].new_zeros(())
    for weight in weights:
        w = weight.flatten(1)
        gram = w @ w.t()
        total = total + (gram - torch.diag_embed(torch.diagonal(gram))).pow(2).sum()
    return total


def truncated_normal(n: int, dim: int, threshold: float, generator: torch.Generator | None = None,
                     device="cpu") -> torch.Tensor:
    """The truncation trick: z ~ N(0, I) with every entry whose magnitude exceeds ``threshold`` resampled
    until none does (so z follows the normal conditioned on |z_i| <= threshold)."""
    if not threshold > 0:
        raise GanforgeError(f"truncation {threshold} must be a positive threshold (BigGAN: e.g. 0.5, 1.0, 2.0).")
    z = torch.randn(n, dim, device=device, generator=generator)
    outside = z.abs() > threshold
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), device=device, generator=generator)
        outside = z.abs() > threshold
    return z
