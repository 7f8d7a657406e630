"""Regularisers and stabilisers shared by every recipe.

All penalties are returned in fp32. The gradient penalties (GP, R1) switch autocast off inside:
a double-backward through bf16 activations is too coarse for a penalty whose target is a norm of 1.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.errors import GanforgeError


def logits_of(output) -> torch.Tensor:
    """The adversarial logits of a discriminator output: D returns logits (N,) or (logits, class_logits)."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _input_gradient(discriminator, x: torch.Tensor, y=None, extra: tuple = ()) -> torch.Tensor:
    """d sum(D(x, y, *extra)) / d(x, float extras) with the graph kept (so the penalty itself can be
    back-propagated), flattened per sample and concatenated."""
    inputs = [x] + [e for e in extra if e.requires_grad]
    output = discriminator(x, y, *extra)
    scores = logits_of(output).float()
    grads = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    grad = torch.cat([g.flatten(1) for g in grads], dim=1)
    # + 0 x D's outputs (as StyleGAN2-ADA does): numerically nothing, but every weight of D gets a
    # (zero) gradient, which DDP waits for; the input gradient alone misses e.g. the last bias.
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    return grad + 0.0 * sum(o.float().sum() for o in outputs)


def gradient_penalty(discriminator, real: torch.Tensor, fake: torch.Tensor, y=None,
                     target: float = 1.0, pack: int = 1, extra: tuple = ()) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - target)^2] on random interpolates x_hat = e*real + (1-e)*fake
    (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017). Multiply by ``gp_weight`` (10).

    ``pack`` > 1 (PacGAN, CTGAN): D scores packs of ``pack`` consecutive samples, so each pack gets
    one interpolation weight and one gradient norm. ``extra``: further inputs of D (a condition
    vector) with respect to which the gradient is also taken (CTGAN's critic), passed after ``y``.
    Computed in fp32 with autocast disabled, whatever the caller's precision. ``fake`` is detached:
    the penalty trains the critic only.
    """
    with torch.autocast(device_type=real.device.type, enabled=False):
        real32, fake32 = real.detach().float(), fake.detach().float()
        packs = real32.shape[0] // pack
        eps = torch.rand((packs,) + (1,) * (real32.dim() - 1), device=real32.device)
        if pack > 1:
            eps = eps.repeat_interleave(pack, dim=0)
        x_hat = (eps * real32 + (1.0 - eps) * fake32).requires_grad_(True)
        extra = tuple(e.detach().float().requires_grad_(e.shape[-1] > 0) for e in extra)
        grad = _input_gradient(discriminator, x_hat, y, extra).reshape(packs, -1)
        return ((grad.norm(2, dim=1) - target) ** 2).mean()


def r1_penalty(discriminator, real: torch.Tensor, y=None, pack: int = 1) -> torch.Tensor:
    """E[||grad_x D(x)||^2] on real samples (Mescheder et al., "Which Training Methods for GANs do
    actually Converge?", 2018). The recipe multiplies by gamma/2 (and by the lazy interval, as in
    StyleGAN2, so the average strength does not depend on how often it is applied). fp32, no autocast.
    ``pack`` > 1: the squared gradient norm per pack of ``pack`` consecutive samples (PacGAN)."""
    with torch.autocast(device_type=real.device.type, enabled=False):
        x = real.detach().float().requires_grad_(True)
        grad = _input_gradient(discriminator, x, y)
        return grad.reshape(x.shape[0] // pack, -1).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, bound: float) -> None:
    """Clamp every parameter of the critic into [-bound, bound] (Arjovsky et al., WGAN, 2017):
    a crude way of keeping the critic K-Lipschitz. Called after each critic optimiser step."""
    if bound <= 0:
        raise GanforgeError(f"weight clipping bound must be positive, got {bound}; set clip_value to e.g. 0.01.")
    for p in module.parameters():
        p.clamp_(-bound, bound)


def instance_noise_std(initial_std: float, step: int, total_steps: int) -> float:
    """Annealed instance noise (Sønderby et al., 2016; Arjovsky & Bottou, 2017): the std decays
    linearly from ``initial_std`` at step 0 to 0 at ``total_steps``, so the model distributions
    overlap early (useful gradients) and the noise is gone by the end (no blur in the final model)."""
    if total_steps <= 0:
        return 0.0
    return max(0.0, float(initial_std) * (1.0 - step / total_steps))


def add_instance_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """x + N(0, std^2), applied to both real and fake inputs of the discriminator."""
    return x + std * torch.randn_like(x) if std > 0 else x


def smoothed_real_target(label_smoothing: float) -> float:
    """One-sided label smoothing (Salimans et al., "Improved Techniques for Training GANs", 2016):
    the discriminator's target for real samples becomes 1 - s; fake targets stay 0 (smoothing them
    too would reinforce the generator's current mistakes)."""
    if not 0.0 <= label_smoothing < 1.0:
        raise GanforgeError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
    return 1.0 - label_smoothing


_SPECTRAL_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalisation (Miyato et al., 2018) on every linear, convolutional and embedding
    layer of ``module`` (in place; also returned). Layers already normalised are left alone.
    Uses ``torch.nn.utils.parametrizations.spectral_norm`` so the state dict stays plain tensors."""
    for layer in list(module.modules()):
        if isinstance(layer, _SPECTRAL_LAYERS) and not parametrize.is_parametrized(layer, "weight"):
            # spectral_norm picks the output dimension itself (dim 1 for transposed convolutions).
            spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def has_spectral_norm(module: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m, "weight") for m in module.modules())


def mode_seeking_term(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The mode-seeking regulariser of MSGAN (Mao et al., "Mode Seeking Generative Adversarial Networks
    for Diverse Image Synthesis", 2019, eq. 3, as in the authors' code): 1 / (d_I / d_z + eps) with
    d_I = mean |G(c, z1) - G(c, z2)| and d_z = mean |z1 - z2|, the pairs being the batch's first and
    second halves, sample i with sample i + ceil(N/2) (the caller gives each pair the same conditions;
    an odd batch leaves its middle sample unpaired). Added to G's loss, it rewards samples that move
    apart as their latents do: a G that ignores z (intra-class collapse) pays 1/eps."""
    n, k = fake.shape[0], fake.shape[0] // 2
    if k < 1:
        raise GanforgeError("the mode-seeking term needs at least 2 fakes (pairs of the batch's halves).")
    d_image = (fake[:k] - fake[n - k:]).float().abs().mean()
    d_latent = (z[:k] - z[n - k:]).float().abs().mean()
    return 1.0 / (d_image / d_latent + eps)
