"""GAN objectives as pure functions of discriminator logits (computed in fp32).

Each objective is a pair (discriminator loss, generator loss) registered by name in ``LOSSES``.
Signatures are shared by every objective so a recipe can swap them by name:

- ``discriminator(real_logits, fake_logits, real_target=1.0) -> loss``
- ``generator(fake_logits, real_logits=None) -> loss``

``real_target`` < 1 is one-sided label smoothing (Salimans et al., 2016); objectives whose real
"label" is not a probability (wasserstein, hinge) accept and ignore it. ``needs_real_for_generator``
marks objectives (RaGAN) whose generator loss also needs the logits of a real batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.registry import Registry


@dataclass(frozen=True)
class Objective:
    discriminator: Callable[..., torch.Tensor]  # (real_logits, fake_logits, real_target=1.0) -> loss
    generator: Callable[..., torch.Tensor]      # (fake_logits, real_logits=None) -> loss
    needs_real_for_generator: bool = False


LOSSES: Registry[Objective] = Registry("loss")


def _bce_discriminator(real_logits, fake_logits, real_target: float = 1.0):
    """-[log D(x) + log(1 - D(G(z)))] (Goodfellow et al., 2014); real_target < 1 = one-sided label smoothing."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def _nonsaturating_generator(fake_logits, real_logits=None):
    """-log D(G(z)) (Goodfellow et al., 2014, the practical variant): strong gradients early on."""
    return F.softplus(-fake_logits.float()).mean()


def _minimax_generator(fake_logits, real_logits=None):
    """log(1 - D(G(z))) minimised by G (the original minimax game; saturates when D wins)."""
    return -F.softplus(fake_logits.float()).mean()


def _wasserstein_critic(real_logits, fake_logits, real_target: float = 1.0):
    """Critic: E[D(G(z))] - E[D(x)] (Arjovsky, Chintala & Bottou, "Wasserstein GAN", 2017).

    The critic output is an unbounded score, not a probability; the 1-Lipschitz constraint comes
    from a regulariser (weight clipping, gradient penalty or spectral norm), not from this loss.
    ``real_target`` is ignored: label smoothing has no meaning for a critic score.
    """
    return fake_logits.float().mean() - real_logits.float().mean()


def _wasserstein_generator(fake_logits, real_logits=None):
    """Generator: -E[D(G(z))] (Arjovsky et al., 2017)."""
    return -fake_logits.float().mean()


def _hinge_discriminator(real_logits, fake_logits, real_target: float = 1.0):
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye, "Geometric GAN", 2017;
    used by Miyato et al., SNGAN, 2018). ``real_target`` is ignored (margins, not labels)."""
    return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()


def _hinge_generator(fake_logits, real_logits=None):
    """-E[D(G(z))] (Lim & Ye, 2017): the generator pushes fakes up the critic's score."""
    return -fake_logits.float().mean()


def _lsgan_discriminator(real_logits, fake_logits, real_target: float = 1.0):
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] with a=0, b=real_target (1)
    (Mao et al., "Least Squares Generative Adversarial Networks", 2017, the 0-1 coding)."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    return 0.5 * ((real_logits - real_target) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def _lsgan_generator(fake_logits, real_logits=None):
    """1/2 E[(D(G(z)) - c)^2] with c=1 (Mao et al., 2017)."""
    return 0.5 * ((fake_logits.float() - 1.0) ** 2).mean()


def _ragan_discriminator(real_logits, fake_logits, real_target: float = 1.0):
    """Relativistic average GAN (Jolicoeur-Martineau, "The relativistic discriminator", 2018):
    -E_x[log sigmoid(C(x) - E[C(G(z))])] - E_z[log(1 - sigmoid(C(G(z)) - E[C(x)]))].
    ``real_target`` < 1 smooths the target of the real term."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    real = F.binary_cross_entropy_with_logits(real_rel, torch.full_like(real_rel, real_target))
    fake = F.binary_cross_entropy_with_logits(fake_rel, torch.zeros_like(fake_rel))
    return real + fake


def _ragan_generator(fake_logits, real_logits=None):
    """RaGAN generator (Jolicoeur-Martineau, 2018): the discriminator loss with roles swapped,
    -E_z[log sigmoid(C(G(z)) - E[C(x)])] - E_x[log(1 - sigmoid(C(x) - E[C(G(z))]))].
    Needs the logits of a real batch (the real term is what gives G a gradient through E[C(G(z))])."""
    if real_logits is None:
        raise GanforgeError("the 'ragan' generator loss needs real_logits (the critic's scores on a real batch).")
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    fake_rel = fake_logits - real_logits.mean()
    real_rel = real_logits - fake_logits.mean()
    return (F.binary_cross_entropy_with_logits(fake_rel, torch.ones_like(fake_rel))
            + F.binary_cross_entropy_with_logits(real_rel, torch.zeros_like(real_rel)))


LOSSES.register("nonsaturating")(Objective(_bce_discriminator, _nonsaturating_generator))
LOSSES.register("minimax")(Objective(_bce_discriminator, _minimax_generator))
LOSSES.register("wasserstein")(Objective(_wasserstein_critic, _wasserstein_generator))
LOSSES.register("hinge")(Objective(_hinge_discriminator, _hinge_generator))
LOSSES.register("lsgan")(Objective(_lsgan_discriminator, _lsgan_generator))
LOSSES.register("ragan")(Objective(_ragan_discriminator, _ragan_generator, needs_real_for_generator=True))


def discriminator_loss(name: str, real_logits, fake_logits, **kw) -> torch.Tensor:
    return LOSSES.get(name).discriminator(real_logits, fake_logits, **kw)


def generator_loss(name: str, fake_logits, real_logits=None) -> torch.Tensor:
    return LOSSES.get(name).generator(fake_logits, real_logits)
