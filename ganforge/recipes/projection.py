"""Projection cGAN (Miyato & Koyama, "cGANs with Projection Discriminator", 2018).

D(x, y) = psi(phi(x)) + <embed(y), phi(x)>: the label enters the discriminator as an inner product
with its features (not concatenated to the input), and G uses class-conditional batch norm. The
paper's setting: hinge loss, spectral norm on D, ResNet networks, Adam (0, 0.9).
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("projection")
class ProjectionGAN(ObjectiveGAN):
    default_architecture = "resnet"
    conditional = True
    conditioning = "projection"
