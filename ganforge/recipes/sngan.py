"""SNGAN (Miyato et al., "Spectral Normalization for Generative Adversarial Networks", 2018).

Hinge loss, spectral normalisation of every discriminator layer (``spectral_norm: true``, applied by
the base recipe with ``torch.nn.utils.parametrizations.spectral_norm``), the ResNet networks of the
paper, and its optimiser settings: Adam lr 2e-4, betas (0, 0.9), 5 discriminator steps per G step.
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("sngan")
class SNGAN(ObjectiveGAN):
    default_architecture = "resnet"
