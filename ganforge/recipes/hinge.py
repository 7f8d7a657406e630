"""Hinge GAN (Lim & Ye, "Geometric GAN", 2017): D loss E[relu(1 - D(x))] + E[relu(1 + D(G(z)))],
G loss -E[D(G(z))]. DCGAN networks; the sngan recipe adds spectral norm and the ResNet."""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("hinge")
class HingeGAN(ObjectiveGAN):
    default_architecture = "dcgan"
