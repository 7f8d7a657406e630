"""Vanilla GAN (Goodfellow et al., 2014): MLP generator and discriminator.

D loss: -[log D(x) + log(1 - D(G(z)))]. G loss: ``--loss minimax`` minimises log(1 - D(G(z)));
``--loss nonsaturating`` (default) minimises -log D(G(z)), which does not saturate early on.
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("vanilla")
class VanillaGAN(ObjectiveGAN):
    default_architecture = "mlp"
