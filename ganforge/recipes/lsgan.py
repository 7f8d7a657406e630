"""LSGAN (Mao et al., "Least Squares Generative Adversarial Networks", 2017).

Least-squares targets instead of the log loss (0-1 coding: D pulls reals to 1 and fakes to 0, G
pulls its fakes to 1), which penalises samples that are on the right side of the boundary but far
from the data, and gives non-vanishing gradients. DCGAN networks, DCGAN optimiser settings.
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("lsgan")
class LSGAN(ObjectiveGAN):
    default_architecture = "dcgan"
